"""The project wizard's steps: one form per step, what was entered kept in the session per
workspace (so Back and Next never lose anything), and a final check of every step before create."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.datastructures import MultiValueDict

from projects.datastores.paths import path_clean
from projects.definition.services import label_names_clean, project_name_taken
from projects.models import ML_MIN_LABELS_FLOOR, ML_MIN_PER_CLASS, Dataset, Datastore, LabelingProject


class StepForm(forms.Form):
    """A wizard step's form, built for the workspace the project will live in."""

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace = workspace


class DetailsForm(StepForm):
    name = forms.CharField(label="Project name", max_length=120)
    media_type = forms.ChoiceField(
        label="Media type", choices=[("image", "Image")], initial="image", widget=forms.RadioSelect
    )
    task_type = forms.ChoiceField(
        label="Labeling task type",
        choices=LabelingProject.TaskType.choices,
        widget=forms.RadioSelect,
        help_text="Multi-class: one tag per image. Multi-label: any number of tags per image.",
    )

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if project_name_taken(workspace=self.workspace, name=name):
            raise ValidationError(f"A project named “{name}” already exists in this workspace. Choose another name.")
        return name


class DatasetChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} — {obj.get_scan_state_display().lower()}, {obj.scan_registered} items"


class DatasetForm(StepForm):
    dataset = DatasetChoiceField(
        queryset=Dataset.objects.none(),
        to_field_name="uuid",
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={"required": "Select a dataset, or create one from a datastore."},
    )

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, workspace=workspace, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["dataset"])
        field.queryset = Dataset.objects.for_workspace(workspace).select_related("datastore")


class DatastoreChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.get_kind_display()})"


class DatasetCreateForm(StepForm):
    """+ Create a dataset → From datastore, inside the wizard (dataset_create does the work)."""

    name = forms.CharField(label="Dataset name", max_length=120)
    description = forms.CharField(label="Description", required=False, widget=forms.Textarea(attrs={"rows": 2}))
    datastore = DatastoreChoiceField(queryset=Datastore.objects.none(), to_field_name="uuid", empty_label=None)
    path = forms.CharField(
        label="Path",
        required=False,
        max_length=1000,
        help_text="The folder inside the datastore; Browse folders to pick it. Empty means the whole datastore.",
    )
    include_subfolders = forms.BooleanField(label="Include subfolders", required=False, initial=True)

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, workspace=workspace, **kwargs)
        self.datastores = Datastore.objects.for_workspace(workspace)
        cast(forms.ModelChoiceField, self.fields["datastore"]).queryset = self.datastores

    def clean_path(self):
        return path_clean(self.cleaned_data["path"], field=None)


class RefreshForm(StepForm):
    incremental_refresh = forms.BooleanField(
        label="Enable incremental refresh",
        required=False,
        help_text="Periodically checks the dataset's folder for new images and adds them to this project.",
    )


class LabelsForm(StepForm):
    """Label names arrive as repeated `labels` values plus `new_label`; buttons edit the list."""

    labels = forms.CharField(required=False)  # the list itself is read with getlist()
    new_label = forms.CharField(label="Label name", required=False, max_length=100)

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, workspace=workspace, **kwargs)
        self.names = list(cast(MultiValueDict, self.data).getlist("labels")) if self.is_bound else []

    def clean(self):
        names = self.names + (
            [self.cleaned_data.get("new_label", "")] if self.cleaned_data.get("new_label", "").strip() else []
        )
        try:
            names = label_names_clean(names)
        except ValidationError as error:
            raise ValidationError(error.messages[0]) from error
        if len(names) < 2:
            raise ValidationError("Add at least two label classes, e.g. Cat and Dog.")
        self.cleaned_data["label_names"] = names
        return self.cleaned_data


def _web_link(value):
    URLValidator(schemes=["http", "https"], message="Give an http:// or https:// link.")(value)


