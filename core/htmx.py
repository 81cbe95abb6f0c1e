"""The one way a view answers both plain HTTP and htmx: the whole page, or one named partial of it; and the one way
a polled fragment of background work answers."""

from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseStopPolling, trigger_client_event


def vary_on_htmx(response):
    """The same URL answers htmx with a fragment: caches (the browser's too) must keep the two apart."""
    patch_vary_headers(response, ("HX-Request",))
    return response


def render_page_or_fragment(request, template, context, *, partial=None, status=200):
    """`template#partial` for an htmx request, the whole `template` otherwise; always `Vary: HX-Request`.

    A history restore (htmx re-fetching a page its cache lost) needs the whole page, so it gets it, and so does a
    request aimed at the page's `<main>` (a page turning into its next state selects its new `<main>` from it).
    Without `partial` the page is rendered whole even for htmx (a view whose fragment needs another
    context renders that itself, through this helper too, so both answers vary)."""
    whole = not request.htmx or request.htmx.history_restore_request or request.htmx.target == "main"
    if partial and not whole:
        template = f"{template}#{partial}"
    return vary_on_htmx(render(request, template, context, status=status))


def render_poll(request, template, context, *, partial, finished: bool, events=()):
    """A fragment that polls its own URL while background work runs (`hx-trigger="every 2s"` on the element the
    partial renders, only while the work is not finished) and reads only counters the job keeps.

    Once `finished`, the partial renders without its trigger and htmx gets 286, which stops polling as well; the
    `events` (e.g. "notifications-changed") let the rest of the page catch up in one request each."""
    response = render(request, f"{template}#{partial}", context)
    if finished and request.htmx:
        response = HttpResponseStopPolling(response.content)
        for event in events:
            trigger_client_event(response, event)
    return vary_on_htmx(response)
