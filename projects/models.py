"""Tenancy (Organization, Workspace, memberships, invitations) and the data a project labels."""

import uuid

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q, Value
from django.db.models.functions import Concat, Lower
from django.utils import timezone


class TenantQuerySet(models.QuerySet):
    """Every tenant-owned model reaches its workspace through `workspace_path`."""

    workspace_path = "workspace"

    def for_workspace(self, workspace):
        return self.filter(**{self.workspace_path: workspace})

    def for_user(self, user):
        if not user.is_authenticated:
            return self.none()
        return self.filter(**{f"{self.workspace_path}__in": Workspace.objects.for_user(user)})


class ProjectOwnedQuerySet(TenantQuerySet):
    """Rows a labeling project owns (tasks, exports, label classes)."""

    workspace_path = "project__workspace"


class DataItemQuerySet(TenantQuerySet):
    workspace_path = "dataset__workspace"


class Organization(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class OrganizationMemberQuerySet(models.QuerySet):
    def admins(self):
        return self.filter(is_admin=True)


class OrganizationMember(models.Model):
    """A person belongs to an organization; its admins manage every workspace in it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="organization_memberships"
    )
    is_admin = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrganizationMemberQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="uniq_org_member")]

    def __str__(self):
        return f"{self.user} in {self.organization}{' (admin)' if self.is_admin else ''}"


class WorkspaceQuerySet(models.QuerySet):
    def for_user(self, user):
        """Workspaces where the user holds a role, plus every workspace of organizations they administer."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(
            Q(memberships__user=user) | Q(organization__members__user=user, organization__members__is_admin=True)
        ).distinct()


class Workspace(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="workspaces")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["organization__name", "name"]
        constraints = [models.UniqueConstraint(fields=["organization", "slug"], name="uniq_workspace_slug")]

    def __str__(self):
        return f"{self.organization.name} / {self.name}"

    @property
    def workspace(self):
        return self


class TenantModel(models.Model):
    """What every row a workspace owns carries: a public UUID, its workspace, when and by whom it was made, and
    the scoped manager (`for_user`, `for_workspace`) that is the only way views reach it. The reverse name on
    the workspace is the model's name in the plural (`workspace.datastores`)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="%(class)ss")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class Membership(TenantModel):
    """One role (an auth Group) for one person in one workspace."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    group = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="+", verbose_name="role")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "user"], name="uniq_membership")]
        ordering = ["user__username"]

    def __str__(self):
        return f"{self.user} — {self.group.name} in {self.workspace}"


class Invitation(TenantModel):
    """An emailed, signed, expiring offer of a role in a workspace."""

    created_by = None  # who invited is `invited_by`
    email = models.EmailField()
    group = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="+", verbose_name="role")
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Invitation for {self.email} to {self.workspace}"


DATASTORE_NAME_TAKEN = "A datastore with this name already exists in the workspace."


class Datastore(TenantModel):
    """Where a workspace's images live: an Azure Blob container, an S3 bucket or a local folder."""

    class Kind(models.TextChoices):
        AZURE_BLOB = "azure_blob", "Azure Blob Storage"
        S3 = "s3", "Amazon S3 / S3-compatible"
        LOCAL = "local", "Local folder"

    class Auth(models.TextChoices):
        SAS_TOKEN = "sas_token", "SAS token"
        ACCOUNT_KEY = "account_key", "Account key"
        ACCESS_KEY = "access_key", "Access key + secret"
        NONE = "none", "None (local folder)"

    name = models.CharField(max_length=120)
    kind = models.CharField("datastore type", max_length=20, choices=Kind.choices)
    endpoint = models.CharField(
        "account URL or endpoint",
        max_length=500,
        blank=True,
        help_text="Azure: https://<account>.blob.core.windows.net — S3: leave blank for AWS or give the endpoint URL.",
    )
    container = models.CharField("container / bucket", max_length=255, blank=True)
    local_path = models.CharField("folder", max_length=1000, blank=True, help_text="Local folders only.")
    region = models.CharField(max_length=60, blank=True)
    auth_type = models.CharField("authentication", max_length=20, choices=Auth.choices, default=Auth.NONE)
    access_key_id = models.CharField("access key ID / account name", max_length=255, blank=True)
    # Encrypted with settings.LABELSITE_ENCRYPTION_KEYS; never rendered back to anyone.
    secret_encrypted = models.TextField(blank=True, editable=False)
    secret_changed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "workspace",
                Lower("name"),
                name="uniq_datastore_name",
                violation_error_message=DATASTORE_NAME_TAKEN,
            )
        ]

    def __str__(self):
        return self.name


