"""Forms of the approvals pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from procurement.models import User

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


class DelegationForm(forms.Form):
    """Out of office: who decides my approval steps, and when. The rules live in the service."""

    delegate: forms.ModelChoiceField[User] = forms.ModelChoiceField(
        queryset=User.objects.none(), label="Who decides for me"
    )
    starts_on = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(
        label="Until (included)", widget=forms.DateInput(attrs={"type": "date"})
    )
    reason = forms.CharField(
        label="Reason", max_length=200, required=False, help_text='e.g. "Annual leave".'
    )

    def __init__(self, *args: Any, delegator: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["delegate"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = (
            User.objects.filter(is_active=True)
            .exclude(pk=delegator.pk)
            .order_by("first_name", "last_name", "username")
        )
