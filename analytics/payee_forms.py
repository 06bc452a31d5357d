"""Page forms of the payees pages: the exchange-rates file."""

from __future__ import annotations

from typing import Any

from django import forms

from procurement.errors import InvalidInput
from procurement.files import text_file_check

RATE_FILE_MAX_BYTES = 5 * 1024 * 1024


class RateFileForm(forms.Form):
    file = forms.FileField(
        label="Rates file (CSV)",
        help_text="Columns currency,date,rate with that header; dates 2026-01-31 or 31/01/2026; "
        "the rate is the base-currency value of one unit from that day on.",
    )

    def clean_file(self) -> Any:
        """At most RATE_FILE_MAX_BYTES of text, read to its end: no binary, no web page."""
        upload = self.cleaned_data["file"]
        try:
            text_file_check(upload, field="file", limit=RATE_FILE_MAX_BYTES, noun="rates files")
        except InvalidInput as error:
            raise forms.ValidationError(error.fields["file"]) from None
        return upload
