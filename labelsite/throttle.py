"""Login throttling: failures counted per account and per client address in the shared cache."""

import hashlib

from django.conf import settings
from django.core.cache import cache


def _key(kind: str, value: str) -> str:
    return "login-fail:" + kind + ":" + hashlib.sha256(value.encode()).hexdigest()


def client_address(request) -> str:
    """The client's address; behind a proxy, the last hop it appended to the configured header."""
    header = settings.CLIENT_IP_HEADER
    if header:
        forwarded = request.META.get(header, "")
        if forwarded:
            return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")


def _keys(request, username: str):
    return (
        (_key("user", username.strip().lower()), settings.LOGIN_FAILURES_PER_ACCOUNT),
        (_key("addr", client_address(request)), settings.LOGIN_FAILURES_PER_ADDRESS),
    )


def login_blocked(request, username: str) -> bool:
    return any((cache.get(key) or 0) >= limit for key, limit in _keys(request, username))


def login_failed(request, username: str) -> None:
    for key, _ in _keys(request, username):
        cache.add(key, 0, timeout=settings.LOGIN_FAILURE_WINDOW)
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW)


def login_succeeded(request, username: str) -> None:
    cache.delete(_keys(request, username)[0][0])
