"""Cross-cutting HTTP behaviour: the Content-Security-Policy, session time limits and htmx-aware login redirects."""

import time

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect

from projects.datastores.storage import workspace_image_origins


class ContentSecurityPolicyMiddleware:
    """A strict policy: scripts and styles only from our own origin, never inline.

    Images come from our origin, plus, on a workspace's pages (for its members: `workspace_view` has set
    `request.access`), the exact origins its datastores' signed image URLs point to, http ones included (a
    local Azurite or MinIO): no `https:` wildcard and no setting to edit."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.img = ["'self'", "data:", "blob:", *settings.LABELSITE_CSP_IMG_SRC.split()]
        self.policy = self._policy(self.img)

    @staticmethod
    def _policy(img: list[str]) -> str:
        return (
            "default-src 'self'; script-src 'self'; style-src 'self'; "
            f"img-src {' '.join(img)}; font-src 'self'; connect-src 'self'; object-src 'none'; "
            "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
        )

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" in response.headers:  # the API docs page sets its own
            return response
        policy = self.policy
        access = getattr(request, "access", None)
        if access is not None and response.get("Content-Type", "").startswith("text/html"):
            origins = [o for o in workspace_image_origins(access.workspace.pk) if o not in self.img]
            if origins:
                policy = self._policy(self.img + origins)
        response.headers["Content-Security-Policy"] = policy
        return response


class HtmxLoginRedirectMiddleware:
    """An htmx request whose session expired gets HX-Redirect to login, not a login page in a tile."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, "htmx", False) and response.status_code in (301, 302):
            login = resolve_url(settings.LOGIN_URL)
            location = response.headers.get("Location", "")
            if location.startswith(login):
                return HttpResponseClientRedirect(location)
        return response


SESSION_AUTH_AT = "_labelsite_auth_at"  # when this login's session was first seen (epoch seconds)
SESSION_SEEN_AT = "_labelsite_seen_at"  # the last request seen on it, to SEEN_RESOLUTION
# Recording every request would write the session on every htmx click; a minute is precise enough.
SEEN_RESOLUTION = 60


def session_clocks_start(sender, request, user, **kwargs):
    """A login starts both clocks (on user_logged_in), so the pages after it have nothing to write."""
    now = int(time.time())
    request.session[SESSION_AUTH_AT] = request.session[SESSION_SEEN_AT] = now


class SessionLimitsMiddleware:
    """Logs out a session idle for longer than LABELSITE_SESSION_IDLE_SECONDS or older than LABELSITE_SESSION_MAX_SECONDS.

    The request then continues as anonymous, so pages redirect to login (htmx requests get HX-Redirect)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and SESSION_KEY in session:
            now = int(time.time())
            started = session.setdefault(SESSION_AUTH_AT, now)  # sessions from before these limits existed
            seen = session.get(SESSION_SEEN_AT, now)
            idle, age = now - seen, now - started
            if idle > settings.LABELSITE_SESSION_IDLE_SECONDS or age > settings.LABELSITE_SESSION_MAX_SECONDS:
                logout(request)
            elif SESSION_SEEN_AT not in session or now - seen >= SEEN_RESOLUTION:
                session[SESSION_SEEN_AT] = now
        return self.get_response(request)
