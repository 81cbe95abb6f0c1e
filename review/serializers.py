"""API representations of labeled items, their history, and review decisions."""

from rest_framework import serializers

from core.api import StrictFieldsMixin
from labeling.serializers import TaskMediaSerializer
from review.selectors import LAYOUTS


class ReviewItemSerializer(TaskMediaSerializer):
    """A task as the reviewer sees it, named by its item's UUID; `version` goes back with a decision."""

    item = serializers.UUIDField(source="item.uuid", read_only=True)
    key = serializers.CharField(source="item.key", read_only=True)
    state = serializers.CharField(read_only=True)
    version = serializers.IntegerField(read_only=True)
    labels = serializers.SerializerMethodField()
    labeled_by = serializers.CharField(source="labeled_by.get_username", read_only=True, default=None)
    labeled_at = serializers.DateTimeField(read_only=True)
    rejected_before = serializers.BooleanField(read_only=True)
    suggestion = serializers.ChoiceField(
        choices=["accepted", "changed", "none"],
        read_only=True,
        help_text="Whether the current labels came from an accepted suggestion (pre-label), a changed one, or none.",
    )

    def get_labels(self, task) -> list[str]:
        return [label.name for label in task.tags]


class HistoryEventSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["annotation", "review"], read_only=True)
    at = serializers.DateTimeField(read_only=True)
    who = serializers.CharField(source="who.get_username", read_only=True, default=None)
    labels = serializers.SerializerMethodField()
    # DRF's metaclass takes declared fields off the class, so `source` does not shadow Field.source at run time.
    source = serializers.CharField(read_only=True, default=None)  # type: ignore[assignment]
    current = serializers.BooleanField(read_only=True, default=None)
    suggestion = serializers.CharField(
        read_only=True, default=None, help_text="accepted, changed or none (annotations)."
    )
    suggested = serializers.SerializerMethodField()
    decision = serializers.CharField(source="review.decision", read_only=True, default=None)
    reason = serializers.CharField(read_only=True, default=None)
    version = serializers.IntegerField(read_only=True, default=None)

    def get_labels(self, event) -> list[str] | None:
        return [label.name for label in event["labels"]] if "labels" in event else None

    def get_suggested(self, event) -> list[str] | None:
        """The suggested tags the labeler saw (annotations; empty without a suggestion)."""
        return [label.name for label in event["suggested"]] if "suggested" in event else None


class ReviewItemDetailSerializer(ReviewItemSerializer):
    history = HistoryEventSerializer(many=True, read_only=True)


class DecisionItemSerializer(StrictFieldsMixin, serializers.Serializer):
    item = serializers.UUIDField()
    version = serializers.IntegerField(min_value=0)


class DecisionSerializer(StrictFieldsMixin, serializers.Serializer):
    decision = serializers.ChoiceField(choices=["approve", "reject", "correct"])
    # many=True hands max_length to the ListSerializer (the stubs do not know that keyword).
    items = DecisionItemSerializer(many=True, allow_empty=False, max_length=1000)  # type: ignore[call-arg]
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    labels = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        default=list,
        help_text="Label class names (ignoring case) or UUIDs, for decision=correct.",
    )


class DecidedItemSerializer(serializers.Serializer):
    item = serializers.UUIDField(source="item.uuid")
    state = serializers.CharField()
    version = serializers.IntegerField()


class DecisionResultSerializer(serializers.Serializer):
    decision = serializers.CharField()
    decided = DecidedItemSerializer(many=True)
    unchanged = DecidedItemSerializer(many=True, help_text="Already decided the same way by you (a retried request).")


class QueueClaimSerializer(StrictFieldsMixin, serializers.Serializer):
    size = serializers.ChoiceField(choices=list(LAYOUTS), default=12)


class SkippedActionSerializer(StrictFieldsMixin, serializers.Serializer):
    action = serializers.ChoiceField(choices=["requeue", "remove"])
    items = DecisionItemSerializer(many=True, allow_empty=False, max_length=1000)  # type: ignore[call-arg]


class SkippedResultSerializer(serializers.Serializer):
    action = serializers.CharField()
    changed = serializers.IntegerField(help_text="Items changed by this request (0 when retried).")
