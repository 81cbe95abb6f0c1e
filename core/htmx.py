"""The one way a view answers both plain HTTP and htmx: the whole page, or one named partial of it; and the one way
a refusal raised by a service becomes part of that screen instead of an error page; and the one way a polled
fragment of background work answers."""

import functools
from dataclasses import dataclass

from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseStopPolling, trigger_client_event

from core.errors import Conflict, Invalid, NotFound, Refused


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


# --- refusals shown where the person acted ------------------------------------------------------------

# The status of a domain error on a page; the API's mapping (core.api) agrees, except that bad input is 422 here
# (htmx swaps a 422 form like a 200) and 400 there.
_STATUS = ((NotFound, 404), (Conflict, 409), (Refused, 403), (Invalid, 422))
SHOWN = (Conflict, Refused, Invalid)  # what a screen shows itself; NotFound leaves the view as the 404 page


@dataclass(frozen=True)
class Failure:
    """A domain error raised while a person acted on a page, as the screen shows it: `message` and `status`."""

    error: Exception

    @property
    def status(self) -> int:
        return next(status for kind, status in _STATUS if isinstance(self.error, kind))

    @property
    def message(self) -> str:
        return " ".join(getattr(self.error, "messages", ())) or "You may not do this."

    @property
    def refuses(self) -> bool:
        """Whether the person may not do it at all (as opposed to: not now, or not with this input)."""
        return isinstance(self.error, Refused)

    def shown_on(self, form, *, field: str | None = None):
        """The bound `form` showing this failure: its own errors when it has any (the view refused it before any
        service ran), else the failure's messages on the fields they name, the rest on `field` (None: above the form)."""
        if form.is_valid():
            fields = getattr(self.error, "error_dict", None) or {}
            for name, errors in fields.items():
                form.add_error(name if name in form.fields else field, errors)
            if not fields:
                form.add_error(field, self.message)
        return form


def valid_or_invalid(form) -> dict:
    """The form's cleaned data, or Invalid carrying its errors: a refused form takes the same way to the screen as a
    service's refusal (see `shows_failures`)."""
    if not form.is_valid():
        raise Invalid(form.errors.as_data())
    return form.cleaned_data


def shows_failures(on_failure):
    """Decorate a view where a person acts (a form post, an htmx action): a Conflict (409), Refused (403) or Invalid
    (422) raised inside it becomes `on_failure(failure, request, *args, **kwargs)` — the view's own arguments — which
    draws the message where the person acted (the grid's alert, the form's errors) with `failure.status`.

    The one place pages turn services' refusals into screens; views do not catch domain errors themselves
    (tests/test_lookups.py checks that). NotFound passes on to `workspace_view`, which answers the 404 page."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                return view(request, *args, **kwargs)
            except SHOWN as error:
                return on_failure(Failure(error), request, *args, **kwargs)

        return wrapper

    return decorator


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
