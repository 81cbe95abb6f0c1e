"""The one way a view answers both plain HTTP and htmx: the whole page, or one named partial of it; and the one way
a refusal raised by a service becomes part of that screen instead of an error page."""

import functools
from dataclasses import dataclass

from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from core.errors import Conflict, Invalid, NotFound, Refused


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
        return " ".join(self.error.messages) or "You may not do this."

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
