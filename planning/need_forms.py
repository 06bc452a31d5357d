"""Page forms of the needs board.

They only parse the browser's POST into what planning/needs.py takes: the rules (and their
messages) live in the services, whose errors the views put back next to these fields.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import Q
from django.utils import timezone

from analytics.scope import filter_id
from planning.models import Need, NeedCommentKind
from planning.needs import (
    BODY_MAX,
    PROBLEM_MAX,
    TITLE_MAX,
    NeedInput,
    RequestTarget,
    may_manage_needs,
    rfqs_taking_needs,
)
from procurement.models import (
    OPEN_OBJECTIVE_STATUSES,
    Category,
    CostCentre,
    Department,
    Objective,
    User,
)
from sourcing.models import Rfq


class ObjectiveChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        scope = obj.department.name if obj.department_id else "company-wide"
        return f"{obj.name} ({obj.fiscal_year}, {scope})"


class CostCentreChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.code} {obj.name} ({obj.department.name})"


def _money_field(label: str, help_text: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        max_digits=16,
        decimal_places=2,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"min": "0", "step": "0.01", "inputmode": "decimal"}),
    )


def _people_field() -> forms.IntegerField:
    return forms.IntegerField(
        label="People affected",
        help_text="How many people have this problem.",
        widget=forms.NumberInput(attrs={"min": "1", "step": "1", "inputmode": "numeric"}),
    )


def _department_field(user: User, *, required: bool = True) -> forms.ModelChoiceField:
    """Procurement and admins choose any department; everyone else has only their own."""
    queryset = Department.objects.all()
    if not may_manage_needs(user):
        queryset = queryset.filter(members=user)
    return forms.ModelChoiceField(queryset=queryset, required=required, label="Department")


class NeedForm(forms.Form):
    title = forms.CharField(max_length=TITLE_MAX)
    problem = forms.CharField(
        max_length=PROBLEM_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="What goes wrong today, and for whom? Describe the problem, not a product.",
    )
    department = forms.ModelChoiceField(queryset=Department.objects.none())
    people_affected = _people_field()
    needed_by = forms.DateField(
        label="Needed by",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="When it has to be solved.",
    )
    rough_budget = _money_field(
        "Rough budget",
        "A first guess in the base currency; 0 when you cannot guess yet.",
    )
    objective = ObjectiveChoiceField(
        queryset=Objective.objects.none(),
        required=False,
        label="Business objective",
        empty_label="None",
    )
    category = forms.ModelChoiceField(
        queryset=Category.objects.none(), required=False, empty_label="Not sure yet"
    )

    def __init__(self, *args: Any, user: User, need: Need | None = None, **kwargs: Any) -> None:
        if need is not None:
            kwargs.setdefault(
                "initial",
                {
                    "title": need.title,
                    "problem": need.problem,
                    "department": need.department_id,
                    "people_affected": need.people_affected,
                    "needed_by": need.needed_by,
                    "rough_budget": need.rough_budget,
                    "objective": need.objective_id,
                    "category": need.category_id,
                },
            )
        else:
            kwargs.setdefault("initial", {"department": user.department_id})
        super().__init__(*args, **kwargs)
        department = _department_field(user)
        if need is not None and not may_manage_needs(user):
            # Its poster keeps the need's own department on offer, even after moving on.
            department.queryset = Department.objects.filter(
                Q(members=user) | Q(pk=need.department_id)
            ).distinct()
        self.fields["department"] = department
        current_objective = need.objective_id if need else None
        objectives = Objective.objects.filter(status__in=OPEN_OBJECTIVE_STATUSES)
        if not may_manage_needs(user):
            # The service still says so when a need names another department's objective.
            objectives = objectives.filter(
                Q(department__isnull=True) | Q(department_id=user.department_id)
            )
        cast(ObjectiveChoiceField, self.fields["objective"]).queryset = (
            Objective.objects.filter(Q(pk__in=objectives.values("pk")) | Q(pk=current_objective))
            .select_related("fiscal_year", "department")
            .order_by("fiscal_year__starts_on", "name")
        )
        current_category = need.category_id if need else None
        cast(forms.ModelChoiceField, self.fields["category"]).queryset = Category.objects.filter(
            Q(is_active=True) | Q(pk=current_category)
        )
        self.fields["needed_by"].widget.attrs["min"] = timezone.localdate().isoformat()

    def need_input(self) -> NeedInput:
        data = self.cleaned_data
        return NeedInput(
            title=data["title"],
            problem=data["problem"],
            department=data["department"],
            people_affected=data["people_affected"],
            needed_by=data["needed_by"],
            rough_budget=data["rough_budget"],
            objective=data["objective"],
            category=data["category"],
        )


class SupportForm(forms.Form):
    """ "We need this too". The department is asked only of procurement and admins."""

    department = forms.ModelChoiceField(queryset=Department.objects.none(), required=False)
    people_affected = _people_field()
    rough_budget = _money_field(
        "Rough budget", "Your department's own first guess, in the base currency."
    )
    note = forms.CharField(
        max_length=BODY_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Anything that differs for your department.",
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "support")
        super().__init__(*args, **kwargs)
        if may_manage_needs(user):
            field = _department_field(user, required=False)
            field.empty_label = (
                f"My department ({user.department})" if user.department_id else "Choose one"
            )
            field.help_text = "Which department needs it too."
            self.fields["department"] = field
        else:
            del self.fields["department"]


class CommentForm(forms.Form):
    kind = forms.ChoiceField(
        choices=NeedCommentKind.choices,
        initial=NeedCommentKind.COMMENT,
        widget=forms.RadioSelect,
        label="This is",
    )
    body = forms.CharField(
        label="Your comment or alternative",
        max_length=BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="An alternative: another way to solve the problem (an existing licence, "
        "a shared service...).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "comment")
        super().__init__(*args, **kwargs)


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label="Why (optional)",
        max_length=BODY_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class RfqChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.reference} {obj.title} ({obj.get_state_display().lower()})"


class NeedsChoiceField(forms.ModelMultipleChoiceField):
    """The needs to consolidate, by id. An id that is no bigint ("99…9" beyond 2^63) names
    no need: refused here, before Django's `pk__in` lookup hands it to SQLite, which cannot
    bind it (a 500)."""

    def clean(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            for pk in value:
                if pk not in self.empty_values and filter_id(str(pk)) is None:
                    raise forms.ValidationError(
                        self.error_messages["invalid_choice"],
                        code="invalid_choice",
                        params={"value": pk},
                    )
        return super().clean(value)


KIND_CHOICES = [
    ("request", "A new draft purchase request"),
    ("rfq", "An existing RFQ (draft or open)"),
]


class ConsolidationForm(forms.Form):
    needs = NeedsChoiceField(
        queryset=Need.objects.all(),
        error_messages={
            "required": "Choose at least one need to consolidate.",
            "invalid_choice": "Unknown need %(value)s.",
        },
    )
    kind = forms.ChoiceField(
        choices=KIND_CHOICES, widget=forms.RadioSelect, label="Consolidate into"
    )
    title = forms.CharField(
        max_length=TITLE_MAX, required=False, label="Title of the request", strip=True
    )
    department = forms.ModelChoiceField(queryset=Department.objects.all(), required=False)
    cost_centre = CostCentreChoiceField(
        queryset=CostCentre.objects.filter(is_active=True).select_related("department"),
        required=False,
        label="Cost centre",
    )
    category = forms.ModelChoiceField(
        queryset=Category.objects.filter(is_active=True), required=False
    )
    # Every RFQ parses, so that a closed one is refused by the service with its reason (409);
    # only those taking needs are offered.
    rfq = RfqChoiceField(queryset=Rfq.objects.all(), required=False, label="RFQ")
    note = forms.CharField(
        max_length=BODY_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept with the consolidation (and added to the request's justification).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        rfq_field = cast(RfqChoiceField, self.fields["rfq"])
        rfq_field.widget.choices = [("", "---------")] + [
            (rfq.pk, rfq_field.label_from_instance(rfq)) for rfq in rfqs_taking_needs()
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == "request":
            for name in ("title", "department", "cost_centre", "category"):
                if not data.get(name) and name not in self.errors:
                    self.add_error(name, "Needed for a new request.")
        elif data.get("kind") == "rfq" and not data.get("rfq") and "rfq" not in self.errors:
            self.add_error("rfq", "Choose the RFQ.")
        return data

    def need_ids(self) -> list[int]:
        return [need.pk for need in self.cleaned_data["needs"]]

    def request_target(self) -> RequestTarget:
        data = self.cleaned_data
        return RequestTarget(
            title=data["title"],
            department=data["department"],
            cost_centre=data["cost_centre"],
            category=data["category"],
        )
