"""Domain errors: what went wrong, as a code and data, raised by services and mapped once per interface.

Services raise these instead of HTTP exceptions. The API's exception handler turns them into its JSON error
shape with the matching status; `workspace_view` turns them into pages. `message` is the sentence a person
reads; `code` is what a program tests; `data` holds the particulars (which tasks, which field).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as Invalid  # bad input: forms, admin and models speak it already

__all__ = ["Conflict", "DomainError", "Invalid", "NotFound", "Refused"]


class DomainError(Exception):
    code = "error"
    default_message = "The request cannot be carried out."

    def __init__(self, message: str = "", *, code: str | None = None, data: dict | None = None):
        self.message = message or self.default_message
        if code:
            self.code = code
        self.data = data or {}
        super().__init__(self.message)

    @property
    def messages(self) -> list[str]:
        """As Django's ValidationError has them, so callers show either kind the same way."""
        return [self.message]

    def __str__(self) -> str:
        return self.message


class NotFound(DomainError):
    """The object does not exist for this caller (another tenant's object is missing too)."""

    code = "not_found"
    default_message = "Not found."


class Conflict(DomainError):
    """The object's current state forbids the action (changed meanwhile, still in use, not running)."""

    code = "conflict"
    default_message = "The object changed meanwhile."


class Refused(DomainError, PermissionDenied):
    """The caller may not do this. A PermissionDenied too, so Django's 403 page and `except PermissionDenied`
    still apply. Without a message no reason is given (the 403 page shows none, the API its standard one)."""

    code = "permission_denied"
    default_message = ""
