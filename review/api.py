"""Review API: labeled items with filters and history, decisions (409 on a stale version), the review queue."""

from typing import cast

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, pagination, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import remove_query_param, replace_query_param

from projects.api_base import ProjectAPIMixin
from projects.definition.label_classes import label_class_resolver
from review import selectors, services
from review.forms import CursorForm, LabeledFilterForm
from review.selectors import STATE_FILTERS, LabeledFilters
from review.serializers import (
    DecisionResultSerializer,
    DecisionSerializer,
    QueueClaimSerializer,
    ReviewItemDetailSerializer,
    ReviewItemSerializer,
    SkippedActionSerializer,
    SkippedResultSerializer,
)

REVIEW = "review.review_annotation"
_FILTERS = [
    OpenApiParameter(
        "class", str, description="Only items whose current tags include this class (name, ignoring case, or UUID)."
    ),
    OpenApiParameter("labeler", str, description="Only items labeled by this username."),
    OpenApiParameter(
        "state", str, enum=list(STATE_FILTERS), description="Empty: all labeled (awaiting review and approved)."
    ),
    OpenApiParameter("from", OpenApiTypes.DATE, description="Labeled on or after this day."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Labeled on or before this day."),
    OpenApiParameter("sort", str, enum=["newest", "oldest"]),
]


class LabeledCursorPagination(pagination.BasePagination):
    """Keyset pages in labeling-time order, as on the Labeled data page: follow `next` and `previous`.

    No COUNT and no OFFSET, so a page costs the same at any depth of a project of any size.
    """

    page_size = cast(int, api_settings.PAGE_SIZE)  # settings.REST_FRAMEWORK sets it

    def paginate_labeled(self, request, *, project, filters, classes, cursors: CursorForm) -> list:
        """The page's tasks; `cursors` is a validated form (a bad cursor was already answered with 400)."""
        self.request = request
        self.page = selectors.labeled_page(
            project=project,
            filters=filters,
            classes=classes,
            size=self.page_size,
            after=cursors.cursor("after"),
            before=cursors.cursor("before"),
        )
        return self.page.tasks

    def _link(self, name, cursor):
        if cursor is None:
            return None
        url = remove_query_param(self.request.build_absolute_uri(), "before" if name == "after" else "after")
        return replace_query_param(url, name, cursor.token)

    def get_paginated_response(self, data):
        return Response(
            {
                "next": self._link("after", self.page.next_cursor),
                "previous": self._link("before", self.page.previous_cursor),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {**link, "description": "The following page (`after` cursor); null at the end."},
                "previous": {**link, "description": "The page before (`before` cursor); null on the first page."},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {"name": name, "required": False, "in": "query", "schema": {"type": "string"}, "description": text}
            for name, text in (
                ("after", "Items after this cursor: take it from the `next` link, never build it."),
                ("before", "Items before this cursor: take it from the `previous` link, never build it."),
            )
        ]


def _valid(form):
    """The query's form, or a 400 listing what is wrong (a bad filter, a garbled or forged cursor)."""
    if form.errors:
        raise ValidationError(form.errors)
    return form


class ProjectReviewMixin(ProjectAPIMixin):
    required_perms = {"GET": REVIEW, "POST": REVIEW}

    def resolver(self):
        if not hasattr(self, "_resolver"):
            self._resolver = label_class_resolver(project=self.project)
        return self._resolver

    def classes(self):
        return self.resolver().classes


class ReviewItemViewSet(ProjectReviewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Labeled items of a project (filters as on the Labeled data page); one item with its full history."""

    serializer_class = ReviewItemSerializer
    pagination_class = LabeledCursorPagination
    lookup_field = "item__uuid"
    lookup_url_kwarg = "item"
    lookup_value_converter = "uuid"

    def get_queryset(self):
        return self.project.tasks.select_related("item", "labeled_by")

    def get_serializer_class(self):
        return ReviewItemDetailSerializer if self.action == "retrieve" else ReviewItemSerializer

    @extend_schema(parameters=_FILTERS)
    def list(self, request, *args, **kwargs):
        form = _valid(
            LabeledFilterForm(
                request.query_params, classes=self.resolver(), labelers=selectors.project_labelers(self.project)
            )
        )
        paginator = cast(LabeledCursorPagination, self.paginator)
        page = paginator.paginate_labeled(
            request, project=self.project, filters=form.filters, classes=self.classes(), cursors=form
        )
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        task = selectors.tasks_decorate([self.get_object()], self.classes())[0]
        task.history = selectors.item_history(task)
        return Response(self.get_serializer(task).data)


class ReviewDecisionViewSet(ProjectReviewMixin, viewsets.GenericViewSet):
    """Approve, reject or correct one or many items, each with the version you saw."""

    serializer_class = DecisionSerializer

    @extend_schema(
        request=DecisionSerializer,
        responses={
            200: DecisionResultSerializer,
            403: OpenApiResponse(
                description="Your own labels (unless the project allows self-review), or no review right."
            ),
            409: OpenApiResponse(description="An item changed meanwhile; nothing was changed."),
        },
    )
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        labels = self.resolver().many(data["labels"], field="labels")  # names (ignoring case) or UUIDs
        result = services.review_decide(
            project=self.project,
            reviewer=request.user,
            decision=data["decision"],
            reason=data["reason"],
            decisions=[(row["item"], row["version"]) for row in data["items"]],
            corrected_labels=labels,
        )
        return Response(DecisionResultSerializer(result).data)


class ReviewQueueViewSet(ProjectReviewMixin, viewsets.GenericViewSet):
    """The review queue: the page held for you, and claiming the next one (nobody else reviews it meanwhile)."""

    serializer_class = ReviewItemSerializer
    pagination_class = None

    @extend_schema(
        parameters=[OpenApiParameter("size", int, enum=list(selectors.LAYOUTS))],
        responses=ReviewItemSerializer(many=True),
    )
    def list(self, request, *args, **kwargs):
        size = request.query_params.get("size", "20")
        size = int(size) if size.isdigit() and int(size) in selectors.LAYOUTS else 20
        held = selectors.queue_held(project=self.project, reviewer=request.user, size=size)
        return self._page(held)

    @extend_schema(request=QueueClaimSerializer, responses=ReviewItemSerializer(many=True))
    def create(self, request, *args, **kwargs):
        serializer = QueueClaimSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        held = services.review_queue_claim(
            project=self.project, reviewer=request.user, size=serializer.validated_data["size"]
        )
        return self._page(held)

    def _page(self, task_ids):
        tasks = selectors.queue_tasks(project=self.project, task_ids=task_ids, classes=self.classes())
        return Response(self.get_serializer(tasks, many=True).data)


class SkippedItemViewSet(ProjectReviewMixin, viewsets.GenericViewSet):
    """Skipped items (managers): list them; re-queue them for labeling or remove them from the project."""

    serializer_class = ReviewItemSerializer
    pagination_class = LabeledCursorPagination
    required_perms = {"GET": "projects.change_labelingproject", "POST": "projects.change_labelingproject"}

    def list(self, request, *args, **kwargs):
        cursors = CursorForm(request.query_params)
        paginator = cast(LabeledCursorPagination, self.paginator)
        page = paginator.paginate_labeled(
            request,
            project=self.project,
            filters=LabeledFilters(state="skipped"),
            classes=self.classes(),
            cursors=_valid(cursors),
        )
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request=SkippedActionSerializer,
        responses={
            200: SkippedResultSerializer,
            409: OpenApiResponse(description="An item changed meanwhile; nothing was changed."),
        },
    )
    def create(self, request, *args, **kwargs):
        serializer = SkippedActionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        action = serializer.validated_data["action"]
        service = services.skipped_requeue if action == "requeue" else services.skipped_remove
        items = [(row["item"], row["version"]) for row in serializer.validated_data["items"]]
        changed = service(project=self.project, actor=request.user, items=items)
        return Response(SkippedResultSerializer({"action": action, "changed": changed}).data)
