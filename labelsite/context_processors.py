"""Template context every page needs: the workspace switcher and the notification bell in the top bar, how long
the browser waits for htmx."""

from django.utils.functional import SimpleLazyObject

from projects.tenancy.access import visible_workspaces
from projects.tenancy.notifications import notifications_bell_get


def navigation(request):
    from django.conf import settings

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"open_signup": settings.LABELSITE_OPEN_SIGNUP}

    def switcher():
        return list(visible_workspaces(user))

    # Lazy: pages that do not render the top bar (htmx fragments) run no query.
    return {
        "nav_workspaces": switcher,
        "current_access": getattr(request, "access", None),
        "notification_bell": SimpleLazyObject(lambda: notifications_bell_get(user=user)),
        "open_signup": settings.LABELSITE_OPEN_SIGNUP,
    }


def requests(request):
    """The htmx request timeout in milliseconds, for the htmx-config of base.html (a string: "0" must not read as unset)."""
    from django.conf import settings

    return {"request_timeout_ms": str(max(settings.LABELSITE_REQUEST_TIMEOUT, 0) * 1000)}
