"""Export jobs: what was asked, how far it got, and the file it produced."""

import uuid

from django.conf import settings
from django.db import models

from projects.models import LabelingProject, tenant_manager


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

    objects = tenant_manager("project__workspace")

    class Meta:
        ordering = ["-created_at"]