class Dataset(TenantModel):
    """A datastore folder registered as items; scanned, and refreshed for new files."""

    class ScanState(models.TextChoices):
        PENDING = "pending", "Waiting to scan"
        SCANNING = "scanning", "Scanning"
        DONE = "done", "Scanned"
        FAILED = "failed", "Scan failed"

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    datastore = models.ForeignKey(Datastore, on_delete=models.PROTECT, related_name="datasets")
    path = models.CharField(max_length=1000, blank=True)
    include_subfolders = models.BooleanField(default=True)
    scan_state = models.CharField(max_length=20, choices=ScanState.choices, default=ScanState.PENDING)
    scan_found = models.PositiveIntegerField(default=0)
    scan_registered = models.PositiveIntegerField(default=0)
    scan_skipped = models.PositiveIntegerField(default=0)
    scan_error = models.TextField(blank=True)
    scan_started_at = models.DateTimeField(null=True, blank=True)
    scan_finished_at = models.DateTimeField(null=True, blank=True)
    last_refresh_at = models.DateTimeField(null=True, blank=True)
    last_refresh_added = models.PositiveIntegerField(default=0)
    last_refresh_error = models.TextField(blank=True)
    # "Refresh now" was asked for and no refresh has finished since (the page shows it waiting, then running).
    refresh_requested_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The running refresh's progress (the scan keeps its own in scan_found/scan_registered).
    refresh_found = models.PositiveIntegerField(default=0, editable=False)
    refresh_added = models.PositiveIntegerField(default=0, editable=False)
    # Lease held by the one scan/refresh running now (None: free); expires if its worker died.
    busy_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "workspace",
                Lower("name"),
                name="uniq_dataset_name",
                violation_error_message="A dataset with this name already exists in the workspace.",
            )
        ]

    def __str__(self):
        return self.name

    @property
    def busy(self) -> bool:
        """A scan or refresh holds the dataset now (an expired lease is a worker that died)."""
        return self.busy_until is not None and self.busy_until > timezone.now()

    @property
    def scanning(self) -> bool:
        return self.scan_state in (self.ScanState.PENDING, self.ScanState.SCANNING)

    @property
    def refresh_running(self) -> bool:
        return self.busy and self.scan_state != self.ScanState.SCANNING

    @property
    def sync_active(self) -> bool:
        """Whether the dataset page's progress keeps polling: a scan or refresh asked for or running."""
        return self.scanning or self.refresh_requested_at is not None or self.busy


class DataItem(models.Model):
    """One file of a dataset; `key` is the object key as data, never a filesystem path."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        READY = "ready", "Ready"
        SKIPPED = "skipped", "Not an image"
        UNREADABLE = "unreadable", "Unreadable"
        TOO_LARGE = "too_large", "Too large"
        MISSING = "missing", "Missing"
        # The key cannot be requested or stored safely (a '..' segment, a control character, too long...):
        # the file is never read, and `reason` says why.
        REFUSED = "refused", "Refused"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="items")
    key = models.CharField(max_length=1024)
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    reason = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    image_format = models.CharField(max_length=20, blank=True)
    thumbnail = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DataItemQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "key"], name="uniq_item_key")]
        indexes = [models.Index(fields=["dataset", "state"], name="item_dataset_state")]

    def __str__(self):
        return self.key


# Fewer labels than this cannot be split into training and held-out parts that say anything.
ML_MIN_LABELS_FLOOR = 10
# A class is learned (and can be pre-labeled) once this many current labels carry it.
ML_MIN_PER_CLASS = 5


class LabelingProject(TenantModel):
    class TaskType(models.TextChoices):
        MULTI_CLASS = "multiclass", "Image Classification Multi-class"
        MULTI_LABEL = "multilabel", "Image Classification Multi-label"

    class State(models.TextChoices):
        INITIALIZING = "initializing", "Initializing"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        ARCHIVED = "archived", "Archived"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="projects")  # not labelingprojects
    name = models.CharField(max_length=120)
    task_type = models.CharField("labeling task type", max_length=20, choices=TaskType.choices)
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="projects")
    incremental_refresh = models.BooleanField(default=False)
    instructions_url = models.URLField("instructions link", blank=True)
    instructions_text = models.TextField("instructions", blank=True)
    ml_assisted = models.BooleanField("ML assisted labeling", default=False)
    # ML assist (the `assist` app trains on the labels and writes pre-labels and a clustered task order).
    ml_min_labels = models.PositiveIntegerField(
        "labels before the first training",
        default=50,
        db_default=50,
        validators=[MinValueValidator(ML_MIN_LABELS_FLOOR), MaxValueValidator(1_000_000)],
    )
    ml_target_accuracy = models.PositiveSmallIntegerField(
        "target accuracy of pre-labels (%)",
        default=95,
        db_default=95,
        validators=[MinValueValidator(50), MaxValueValidator(100)],
    )
    ml_cluster = models.BooleanField("cluster similar images onto the same page", default=True, db_default=True)
    ml_active_learning = models.BooleanField(
        "images the model is least sure about first", default=False, db_default=False
    )
    # Review rules: a reject must say why; a labeler may review their own labels.
    require_reject_reason = models.BooleanField("reviewers must give a reason to reject", default=False)
    allow_self_review = models.BooleanField("labelers may review their own labels", default=False)

    class TaskOrder(models.TextChoices):
        RANDOM = "random", "Random (stable shuffle, reduces bias)"
        OLDEST = "oldest", "Oldest first"

    task_order = models.CharField("order of tasks", max_length=10, choices=TaskOrder.choices, default=TaskOrder.RANDOM)
    state = models.CharField(max_length=20, choices=State.choices, default=State.INITIALIZING)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "workspace",
                Lower("name"),
                name="uniq_project_name",
                violation_error_message="A project with this name already exists in this workspace.",
            )
        ]
        permissions = [
            ("view_dashboard", "Can see a project's dashboard"),
            ("import_labels", "Can import labels into a project"),
        ]

    def __str__(self):
        return self.name

    @property
    def preparing(self) -> bool:
        """Creating its tasks, or running while its dataset is (re)scanned: the project's pages show live progress."""
        if self.state == self.State.INITIALIZING:
            return True
        return self.state == self.State.RUNNING and self.dataset.scanning


