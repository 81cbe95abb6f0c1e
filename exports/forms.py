"""Forms of the export panel and the label import page."""

from django import forms

from exports.models import Export


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=Export.Format.choices, initial=Export.Format.COCO)
    only_approved = forms.TypedChoiceField(
        label="Which labels",
        coerce=lambda v: v == "approved",
        initial="labeled",
        choices=[("labeled", "All labeled images"), ("approved", "Only approved images")],
    )
    include_unlabeled = forms.BooleanField(required=False, label="Include unlabeled images (COCO)")


class ImportForm(forms.Form):
    FORMATS = [
        ("coco", "COCO (JSON)"),
        ("jsonl", "Azure ML JSON Lines dataset"),
        ("csv", "CSV (image_url,label or Url,Label)"),
    ]
    file = forms.FileField()
    format = forms.ChoiceField(choices=FORMATS)
    as_final = forms.TypedChoiceField(
        label="Import as",
        coerce=lambda v: v == "final",
        initial="prelabels",
        choices=[
            ("prelabels", "Pre-labels: suggestions that labelers accept or change"),
            ("final", "Final labels (approved)"),
        ],
    )
