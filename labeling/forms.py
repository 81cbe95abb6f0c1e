from django import forms


class LabelRemoveForm(forms.Form):
    KEEP, REQUEUE = "keep", "requeue"
    tags = forms.ChoiceField(
        label="What happens to images already tagged with it?",
        widget=forms.RadioSelect,
        choices=[
            (KEEP, "Keep their tags (the class stays on those images, labelers can no longer choose it)"),
            (REQUEUE, "Send those images back to the queue to be labeled again (their tags become history)"),
        ],
    )