class LabelClassQuerySet(ProjectOwnedQuerySet):
    def active(self):
        """The classes labelers can apply now (removed ones stay for the tags they still carry)."""
        return self.filter(removed_at=None)


class LabelClass(models.Model):
    # A removed class keeps its row (and position REMOVED_POSITION) so the tags it carries survive.
    REMOVED_POSITION = 32767
    PALETTE_SIZE = 12

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey(LabelingProject, on_delete=models.CASCADE, related_name="label_classes")
    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField(default=0)
    color = models.PositiveSmallIntegerField(default=0, help_text="Index into the palette of chip colours.")
    removed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LabelClassQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]
        # Removed classes count too: adding a removed class's name brings that class back.
        constraints = [
            models.UniqueConstraint(
                "project",
                Lower("name"),
                name="uniq_label_class_name",
                violation_error_message="A label class with this name already exists in this project.",
            )
        ]

    def __str__(self):
        return self.name

    @property
    def shortcut(self) -> str:
        """Number keys 1–9 for the first nine classes."""
        return str(self.position + 1) if self.position < 9 and self.removed_at is None else ""


class ApiToken(models.Model):
    """A personal API token: shown once at creation, stored as a SHA-256 hash."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"


class NotificationQuerySet(TenantQuerySet):
    def for_user(self, user):
        """The user's own notifications that they may still follow: in a workspace where they hold the permission
        the notification's link needs (an organization admin holds every workspace permission). A lost role or a
        revoked membership hides them; nothing is deleted."""
        if not user.is_authenticated:
            return self.none()
        granted = Concat("group__permissions__content_type__app_label", Value("."), "group__permissions__codename")
        by_role = Membership.objects.filter(workspace=OuterRef("workspace"), user=user).annotate(granted=granted)
        by_admin = OrganizationMember.objects.filter(
            organization=OuterRef("workspace__organization"), user=user, is_admin=True
        )
        return self.filter(Exists(by_role.filter(granted=OuterRef("perm"))) | Exists(by_admin), user=user)

    def unread(self):
        return self.filter(read_at=None)


class Notification(models.Model):
    """A message for the person who started a long job (export ready, import finished, scan failed), kept until read.

    Written by the jobs themselves through `projects.tenancy.notifications`; `link` is a path inside the site and
    `perm` the workspace permission following it needs."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40)
    message = models.CharField(max_length=500)
    link = models.CharField(max_length=500, blank=True)
    perm = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notification_user_recent"),
            models.Index(fields=["user"], condition=Q(read_at=None), name="notification_unread"),
        ]

    def __str__(self):
        return self.message
