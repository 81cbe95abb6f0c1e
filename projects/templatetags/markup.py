"""`{{ project.instructions_text|markdown_subset }}`: the safe Markdown subset of projects.definition.markup."""

from django import template

from projects.definition.markup import render_markdown_subset

register = template.Library()


@register.filter
def markdown_subset(text):
    return render_markdown_subset(text or "")
