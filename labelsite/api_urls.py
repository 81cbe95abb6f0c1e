"""All API routes under /api/v1/, the OpenAPI schema and the docs."""

from django.urls import include, path
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from assist import api as assist_api
from exports import api as exports_api
from labeling import api as labeling_api
from projects import api as projects_api
from review import api as review_api


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI from self-hosted files; its page carries one small inline <style>, allowed here only."""

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
        )
        return response


# Routes inside one workspace: /api/v1/o/<org>/<ws>/<prefix>/...
workspace_router = SimpleRouter(use_regex_path=False)
workspace_router.register("members", projects_api.MembershipViewSet, basename="api-member")
workspace_router.register("invitations", projects_api.InvitationViewSet, basename="api-invitation")
workspace_router.register("datastores", projects_api.DatastoreViewSet, basename="api-datastore")
workspace_router.register("datasets", projects_api.DatasetViewSet, basename="api-dataset")
workspace_router.register("projects", labeling_api.ProjectViewSet, basename="api-project")
workspace_router.register("projects/<uuid:project>/tasks", labeling_api.LabelingTaskViewSet, basename="api-task")
workspace_router.register(
    "projects/<uuid:project>/label-classes", labeling_api.LabelClassViewSet, basename="api-label-class"
)
workspace_router.register(
    "projects/<uuid:project>/review/items", review_api.ReviewItemViewSet, basename="api-review-item"
)
workspace_router.register(
    "projects/<uuid:project>/review/decisions", review_api.ReviewDecisionViewSet, basename="api-review-decision"
)
workspace_router.register(
    "projects/<uuid:project>/review/queue", review_api.ReviewQueueViewSet, basename="api-review-queue"
)
workspace_router.register(
    "projects/<uuid:project>/review/skipped", review_api.SkippedItemViewSet, basename="api-review-skipped"
)
workspace_router.register("projects/<uuid:project>/exports", exports_api.ExportViewSet, basename="api-export")
workspace_router.register("projects/<uuid:project>/imports", exports_api.LabelImportViewSet, basename="api-import")
workspace_router.register("projects/<uuid:project>/ml", assist_api.MlViewSet, basename="api-ml")

# The caller's own things, outside any workspace.
user_router = SimpleRouter(use_regex_path=False)
user_router.register("notifications", projects_api.NotificationViewSet, basename="api-notification")

urlpatterns = [
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/workspaces/", projects_api.WorkspaceList.as_view(), name="api-workspaces"),
    path("api/v1/", include(user_router.urls)),
    path("api/v1/o/<slug:org>/<slug:ws>/", include(workspace_router.urls)),
]
