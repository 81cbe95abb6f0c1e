"""Forms of the review pages: the labeled-data filters (a GET query string) and the decision POST."""

from __future__ import annotations

import uuid

from django import forms
from django.http import QueryDict

from projects.definition.label_classes import LabelClassChoiceField, LabelClassMultipleChoiceField, LabelClassResolver
from projects.models import LabelClass
from review.selectors import DEFAULT_LAYOUT, LAYOUTS, STATE_FILTERS, Cursor, InvalidCursor, LabeledFilters

SORTS = [("newest", "Newest first"), ("oldest", "Oldest first")]
CURSOR_ERROR = "This page link is broken or out of date."


class CursorField(forms.Field):
    """A page cursor from a Next/Previous link (`Cursor.token`), cleaned to a Cursor."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            if len(value) > 200:
                raise InvalidCursor(value)
            return Cursor.from_token(str(value))
        except InvalidCursor:
            raise forms.ValidationError(CURSOR_ERROR, code="invalid_cursor") from None


class CursorForm(forms.Form):
    """Where a keyset page starts: after (Next) or before (Previous) a cursor, or neither (the first page)."""

    after = CursorField()
    before = CursorField()

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if data.get("after") and data.get("before"):
            self.add_error("before", forms.ValidationError("Give after or before, not both.", code="invalid_cursor"))
        return data

    @property
    def cursor_error(self) -> str:
        """Why the cursors were ignored ("" when they were fine)."""
        return " ".join(str(message) for name in ("after", "before") for message in self.errors.get(name, []))

    def cursor(self, name) -> Cursor | None:
        return None if self.cursor_error else self.cleaned_data.get(name)


class LabeledFilterForm(CursorForm):
    """Filters live in the URL (shareable, back button works); invalid values are ignored, never an error page."""

    state = forms.ChoiceField(label="State", required=False, choices=[(k, v[0]) for k, v in STATE_FILTERS.items()])
    sort = forms.ChoiceField(label="Sort", required=False, choices=SORTS)
    layout = forms.TypedChoiceField(
        label="Layout",
        required=False,
        coerce=int,
        empty_value=DEFAULT_LAYOUT,  # type: ignore[arg-type]  # coerced to int, so is this
        choices=[(n, f"{n} per page") for n in LAYOUTS],
    )

    def __init__(self, data, *, classes: LabelClassResolver, labelers, **kwargs):
        data = data.copy()  # show the defaults in the widgets of a bound form
        data.setdefault("layout", str(DEFAULT_LAYOUT))
        data.setdefault("sort", "newest")
        super().__init__(data, **kwargs)
        self.labelers = {u.username: u for u in labelers}
        # Declared here: "class", "from" and "to" are the names users see in the URL. A class is named by its name
        # there (readable, shareable; a UUID works too), and removed classes still filter the tags they left.
        self.fields["class"] = LabelClassChoiceField(
            resolver=classes, removed=True, by="name", empty_label="Any class", label="Class", required=False
        )
        self.fields["labeler"] = forms.ChoiceField(
            label="Labeler", required=False, choices=[("", "Anyone")] + [(n, n) for n in self.labelers]
        )
        self.fields["from"] = forms.DateField(
            label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
        )
        self.fields["to"] = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
        self.order_fields(["class", "labeler", "state", "from", "to", "sort", "layout", "after", "before"])
        self.is_valid()

    def value(self, name, default=None):
        value = self.cleaned_data.get(name) if name not in self.errors else None
        return default if value in (None, "") else value

    @property
    def filters(self) -> LabeledFilters:
        return LabeledFilters(
            label_class=self.value("class"),
            labeler=self.labelers.get(self.value("labeler", "")),
            state=self.value("state", ""),
            date_from=self.value("from"),
            date_to=self.value("to"),
            newest_first=self.value("sort", "newest") != "oldest",
        )

    @property
    def page_size(self) -> int:
        return self.value("layout", DEFAULT_LAYOUT)

    def query(self, **overrides) -> str:
        """The canonical query string of these filters and cursor (defaults left out), with `overrides` applied."""
        values = {name: self.value(name) for name in ("class", "labeler", "state", "from", "to", "sort", "layout")}
        values.update(after=self.cursor("after"), before=self.cursor("before"))
        values.update(overrides)
        defaults = {"sort": "newest", "layout": DEFAULT_LAYOUT}
        query = QueryDict(mutable=True)
        for name, given in values.items():
            value = given.token if isinstance(given, Cursor) else given.name if isinstance(given, LabelClass) else given
            if value not in (None, "") and defaults.get(name) != value:
                query[name] = value.isoformat() if hasattr(value, "isoformat") else str(value)
        return query.urlencode()


class ItemVersionsField(forms.Field):
    """Selected tiles arrive as "<item uuid>:<version>" values."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        pairs = []
        for raw in value or []:
            item, _, version = str(raw).partition(":")
            try:
                pairs.append((uuid.UUID(item), int(version)))
            except ValueError:
                raise forms.ValidationError("An item reference is malformed; reload the page.") from None
        if not pairs:
            raise forms.ValidationError("Select images first.")
        return pairs


class DecisionForm(forms.Form):
    items = ItemVersionsField()
    decision = forms.ChoiceField(
        choices=[("approve", "Approve"), ("reject", "Reject"), ("correct", "Correct and approve")]
    )
    reason = forms.CharField(required=False, max_length=2000)
    mode = forms.ChoiceField(required=False, choices=[("labeled", "labeled"), ("queue", "queue"), ("item", "item")])
    next = forms.CharField(required=False, max_length=2000)

    def __init__(self, data, *, classes: LabelClassResolver, **kwargs):
        super().__init__(data, **kwargs)
        # A correction sets new tags: the project's active classes, posted by UUID.
        self.fields["labels"] = LabelClassMultipleChoiceField(resolver=classes, required=False)

    def clean_next(self):
        return filters_query(self.cleaned_data["next"])


class SkippedActionForm(forms.Form):
    items = ItemVersionsField()
    action = forms.ChoiceField(choices=[("requeue", "Re-queue"), ("remove", "Remove from project")])
    next = forms.CharField(required=False, max_length=2000)

    def clean_next(self):
        return filters_query(self.cleaned_data["next"])


def filters_query(raw: str) -> str:
    """A "return to the page" query string (filters and cursor), re-encoded: never a URL to go to."""
    return QueryDict(raw.lstrip("?").split("#")[0]).urlencode() if len(raw) <= 2000 else ""
