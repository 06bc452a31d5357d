"""Page forms for purchase requests.

The rules live on the model fields (validators) and in the services; these forms only parse
the browser's POST into the values the services take, and carry the services' errors back
to the fields they belong to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Q
from django.forms.formsets import DELETION_FIELD_NAME
from django.forms.utils import ErrorList
from django.utils import timezone

from procurement.files import human_size
from procurement.models import OPEN_OBJECTIVE_STATUSES, Category, CostCentre, Objective, User
from requests.models import Attachment, LineItem, PurchaseRequest
from requests.services import (
    MAX_LINE_ITEMS,
    REQUEST_FIELDS,
    LineItemInput,
    RequestInput,
)
from vendors.models import Vendor, VendorState
from vendors.selectors import vendors_orderable

# What the file picker offers; the service still sniffs the bytes, since a name proves nothing.
ATTACHMENT_ACCEPT = (
    ".pdf,.png,.jpg,.jpeg,.gif,.webp,application/pdf,image/png,image/jpeg,image/gif,image/webp"
)
LINE_ITEMS_PREFIX = "line_items"
# A forged TOTAL_FORMS cannot make the formset build more forms than this; rows removed in
# the browser still count until the page is saved, hence the headroom over MAX_LINE_ITEMS.
LINE_ITEM_ROWS_MAX = 2 * MAX_LINE_ITEMS


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one <input type="file" multiple>; cleans to a (possibly empty) list."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ATTACHMENT_ACCEPT}))
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        single_clean = super().clean
        if isinstance(data, list | tuple):
            return [single_clean(item, initial) for item in data]
        return [single_clean(data, initial)] if data else []


class CostCentreChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.code} {obj.name} ({obj.department.name})"


class VendorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        # Said in the list: choosing a vendor not yet approved adds a review step.
        if obj.state == VendorState.APPROVED:
            return str(obj.legal_name)
        return f"{obj.legal_name} (not yet approved: adds a vendor review)"


class PurchaseRequestForm(forms.ModelForm):
    attachments = MultipleFileField(
        required=False,
        label="Add attachments",
    )
    remove_attachments = forms.ModelMultipleChoiceField(
        queryset=Attachment.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Remove attachments",
    )

    class Meta:
        model = PurchaseRequest
        fields = list(REQUEST_FIELDS)
        field_classes = {"cost_centre": CostCentreChoiceField, "vendor": VendorChoiceField}
        widgets = {
            "justification": forms.Textarea(attrs={"rows": 4}),
            "needed_by": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "currency": forms.Select,
        }
        labels = {
            "cost_centre": "Cost centre",
            "needed_by": "Needed by",
            "objective": "Business objective",
        }
        help_texts = {"justification": "Why is this needed, and what happens without it?"}

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        instance: PurchaseRequest | None = kwargs.get("instance")
        if instance is None or instance.pk is None:
            kwargs.setdefault("initial", {})
            kwargs["initial"].setdefault("department", user.department_id)
            kwargs["initial"].setdefault("currency", settings.BASE_CURRENCY)
            kwargs["initial"].setdefault("cost_centre", _only_cost_centre_of(user.department_id))
        super().__init__(*args, **kwargs)
        # Said up front, so nobody uploads a 40 MB scan to learn the limit from an error.
        self.fields["attachments"].help_text = (
            "Quotes, specifications or screenshots: PDF, PNG, JPEG, GIF or WebP, "
            f"up to {human_size(settings.ATTACHMENT_MAX_BYTES)} each, "
            f"{settings.ATTACHMENTS_PER_REQUEST} per request."
        )
        current_cost_centre = instance.cost_centre_id if instance and instance.pk else None
        current_category = instance.category_id if instance and instance.pk else None
        # Closed cost centres and retired categories are not offered, but a draft that already
        # uses one still shows it (the service then says it is closed, next to the field).
        cast(
            forms.ModelChoiceField, self.fields["cost_centre"]
        ).queryset = CostCentre.objects.filter(
            Q(is_active=True) | Q(pk=current_cost_centre)
        ).select_related("department")
        cast(forms.ModelChoiceField, self.fields["category"]).queryset = Category.objects.filter(
            Q(is_active=True) | Q(pk=current_category)
        )
        # Blocked and offboarded vendors are not offered; a draft naming one still shows it,
        # and the service says why it cannot be submitted.
        current_vendor = instance.vendor_id if instance and instance.pk else None
        vendor_field = cast(VendorChoiceField, self.fields["vendor"])
        vendor_field.queryset = Vendor.objects.filter(
            Q(pk__in=vendors_orderable().values("pk")) | Q(pk=current_vendor)
        )
        vendor_field.empty_label = "Not sure yet (procurement will choose)"
        # Open objectives, company-wide or of the requester's department; the service says
        # when the chosen one belongs to another department or has since closed.
        current_objective = instance.objective_id if instance and instance.pk else None
        objective_field = cast(forms.ModelChoiceField, self.fields["objective"])
        objective_field.queryset = Objective.objects.filter(
            (
                Q(status__in=OPEN_OBJECTIVE_STATUSES)
                & (Q(department__isnull=True) | Q(department_id=user.department_id))
            )
            | Q(pk=current_objective)
        ).select_related("fiscal_year")
        objective_field.empty_label = "None (say why below)"
        # Read at construction, so a changed settings.CURRENCIES is honoured. A forged value
        # is refused by the model's validate_currency, with the same message as the API gives.
        self.fields["currency"].widget.choices = [(code, code) for code in settings.CURRENCIES]
        self.fields["needed_by"].widget.attrs["min"] = timezone.localdate().isoformat()
        if instance is not None and instance.pk:
            removable = cast(forms.ModelMultipleChoiceField, self.fields["remove_attachments"])
            removable.queryset = instance.attachments.all()
        else:
            del self.fields["remove_attachments"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("objective") and (cleaned.get("no_objective_reason") or "").strip():
            # Said next to the reason, before the model's "not both" constraint is checked
            # (a field with an error takes its constraints out of the form's own validation).
            self.add_error(
                "no_objective_reason",
                "Leave this empty: the request serves an objective. Clear the objective to "
                "give a reason instead.",
            )
        return cleaned

    def request_input(self, line_items: Sequence[LineItemInput]) -> RequestInput:
        data = self.cleaned_data
        return RequestInput(
            title=data["title"],
            justification=data["justification"],
            department=data["department"],
            cost_centre=data["cost_centre"],
            category=data["category"],
            needed_by=data["needed_by"],
            currency=data["currency"],
            processes_personal_data=data["processes_personal_data"],
            vendor=data["vendor"],
            objective=data["objective"],
            no_objective_reason=data["no_objective_reason"],
            line_items=line_items,
        )


def _only_cost_centre_of(department_id: int | None) -> int | None:
    """Preselect the cost centre when the requester's department has exactly one."""
    if department_id is None:
        return None
    ids = list(
        CostCentre.objects.filter(department_id=department_id, is_active=True).values_list(
            "pk", flat=True
        )[:2]
    )
    return ids[0] if len(ids) == 1 else None


