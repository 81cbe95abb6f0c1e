"""The API's shared parts that need no app: strict serializers, the conflict error and one error shape."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.views import exception_handler

from core import errors as domain

# What the mixin is mixed into, for the type checker only: at run time it stays a plain mixin.
if TYPE_CHECKING:
    _SerializerBase = serializers.Serializer
else:
    _SerializerBase = object


class StrictFieldsMixin(_SerializerBase):
    """Serializers that reject unknown and read-only fields instead of ignoring them."""

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = set(data.keys()) - writable
            if unknown:
                raise exceptions.ValidationError({name: ["This field is not accepted."] for name in sorted(unknown)})
        return super().to_internal_value(data)


# A domain error's status, and the message when it gives none (DRF's usual sentences).
_DOMAIN_STATUS = (
    (domain.NotFound, status.HTTP_404_NOT_FOUND, exceptions.NotFound.default_detail),
    (domain.Conflict, status.HTTP_409_CONFLICT, domain.Conflict.default_message),
    (domain.Refused, status.HTTP_403_FORBIDDEN, exceptions.PermissionDenied.default_detail),
)


class _DomainAPIError(exceptions.APIException):
    def __init__(self, error: domain.DomainError):
        self.status_code, fallback = next(
            ((code, message) for cls, code, message in _DOMAIN_STATUS if isinstance(error, cls)),
            (status.HTTP_400_BAD_REQUEST, domain.DomainError.default_message),
        )
        super().__init__(error.message or fallback, error.code)


def api_exception_handler(exc, context):
    """Every error is JSON: {"code": ..., "message": ..., "errors": {field: [messages]}}.

    The one place where the services' domain errors become API answers: not found 404, conflict 409,
    refused 403, each with its code and message. A service's ValidationError is a 400 with its field errors,
    or its messages under non_field_errors. A body Django refuses to read (too big, too many fields or
    files) is a parse error like any other malformed body, not Django's HTML 400 page."""
    if isinstance(exc, domain.DomainError):
        exc = _DomainAPIError(exc)
    elif isinstance(exc, (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)):
        exc = exceptions.ParseError(f"The request body could not be read: {exc}")
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    response = exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    if isinstance(exc, exceptions.ValidationError):
        errors = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        body = {"code": "invalid", "message": "The request has invalid fields.", "errors": errors}
    else:
        code = getattr(exc, "default_code", "error")
        codes = exc.get_codes() if hasattr(exc, "get_codes") else code
        body = {
            "code": codes if isinstance(codes, str) else code,
            "message": str(detail.get("detail", detail)) if isinstance(detail, dict) else str(detail),
            "errors": {},
        }
    response.data = body
    return response
