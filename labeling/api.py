"""Labeling projects and the labeler's page over the API (projects need labeling's progress counters)."""

import uuid as uuidlib
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from core.errors import Conflict
from core.features import ml_available, ml_unavailable_reason
from labeling import selectors, services
from labeling.serializers import (
    AcceptSerializer,
    ClaimSerializer,
    DashboardSerializer,
    LabelClassDetailSerializer,
    LabelClassMoveSerializer,
    LabelClassRemovedSerializer,
    LabelClassRemoveSerializer,
    PageSerializer,
    ProjectSerializer,
    ProjectUpdateSerializer,
    SkipSerializer,
    SubmitResultSerializer,
    SubmitSerializer,
    TagsSerializer,
)
from projects.api_base import ProjectAPIMixin, WorkspaceAPIMixin
from projects.definition import services as project_services
from projects.definition.label_classes import label_class_resolver
from projects.definition.services import ML_SETTINGS
from projects.models import LabelingProject

VIEW, CHANGE = "projects.view_labelingproject", "projects.change_labelingproject"
LABEL = "labeling.label_task"


def _ml_can_switch_on(data) -> None:
    """ML assist is switched on only where the server can run it (the pages offer no checkbox there)."""
    if data.get("ml_assisted") and not ml_available():
        raise Conflict(ml_unavailable_reason(), code="ml_unavailable")


