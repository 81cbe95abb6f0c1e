"""Cross-cutting HTTP behaviour: the Content-Security-Policy and htmx-aware login redirects."""

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import resolve_url


class ContentSecurityPolicyMiddleware:
    """A strict policy: scripts and styles only from our own origin, never inline."""

    def __init__(self, get_response):
        self.get_response = get_response
        img = " ".join(["'self'", "data:", "blob:", settings.CSP_IMG_SRC_EXTRA]).strip()
        self.policy = (
            "default-src 'self'; script-src 'self'; style-src 'self'; "
            f"img-src {img}; font-src 'self'; connect-src 'self'; object-src 'none'; "
            "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
        )

    def __call__(self, request):
        response = self.get_response(request)
        # The API docs page (drf-spectacular) is served from our own static files too.
        response.headers.setdefault("Content-Security-Policy", self.policy)
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
                redirect = HttpResponse(status=200)
                redirect["HX-Redirect"] = location
                return redirect
        return response
