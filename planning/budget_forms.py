"""Page forms of budgets. They parse the browser's POST into the services' inputs; the rules
live in planning/budgets.py (budget_create, budget_revise), whose errors the views put back
next to these fields (the services key them by the same names; "phasing" errors go above
the twelve months)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, cast

from django import forms

from planning.budgets import BudgetInput, budget_months
from planning.models import Budget, ExtraApprover, OnExceed
from planning.objective_forms import OwnerChoiceField
from procurement.models import Category, CostCentre, FiscalYear, Objective, User

MONTHS = [f"month_{number}" for number in range(1, 13)]


class FiscalYearChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        year = cast(FiscalYear, obj)
        return f"{year.name} (closed)" if year.is_closed else year.name


class ObjectiveChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        objective = cast(Objective, obj)
        where = objective.department.name if objective.department else "company-wide"
        return f"{objective.name} ({objective.fiscal_year.name}, {where})"


class PhasedForm(forms.Form):
    """Twelve optional monthly amounts: all empty for an even spread, or all given."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.phasing_errors: list[str] = []
        for number, name in enumerate(MONTHS, start=1):
            self.fields[name] = forms.DecimalField(
                label=f"Month {number}", required=False, max_digits=16, decimal_places=2
            )

    def label_months(self, starts_on: dt.date) -> None:
        for name, (month, _amount) in zip(MONTHS, _months_from(starts_on), strict=True):
            self.fields[name].label = f"{month:%b %Y}"

    @property
    def month_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in MONTHS]

    def add_phasing_error(self, message: str) -> None:
        self.phasing_errors.append(message)
        for name in MONTHS:
            self.fields[name].widget.attrs.update(
                {"aria-invalid": "true", "aria-describedby": "phasing_error"}
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        given = [cleaned.get(name) for name in MONTHS]
        filled = [value for value in given if value is not None]
        if filled and len(filled) != len(MONTHS):
            self.add_phasing_error("Give all twelve months, or none to spread the budget evenly.")
            # Counted as an error of the form, so is_valid() says no.
            self.add_error(None, "Check the monthly phasing.")
        return cleaned

    def phasing(self) -> list[Decimal]:
        values = [self.cleaned_data.get(name) for name in MONTHS]
        return [value for value in values if value is not None]


def _months_from(starts_on: dt.date) -> list[tuple[dt.date, None]]:
    start = starts_on.replace(day=1)
    months = []
    for index in range(12):
        year, month = divmod(start.month - 1 + index, 12)
        months.append((dt.date(start.year + year, month + 1, 1), None))
    return months


class BudgetForm(PhasedForm):
    fiscal_year = FiscalYearChoiceField(
        queryset=FiscalYear.objects.order_by("-starts_on"), label="Fiscal year"
    )
    cost_centre = forms.ModelChoiceField(
        queryset=CostCentre.objects.filter(is_active=True).select_related("department"),
        label="Cost centre",
    )
    category = forms.ModelChoiceField(
        queryset=Category.objects.filter(is_active=True),
        required=False,
        empty_label="Every category",
        help_text="Narrow the budget to one category; empty: all the cost centre buys.",
    )
    objective = ObjectiveChoiceField(
        queryset=Objective.objects.select_related("fiscal_year", "department").order_by(
            "-fiscal_year__starts_on", "name"
        ),
        required=False,
        empty_label="Whatever the requests serve",
        help_text="Narrow the budget to the requests serving one objective.",
    )
    owner = OwnerChoiceField(
        queryset=User.objects.filter(is_active=True).order_by(
            "first_name", "last_name", "username"
        ),
        help_text="Answers for the budget, and decides the extra step when the policy asks for one.",
    )
    amount = forms.DecimalField(
        label="Amount", max_digits=17, decimal_places=2, help_text="For the whole year."
    )
    on_exceed = forms.ChoiceField(
        choices=OnExceed.choices,
        initial=OnExceed.WARN,
        label="When a request would exceed it",
    )
    extra_approver = forms.ChoiceField(
        choices=ExtraApprover.choices,
        initial=ExtraApprover.OWNER,
        label="Extra step decided by",
        help_text="Only when the policy asks for an extra approval step.",
    )
    reason = forms.CharField(
        required=False, max_length=500, label="Note", help_text="Kept with version 1."
    )

    field_order = [
        "fiscal_year",
        "cost_centre",
        "category",
        "objective",
        "owner",
        "amount",
        "on_exceed",
        "extra_approver",
        "reason",
    ]

    def budget_input(self) -> BudgetInput:
        data = self.cleaned_data
        return BudgetInput(
            fiscal_year=data["fiscal_year"],
            cost_centre=data["cost_centre"],
            owner=data["owner"],
            amount=data["amount"],
            category=data["category"],
            objective=data["objective"],
            phasing=self.phasing(),
            on_exceed=data["on_exceed"],
            extra_approver=data["extra_approver"],
        )


class BudgetReviseForm(PhasedForm):
    amount = forms.DecimalField(
        label="New amount", max_digits=17, decimal_places=2, help_text="For the whole year."
    )
    on_exceed = forms.ChoiceField(choices=OnExceed.choices, label="When a request would exceed it")
    extra_approver = forms.ChoiceField(
        choices=ExtraApprover.choices,
        label="Extra step decided by",
        help_text="Only when the policy asks for an extra approval step.",
    )
    owner = OwnerChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("first_name", "last_name", "username")
    )
    reason = forms.CharField(
        max_length=500,
        label="Why it changes",
        help_text="Kept with the new version, in the budget's history.",
    )

    field_order = ["amount", "on_exceed", "extra_approver", "owner", "reason"]

    def __init__(self, *args: Any, budget: Budget, **kwargs: Any) -> None:
        initial: dict[str, Any] = {
            "amount": budget.amount,
            "on_exceed": budget.on_exceed,
            "extra_approver": budget.extra_approver,
            "owner": budget.owner_id,
        }
        if budget.phasing:
            for name, (_month, amount) in zip(MONTHS, budget_months(budget), strict=True):
                initial[name] = amount
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        self.label_months(budget.fiscal_year.starts_on)


class BudgetFilterForm(forms.Form):
    year = forms.ModelChoiceField(
        queryset=FiscalYear.objects.order_by("-starts_on"),
        required=False,
        empty_label="Any year",
        label="Fiscal year",
    )

    @property
    def filtered(self) -> bool:
        return self.is_bound and bool(self.data.get("year"))
