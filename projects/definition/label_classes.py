"""The one way a label class named in a request (form, query string, JSON body, imported file) becomes a LabelClass.

A class is named by its UUID (what pages post) or by its name, ignoring case (what the API and imported files use;
names are unique in a project ignoring case). Classes removed from the project still answer where existing data is
named (filters, history) but are refused where a new tag would be set (tagging, submit, correction, import).
Refusals are `core.errors.Invalid` with a code (`label_class_unknown`, `label_class_removed`) and the name as given
(`params["label"]`). Objects named in the URL come from `projects.tenancy.access.label_class_or_404` instead.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Iterable

from django import forms

from core.errors import Invalid
from projects.models import LabelClass, LabelingProject


class LabelClassResolver:
    """A project's classes, read once, and the rule that finds one from what a person or program wrote."""

    def __init__(self, classes: Iterable[LabelClass]):
        self.classes = sorted(classes, key=lambda c: (c.removed_at is not None, c.position, c.pk or 0))
        self._by_uuid = {str(c.uuid): c for c in self.classes}
        self._by_name = {c.name: c for c in self.classes}
        folded: dict[str, list[LabelClass]] = {}
        for c in self.classes:
            folded.setdefault(c.name.casefold(), []).append(c)
        # Names are unique by the database's lower(), which may fold less than Python does (SQLite: ASCII only):
        # a spelling two classes share ignoring case names neither of them, only their exact names do.
        self._by_folded = {key: found[0] for key, found in folded.items() if len(found) == 1}

    @property
    def active(self) -> list[LabelClass]:
        """The classes labelers can choose now, in their order."""
        return [c for c in self.classes if c.removed_at is None]

    def named(self, name: str) -> LabelClass | None:
        """The class with this name (exact, else ignoring case), removed ones included."""
        text = str(name).strip()
        return self._by_name.get(text) or self._by_folded.get(text.casefold())

    def find(self, ref) -> LabelClass | None:
        """The class a UUID or a name stands for, removed ones included; None if there is none."""
        if isinstance(ref, LabelClass):
            return self._by_uuid.get(str(ref.uuid))
        try:
            found = self._by_uuid.get(str(uuidlib.UUID(str(ref).strip())))
        except ValueError:
            found = None
        return found or self.named(ref)

    def one(self, ref, *, removed: bool = False, field: str | None = None) -> LabelClass:
        """The class `ref` names; Invalid if it names none or (unless `removed`) a removed one.
        `field`: the error is about that field of the request (e.g. "labels"), else a plain one."""
        found = self.find(ref)
        if found is None:
            error = Invalid(
                "Unknown label class %(label)r: not a class of this project.",
                code="label_class_unknown",
                params={"label": str(ref).strip()},
            )
        elif found.removed_at is not None and not removed:
            error = Invalid(
                "The label class %(label)r was removed from this project: choose another one.",
                code="label_class_removed",
                params={"label": found.name},
            )
        else:
            return found
        raise Invalid({field: [error]}) if field else error

    def many(self, refs, *, removed: bool = False, field: str | None = None) -> list[LabelClass]:
        """The classes `refs` name, each once, in the order given (see `one`)."""
        found = [self.one(ref, removed=removed, field=field) for ref in refs]
        return list({c.pk: c for c in found}.values())


def label_class_resolver(*, project: LabelingProject) -> LabelClassResolver:
    """The resolver of `project`'s classes: one query, whatever is resolved with it afterwards."""
    return LabelClassResolver(LabelClass.objects.filter(project=project))


# --- form fields: the resolver in a Django form ------------------------------------------------------


class LabelClassChoiceField(forms.ChoiceField):
    """One class chosen in a form: a `<select>` of the classes, cleaned by the resolver to a LabelClass (or None).

    `by`: what an option posts, "uuid" (forms that change data) or "name" (filters whose URL people read and share);
    either way any UUID or name the resolver knows is accepted. `removed`: offer and accept removed classes."""

    def __init__(
        self, *, resolver: LabelClassResolver, removed: bool = False, by: str = "uuid", empty_label=None, **kwargs
    ):
        self.resolver, self.removed = resolver, removed
        shown = resolver.classes if removed else resolver.active
        choices = [(str(getattr(c, by)), c.name) for c in shown]
        super().__init__(choices=([("", empty_label)] if empty_label else []) + choices, **kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        return self.resolver.one(value, removed=self.removed)

    def validate(self, value):
        forms.Field.validate(self, value)  # the resolver has checked the choice


class LabelClassMultipleChoiceField(forms.MultipleChoiceField):
    """Several classes chosen in a form (checkboxes or repeated values posting UUIDs), cleaned by the resolver."""

    def __init__(self, *, resolver: LabelClassResolver, removed: bool = False, **kwargs):
        self.resolver, self.removed = resolver, removed
        shown = resolver.classes if removed else resolver.active
        super().__init__(choices=[(str(c.uuid), c.name) for c in shown], **kwargs)

    def to_python(self, value):
        if not value:
            return []
        if not isinstance(value, (list, tuple)):
            raise forms.ValidationError(self.error_messages["invalid_list"], code="invalid_list")
        return self.resolver.many(value, removed=self.removed)

    def validate(self, value):
        forms.Field.validate(self, value)
