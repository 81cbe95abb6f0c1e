"""Tasks (one per project × item), their leases, and the annotations labelers submit."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from projects.models import DataItem, LabelClass, LabelingProject, ProjectOwnedQuerySet, TenantQuerySet


class TaskOwnedQuerySet(TenantQuerySet):
    """Rows that hang off a task (annotations, pre-labels, reviews, review leases)."""

    workspace_path = "task__project__workspace"


# Tasks ML assist has not ordered yet sort after every ordered one (whose keys stay below 2**62).
ML_UNORDERED = 2**62


class Task(models.Model):
    class State(models.TextChoices):
        UNLABELED = "unlabeled", "Unlabeled"
        LABELED = "labeled", "Labeled, awaiting review"
        APPROVED = "approved", "Approved"
        SKIPPED = "skipped", "Skipped"

    # No index of its own: every index below starts with the project.
    project = models.ForeignKey(LabelingProject, on_delete=models.CASCADE, related_name="tasks", db_index=False)
    item = models.ForeignKey(DataItem, on_delete=models.CASCADE, related_name="tasks")
    state = models.CharField(max_length=20, choices=State.choices, default=State.UNLABELED)
    # A stable random order (Azure shuffles to reduce bias); fixed at creation.
    order_key = models.IntegerField(default=0)
    leased_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lease_expires = models.DateTimeField(null=True, blank=True)
    # Bumped on every change of labels or state; review decisions carry it.
    version = models.PositiveIntegerField(default=0)
    labeled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    labeled_at = models.DateTimeField(null=True, blank=True)
    # Set by review when a reviewer rejects the task's tags, and never cleared (rejecting keeps history):
    # the "Rejected before" filter reads it through small partial indexes instead of probing reviews.
    rejected_before = models.BooleanField(default=False, db_default=False)
    # In-progress tags (label class ids) of the current lease holder; cleared whenever the lease changes.
    draft = models.JSONField(default=list, blank=True)
    # ML assist's order for unlabeled tasks (similar images together, least sure first): written by its runs,
    # read by claims when the project clusters or learns actively. A new task gets ML_UNORDERED plus a random
    # number (see services), so it comes after the ordered ones, shuffled.
    ml_order = models.BigIntegerField(default=ML_UNORDERED, db_default=ML_UNORDERED)
    # The suggestion (label class ids, from a pre-label) offered to the current lease holder, copied at claim time
    # like the draft. It is never a label by itself: the labeler accepts it (it becomes the draft) or tags instead.
    suggested = models.JSONField(default=list, db_default=models.Value([], output_field=models.JSONField()), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectOwnedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "item"], name="uniq_task_item"),
            # A lease has a holder and an expiry, or neither; only a task in the pool can be leased.
            models.CheckConstraint(
                condition=Q(leased_to__isnull=True, lease_expires__isnull=True)
                | Q(leased_to__isnull=False, lease_expires__isnull=False),
                name="task_lease_whole",
            ),
            models.CheckConstraint(
                condition=Q(leased_to__isnull=True) | Q(state="unlabeled"), name="task_lease_in_pool"
            ),
            # A labeled or approved task says when; a labeler comes with a time. (The labeler itself may be
            # gone: deleting a user account keeps their labels and clears `labeled_by`.)
            models.CheckConstraint(
                condition=Q(labeled_at__isnull=False) | ~Q(state__in=["labeled", "approved"]),
                name="task_labeled_when",
            ),
            models.CheckConstraint(
                condition=Q(labeled_at__isnull=False) | Q(labeled_by__isnull=True),
                name="task_labeler_when",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "state", "order_key"], name="task_claim"),
            # "In progress" on the dashboard: only unlabeled tasks that carry a lease are in this
            # index, so counting the unexpired ones costs the number of live leases, not of tasks.
            models.Index(
                fields=["project", "lease_expires"],
                name="task_live_lease",
                condition=models.Q(state="unlabeled", lease_expires__isnull=False),
            ),
            # Oldest-first claiming walks unlabeled tasks by id without sorting the project.
            models.Index(fields=["project", "id"], condition=models.Q(state="unlabeled"), name="task_claim_oldest"),
            # ML-ordered claiming (clusters, least sure first) walks unlabeled tasks by ML assist's order.
            models.Index(fields=["project", "ml_order"], condition=models.Q(state="unlabeled"), name="task_claim_ml"),
            # Review's labeled-data browser: a state, a labeler or all labeled, in labeling-time order.
            models.Index(fields=["project", "state", "labeled_at", "id"], name="task_labeled_at"),
            # "All labeled" spans two states: walk the project's tasks in time order and filter the state.
            models.Index(fields=["project", "labeled_at", "id"], name="task_labeled_time"),
            models.Index(fields=["project", "labeled_by", "labeled_at"], name="task_labeler"),
            # "Rejected before" reads only rejected tasks: in labeling-time order, and by id for those back in
            # the queue without a time.
            models.Index(
                fields=["project", "labeled_at", "id"], condition=Q(rejected_before=True), name="task_rejected_time"
            ),
            models.Index(
                fields=["project", "id"],
                condition=Q(rejected_before=True) & Q(labeled_at__isnull=True),
                name="task_rejected_queue",
            ),
        ]
        permissions = [("label_task", "Can label tasks")]


class Annotation(models.Model):
    """One submitted set of tags on a task; earlier ones stay as history."""

    class Source(models.TextChoices):
        LABELER = "labeler", "Labeler"
        REVIEWER = "reviewer", "Corrected by reviewer"
        IMPORT = "import", "Imported"

    class Suggestion(models.TextChoices):
        """What the labeler did with the suggestion the image carried when they submitted it."""

        NONE = "none", "No suggestion"
        ACCEPTED = "accepted", "Suggestion accepted"
        CHANGED = "changed", "Suggestion changed"

    # No index of its own: `annotation_current` starts with the task.
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="annotations", db_index=False)
    labels = models.ManyToManyField(LabelClass, related_name="annotations")
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.LABELER)
    suggestion = models.CharField(
        max_length=10, choices=Suggestion.choices, default=Suggestion.NONE, db_default=Suggestion.NONE
    )
    # The suggested tags as the labeler saw them (empty without a suggestion): what was accepted or changed.
    suggested_labels = models.ManyToManyField(LabelClass, related_name="+", blank=True)
    is_current = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TaskOwnedQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["task", "is_current"], name="annotation_current")]
        constraints = [
            models.UniqueConstraint(fields=["task"], condition=Q(is_current=True), name="uniq_current_annotation"),
        ]


class PreLabel(models.Model):
    """Suggested tags for an unlabeled task (from an import or ML assist); labelers see them pre-applied and confirm.

    One per task. It never counts as a label: the task stays unlabeled until a labeler submits,
    and the submit (or a later import) removes it.
    """

    class Source(models.TextChoices):
        IMPORT = "import", "Imported"
        MODEL = "model", "ML assisted"

    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="prelabel")
    labels = models.ManyToManyField(LabelClass, related_name="+")
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.IMPORT)
    # A model's confidence in its suggestion (0–1); empty for imported ones.
    confidence = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TaskOwnedQuerySet.as_manager()


class GridPreference(models.Model):
    """What a labeler chose for the grid, remembered across projects and sessions."""

    PAGE_SIZES = (1, 4, 6, 9, 12, 20)
    DEFAULT_PAGE_SIZE = 9

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="grid_preference")
    page_size = models.PositiveSmallIntegerField(default=DEFAULT_PAGE_SIZE)


class TaskStateCount(models.Model):
    """Maintained count of a project's tasks per state, so the dashboard never counts rows."""

    project = models.ForeignKey(LabelingProject, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=20, choices=Task.State.choices)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "state"], name="uniq_state_count")]


class LabelerCount(models.Model):
    """Per labeler: tasks labeled, and how their labels fared in review; final labels a person imported are
    counted apart (`imported`), never as their own labeling work."""

    project = models.ForeignKey(LabelingProject, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    labeled = models.BigIntegerField(default=0)
    imported = models.BigIntegerField(default=0)
    skipped = models.BigIntegerField(default=0)
    approved = models.BigIntegerField(default=0)
    rejected = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="uniq_labeler_count")]


class ClassCount(models.Model):
    """How many tasks currently carry each label class; and of the submitted suggestions that proposed the class,
    how many kept it (every submission counts, history included: it measures the suggestions, not the labels)."""

    project = models.ForeignKey(LabelingProject, on_delete=models.CASCADE, related_name="+")
    label_class = models.ForeignKey(LabelClass, on_delete=models.CASCADE, related_name="+")
    count = models.BigIntegerField(default=0)
    suggested = models.BigIntegerField(default=0, db_default=0)
    accepted = models.BigIntegerField(default=0, db_default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "label_class"], name="uniq_class_count")]


class ActivityCount(models.Model):
    """Tasks labeled per hour, for the activity chart."""

    project = models.ForeignKey(LabelingProject, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    labeled = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "hour"], name="uniq_activity_hour")]
