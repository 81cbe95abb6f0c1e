"""Forms of the project settings page (the wizard's forms live in projects/definition/wizard.py)."""

from django import forms

from projects.definition.services import project_name_taken
from projects.definition.wizard import InstructionsForm, MlForm
from projects.models import LabelingProject


class ProjectSettingsForm(InstructionsForm, MlForm):
    name = forms.CharField(label="Project name", max_length=120)
    incremental_refresh = forms.BooleanField(
        label="Incremental refresh",
        required=False,
        help_text="Periodically checks the dataset's folder for new images and adds them to this project.",
    )
    ml_assisted = forms.BooleanField(
        label="ML assisted labeling", required=False, help_text=MlForm.base_fields["ml_assisted"].help_text
    )
    field_order = [
        "name",
        "incremental_refresh",
        "instructions_url",
        "instructions_text",
        "ml_assisted",
        "ml_min_labels",
        "ml_target_accuracy",
        "ml_cluster",
        "ml_active_learning",
    ]

    def __init__(self, *args, project: LabelingProject, ml: bool = True, **kwargs):
        super().__init__(*args, workspace=project.workspace, **kwargs)
        self.project = project
        if not ml:  # this server cannot run ML assist: its settings are shown as they are, never changed here
            for name in MlForm.base_fields:
                del self.fields[name]

    def clean(self):
        cleaned = super().clean() or {}
        cleaned.setdefault("ml_assisted", self.project.ml_assisted)
        return cleaned

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if project_name_taken(workspace=self.project.workspace, name=name, exclude=self.project):
            raise forms.ValidationError(f"A project named “{name}” already exists in this workspace.")
        return name


class LabelAddForm(forms.Form):
    name = forms.CharField(label="New label class", max_length=100)


class LabelMoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", "Up"), ("down", "Down")])


class ProjectStateForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("pause", "Pause"), ("resume", "Resume"), ("archive", "Archive")],
        error_messages={
            "required": "Choose pause, resume or archive.",
            "invalid_choice": "Choose pause, resume or archive.",
        },
    )