class InstructionsForm(StepForm):
    instructions_url = forms.URLField(
        label="Link to detailed instructions",
        required=False,
        assume_scheme="https",
        validators=[_web_link],
        max_length=200,
    )
    instructions_text = forms.CharField(
        label="Short description",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Plain text with a little Markdown: **bold**, *italic*, `code`, lists, [links](https://…).",
    )


class MlForm(StepForm):
    """ML assist and its settings (shown only where the server can run it: `core.features.ml_available`)."""

    ml_assisted = forms.BooleanField(
        label="Enable ML assisted labeling",
        required=False,
        help_text="A model learns from the labels: images it is sure about arrive with suggested tags, "
        "and similar images can share a page.",
    )
    ml_min_labels = forms.IntegerField(
        label="Labels before the first training",
        required=False,
        min_value=ML_MIN_LABELS_FLOOR,
        max_value=1_000_000,
        initial=50,
        help_text=f"Training also waits until at least two classes have {ML_MIN_PER_CLASS} labels each.",
    )
    ml_target_accuracy = forms.IntegerField(
        label="Target accuracy of pre-labels (%)",
        required=False,
        min_value=50,
        max_value=100,
        initial=95,
        help_text="Only images the model is sure enough about to reach this accuracy on held-out labels are "
        "pre-labeled; if it cannot reach it, nothing is.",
    )
    ml_cluster = forms.BooleanField(label="Put similar images on the same page", required=False, initial=True)
    ml_active_learning = forms.BooleanField(
        label="Images the model is least sure about first",
        required=False,
        initial=False,
        help_text="Active learning: the labels that teach the model most come first.",
    )

    def clean(self):
        cleaned = super().clean() or {}
        for name in ("ml_min_labels", "ml_target_accuracy"):
            if name in self.fields and cleaned.get(name) is None and name not in self.errors:
                cleaned[name] = self.fields[name].initial
        return cleaned


@dataclass(frozen=True)
class Step:
    slug: str
    title: str
    form: type[StepForm]


STEPS = [
    Step("details", "Project details", DetailsForm),
    Step("dataset", "Select or create a dataset", DatasetForm),
    Step("refresh", "Incremental refresh", RefreshForm),
    Step("labels", "Label classes", LabelsForm),
    Step("instructions", "Labeling instructions", InstructionsForm),
    Step("ml", "ML assisted labeling", MlForm),
]
BY_SLUG = {step.slug: step for step in STEPS}
SLUGS = [step.slug for step in STEPS]


class WizardState:
    """What was entered in each step (raw, as posted) for one workspace, kept in the session."""

    def __init__(self, session, workspace):
        self.session, self.workspace = session, workspace
        self.key = f"project_wizard:{workspace.pk}"
        self.data: dict = session.get(self.key, {})

    def raw(self, slug: str) -> dict:
        return self.data.get(slug, {})

    def save(self, slug: str, post) -> None:
        fields = BY_SLUG[slug].form.base_fields
        self.data[slug] = {name: list(post.getlist(name)) for name in fields}
        self.session[self.key] = self.data
        self.session.modified = True

    def put(self, slug: str, values: dict) -> None:
        self.data[slug] = values
        self.session[self.key] = self.data
        self.session.modified = True

    def clear(self) -> None:
        self.data = {}
        self.session.pop(self.key, None)

    def bound(self, slug: str):
        return BY_SLUG[slug].form(MultiValueDict(self.raw(slug)), workspace=self.workspace)

    def unbound(self, slug: str):
        """The step's form showing what was entered, without error messages."""
        form_class = BY_SLUG[slug].form
        initial = {}
        for name, field in form_class.base_fields.items():
            values = self.raw(slug).get(name, [])
            if slug not in self.data:  # not visited yet: the field's default (a checkbox may start ticked)
                initial[name] = field.initial
            elif isinstance(field, forms.BooleanField):
                initial[name] = bool(values) and values[0] not in ("", "false", "off")
            else:
                initial[name] = values[0] if values else field.initial
        form = form_class(initial=initial, workspace=self.workspace)
        if isinstance(form, LabelsForm):
            form.names = self.raw(slug).get("labels", [])
        return form

    def for_display(self, slug: str):
        """A step that was passed once but no longer validates (say its name got taken meanwhile)
        shows its errors; otherwise the entered values without messages."""
        later = SLUGS[SLUGS.index(slug) + 1 :]
        if slug in self.data and any(s in self.data for s in later):
            form = self.bound(slug)
            if not form.is_valid():
                return form
        return self.unbound(slug)

    def done(self, slug: str) -> bool:
        return slug in self.data and self.bound(slug).is_valid()

    def first_incomplete(self) -> str | None:
        for step in STEPS:
            if not self.done(step.slug):
                return step.slug
        return None

    def cleaned(self) -> dict | None:
        """Every step's cleaned data merged, or None while a step does not validate (see first_incomplete)."""
        merged = {}
        for step in STEPS:
            form = self.bound(step.slug)
            if not form.is_valid():
                return None
            merged.update(form.cleaned_data)
        return merged


def labels_edit(names: list[str], action: str, new_label: str) -> tuple[list[str], str | None]:
    """Apply one label-list button (add, remove-i, up-i, down-i); returns (names, error message)."""
    names = list(names)
    if action == "add":
        try:
            [name] = label_names_clean([new_label])
            names = label_names_clean([*names, name])
        except ValidationError as error:
            return names, error.messages[0]
        return names, None
    verb, _, index = action.partition("-")
    if not index.isdigit() or int(index) >= len(names):
        return names, None
    i = int(index)
    if verb == "remove":
        names.pop(i)
    elif verb in ("up", "down"):
        j = i - 1 if verb == "up" else i + 1
        if 0 <= j < len(names):
            names[i], names[j] = names[j], names[i]
    return names, None
