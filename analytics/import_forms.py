"""Page forms for spend imports: the upload, and the column mapping.

The rules of a mapping live in analytics/importing.py (`mapping_validate`); these forms parse
the browser's POST and carry its errors back to the fields they name. Whether an upload is
a CSV at all (its size, its bytes) is decided by `services.spend_import_upload`; the upload
form also reads the whole file first (procurement.files.text_file_check), so that a file
that turns binary after its first kilobytes, or is a web page, is refused on the page.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings

from analytics import importing
from analytics.models import SpendSource
from procurement.errors import InvalidInput
from procurement.files import human_size, text_file_check

# What the file picker offers; the bytes still decide, since a name proves nothing.
SPEND_FILE_ACCEPT = ".csv,.txt,text/csv,text/plain"
# The fields of a spend line a column can feed, in the order the mapping page shows them.
MAPPED_FIELDS: list[tuple[str, str, bool, str]] = [
    ("date", "Date", True, "When the payment was made."),
    ("amount", "Amount", True, "Negative amounts (credit notes) are imported as they are."),
    ("supplier", "Supplier", True, "Who was paid, as the file spells it."),
    ("reference", "Reference", False, "The transaction number; a re-import skips it."),
    ("category", "Category", False, ""),
    ("department", "Department or cost centre", False, ""),
    ("description", "Description", False, ""),
    ("currency", "Currency", False, "Empty: every amount is in the source's currency."),
    ("quantity", "Quantity", False, ""),
]
NOT_IN_FILE = "— not in the file —"


class UploadForm(forms.Form):
    source = forms.ModelChoiceField(
        queryset=SpendSource.objects.none(),
        required=False,
        empty_label="A new source (name it below)",
        help_text="Where the file comes from: its column mapping is remembered for next time.",
    )
    new_source = forms.CharField(
        max_length=120,
        required=False,
        label="New source name",
        help_text="e.g. “Finance system payments” or “Purchase cards”.",
    )
    currency = forms.ChoiceField(
        choices=[],
        help_text="Of the amounts, when the file has no currency column (new sources only).",
    )
    file = forms.FileField(
        label="Spend file (CSV)",
        widget=forms.ClearableFileInput(attrs={"accept": SPEND_FILE_ACCEPT}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        source = cast(forms.ModelChoiceField, self.fields["source"])
        source.queryset = SpendSource.objects.filter(kind=SpendSource.Kind.FILE)
        currency = cast(forms.ChoiceField, self.fields["currency"])
        currency.choices = [(code, code) for code in settings.CURRENCIES]
        currency.initial = settings.BASE_CURRENCY
        self.fields["file"].help_text = (
            f"A CSV export with a header row, up to "
            f"{human_size(settings.SPEND_IMPORT_MAX_BYTES)}. Nothing is imported before "
            "you have checked the columns."
        )

    def clean_new_source(self) -> str:
        return " ".join(self.cleaned_data["new_source"].split())

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        # A larger file is the service's to refuse: it says to use the command line instead.
        if upload.size <= settings.SPEND_IMPORT_MAX_BYTES:
            try:
                text_file_check(
                    upload, field="file", limit=settings.SPEND_IMPORT_MAX_BYTES, noun="spend files"
                )
            except InvalidInput as error:
                raise forms.ValidationError(
                    [*error.fields["file"], "Upload a CSV (comma-separated) text file."]
                ) from None
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("source") and not data.get("new_source") and "new_source" in data:
            self.add_error("new_source", "Choose a source above, or name a new one.")
        return data


class MappingForm(forms.Form):
    """One select per field of a spend line, offering the file's headers."""

    day_first = forms.BooleanField(
        required=False,
        label="Day first (dd/mm/yyyy)",
        help_text="Tick for UK dates: 03/04/2011 is 3 April.",
    )

    def __init__(self, *args: Any, headers: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.headers = headers
        offered = list(dict.fromkeys(header for header in headers if header.strip()))
        fields: dict[str, forms.Field] = {}
        for name, label, required, help_text in MAPPED_FIELDS:
            fields[name] = forms.ChoiceField(
                label=label,
                required=required,
                choices=[("", NOT_IN_FILE), *((header, header) for header in offered)],
                help_text=help_text,
                error_messages={
                    "required": f"Choose the column that holds the {label.lower()}.",
                    "invalid_choice": "The file has no column %(value)s.",
                },
            )
        fields["day_first"] = self.fields.pop("day_first")
        self.fields = {**fields, **self.fields}

    @property
    def column_fields(self) -> list[forms.BoundField]:
        return [self[name] for name, *_ in MAPPED_FIELDS]

    @staticmethod
    def initial_for(mapping: dict[str, Any]) -> dict[str, Any]:
        columns = mapping.get("columns") or {}
        initial: dict[str, Any] = {name: columns.get(name) or "" for name, *_ in MAPPED_FIELDS}
        initial["day_first"] = bool(mapping.get("day_first", True))
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        mapping = {
            "columns": {name: data.get(name) or "" for name, *_ in MAPPED_FIELDS},
            "day_first": bool(data.get("day_first")),
        }
        try:
            self.mapping = importing.mapping_validate(mapping, self.headers)
        except InvalidInput as error:
            for key, messages in error.fields.items():
                name = key.removeprefix("columns.").removeprefix("mapping.")
                self.add_error(name if name in self.fields else None, messages)
            if not error.fields:
                self.add_error(None, error.message)
        return data