LINE_ITEM_FIELDS = ["description", "quantity", "unit", "unit_price", "vendor_sku", "vendor_url"]


class LineItemForm(forms.ModelForm):
    # Declared for assume_scheme: "example.com/dock" means https, as Django 6 will assume anyway.
    vendor_url = forms.URLField(
        label="Vendor link",
        max_length=500,
        required=False,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )

    class Meta:
        model = LineItem
        fields = LINE_ITEM_FIELDS
        widgets = {
            "quantity": forms.NumberInput(attrs={"inputmode": "decimal", "data-quantity": ""}),
            "unit_price": forms.NumberInput(attrs={"inputmode": "decimal", "data-unit-price": ""}),
        }
        labels = {"unit_price": "Unit price"}

    def line_item_input(self) -> LineItemInput:
        data = self.cleaned_data
        return LineItemInput(
            description=data["description"],
            quantity=data["quantity"],
            unit_price=data["unit_price"],
            unit=data["unit"] or "each",
            vendor_sku=data["vendor_sku"],
            vendor_url=data["vendor_url"],
        )


class BaseLineItemFormSet(forms.BaseFormSet):
    default_error_messages = {
        "too_many_forms": f"A request can have at most {MAX_LINE_ITEMS} line items.",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.service_errors: list[str] = []

    def kept_forms(self) -> list[LineItemForm]:
        """The rows to save, in order: not deleted, and not a blank row that was never filled in.

        Call it once the formset is valid. The services number line items by their place in
        this list, so their `line_items[i]` errors are mapped back through it.
        """
        kept = []
        for form in self.forms:
            if self.can_delete and form.cleaned_data.get(DELETION_FIELD_NAME, False):
                continue
            if form.empty_permitted and not form.has_changed():
                continue
            kept.append(form)
        return kept

    def add_non_form_errors(self, messages: Sequence[str]) -> None:
        """Errors about the line items as a whole that only the service could find."""
        self.service_errors.extend(messages)

    def non_form_errors(self) -> ErrorList:
        errors = super().non_form_errors()
        if not self.service_errors:
            return errors
        return ErrorList([*errors, *self.service_errors], error_class="nonform")

    def new_row(self, index: int) -> forms.Form:
        """One blank row numbered `index`, as "Add line" appends it to the page."""
        form = self.form(
            auto_id=self.auto_id,
            prefix=self.add_prefix(index),
            empty_permitted=True,
            use_required_attribute=False,
        )
        self.add_fields(form, index)
        return form


LineItemFormSet = forms.formset_factory(
    LineItemForm,
    formset=BaseLineItemFormSet,
    extra=0,
    can_delete=True,
    max_num=MAX_LINE_ITEMS,
    validate_max=True,
    absolute_max=LINE_ITEM_ROWS_MAX,
)


def line_item_formset(
    *, data: Any = None, request: PurchaseRequest | None = None
) -> BaseLineItemFormSet:
    """The line items of `request` (or one blank row for a new one), bound to `data` on POST."""
    initial = [
        {field: getattr(line, field) for field in LINE_ITEM_FIELDS}
        | {"quantity": format(line.quantity.normalize(), "f")}  # "2", not "2.000"
        for line in (request.line_items.all() if request is not None else [])
    ]
    formset = cast(
        BaseLineItemFormSet, LineItemFormSet(data=data, initial=initial, prefix=LINE_ITEMS_PREFIX)
    )
    # A new or empty draft starts with one blank row to fill in; it is ignored if left blank.
    formset.extra = 0 if initial else 1
    return formset


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Comment",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Type @username to notify a colleague.",
    )


class ActionForm(forms.Form):
    comment = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )
