"""The labelsite app: starts the session clocks on every login (labelsite.middleware.SessionLimitsMiddleware)."""

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in


class LabelsiteConfig(AppConfig):
    name = "labelsite"

    def ready(self):
        # Here, not at the top: the middleware module reads models (datastores' image origins for the CSP).
        from labelsite.middleware import session_clocks_start

        user_logged_in.connect(session_clocks_start, dispatch_uid="labelsite.session_clocks_start")
