"""Export jobs: what was asked, how far it got, and the file it produced."""

import uuid

from django.conf import settings
from django.db import models

from projects.models import LabelingProject, ProjectOwnedQuerySet


class Export(models.Model):
    class Format(models.TextChoices):
        COCO = "coco", "COCO (JSON)"
        CSV = "csv", "CSV"
        JSONL = "jsonl", "JSON Lines (Azure ML dataset)"
        IMAGEFOLDER = "imagefolder", "ImageFolder zip"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey(LabelingProject, on_delete=models.CASCADE, related_name="exports")
    format = models.CharField(max_length=20, choices=Format.choices)
    only_approved = models.BooleanField(default=False)
    include_unlabeled = models.BooleanField(default=False)
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    progress = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    file = models.CharField(max_length=500, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Images written to the file (tasks in scope; a multi-label image counts once).
    item_count = models.PositiveIntegerField(default=0)
    # The run that holds the job: a fresh lease per claim, refreshed by the heartbeat while it runs.
    # The reaper fails running jobs whose heartbeat went stale (the worker died).
    lease = models.UUIDField(null=True, blank=True, editable=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    celery_task_id = models.CharField(max_length=255, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ProjectOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["project", "-created_at"], name="export_project_recent"),
            models.Index(fields=["state", "heartbeat_at"], name="export_state_heartbeat"),
        ]

    def __str__(self):
        return f"{self.get_format_display()} export of {self.project}"

    @property
    def is_active(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.RUNNING)

    @property
    def percent(self) -> int:
        if self.state == self.State.DONE:
            return 100
        return min(100, int(self.progress * 100 / self.total)) if self.total else 0

    @property
    def extension(self) -> str:
        return {"coco": "json", "csv": "csv", "jsonl": "jsonl", "imagefolder": "zip"}[self.format]


class LabelImport(models.Model):
    """One label import that went through: who imported which file's labels, and the report they got (so the
    notification about it can link to the report later)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey(LabelingProject, on_delete=models.CASCADE, related_name="label_imports")
    format = models.CharField(max_length=20)
    as_final = models.BooleanField()
    file_name = models.CharField(max_length=255, blank=True)
    report = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Label import into {self.project}"
