"""The labelsite app: starts the session clocks on every login (labelsite.middleware.SessionLimitsMiddleware)."""

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in

from labelsite.middleware import session_clocks_start


class LabelsiteConfig(AppConfig):
    name = "labelsite"

    def ready(self):
        user_logged_in.connect(session_clocks_start, dispatch_uid="labelsite.session_clocks_start")
