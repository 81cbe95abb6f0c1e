"""`{{ project.instructions_text|markdown_subset }}`: the safe Markdown subset of projects.markup."""

from django import template

from projects.markup import render_markdown_subset

register = template.Library()


@register.filter
def markdown_subset(text):
    return render_markdown_subset(text or "")