class ProjectViewSet(
    WorkspaceAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Labeling projects of the workspace with their progress; create, rename, pause, resume, archive."""

    serializer_class = ProjectSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "project"
    lookup_value_converter = "uuid"
    http_method_names = ["get", "post", "patch", "head", "options"]
    required_perms = {"GET": VIEW, "POST": "projects.add_labelingproject", "PATCH": CHANGE}

    def initial(self, request, *args, **kwargs):
        if self.action in ("pause", "resume", "archive"):
            self.required_perms = {**self.required_perms, "POST": CHANGE}
        elif self.action == "stats":
            self.required_perms = {"GET": "projects.view_dashboard"}
        super().initial(request, *args, **kwargs)

    def get_queryset(self):
        return (
            LabelingProject.objects.for_workspace(self.access.workspace)
            .select_related("dataset")
            .prefetch_related("label_classes")
            .order_by("name", "id")
        )

    def get_serializer_class(self):
        return ProjectUpdateSerializer if self.action == "partial_update" else ProjectSerializer

    def _data(self, projects, many=False):
        items = projects if many else [projects]
        context = {**self.get_serializer_context(), "progress": selectors.projects_progress(items)}
        return ProjectSerializer(projects, many=many, context=context).data

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self._data(page, many=True))

    def retrieve(self, request, *args, **kwargs):
        return Response(self._data(self.get_object()))

    @extend_schema(responses={201: ProjectSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        _ml_can_switch_on(data)
        project = project_services.project_create(
            workspace=self.access.workspace,
            actor=request.user,
            name=data["name"],
            task_type=data["task_type"],
            dataset=data["dataset"],
            incremental_refresh=data.get("incremental_refresh", False),
            label_names=data["label_classes"],
            instructions_url=data.get("instructions_url", ""),
            instructions_text=data.get("instructions_text", ""),
            ml_assisted=data.get("ml_assisted", False),
            **{name: data[name] for name in ML_SETTINGS if name in data},
        )
        return Response(self._data(self.get_queryset().get(pk=project.pk)), status=status.HTTP_201_CREATED)

    @extend_schema(request=ProjectUpdateSerializer, responses=ProjectSerializer)
    def partial_update(self, request, *args, **kwargs):
        project = self.get_object()
        serializer = self.get_serializer(project, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data.get("ml_assisted") and not project.ml_assisted:
            _ml_can_switch_on(serializer.validated_data)
        fields = {
            f: serializer.validated_data.get(f, getattr(project, f))
            for f in (
                "name",
                "incremental_refresh",
                "instructions_url",
                "instructions_text",
                "ml_assisted",
                *ML_SETTINGS,
            )
        }
        project_services.project_update(project=project, actor=request.user, **fields)
        return Response(self._data(project))

    def _state(self, request, verb):
        project = self.get_object()
        project_services.project_state_set(project=project, actor=request.user, action=verb)
        return Response(self._data(project))

    _STATE_SCHEMA: dict[str, Any] = {
        "request": None,
        "responses": {200: ProjectSerializer, 409: OpenApiResponse(description="Not allowed from the current state.")},
    }

    @extend_schema(**_STATE_SCHEMA)
    @action(detail=True, methods=["post"])
    def pause(self, request, *args, **kwargs):
        return self._state(request, "pause")

    @extend_schema(**_STATE_SCHEMA)
    @action(detail=True, methods=["post"])
    def resume(self, request, *args, **kwargs):
        return self._state(request, "resume")

    @extend_schema(**_STATE_SCHEMA)
    @action(detail=True, methods=["post"])
    def archive(self, request, *args, **kwargs):
        return self._state(request, "archive")

    @extend_schema(responses=DashboardSerializer)
    @action(detail=True, methods=["get"])
    def stats(self, request, *args, **kwargs):
        dashboard = selectors.dashboard_stats_get(
            project=self.get_object(), activity=request.query_params.get("activity", "hour")
        )
        return Response(DashboardSerializer(dashboard).data)


class LabelingTaskViewSet(ProjectAPIMixin, viewsets.GenericViewSet):
    """The labeler's page: claim it, tag drafts, submit (idempotent; 409 when a hold ran out), skip one task."""

    serializer_class = ClaimSerializer
    required_perms = {"POST": LABEL, "GET": LABEL}

    def _classes(self):
        if not hasattr(self, "_resolver"):
            self._resolver = label_class_resolver(project=self.project)
        return self._resolver

    def _class_ids(self, refs) -> list[int]:
        """Label classes named by UUID or name (ignoring case); a removed one takes no new tags."""
        return [c.pk for c in self._classes().many(refs, field="labels")]

    def _task_ids(self, item_uuids) -> dict[str, int]:
        rows = self.project.tasks.filter(item__uuid__in=list(item_uuids)).values_list("item__uuid", "id")
        found = {str(u): pk for u, pk in rows}
        missing = [str(u) for u in item_uuids if str(u) not in found]
        if missing:
            raise ValidationError({"tasks": [f"No task for item {missing[0]} in this project."]})
        return found

    def _call(self, fn, **kwargs):
        return fn(project=self.project, user=self.request.user, **kwargs)

    def _page(self, tasks, expired=0):
        classes = self._classes().active
        context = {**self.get_serializer_context(), "class_names": {c.pk: c.name for c in classes}}
        return Response(
            PageSerializer({"tasks": tasks, "label_classes": classes, "expired": expired}, context=context).data
        )

    @extend_schema(
        request=ClaimSerializer,
        responses={200: PageSerializer, 409: OpenApiResponse(description="The project is not running.")},
    )
    @action(detail=False, methods=["post"])
    def claim(self, request, *args, **kwargs):
        serializer = ClaimSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        page = self._call(services.tasks_claim, size=serializer.validated_data["size"])
        return self._page(list(page), page.expired)

    @extend_schema(
        request=TagsSerializer, responses={200: PageSerializer, 409: OpenApiResponse(description="A hold ran out.")}
    )
    @action(detail=False, methods=["post"])
    def tags(self, request, *args, **kwargs):
        serializer = TagsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        ids = self._task_ids(data["tasks"])
        tasks = self._call(
            services.draft_set,
            task_ids=list(ids.values()),
            label_ids=self._class_ids(data["labels"]),
            mode=data["mode"],
        )
        tasks = list(self.project.tasks.filter(id__in=[t.id for t in tasks]).select_related("item").order_by("id"))
        return self._page(tasks)

    @extend_schema(
        request=AcceptSerializer, responses={200: PageSerializer, 409: OpenApiResponse(description="A hold ran out.")}
    )
    @action(detail=False, methods=["post"])
    def accept(self, request, *args, **kwargs):
        """Accept the suggestions of these held tasks: they become the draft tags (of tasks without tags of their own)."""
        serializer = AcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids = self._task_ids(serializer.validated_data["tasks"])
        self._call(services.suggestions_accept, task_ids=list(ids.values()))
        tasks = list(self.project.tasks.filter(id__in=list(ids.values())).select_related("item").order_by("id"))
        return self._page(tasks)

    @extend_schema(
        request=SubmitSerializer,
        responses={200: SubmitResultSerializer, 409: OpenApiResponse(description="A hold ran out; nothing was saved.")},
    )
    @action(detail=False, methods=["post"])
    def submit(self, request, *args, **kwargs):
        serializer = SubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        labels = serializer.validated_data["labels"]
        try:
            keys = {key: str(uuidlib.UUID(key)) for key in labels}
        except ValueError:
            raise ValidationError({"labels": ["Keys must be item UUIDs."]}) from None
        ids = self._task_ids(list(keys.values()))
        chosen = {ids[keys[key]]: self._class_ids(refs) for key, refs in labels.items()}
        return Response({"submitted": self._call(services.page_submit, labels=chosen)})

    @extend_schema(request=SkipSerializer, responses={204: None, 409: OpenApiResponse(description="A hold ran out.")})
    @action(detail=False, methods=["post"])
    def skip(self, request, *args, **kwargs):
        serializer = SkipSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task_id = self._task_ids([serializer.validated_data["task"]])[str(serializer.validated_data["task"])]
        self._call(services.task_skip, task=self.project.tasks.get(pk=task_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class LabelClassViewSet(ProjectAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A project's label classes as its settings page edits them: the active ones in order, then the removed ones
    (`removed: true`). Add one (a removed name comes back), move one, remove one keeping or requeueing its tags.
    Classes are not renamed or recoloured: the pages cannot do that either."""

    serializer_class = LabelClassDetailSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "label"
    lookup_value_converter = "uuid"
    http_method_names = ["get", "post", "head", "options"]
    required_perms = {"GET": "projects.view_labelclass", "POST": "projects.add_labelclass"}

    def initial(self, request, *args, **kwargs):
        if self.action == "move":
            self.required_perms = {"POST": "projects.change_labelclass"}
        elif self.action == "remove":
            self.required_perms = {"POST": "projects.delete_labelclass"}
        super().initial(request, *args, **kwargs)

    def get_queryset(self):
        # Removed classes sit at REMOVED_POSITION, so they follow the active ones.
        return self.project.label_classes.order_by("position", "removed_at", "id")

    @extend_schema(responses={201: LabelClassDetailSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            label_class = project_services.label_class_add(
                project=self.project, actor=request.user, name=serializer.validated_data["name"]
            )
        except DjangoValidationError as error:
            raise ValidationError({"name": error.messages}) from None
        return Response(self.get_serializer(label_class).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=LabelClassMoveSerializer,
        responses={
            200: LabelClassDetailSerializer(many=True),
            409: OpenApiResponse(description="The class was removed."),
        },
    )
    @action(detail=True, methods=["post"])
    def move(self, request, *args, **kwargs):
        """Move one class up or down, or to a position; answers the active classes in their new order."""
        label_class = self.get_object()
        serializer = LabelClassMoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        offset = (
            {"up": -1, "down": 1}[data["direction"]] if "direction" in data else data["position"] - label_class.position
        )
        project_services.label_class_move(
            project=self.project, actor=request.user, label_class=label_class, offset=offset
        )
        return Response(self.get_serializer(self.get_queryset().filter(removed_at=None), many=True).data)

    @extend_schema(
        request=LabelClassRemoveSerializer,
        responses={
            200: LabelClassRemovedSerializer,
            409: OpenApiResponse(description="Already removed, or the project would keep fewer than two classes."),
        },
    )
    @action(detail=True, methods=["post"])
    def remove(self, request, *args, **kwargs):
        """Take a class out of the labeling choices; `tags` says what happens to images already tagged with it."""
        label_class = self.get_object()
        serializer = LabelClassRemoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        requeued = services.label_class_remove(
            project=self.project,
            label_class=label_class,
            actor=request.user,
            requeue=serializer.validated_data["tags"] == "requeue",
        )
        label_class.refresh_from_db()
        return Response(LabelClassRemovedSerializer({"label_class": label_class, "requeued": requeued}).data)
