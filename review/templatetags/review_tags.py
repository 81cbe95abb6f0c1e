"""URL helpers for review templates: every link stays inside the page's workspace and project."""

from django import template
from django.urls import reverse

register = template.Library()


def _base(context):
    access = context["access"]
    return {"org": access.organization.slug, "ws": access.workspace.slug}


@register.simple_tag(takes_context=True)
def review_url(context, name, query="", **kwargs):
    url = reverse(f"review:{name}", kwargs={**_base(context), "project": context["project"].uuid, **kwargs})
    return f"{url}?{query}" if query else url


@register.simple_tag(takes_context=True)
def item_media_url(context, name, item):
    """`item_thumbnail` or `item_image` of a DataItem."""
    return reverse(name, kwargs={**_base(context), "item": item.uuid})
