"""What the services of every domain check before they write: the actor's permission, a name still free
when the row is saved, and nothing still using what is deleted."""

from __future__ import annotations

from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core.errors import Conflict, Refused


def perm_check(actor, workspace, perm: str) -> None:
    """Refuse unless the actor holds `perm` in the workspace."""
    if not actor.has_perm(perm, workspace):
        raise Refused(f"You need the {perm!r} permission in this workspace.")


@contextmanager
def name_unique(constraint: str, message):
    """Run a write whose name the service has just checked is free. Two requests at once can both pass that
    check; the database's unique constraint then refuses the later one, which gets the same message as
    the check gives instead of an error page. (A savepoint keeps the caller's transaction usable.)"""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as error:
        if constraint not in str(error):
            raise
        raise ValidationError(message) from error


class InUse(Conflict):
    """The object cannot be deleted: something still uses it (the message names what)."""


def names_listed(queryset, limit: int = 5) -> str:
    names = list(queryset.order_by("name").values_list("name", flat=True)[: limit + 1])
    shown = ", ".join(f"“{name}”" for name in names[:limit])
    return shown + (f" and {queryset.count() - limit} more" if len(names) > limit else "")
