"""API representations of ML assist: the project's settings, its runs and what they measured."""

from rest_framework import serializers

from assist.models import MlRun
from core.api import StrictFieldsMixin
from projects.models import LabelingProject

ML_FIELDS = ["ml_assisted", "ml_min_labels", "ml_target_accuracy", "ml_cluster", "ml_active_learning"]


class MlSettingsSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """ML assist's settings of one project; PATCH any of them (the rest keep their value)."""

    class Meta:
        model = LabelingProject
        fields = ML_FIELDS


class MlRunSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    percent = serializers.IntegerField(read_only=True, allow_null=True)
    seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = MlRun
        fields = [
            "id",
            "cycle",
            "kind",
            "state",
            "trigger",
            "done",
            "total",
            "percent",
            "message",
            "error",
            "metrics",
            "created_at",
            "started_at",
            "finished_at",
            "seconds",
        ]
        read_only_fields = fields


class MlStatusSerializer(serializers.Serializer):
    available = serializers.BooleanField(help_text="Whether this server can run ML assist (its packages installed).")
    unavailable_reason = serializers.CharField(help_text="Why not, and how to enable it (empty when available).")
    settings = MlSettingsSerializer(source="project")
    active = serializers.BooleanField(help_text="A cycle is queued or running.")
    labels = serializers.IntegerField(help_text="Labeled and approved tasks now.")
    validation = serializers.DictField(help_text="The latest validation: held-out accuracy, threshold, coverage…")
    prelabeled = serializers.IntegerField(
        allow_null=True, help_text="Tasks the latest pre-label step suggested tags for."
    )
    clustered = serializers.IntegerField(allow_null=True, help_text="Tasks the latest cluster step ordered.")
    runs = MlRunSerializer(many=True, help_text="The latest cycle's steps, in pipeline order.")


class TrainResultSerializer(serializers.Serializer):
    cycle = serializers.UUIDField()
    runs = MlRunSerializer(many=True)
