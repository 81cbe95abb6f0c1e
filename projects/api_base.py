"""The API's base views for workspace endpoints: the caller's Access and the URL's project come from
projects.tenancy.access, the one door to tenant data.

They live in projects rather than in core because they are that door's API face: core stays a leaf that knows no
app, and every app that serves a workspace API already sits on projects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import exceptions
from rest_framework.generics import GenericAPIView

from projects.tenancy.access import project_or_404, resolve_access

# What the mixins are mixed into, for the type checker only: at run time they stay plain mixins.
if TYPE_CHECKING:
    _ViewBase = GenericAPIView
else:
    _ViewBase = object


class WorkspaceAPIMixin(_ViewBase):
    """Resolves the caller's Access from the URL's `org`/`ws` once per request (404 for outsiders).

    `required_perms` maps an HTTP method (or "*") to the permission it needs.
    """

    required_perms: dict[str, str] = {}

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.access = resolve_access(request, kwargs["org"], kwargs["ws"])
        needed = self.required_perms.get(request.method, self.required_perms.get("*"))
        if needed and not self.access.can(needed):
            raise exceptions.PermissionDenied(f"Your role in this workspace lacks {needed}.")


class ProjectAPIMixin(WorkspaceAPIMixin):
    """Endpoints under projects/<uuid:project>/: the project is found through the caller's workspace (404 otherwise)."""

    @property
    def project(self):
        if not hasattr(self, "_project"):
            self._project = project_or_404(self.access, self.kwargs["project"])
        return self._project
