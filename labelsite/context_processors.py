"""Template context every page needs: the workspace switcher in the top bar."""

from projects.access import visible_workspaces


def navigation(request):
    from django.conf import settings

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"open_signup": settings.OPEN_SIGNUP}

    def switcher():
        return list(visible_workspaces(user))

    # Lazy: pages that do not render the top bar (htmx fragments) run no query.
    return {
        "nav_workspaces": switcher,
        "current_access": getattr(request, "access", None),
        "open_signup": settings.OPEN_SIGNUP,
    }
