"""Review decisions on labeled tasks, and the short leases that keep two reviewers off the same task."""

from django.conf import settings
from django.db import models

from labeling.models import Annotation, Task, TaskOwnedQuerySet


class Review(models.Model):
    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        CORRECTED = "corrected", "Corrected and approved"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="reviews")
    annotation = models.ForeignKey(Annotation, null=True, on_delete=models.SET_NULL, related_name="reviews")
    decision = models.CharField(max_length=20, choices=Decision.choices)
    reason = models.TextField(blank=True)
    task_version = models.PositiveIntegerField()
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TaskOwnedQuerySet.as_manager()

    class Meta:
        permissions = [("review_annotation", "Can approve and reject labels")]
        indexes = [
            # "Rejected before" filter, and the idempotent-retry lookup (task, version).
            models.Index(fields=["task", "decision"], name="review_task_decision"),
            models.Index(fields=["task", "task_version"], name="review_task_version"),
        ]


class ReviewLease(models.Model):
    """A labeled task handed to one reviewer by the review queue until `expires`."""

    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="review_lease")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    expires = models.DateTimeField()

    objects = TaskOwnedQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["reviewer", "expires"], name="review_lease_reviewer")]
