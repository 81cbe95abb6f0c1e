"""ML assist's records: image embeddings (once per data item, shared by every project on its dataset) and the runs of
the pipeline (featurize → train → validate → pre-label → cluster) with their progress and metrics."""

import uuid

from django.conf import settings
from django.db import models

from projects.models import DataItem, LabelingProject, ProjectOwnedQuerySet, TenantQuerySet


class EmbeddingQuerySet(TenantQuerySet):
    workspace_path = "item__dataset__workspace"


class Embedding(models.Model):
    """The backbone's features of one image: 1280 float16 numbers (2,560 bytes), or why the image has none."""

    item = models.OneToOneField(DataItem, primary_key=True, on_delete=models.CASCADE, related_name="embedding")
    backbone = models.CharField(max_length=40)
    vector = models.BinaryField(null=True)  # little-endian float16; null when the image could not be decoded
    reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = EmbeddingQuerySet.as_manager()

    def __str__(self):
        return f"{self.backbone} features of item {self.item_id}"


class MlRun(models.Model):
    """One step of one pipeline cycle (`cycle` groups the steps a Train now or a retrain queued together)."""

    class Kind(models.TextChoices):
        FEATURIZE = "featurize", "Featurize"
        TRAIN = "train", "Train"
        VALIDATE = "validate", "Validate"
        PRELABEL = "prelabel", "Pre-label"
        CLUSTER = "cluster", "Cluster"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Train now"
        AUTO = "auto", "Labels grew"

    ACTIVE = (State.QUEUED, State.RUNNING)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey(LabelingProject, on_delete=models.CASCADE, related_name="+", db_index=False)
    cycle = models.UUIDField(db_index=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.AUTO)
    done = models.BigIntegerField(default=0)  # progress: units done of `total` (images, labels, tasks)
    total = models.BigIntegerField(default=0)
    message = models.TextField(blank=True)  # the outcome in words (why it was skipped, what it found)
    error = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    # The project's labels and tasks when the cycle was queued: the retrain check compares against them.
    labels_at_request = models.BigIntegerField(default=0)
    tasks_at_request = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    objects = ProjectOwnedQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["project", "-created_at"], name="mlrun_project_recent")]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.get_state_display()})"

    @property
    def percent(self) -> int | None:
        return min(100, round(100 * self.done / self.total)) if self.total else None

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
