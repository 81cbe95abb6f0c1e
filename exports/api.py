"""API: exports of a project (create, list, status with progress, download, retry, delete) and label imports."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from exports import services
from exports.models import Export
from exports.serializers import ExportSerializer, ImportReportSerializer, LabelImportSerializer
from projects.api_base import ProjectAPIMixin


class ExportViewSet(
    ProjectAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Exports of one project. Poll an export (GET) for state and progress; download it when done."""

    serializer_class = ExportSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "export"
    lookup_value_converter = "uuid"
    required_perms = {"GET": "exports.view_export", "POST": "exports.add_export", "DELETE": "exports.delete_export"}

    def get_queryset(self):
        return (
            Export.objects.for_workspace(self.access.workspace)
            .filter(project=self.project, deleted_at=None)
            .select_related("project", "created_by")
            .order_by("-created_at", "-pk")
        )

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.export_create(
            project=self.project,
            actor=self.request.user,
            format=data["format"],
            only_approved=data["only_approved"],
            include_unlabeled=data["include_unlabeled"],
        )

    def perform_destroy(self, instance):
        services.export_delete(export=instance, actor=self.request.user)

    @extend_schema(
        request=None, responses={202: ExportSerializer, 409: OpenApiResponse(description="Not a failed export.")}
    )
    @action(detail=True, methods=["post"])
    def retry(self, request, *args, **kwargs):
        export = services.export_retry(export=self.get_object(), actor=request.user)
        return Response(self.get_serializer(export).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def download(self, request, *args, **kwargs):
        export = self.get_object()
        if export.state != Export.State.DONE or not export.file:
            raise Http404
        name = f"{slugify(export.project.name) or 'project'}-{export.format}-{export.created_at:%Y%m%d-%H%M%S}.{export.extension}"
        return FileResponse(default_storage.open(export.file, "rb"), as_attachment=True, filename=name)


class LabelImportViewSet(ProjectAPIMixin, viewsets.GenericViewSet):
    """Import labels (COCO, Azure ML JSON Lines, CSV) into a project: all rows that match, or nothing on a fatal error."""

    serializer_class = LabelImportSerializer
    parser_classes = [MultiPartParser, FormParser]
    required_perms = {"POST": "projects.import_labels"}

    @extend_schema(responses={200: ImportReportSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            report = services.labels_import(
                project=self.project,
                actor=request.user,
                file=data["file"],
                format=data["format"],
                as_final=data["as_final"],
            )
        except DjangoValidationError as error:
            raise ValidationError({"file": error.messages}) from None
        return Response(report.as_dict())
