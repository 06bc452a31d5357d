"""Page forms of objectives. They parse the browser's POST into the services' inputs; the
rules live in planning/objectives.py, whose errors the views put back next to these fields
(the services key them by the same names)."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from planning.objectives import COMPANY_WIDE, ObjectiveInput
from procurement.models import (
    Department,
    FiscalYear,
    Objective,
    ObjectiveStatus,
    User,
)

# A new objective starts planned or active; achieved and dropped are where it ends.
STARTING_STATUSES = [
    (ObjectiveStatus.PLANNED.value, ObjectiveStatus.PLANNED.label),
    (ObjectiveStatus.ACTIVE.value, ObjectiveStatus.ACTIVE.label),
]


class OwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        user = cast(User, obj)
        name = user.get_full_name()
        return f"{name} ({user.username})" if name else user.username


class ObjectiveForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4})
    )
    fiscal_year = forms.ModelChoiceField(
        queryset=FiscalYear.objects.none(),
        label="Fiscal year",
        help_text="The period the objective is for. Closed years are not offered.",
    )
    department = forms.ModelChoiceField(
        queryset=Department.objects.all(),
        required=False,
        empty_label="Company-wide",
        help_text="Company-wide: any department's requests may serve it. Otherwise only this "
        "department's.",
    )
    owner = OwnerChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("first_name", "last_name", "username")
    )
    status = forms.ChoiceField(choices=STARTING_STATUSES, initial=ObjectiveStatus.ACTIVE)

    def __init__(self, *args: Any, objective: Objective | None = None, **kwargs: Any) -> None:
        if objective is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": objective.name,
                    "description": objective.description,
                    "fiscal_year": objective.fiscal_year_id,
                    "department": objective.department_id,
                    "owner": objective.owner_id,
                },
            )
        super().__init__(*args, **kwargs)
        years = FiscalYear.objects.filter(is_closed=False)
        if objective is not None:
            # Its own year stays choosable even once closed, so other fields can be edited.
            years = FiscalYear.objects.filter(is_closed=False) | FiscalYear.objects.filter(
                pk=objective.fiscal_year_id
            )
            # The status has its own form on the objective's page.
            del self.fields["status"]
        cast(forms.ModelChoiceField, self.fields["fiscal_year"]).queryset = years.order_by(
            "starts_on"
        )

    def objective_input(self) -> ObjectiveInput:
        data = self.cleaned_data
        return ObjectiveInput(
            name=data["name"],
            description=data["description"],
            fiscal_year=data["fiscal_year"],
            department=data["department"],
            owner=data["owner"],
            status=data.get("status") or ObjectiveStatus.ACTIVE,
        )


class ObjectiveStatusForm(forms.Form):
    status = forms.ChoiceField(choices=ObjectiveStatus.choices, label="New status")
    comment = forms.CharField(
        required=False,
        max_length=2000,
        label="Why (kept in the history)",
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ObjectiveFilterForm(forms.Form):
    """The list's filters (GET). An unknown value is an error, shown next to its filter."""

    year = forms.ModelChoiceField(
        queryset=FiscalYear.objects.order_by("starts_on"),
        required=False,
        empty_label="Any year",
        label="Fiscal year",
    )
    department = forms.ChoiceField(required=False, label="Department")
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *ObjectiveStatus.choices], label="Status"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["department"]).choices = [
            ("", "Any department"),
            (COMPANY_WIDE, "Company-wide only"),
            *[(str(d.pk), d.name) for d in Department.objects.order_by("name")],
        ]

    @property
    def filtered(self) -> bool:
        return self.is_bound and any(self.data.get(name) for name in self.fields)

    def department_value(self) -> int | str | None:
        value = self.cleaned_data.get("department") or ""
        if not value:
            return None
        return COMPANY_WIDE if value == COMPANY_WIDE else int(value)
