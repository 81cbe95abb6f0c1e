"""ML assist over the API: status and metrics, runs, settings, Train now (same permissions as the pages)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from assist import selectors, services
from assist.models import MlRun
from assist.serializers import (
    ML_FIELDS,
    MlRunSerializer,
    MlSettingsSerializer,
    MlStatusSerializer,
    TrainResultSerializer,
)
from core.errors import Conflict
from core.features import ml_available, ml_unavailable_reason
from projects.api_base import ProjectAPIMixin
from projects.definition import services as project_services

VIEW, CHANGE = "projects.view_dashboard", "projects.change_labelingproject"


class MlViewSet(ProjectAPIMixin, viewsets.GenericViewSet):
    """A project's ML assist: what the last cycle measured, its runs, the settings, and Train now."""

    serializer_class = MlStatusSerializer
    required_perms = {"GET": VIEW, "POST": CHANGE, "PATCH": CHANGE}

    @extend_schema(responses=MlStatusSerializer)
    def list(self, request, *args, **kwargs):
        return Response(MlStatusSerializer(selectors.ml_status_get(project=self.project)).data)

    @extend_schema(responses=MlRunSerializer(many=True))
    @action(detail=False, methods=["get"])
    def runs(self, request, *args, **kwargs):
        """The latest runs, newest first (a page of 50)."""
        runs = MlRun.objects.filter(project=self.project).order_by("-created_at", "-id")
        page = self.paginate_queryset(runs)
        return self.get_paginated_response(MlRunSerializer(page, many=True).data)

    @extend_schema(methods=["GET"], responses=MlSettingsSerializer)
    @extend_schema(
        methods=["PATCH"],
        request=MlSettingsSerializer,
        responses={
            200: MlSettingsSerializer,
            409: OpenApiResponse(description="ML assist is not available on this server."),
        },
    )
    @action(detail=False, methods=["get", "patch"], url_path="settings")
    def ml_settings(self, request, *args, **kwargs):
        project = self.project
        if request.method == "GET":
            return Response(MlSettingsSerializer(project).data)
        serializer = MlSettingsSerializer(project, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data.get("ml_assisted") and not ml_available():
            raise Conflict(ml_unavailable_reason(), code="ml_unavailable")
        values = {name: data.get(name, getattr(project, name)) for name in ML_FIELDS}
        project_services.project_update(
            project=project,
            actor=request.user,
            name=project.name,
            incremental_refresh=project.incremental_refresh,
            instructions_url=project.instructions_url,
            instructions_text=project.instructions_text,
            **values,
        )
        return Response(MlSettingsSerializer(project).data)

    @extend_schema(
        request=None,
        responses={
            202: TrainResultSerializer,
            409: OpenApiResponse(
                description="A cycle is running already, ML assist is off for the project, or the "
                "server cannot run it (`code` says which)."
            ),
        },
    )
    @action(detail=False, methods=["post"])
    def train(self, request, *args, **kwargs):
        """Train now: queue a cycle (featurize, train, validate, pre-label, cluster) for the ML worker."""
        cycle = services.ml_cycle_request(project=self.project, actor=request.user)
        runs = MlRun.objects.filter(cycle=cycle).order_by("id")
        return Response(
            {"cycle": cycle, "runs": MlRunSerializer(runs, many=True).data}, status=status.HTTP_202_ACCEPTED
        )
