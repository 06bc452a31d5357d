"""Forms of the order pages: one field per PO line where a form asks per line, named as the
services name their errors (`quantity_<line id>`, `unit_price_<line id>`), so an error
lands next to its field. The services validate again; these only parse."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone

from procurement.errors import ApplicationError
from procurement.models import Category
from sourcing.models import PoLine
from sourcing.order_selectors import LineStatus
from sourcing.orders import ChangeLineInput, quantity_text

REASON_MAX = 5000
# A date input takes its value as YYYY-MM-DD only: in the locale's format (26/11/2026) the
# browser shows it empty.
DATE_WIDGET_ATTRS = {"type": "date"}


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs=DATE_WIDGET_ATTRS, format="%Y-%m-%d")


def _quantity_field(label: str, *, required: bool = False, **kwargs: Any) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        max_digits=12,
        decimal_places=3,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
        **kwargs,
    )


def _price_field(label: str, *, required: bool = False, **kwargs: Any) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        max_digits=14,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
        **kwargs,
    )


def errors_to_form(
    form: forms.Form, error: ApplicationError, *, names: dict[str, str] | None = None
) -> None:
    """A service's field errors next to the fields they name (through `names` where the
    form calls them otherwise); the rest, and the message, at the top."""
    names = names or {}
    placed = False
    for key, messages in error.fields.items():
        field = names.get(key, key)
        if field in form.fields:
            form.add_error(field, messages)
            placed = True
        else:
            form.add_error(None, messages)
    if not placed:
        form.add_error(None, error.message)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason", max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 2})
    )


class CancelForm(ReasonForm):
    # Shown in the Actions panel next to other actions: the label says what it is for.
    reason = forms.CharField(
        label="Reason to cancel", max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 2})
    )


class DecisionForm(forms.Form):
    action = forms.ChoiceField(choices=[("approve", "Approve"), ("refuse", "Refuse")])
    comment = forms.CharField(
        label="Comment",
        required=False,
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required to refuse.",
    )


class ReceiptForm(forms.Form):
    received_on = forms.DateField(label="Received on", widget=_date_widget())
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What arrived damaged, a delivery note number...",
    )

    def __init__(self, *args: Any, statuses: Sequence[LineStatus], **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("received_on", timezone.localdate())
        # The order page shows this form next to the change and invoice forms, which have
        # fields of the same names: ids of its own, so each label points at its own input.
        kwargs.setdefault("auto_id", "id_receipt_%s")
        super().__init__(*args, **kwargs)
        self.line_ids = [status.line.pk for status in statuses]
        for status in statuses:
            self.fields[f"quantity_{status.line.pk}"] = _quantity_field(
                f"{status.line.description}: quantity received",
                help_text=f"Ordered {quantity_text(status.ordered)} {status.line.unit}; "
                f"{quantity_text(status.to_receive)} still to receive. Leave empty if none came.",
            )

    @property
    def line_fields(self) -> list[forms.BoundField]:
        return [self[f"quantity_{line_id}"] for line_id in self.line_ids]

    def lines(self) -> dict[int, Decimal]:
        data = self.cleaned_data
        return {
            line_id: data[f"quantity_{line_id}"]
            for line_id in self.line_ids
            if data.get(f"quantity_{line_id}") is not None
        }


class InvoiceForm(forms.Form):
    number = forms.CharField(label="Vendor's invoice number", max_length=60)
    invoice_date = forms.DateField(label="Invoice date", widget=_date_widget())
    currency = forms.ChoiceField(label="Currency")
    total = _price_field("Total as printed", required=True)

    def __init__(
        self, *args: Any, po_lines: Sequence[PoLine], currency: str, **kwargs: Any
    ) -> None:
        kwargs.setdefault("initial", {}).setdefault("currency", currency)
        kwargs.setdefault("auto_id", "id_invoice_%s")  # see ReceiptForm
        super().__init__(*args, **kwargs)
        codes = list(dict.fromkeys([currency, *settings.CURRENCIES]))
        currency_field = self.fields["currency"]
        assert isinstance(currency_field, forms.ChoiceField)
        currency_field.choices = [(code, code) for code in codes]
        self.line_ids = [line.pk for line in po_lines]
        for line in po_lines:
            self.fields[f"quantity_{line.pk}"] = _quantity_field(
                f"{line.description}: quantity invoiced",
                help_text=f"Ordered {quantity_text(line.quantity)} {line.unit}. Empty: not on this invoice.",
            )
            self.fields[f"unit_price_{line.pk}"] = _price_field(
                f"{line.description}: unit price invoiced",
                help_text=f"Ordered at {line.unit_price:,.2f}.",
            )

    @property
    def line_rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"quantity_{pk}"], self[f"unit_price_{pk}"]) for pk in self.line_ids]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for pk in self.line_ids:
            quantity, price = data.get(f"quantity_{pk}"), data.get(f"unit_price_{pk}")
            if quantity is not None and price is None and f"unit_price_{pk}" not in self.errors:
                self.add_error(f"unit_price_{pk}", "Enter the unit price invoiced.")
            if price is not None and quantity is None and f"quantity_{pk}" not in self.errors:
                self.add_error(f"quantity_{pk}", "Enter the quantity invoiced.")
        return data

    def lines(self) -> dict[int, tuple[Decimal, Decimal]]:
        data = self.cleaned_data
        return {
            pk: (data[f"quantity_{pk}"], data[f"unit_price_{pk}"])
            for pk in self.line_ids
            if data.get(f"quantity_{pk}") is not None and data.get(f"unit_price_{pk}") is not None
        }


class ChangeOrderForm(forms.Form):
    """The PO's lines as they should be: each line's quantity and price editable or the line
    removed, and one new line optional; the reason is required."""

    reason = forms.CharField(
        label="Reason for the change",
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    new_description = forms.CharField(label="New line: description", max_length=300, required=False)
    new_category = forms.ModelChoiceField(
        label="New line: category",
        queryset=Category.objects.filter(is_active=True),
        required=False,
        empty_label="Choose",
    )
    new_quantity = _quantity_field("New line: quantity")
    new_unit = forms.CharField(
        label="New line: unit", max_length=20, required=False, initial="each"
    )
    new_unit_price = _price_field("New line: unit price")

    def __init__(self, *args: Any, po_lines: Sequence[PoLine], **kwargs: Any) -> None:
        initial = kwargs.setdefault("initial", {})
        for line in po_lines:
            initial.setdefault(f"quantity_{line.pk}", quantity_text(line.quantity))
            initial.setdefault(f"unit_price_{line.pk}", line.unit_price)
        kwargs.setdefault("auto_id", "id_change_%s")  # see ReceiptForm
        super().__init__(*args, **kwargs)
        self.po_lines = list(po_lines)
        for line in self.po_lines:
            self.fields[f"quantity_{line.pk}"] = _quantity_field(
                f"{line.description}: quantity", required=True
            )
            self.fields[f"unit_price_{line.pk}"] = _price_field(
                f"{line.description}: unit price", required=True
            )
            self.fields[f"remove_{line.pk}"] = forms.BooleanField(
                label=f"Remove “{line.description}”", required=False
            )
        # Which form field each `lines[i].x` of the service's errors belongs to.
        self.error_names: dict[str, str] = {}

    @property
    def line_rows(
        self,
    ) -> list[tuple[PoLine, forms.BoundField, forms.BoundField, forms.BoundField]]:
        return [
            (
                line,
                self[f"quantity_{line.pk}"],
                self[f"unit_price_{line.pk}"],
                self[f"remove_{line.pk}"],
            )
            for line in self.po_lines
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        new = [
            data.get(name)
            for name in ("new_description", "new_category", "new_quantity", "new_unit_price")
        ]
        if any(value not in (None, "") for value in new):
            for name, value in zip(
                ("new_description", "new_category", "new_quantity", "new_unit_price"),
                new,
                strict=True,
            ):
                if value in (None, "") and name not in self.errors:
                    self.add_error(name, "Needed for a new line.")
        return data

    def lines(self) -> list[ChangeLineInput]:
        data = self.cleaned_data
        out: list[ChangeLineInput] = []
        for line in self.po_lines:
            if data.get(f"remove_{line.pk}"):
                continue
            index = len(out)
            self.error_names[f"lines[{index}].quantity"] = f"quantity_{line.pk}"
            self.error_names[f"lines[{index}].unit_price"] = f"unit_price_{line.pk}"
            out.append(
                ChangeLineInput(
                    line_id=line.pk,
                    description=line.description,
                    category_id=line.category_id,
                    quantity=data[f"quantity_{line.pk}"],
                    unit_price=data[f"unit_price_{line.pk}"],
                    unit=line.unit,
                )
            )
        if data.get("new_description"):
            index = len(out)
            for part in ("description", "category", "quantity", "unit_price"):
                self.error_names[f"lines[{index}].{part}"] = f"new_{part}"
            out.append(
                ChangeLineInput(
                    description=data["new_description"],
                    category_id=data["new_category"].pk,
                    quantity=data["new_quantity"],
                    unit_price=data["new_unit_price"],
                    unit=data.get("new_unit") or "each",
                )
            )
        return out
