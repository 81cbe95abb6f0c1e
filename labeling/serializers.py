"""API representations of labeling projects, their dashboard numbers and the labeler's page."""

from typing import cast

from django.urls import reverse
from rest_framework import serializers

from core.api import StrictFieldsMixin
from projects.models import Dataset, LabelClass, LabelingProject


class LabelClassSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)

    class Meta:
        model = LabelClass
        fields = ["id", "name", "position", "color"]


class LabelClassDetailSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A label class as the project settings show it; only `name` is written (on add). Removed classes keep
    their row for the tags they still carry: `removed` is true and they have no position."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    name = serializers.CharField(max_length=100, help_text="Shown as text, never as markup.")
    position = serializers.SerializerMethodField()
    shortcut = serializers.CharField(read_only=True, help_text="The number key (1–9) of the first nine classes.")
    removed = serializers.SerializerMethodField()

    class Meta:
        model = LabelClass
        fields = ["id", "name", "position", "color", "shortcut", "removed", "removed_at", "created_at"]
        read_only_fields = ["color", "removed_at", "created_at"]

    def get_position(self, label_class) -> int | None:
        return None if label_class.removed_at else label_class.position

    def get_removed(self, label_class) -> bool:
        return label_class.removed_at is not None


class LabelClassMoveSerializer(StrictFieldsMixin, serializers.Serializer):
    direction = serializers.ChoiceField(
        choices=["up", "down"], required=False, help_text="One step, as on the settings page."
    )
    position = serializers.IntegerField(
        min_value=0, max_value=1000, required=False, help_text="The 0-based place to move to (clamped to the end)."
    )

    def validate(self, attrs):
        if len(attrs) != 1:
            raise serializers.ValidationError("Give either direction or position.")
        return attrs


class LabelClassRemoveSerializer(StrictFieldsMixin, serializers.Serializer):
    tags = serializers.ChoiceField(
        choices=["keep", "requeue"],
        help_text="keep: images tagged with the class keep the tag; requeue: they go back to the queue (tags become history).",
    )


class LabelClassRemovedSerializer(serializers.Serializer):
    label_class = LabelClassDetailSerializer()
    requeued = serializers.IntegerField(help_text="How many images went back to the queue.")


class ProgressSerializer(serializers.Serializer):
    labeled = serializers.IntegerField(read_only=True)
    total = serializers.IntegerField(read_only=True)
    percent = serializers.IntegerField(read_only=True)


class ProjectSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A labeling project; `dataset` is a dataset UUID of the same workspace; `label_classes` names on create."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    dataset = serializers.SlugRelatedField(slug_field="uuid", queryset=Dataset.objects.none())
    label_classes = serializers.ListField(child=serializers.CharField(max_length=100), write_only=True, min_length=2)
    classes = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()

    class Meta:
        model = LabelingProject
        fields = [
            "id",
            "name",
            "task_type",
            "dataset",
            "incremental_refresh",
            "label_classes",
            "classes",
            "instructions_url",
            "instructions_text",
            "ml_assisted",
            "ml_min_labels",
            "ml_target_accuracy",
            "ml_cluster",
            "ml_active_learning",
            "state",
            "progress",
            "created_at",
        ]
        read_only_fields = ["state", "created_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        view = self.context.get("view")
        if view is not None and hasattr(view, "access"):
            # The stubs declare RelatedField.queryset with Manager (a descriptor) in its type, which mypy misreads.
            field = cast(serializers.RelatedField, self.fields["dataset"])
            field.queryset = Dataset.objects.for_workspace(view.access.workspace)  # type: ignore[arg-type]

    def get_classes(self, project) -> list[str]:
        return [c.name for c in project.label_classes.all() if c.removed_at is None]

    def get_progress(self, project) -> ProgressSerializer:  # the hint is the field's schema for drf-spectacular
        progress = self.context.get("progress", {}).get(project.pk)
        return ProgressSerializer(progress).data if progress else None  # type: ignore[return-value]


class ProjectUpdateSerializer(ProjectSerializer):
    """What a manager may change after creation."""

    class Meta(ProjectSerializer.Meta):
        read_only_fields = ["state", "created_at", "task_type", "dataset", "label_classes"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("task_type", "dataset", "label_classes"):
            self.fields[name].read_only = True


class BarSerializer(serializers.Serializer):
    key = serializers.CharField()
    # DRF's metaclass takes declared fields off the class, so `label` does not shadow Field.label at run time.
    label = serializers.CharField()  # type: ignore[assignment]
    count = serializers.IntegerField()
    note = serializers.CharField()


class LabelerRowSerializer(serializers.Serializer):
    user = serializers.CharField()
    labeled = serializers.IntegerField()
    imported = serializers.IntegerField(help_text="Final labels this person imported (not counted as labeled).")
    skipped = serializers.IntegerField()
    approved = serializers.IntegerField()
    rejected = serializers.IntegerField()
    approval_rate = serializers.IntegerField(allow_null=True)
    rejection_rate = serializers.IntegerField(allow_null=True)


class SuggestionRowSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="The suggested label class.")  # type: ignore[assignment]  # a field named label, as the API has always said
    suggested = serializers.IntegerField(help_text="Submitted images whose suggestion proposed this class.")
    accepted = serializers.IntegerField(help_text="Of those, how many kept it in the submitted tags.")
    changed = serializers.IntegerField()
    acceptance_rate = serializers.IntegerField(help_text="accepted / suggested, in percent.")


class DashboardSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    progress = ProgressSerializer()
    states = BarSerializer(many=True)
    classes = BarSerializer(many=True)
    labelers = LabelerRowSerializer(many=True)
    activity_unit = serializers.CharField()
    activity = BarSerializer(many=True)
    suggestions = SuggestionRowSerializer(many=True, help_text="Per class ever suggested: how labelers answered.")


class ClaimSerializer(StrictFieldsMixin, serializers.Serializer):
    size = serializers.IntegerField(min_value=1, max_value=100, default=20)


class TaskMediaSerializer(serializers.Serializer):
    """Absolute URLs of a task's image and thumbnail, through the permission-checked item views."""

    thumbnail_url = serializers.SerializerMethodField()
    image_url = serializers.SerializerMethodField()

    def _media(self, task, name):
        access = self.context["view"].access
        url = reverse(
            name, kwargs={"org": access.organization.slug, "ws": access.workspace.slug, "item": task.item.uuid}
        )
        return self.context["request"].build_absolute_uri(url)

    def get_thumbnail_url(self, task) -> str:
        return self._media(task, "item_thumbnail")

    def get_image_url(self, task) -> str:
        return self._media(task, "item_image")


class PageTaskSerializer(TaskMediaSerializer):
    """A held task, named by its item's UUID, with its draft tags and its suggestion (class names)."""

    id = serializers.UUIDField(source="item.uuid", read_only=True)
    key = serializers.CharField(source="item.key", read_only=True)
    draft = serializers.SerializerMethodField()
    suggested = serializers.SerializerMethodField(
        help_text="Suggested tags (a pre-label): not a label until accepted (tasks/accept/) or submitted. "
        "Submitting exactly these records the suggestion as accepted, anything else as changed."
    )
    lease_expires = serializers.DateTimeField(read_only=True)

    def _names(self, ids) -> list[str]:
        names = self.context["class_names"]
        return [names[i] for i in ids if i in names]

    def get_draft(self, task) -> list[str]:
        return self._names(task.draft)

    def get_suggested(self, task) -> list[str]:
        return self._names(task.suggested)


class PageSerializer(serializers.Serializer):
    tasks = PageTaskSerializer(many=True)
    label_classes = LabelClassSerializer(many=True)
    expired = serializers.IntegerField(help_text="How many of your earlier holds ran out meanwhile.")


class TagsSerializer(StrictFieldsMixin, serializers.Serializer):
    tasks = serializers.ListField(child=serializers.UUIDField(), min_length=1)
    labels = serializers.ListField(child=serializers.CharField(), min_length=1, help_text="Label class UUIDs or names.")
    mode = serializers.ChoiceField(choices=["apply", "remove"], default="apply")


class AcceptSerializer(StrictFieldsMixin, serializers.Serializer):
    tasks = serializers.ListField(
        child=serializers.UUIDField(),
        min_length=1,
        help_text="Item UUIDs of held tasks; those without tags of their own take their suggestion.",
    )


class SubmitSerializer(StrictFieldsMixin, serializers.Serializer):
    labels = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField(), min_length=1),
        allow_empty=False,
        help_text="{item UUID: [label class UUID or name, ...]}",
    )


class SubmitResultSerializer(serializers.Serializer):
    submitted = serializers.IntegerField()


class SkipSerializer(StrictFieldsMixin, serializers.Serializer):
    task = serializers.UUIDField()
