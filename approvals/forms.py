"""Forms of the approvals pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

# More than any inbox page shows: a bigger POST is not from our form.
BULK_MAX_ITEMS = 200


class StepIdsField(forms.Field):
    """The ids of the ticked rows. Which of them may be approved is for the service to say,
    item by item, so an unknown id is not an error here: only one that is not a number."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        values = value if isinstance(value, list | tuple) else ([value] if value else [])
        if len(values) > BULK_MAX_ITEMS:
            raise ValidationError(f"Choose at most {BULK_MAX_ITEMS} items at a time.")
        try:
            return [int(item) for item in values]
        except (TypeError, ValueError):
            raise ValidationError("That is not a list of approval steps.") from None


class BulkApproveForm(forms.Form):
    steps = StepIdsField(error_messages={"required": "Tick the items to approve first."})
