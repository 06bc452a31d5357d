"""The forecast's filter form (GET): the first month, a department and a category. Its
department menu holds only what the user may see; the parsing of the month is the spend
filters' (analytics.scope.filter_month), the rule on how far ahead it may start is
planning.forecast's. forecast_form_for builds it for a user, the same way for the page, the
downloads and the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from analytics.forms import MonthInput
from analytics.scope import filter_month
from planning.forecast import (
    UNASSIGNED,
    UNASSIGNED_ID,
    ForecastFilters,
    forecast_scope_department_ids,
    forecast_start_check,
    month_of,
)
from procurement.errors import InvalidInput
from procurement.models import Category, Department, User
from requests.models import RequestState
from requests.selectors import purchase_request_visible_to


class ForecastForm(forms.Form):
    start = forms.CharField(
        label="First month",
        required=False,
        widget=MonthInput(attrs={"placeholder": "YYYY-MM"}),
        help_text="Twelve months from this one. Empty: this month.",
    )
    department = forms.TypedChoiceField(
        label="Department", required=False, coerce=int, empty_value=None
    )
    category = forms.TypedChoiceField(
        label="Category", required=False, coerce=int, empty_value=None
    )

    def __init__(
        self,
        data: Any = None,
        *,
        scope_department_ids: frozenset[int] | None,
        today: dt.date,
        request_ids_shown: frozenset[int] | None = None,
    ) -> None:
        super().__init__(data)
        self.today = today
        self.scope_department_ids = scope_department_ids
        self.request_ids_shown = request_ids_shown
        departments = Department.objects.order_by("name")
        if scope_department_ids is not None:
            departments = departments.filter(pk__in=scope_department_ids)
        department_choices: list[tuple[Any, str]] = [("", "All departments")]
        department_choices += [(d.pk, d.name) for d in departments]
        if scope_department_ids is None:
            department_choices.append((UNASSIGNED_ID, UNASSIGNED))
        category_choices: list[tuple[Any, str]] = [("", "All categories")]
        category_choices += [(c.pk, c.name) for c in Category.objects.order_by("name")]
        category_choices.append((UNASSIGNED_ID, UNASSIGNED))
        department = self.fields["department"]
        category = self.fields["category"]
        assert isinstance(department, forms.TypedChoiceField)
        assert isinstance(category, forms.TypedChoiceField)
        department.choices = department_choices
        category.choices = category_choices

    def clean_start(self) -> dt.date:
        value = self.cleaned_data.get("start") or ""
        try:
            month = filter_month(value, "start")
            return forecast_start_check(month or month_of(self.today), today=self.today)
        except InvalidInput as error:
            raise forms.ValidationError(error.fields.get("start") or [error.message]) from None

    def filters(self) -> ForecastFilters:
        """The filters of a valid form, narrowed to the user's scope."""
        data = self.cleaned_data
        return ForecastFilters(
            start=data["start"],
            department_id=data.get("department"),
            category_id=data.get("category"),
            scope_department_ids=self.scope_department_ids,
            request_ids_shown=self.request_ids_shown,
        )

    def invalid_input(self) -> InvalidInput:
        """An invalid form's errors as one InvalidInput, the body the downloads and the API
        answer with: its message names the first bad field ("start: Use YYYY-MM, e.g.
        2026-01."), its `fields` hold every one."""
        fields = {name: [str(m) for m in messages] for name, messages in self.errors.items()}
        name, messages = next(iter(fields.items()))
        return InvalidInput(f"{name}: {messages[0]}", fields=fields)

    @property
    def filtered(self) -> bool:
        return self.is_bound and any(
            self.data.get(name) for name in ("start", "department", "category")
        )


def forecast_form_for(user: User, data: Any, *, today: dt.date) -> ForecastForm:
    """The filter form bound to `data` (a query string), narrowed to what `user` may see:
    their departments, and the approved requests they may open (the others are named by
    their reference only). NotAllowed for someone who may not see the forecast, before
    anything in `data` is read."""
    scope = forecast_scope_department_ids(user)
    # A manager sees their department's approved requests as amounts; the titles only of
    # those they may open (finance, procurement and admins open every request).
    shown = None
    if scope is not None:
        shown = frozenset(
            purchase_request_visible_to(user)
            .filter(state=RequestState.APPROVED)
            .values_list("pk", flat=True)
        )
    return ForecastForm(data, scope_department_ids=scope, today=today, request_ids_shown=shown)
