"""Page forms of RFQs and of the vendor's quote page. They parse the browser's POST into the
services' inputs; the rules live in sourcing/rfqs.py and sourcing/quotes.py, whose errors
the views put back next to these fields (the services key them by the same names)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from pathlib import PurePath
from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.forms import BaseFormSet, formset_factory
from django.utils import timezone

from procurement.errors import InvalidInput
from procurement.files import OFFICE_ZIP_TYPES, human_size, office_document_check
from procurement.models import Category
from sourcing.models import Billing, CriterionKind, Quote, Rfq, RfqLine
from sourcing.quotes import (
    ATTACHMENT_ACCEPT,
    ATTACHMENTS_PER_QUOTE,
    QuoteInput,
    note_key,
    price_key,
)
from sourcing.rfqs import CriterionInput, RfqLineInput, invitable_vendors
from vendors.models import Vendor

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _local(value: dt.datetime) -> dt.datetime:
    return timezone.localtime(value).replace(second=0, microsecond=0, tzinfo=None)


class RfqSettingsForm(forms.Form):
    title = forms.CharField(max_length=200)
    instructions = forms.CharField(
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Shown to the invited vendors on their quote page.",
    )
    deadline = forms.DateTimeField(
        widget=DATETIME_WIDGET,
        help_text="Local time. No quote is accepted after it.",
    )
    term_months = forms.IntegerField(
        label="Term (months)",
        min_value=1,
        max_value=120,
        help_text="The period the total cost of ownership is computed over.",
    )
    currency = forms.ChoiceField(choices=[], help_text="Quotes are compared in this currency.")

    def __init__(self, *args: Any, rfq: Rfq, **kwargs: Any) -> None:
        # Always: a disabled field (term, currency once open) takes its value from `initial`.
        kwargs.setdefault("initial", {}).update(
            {
                "title": rfq.title,
                "instructions": rfq.instructions,
                "deadline": _local(rfq.deadline),
                "term_months": rfq.term_months,
                "currency": rfq.currency,
            }
        )
        super().__init__(*args, **kwargs)
        currency = cast(forms.ChoiceField, self.fields["currency"])
        currency.choices = [(code, code) for code in settings.CURRENCIES]
        if rfq.state != "draft":
            # Fixed once vendors quote against them: shown, not sent.
            for name in ("term_months", "currency"):
                self.fields[name].disabled = True


class RfqLineForm(forms.Form):
    description = forms.CharField(max_length=300)
    quantity = forms.DecimalField(min_value=Decimal("0.001"), max_digits=12, decimal_places=3)
    unit = forms.CharField(max_length=20, initial="each")
    billing = forms.ChoiceField(choices=Billing.choices, initial=Billing.ONE_OFF)
    category = forms.ModelChoiceField(queryset=Category.objects.filter(is_active=True))
    estimated_unit_price = forms.DecimalField(
        label="Estimate (unit)", required=False, min_value=0, max_digits=14, decimal_places=2
    )
    request_line = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def line_input(self) -> RfqLineInput:
        data = self.cleaned_data
        return RfqLineInput(
            description=data["description"],
            quantity=data["quantity"],
            category_id=data["category"].pk,
            unit=data["unit"],
            billing=data["billing"],
            estimated_unit_price=data.get("estimated_unit_price"),
            request_line_id=data.get("request_line"),
        )


class TableFormSet(BaseFormSet):
    """A formset shown as a table, one form a row. The column headers say what each input
    is; each input is named for screen readers with its row ("Quantity, line 2") by an
    aria-label. Not a visually hidden <label>: that one is positioned absolutely, escapes
    the table's scrolling box and makes a phone's whole page scroll sideways."""

    row_noun = "row"

    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        if index is None:
            return
        for name, field in form.fields.items():
            if field.widget.is_hidden:
                continue
            field.widget.attrs["aria-label"] = (
                f"Remove {self.row_noun} {index + 1}"
                if name == "DELETE"
                else f"{form[name].label}, {self.row_noun} {index + 1}"
            )


class RfqLineTableFormSet(TableFormSet):
    row_noun = "line"


class CriterionTableFormSet(TableFormSet):
    row_noun = "criterion"


RfqLineFormSet = formset_factory(
    RfqLineForm,
    formset=RfqLineTableFormSet,
    extra=1,
    can_delete=True,
    min_num=0,
    max_num=200,
    validate_max=True,
)


def rfq_line_formset(rfq: Rfq, data: Any = None) -> Any:
    initial = [
        {
            "description": line.description,
            "quantity": line.quantity,
            "unit": line.unit,
            "billing": line.billing,
            "category": line.category_id,
            "estimated_unit_price": line.estimated_unit_price,
            "request_line": line.request_line_id,
        }
        for line in rfq.lines.all()
    ]
    return RfqLineFormSet(data, initial=initial, prefix="lines")


class CriterionForm(forms.Form):
    kind = forms.ChoiceField(label="Scores", choices=CriterionKind.choices)  # its column header
    name = forms.CharField(max_length=120)
    weight = forms.DecimalField(
        label="Weight (%)", min_value=0, max_value=100, max_digits=5, decimal_places=2
    )

    def criterion_input(self) -> CriterionInput:
        data = self.cleaned_data
        return CriterionInput(kind=data["kind"], name=data["name"], weight=data["weight"])


CriterionFormSet = formset_factory(
    CriterionForm,
    formset=CriterionTableFormSet,
    extra=1,
    can_delete=True,
    max_num=20,
    validate_max=True,
)


def criterion_formset(rfq: Rfq, data: Any = None) -> Any:
    initial = [{"kind": c.kind, "name": c.name, "weight": c.weight} for c in rfq.criteria.all()]
    return CriterionFormSet(data, initial=initial, prefix="criteria")


class PricesForm(forms.Form):
    target_price = forms.DecimalField(
        label="Target price", min_value=Decimal("0.01"), max_digits=16, decimal_places=2
    )
    walk_away_price = forms.DecimalField(
        label="Walk-away price",
        min_value=Decimal("0.01"),
        help_text="Above it, awarding needs a written justification and an extra approval.",
        max_digits=16,
        decimal_places=2,
    )


class VendorChoiceField(forms.ModelChoiceField):
    """Vendors by name; those not yet approved say so."""

    def label_from_instance(self, obj: Any) -> str:
        if obj.state == "approved":
            return str(obj.legal_name)
        return f"{obj.legal_name} (not yet approved: {obj.get_state_display().lower()})"


class InviteForm(forms.Form):
    vendor = VendorChoiceField(queryset=Vendor.objects.none(), empty_label="Choose a vendor")
    contact_name = forms.CharField(
        required=False, max_length=120, help_text="Empty: the vendor's primary contact."
    )
    contact_email = forms.EmailField(
        required=False, max_length=254, help_text="The quote link is sent here."
    )

    def __init__(self, *args: Any, rfq: Rfq, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(VendorChoiceField, self.fields["vendor"]).queryset = invitable_vendors(rfq)


class ReasonForm(forms.Form):
    # Shown in the Actions panel next to other actions: the label says what it is for.
    reason = forms.CharField(
        label="Reason to cancel", max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )


class ReopenForm(forms.Form):
    deadline = forms.DateTimeField(label="New deadline", widget=DATETIME_WIDGET)
    reason = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))


class AnswerForm(forms.Form):
    answer = forms.CharField(max_length=10_000, widget=forms.Textarea(attrs={"rows": 3}))


class ClarificationForm(forms.Form):
    text = forms.CharField(
        label="Question or topic", max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )
    answer = forms.CharField(max_length=10_000, widget=forms.Textarea(attrs={"rows": 3}))


# --- The vendor's quote page -------------------------------------------------------------------


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ATTACHMENT_ACCEPT}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class QuoteForm(forms.Form):
    """One price (and note) per RFQ line, named price_<line id> / note_<line id>, then the
    quote's terms. The rules (price > 0, a rate for another currency...) are the service's."""

    currency = forms.ChoiceField(choices=[])
    delivery_days = forms.IntegerField(
        label="Delivery (days after the order)", min_value=0, max_value=3650
    )
    valid_until = forms.DateField(label="Quote valid until", widget=DATE_WIDGET)
    implementation_cost = forms.DecimalField(
        label="Implementation (one-off)",
        required=False,
        initial=Decimal("0.00"),
        max_digits=16,
        decimal_places=2,
    )
    support_cost_per_year = forms.DecimalField(
        label="Support per year",
        required=False,
        initial=Decimal("0.00"),
        max_digits=16,
        decimal_places=2,
    )
    terms = forms.CharField(
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Payment terms, warranty, conditions.",
    )
    attachments = MultipleFileField(
        required=False,
        help_text=(
            f"Up to {ATTACHMENTS_PER_QUOTE} files: PDF, images, office documents or text, each "
            f"at most {human_size(settings.QUOTE_ATTACHMENT_MAX_BYTES)}."
        ),
    )

    def __init__(
        self, *args: Any, lines: Sequence[RfqLine], rfq_currency: str, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lines = list(lines)
        currency = cast(forms.ChoiceField, self.fields["currency"])
        currency.choices = [(code, code) for code in settings.CURRENCIES]
        currency.initial = rfq_currency
        for line in self.lines:
            self.fields[price_key(line.pk)] = forms.DecimalField(
                label=f"Unit price: {line.description}",
                required=False,
                max_digits=14,
                decimal_places=2,
                widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
            )
            # Named by an aria-label in the table of prices (see TableFormSet for why).
            self.fields[note_key(line.pk)] = forms.CharField(
                label=f"Note: {line.description}",
                required=False,
                max_length=300,
                widget=forms.TextInput(attrs={"aria-label": f"Note: {line.description}"}),
            )

    @classmethod
    def initial_from(cls, quote: Quote | None, *, rfq_currency: str) -> dict[str, Any]:
        """Prefilled with the vendor's current quote (a revision starts from it)."""
        if quote is None:
            return {
                "currency": rfq_currency,
                "valid_until": timezone.localdate() + dt.timedelta(days=60),
            }
        initial: dict[str, Any] = {
            "currency": quote.currency,
            "delivery_days": quote.delivery_days,
            "valid_until": max(quote.valid_until, timezone.localdate()),
            "implementation_cost": quote.implementation_cost,
            "support_cost_per_year": quote.support_cost_per_year,
            "terms": quote.terms,
        }
        for line in quote.lines.all():
            initial[price_key(line.rfq_line_id)] = line.unit_price
            initial[note_key(line.rfq_line_id)] = line.note
        return initial

    def price_rows(self) -> list[dict[str, Any]]:
        return [
            {"line": line, "price": self[price_key(line.pk)], "note": self[note_key(line.pk)]}
            for line in self.lines
        ]

    def quote_input(self) -> QuoteInput:
        data = self.cleaned_data
        return QuoteInput(
            currency=data["currency"],
            delivery_days=data["delivery_days"],
            valid_until=data["valid_until"],
            terms=data.get("terms") or "",
            implementation_cost=data.get("implementation_cost") or Decimal(0),
            support_cost_per_year=data.get("support_cost_per_year") or Decimal(0),
            prices={
                line.pk: data[price_key(line.pk)]
                for line in self.lines
                if data.get(price_key(line.pk)) is not None
            },
            notes={line.pk: data.get(note_key(line.pk)) or "" for line in self.lines},
        )

    def clean_attachments(self) -> list[UploadedFile]:
        """An office file must be the package its name says, and no zip bomb: the service's
        own check (sourcing.quotes.quote_attachment_check) looks only at its first bytes."""
        uploads: list[UploadedFile] = list(self.cleaned_data.get("attachments") or [])
        problems: list[str] = []
        for upload in uploads:
            suffix = PurePath(upload.name or "").suffix.lower()
            if suffix not in OFFICE_ZIP_TYPES:
                continue
            try:
                office_document_check(upload, suffix=suffix, field="attachments")
            except InvalidInput as error:
                problems.extend(error.fields["attachments"])
        if problems:
            raise forms.ValidationError(problems)
        return uploads

    def uploads(self) -> list[UploadedFile]:
        return list(self.cleaned_data.get("attachments") or [])


class QuestionForm(forms.Form):
    text = forms.CharField(
        label="Your question",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The answer is shared with every invited vendor, without saying who asked.",
    )


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label="Why not (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class CounterDeclineForm(forms.Form):
    message = forms.CharField(
        label="Message (optional)",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Your current quote stands.",
    )
