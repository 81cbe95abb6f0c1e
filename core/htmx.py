"""The one way a view answers both plain HTTP and htmx: the whole page, or one named partial of it."""

from django.shortcuts import render
from django.utils.cache import patch_vary_headers


def vary_on_htmx(response):
    """The same URL answers htmx with a fragment: caches (the browser's too) must keep the two apart."""
    patch_vary_headers(response, ("HX-Request",))
    return response


def render_page_or_fragment(request, template, context, *, partial=None, status=200):
    """`template#partial` for an htmx request, the whole `template` otherwise; always `Vary: HX-Request`.

    A history restore (htmx re-fetching a page its cache lost) needs the whole page, so it gets it.
    Without `partial` the page is rendered whole even for htmx (a view whose fragment needs another
    context renders that itself, through this helper too, so both answers vary)."""
    if partial and request.htmx and not request.htmx.history_restore_request:
        template = f"{template}#{partial}"
    return vary_on_htmx(render(request, template, context, status=status))
