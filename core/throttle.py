"""Throttling of guessable requests (logins, API tokens, password resets): counters per account, email or client
address in the shared cache, each with a limit per window; a counter at its limit blocks until its window ends."""

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True)
class Counter:
    key: str
    limit: int
    window: int  # seconds


def _key(kind: str, value: str) -> str:
    return kind + ":" + hashlib.sha256(value.encode()).hexdigest()


def client_address(request) -> str:
    """The client's address; behind a proxy, the last hop it appended to the configured header."""
    header = settings.LABELSITE_CLIENT_IP_HEADER
    if header:
        forwarded = request.META.get(header, "")
        if forwarded:
            return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")


def blocked_for(counters) -> int:
    """Seconds until every counter is below its limit again (0: not blocked)."""
    wait = 0
    for counter in counters:
        if (cache.get(counter.key) or 0) >= counter.limit:
            ends = cache.get(counter.key + ":ends") or time.time() + counter.window
            wait = max(wait, int(ends - time.time()) + 1)
    return wait


def count(counters) -> None:
    """One more event on each counter; a counter's window starts with its first event."""
    for counter in counters:
        if cache.add(counter.key, 0, timeout=counter.window):
            cache.set(counter.key + ":ends", time.time() + counter.window, timeout=counter.window)
        try:
            cache.incr(counter.key)
        except ValueError:  # expired between add and incr
            cache.set(counter.key, 1, timeout=counter.window)


def reset(counter: Counter) -> None:
    cache.delete_many([counter.key, counter.key + ":ends"])


# Login: failures per account and per client address.


def _login_counters(request, username: str) -> tuple[Counter, Counter]:
    window = settings.LABELSITE_LOGIN_FAILURE_WINDOW
    return (
        Counter(
            _key("login-fail:user", username.strip().lower()), settings.LABELSITE_LOGIN_FAILURES_PER_ACCOUNT, window
        ),
        Counter(
            _key("login-fail:addr", client_address(request)), settings.LABELSITE_LOGIN_FAILURES_PER_ADDRESS, window
        ),
    )


def login_blocked(request, username: str) -> bool:
    return blocked_for(_login_counters(request, username)) > 0


def login_failed(request, username: str) -> None:
    count(_login_counters(request, username))


def login_succeeded(request, username: str) -> None:
    reset(_login_counters(request, username)[0])


# API tokens: failed authentications per client address. While an address is blocked every token attempt from
# it is refused, valid or not: answering a right guess differently would let the guessing go on.


def _token_counters(request) -> tuple[Counter]:
    return (
        Counter(
            _key("token-fail:addr", client_address(request)),
            settings.LABELSITE_API_TOKEN_FAILURES_PER_ADDRESS,
            settings.LABELSITE_API_TOKEN_FAILURE_WINDOW,
        ),
    )


def token_blocked_for(request) -> int:
    return blocked_for(_token_counters(request))


def token_failed(request) -> None:
    count(_token_counters(request))


# Password reset: requests per email and per client address, whether or not the email has an account.


def _reset_counters(request, email: str) -> tuple[Counter, Counter]:
    window = settings.LABELSITE_PASSWORD_RESET_WINDOW
    return (
        Counter(_key("reset:email", email.strip().lower()), settings.LABELSITE_PASSWORD_RESETS_PER_EMAIL, window),
        Counter(_key("reset:addr", client_address(request)), settings.LABELSITE_PASSWORD_RESETS_PER_ADDRESS, window),
    )


def password_reset_blocked_for(request, email: str) -> int:
    return blocked_for(_reset_counters(request, email))


def password_reset_requested(request, email: str) -> None:
    count(_reset_counters(request, email))
