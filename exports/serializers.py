"""API representations of exports and label imports."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api import StrictFieldsMixin
from exports.forms import ImportForm
from exports.models import Export


class ExportSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    created_by = serializers.CharField(source="created_by.get_username", read_only=True, default=None)
    percent = serializers.IntegerField(read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = [
            "id",
            "format",
            "only_approved",
            "include_unlabeled",
            "state",
            "progress",
            "total",
            "percent",
            "item_count",
            "size",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "download_url",
        ]
        read_only_fields = [
            "state",
            "progress",
            "total",
            "item_count",
            "size",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        extra_kwargs = {"only_approved": {"default": False}, "include_unlabeled": {"default": False}}

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_download_url(self, export) -> str | None:
        if export.state != Export.State.DONE:
            return None
        view = self.context["view"]
        url = reverse(
            "api-export-download",
            kwargs={
                "org": view.kwargs["org"],
                "ws": view.kwargs["ws"],
                "project": export.project.uuid,
                "export": export.uuid,
            },
        )
        return self.context["request"].build_absolute_uri(url)


class LabelImportSerializer(StrictFieldsMixin, serializers.Serializer):
    file = serializers.FileField()
    format = serializers.ChoiceField(choices=ImportForm.FORMATS)
    as_final = serializers.BooleanField(
        default=False, help_text="True: final (approved) labels; false: pre-labels labelers confirm."
    )


class InvalidRowSerializer(serializers.Serializer):
    row = serializers.CharField()
    reason = serializers.CharField()


class RefusedRowSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=["image", "class", "row"],
        help_text="image: no such image in the dataset; class: unknown label class; row: bad row.",
    )
    row = serializers.CharField()
    image = serializers.CharField(help_text="The image as the file names it (empty when the row has none).")
    reason = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    id = serializers.UUIDField(
        allow_null=True, help_text="The stored report (its page is where the import's notification leads)."
    )
    as_final = serializers.BooleanField()
    rows = serializers.IntegerField()
    matched = serializers.IntegerField()
    applied = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    skipped = serializers.IntegerField()
    unmatched = serializers.ListField(
        child=serializers.CharField(), help_text="The first 200 unmatched image references."
    )
    unmatched_count = serializers.IntegerField()
    invalid = InvalidRowSerializer(many=True, help_text="The first 200 invalid rows.")
    invalid_count = serializers.IntegerField()
    refused = RefusedRowSerializer(many=True, help_text="The first 200 refused rows (unmatched and invalid), with why.")
    refused_count = serializers.IntegerField()
