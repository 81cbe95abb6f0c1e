"""Review API: labeled items with filters and history, decisions (409 on a stale version), the review queue."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from labelsite.api import WorkspaceAPIMixin
from projects.models import LabelingProject
from review import selectors, services
from review.forms import LabeledFilterForm
from review.serializers import (
    DecisionResultSerializer, DecisionSerializer, QueueClaimSerializer, ReviewItemDetailSerializer, ReviewItemSerializer,
    SkippedActionSerializer, SkippedResultSerializer,
)
from review.selectors import STATE_FILTERS, LabeledFilters

REVIEW = "review.review_annotation"
_FILTERS = [
    OpenApiParameter("class", str, description="Only items whose current tags include this class name."),
    OpenApiParameter("labeler", str, description="Only items labeled by this username."),
    OpenApiParameter("state", str, enum=list(STATE_FILTERS), description="Empty: all labeled (awaiting review and approved)."),
    OpenApiParameter("from", OpenApiTypes.DATE, description="Labeled on or after this day."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Labeled on or before this day."),
    OpenApiParameter("sort", str, enum=["newest", "oldest"]),
]


class ProjectReviewMixin(WorkspaceAPIMixin):
    required_perms = {"GET": REVIEW, "POST": REVIEW}

    @property
    def project(self):
        if not hasattr(self, "_project"):
            projects = LabelingProject.objects.for_workspace(self.access.workspace)
            self._project = get_object_or_404(projects, uuid=self.kwargs["project"])
        return self._project

    def classes(self):
        if not hasattr(self, "_classes"):
            self._classes = list(self.project.label_classes.all())
        return self._classes


class ReviewItemViewSet(ProjectReviewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Labeled items of a project (filters as on the Labeled data page); one item with its full history."""

    serializer_class = ReviewItemSerializer
    lookup_field = "item__uuid"
    lookup_url_kwarg = "item"
    lookup_value_converter = "uuid"

    def get_queryset(self):
        if self.action == "retrieve":
            return self.project.tasks.select_related("item", "labeled_by")
        form = LabeledFilterForm(self.request.query_params, classes=self.classes(),
                                 labelers=selectors.project_labelers(self.project))
        bad = {name: errors for name, errors in form.errors.items() if name != "page"}
        if bad:
            raise ValidationError(bad)
        return selectors.labeled_tasks(project=self.project, filters=form.filters)

    def get_serializer_class(self):
        return ReviewItemDetailSerializer if self.action == "retrieve" else ReviewItemSerializer

    @extend_schema(parameters=_FILTERS)
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        selectors.tasks_decorate(page, self.classes())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        task = selectors.tasks_decorate([self.get_object()], self.classes())[0]
        task.history = selectors.item_history(task)
        return Response(self.get_serializer(task).data)


class ReviewDecisionViewSet(ProjectReviewMixin, viewsets.GenericViewSet):
    """Approve, reject or correct one or many items, each with the version you saw."""

    serializer_class = DecisionSerializer

    @extend_schema(request=DecisionSerializer, responses={
        200: DecisionResultSerializer,
        403: OpenApiResponse(description="Your own labels (unless the project allows self-review), or no review right."),
        409: OpenApiResponse(description="An item changed meanwhile; nothing was changed."),
    })
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        labels = list(self.project.label_classes.filter(name__in=data["labels"]))
        if len(labels) != len(set(data["labels"])):
            raise ValidationError({"labels": ["Unknown class name."]})
        try:
            result = services.review_decide(
                project=self.project, reviewer=request.user, decision=data["decision"], reason=data["reason"],
                decisions=[(row["item"], row["version"]) for row in data["items"]], corrected_labels=labels,
            )
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict if hasattr(error, "error_dict") else error.messages) from None
        return Response(DecisionResultSerializer(result).data)


class ReviewQueueViewSet(ProjectReviewMixin, viewsets.GenericViewSet):
    """The review queue: the page held for you, and claiming the next one (nobody else reviews it meanwhile)."""

    serializer_class = ReviewItemSerializer
    pagination_class = None

    @extend_schema(parameters=[OpenApiParameter("size", int, enum=list(selectors.LAYOUTS))], responses=ReviewItemSerializer(many=True))
    def list(self, request, *args, **kwargs):
        size = request.query_params.get("size", "20")
        size = int(size) if size.isdigit() and int(size) in selectors.LAYOUTS else 20
        held = selectors.queue_held(project=self.project, reviewer=request.user, size=size)
        return self._page(held)

    @extend_schema(request=QueueClaimSerializer, responses=ReviewItemSerializer(many=True))
    def create(self, request, *args, **kwargs):
        serializer = QueueClaimSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        held = services.review_queue_claim(project=self.project, reviewer=request.user, size=serializer.validated_data["size"])
        return self._page(held)

    def _page(self, task_ids):
        tasks = selectors.queue_tasks(project=self.project, task_ids=task_ids, classes=self.classes())
        return Response(self.get_serializer(tasks, many=True).data)


class SkippedItemViewSet(ProjectReviewMixin, viewsets.GenericViewSet):
    """Skipped items (managers): list them; re-queue them for labeling or remove them from the project."""

    serializer_class = ReviewItemSerializer
    required_perms = {"GET": "projects.change_labelingproject", "POST": "projects.change_labelingproject"}

    def get_queryset(self):
        return selectors.labeled_tasks(project=self.project, filters=LabeledFilters(state="skipped"))

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        selectors.tasks_decorate(page, self.classes())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=SkippedActionSerializer, responses={
        200: SkippedResultSerializer, 409: OpenApiResponse(description="An item changed meanwhile; nothing was changed."),
    })
    def create(self, request, *args, **kwargs):
        serializer = SkippedActionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        action = serializer.validated_data["action"]
        service = services.skipped_requeue if action == "requeue" else services.skipped_remove
        items = [(row["item"], row["version"]) for row in serializer.validated_data["items"]]
        changed = service(project=self.project, actor=request.user, items=items)
        return Response(SkippedResultSerializer({"action": action, "changed": changed}).data)
