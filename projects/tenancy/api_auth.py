"""API authentication by personal tokens, and their description in the OpenAPI schema.

Here rather than in core: it looks tokens up in projects' ApiToken, and the app that owns a model owns the queries
on it (core stays a leaf that knows no app). A module of its own because DRF imports it while loading its views."""

import hashlib
import hmac
from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from core import throttle
from projects.models import ApiToken

TOKEN_PREFIX = "ls_"  # noqa: S105 — a public marker in front of every token, not a secret


def token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class TokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer ls_<prefix>_<secret>` (the word `Token` works too)."""

    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() not in self.keywords:
            return None
        wait = throttle.token_blocked_for(request)
        if wait:
            raise exceptions.Throttled(wait, "Too many failed token authentications from your address.")
        if len(header) != 2:
            throttle.token_failed(request)  # a malformed header is a failed guess too
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        token = self._token(header[1])
        if token is None:
            throttle.token_failed(request)
            raise exceptions.AuthenticationFailed("Invalid token.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
            type(token).objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    @staticmethod
    def _token(key: str):
        """The live token of an active user behind `key`, or None."""
        parts = key.split("_")
        if len(parts) != 3 or parts[0] + "_" != TOKEN_PREFIX:
            return None
        token = ApiToken.objects.select_related("user").filter(prefix=parts[1], revoked_at=None).first()
        if token is None or not hmac.compare_digest(token.key_hash, token_hash(key)) or not token.user.is_active:
            return None
        return token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class TokenScheme(OpenApiAuthenticationExtension):
    """Describes personal tokens in the OpenAPI schema."""

    target_class = "projects.tenancy.api_auth.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A personal API token from /accounts/tokens/."}
