"""Page forms for contracts. They parse the browser's POST into the services' inputs; the
rules (dates, notice period, vendor state, currency) live in vendors/contracts.py, whose
errors the views put back on these fields."""

from __future__ import annotations

import re
from typing import Any, cast

from django import forms
from django.conf import settings
from django.db.models import Q

from procurement.files import human_size
from procurement.models import User
from vendors.contracts import MAX_RENEWAL_MONTHS, ContractInput
from vendors.models import Contract, Vendor
from vendors.selectors import VENDOR_FILE_ROLES, vendors_orderable

DOCUMENT_ACCEPT = (
    ".pdf,.png,.jpg,.jpeg,.gif,.webp,application/pdf,image/png,image/jpeg,image/gif,image/webp"
)
DATE_WIDGET = {"type": "date"}


class OwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj} ({obj.username})"


class ContractForm(forms.Form):
    vendor = forms.ModelChoiceField(queryset=Vendor.objects.none())
    title = forms.CharField(max_length=200)
    owner = OwnerChoiceField(
        queryset=User.objects.none(),
        help_text="Who decides on renewal and receives the reminders.",
    )
    value = forms.DecimalField(
        min_value=0, max_digits=16, decimal_places=2, help_text="Total contract value."
    )
    currency = forms.ChoiceField(choices=[])
    start_date = forms.DateField(widget=forms.DateInput(attrs=DATE_WIDGET, format="%Y-%m-%d"))
    end_date = forms.DateField(widget=forms.DateInput(attrs=DATE_WIDGET, format="%Y-%m-%d"))
    notice_period_days = forms.IntegerField(
        min_value=0,
        initial=30,
        label="Notice period (days)",
        help_text="How long before the end date notice must be given.",
    )
    auto_renew = forms.BooleanField(
        required=False, label="Renews automatically unless notice is given"
    )
    renewal_term_months = forms.IntegerField(
        min_value=1, max_value=MAX_RENEWAL_MONTHS, initial=12, label="Renewal term (months)"
    )
    renewal_terms = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, contract: Contract | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current_vendor = contract.vendor_id if contract else None
        current_owner = contract.owner_id if contract else None
        # Blocked and offboarded vendors are not offered, but a contract with one still shows it.
        cast(forms.ModelChoiceField, self.fields["vendor"]).queryset = Vendor.objects.filter(
            Q(pk__in=vendors_orderable().values("pk")) | Q(pk=current_vendor)
        )
        cast(forms.ModelChoiceField, self.fields["owner"]).queryset = (
            User.objects.filter(
                Q(is_active=True, roles__role__in=VENDOR_FILE_ROLES) | Q(pk=current_owner)
            )
            .distinct()
            .order_by("first_name", "last_name", "username")
        )
        currency = cast(forms.ChoiceField, self.fields["currency"])
        currency.choices = [(code, code) for code in settings.CURRENCIES]
        currency.initial = settings.BASE_CURRENCY

    @classmethod
    def for_contract(cls, contract: Contract) -> ContractForm:
        return cls(
            contract=contract,
            initial={
                "vendor": contract.vendor_id,
                "title": contract.title,
                "owner": contract.owner_id,
                "value": contract.value,
                "currency": contract.currency,
                "start_date": contract.start_date,
                "end_date": contract.end_date,
                "notice_period_days": contract.notice_period_days,
                "auto_renew": contract.auto_renew,
                "renewal_term_months": contract.renewal_term_months,
                "renewal_terms": contract.renewal_terms,
            },
        )

    def contract_input(self) -> ContractInput:
        data = self.cleaned_data
        return ContractInput(
            vendor_id=data["vendor"].pk,
            title=data["title"],
            owner_id=data["owner"].pk,
            value=data["value"],
            currency=data["currency"],
            start_date=data["start_date"],
            end_date=data["end_date"],
            auto_renew=data["auto_renew"],
            notice_period_days=data["notice_period_days"],
            renewal_term_months=data["renewal_term_months"],
            renewal_terms=data["renewal_terms"],
        )


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))


class RenewForm(forms.Form):
    new_end_date = forms.DateField(
        required=False,
        label="New end date",
        widget=forms.DateInput(attrs=DATE_WIDGET, format="%Y-%m-%d"),
        help_text="Or leave empty and give a number of months.",
    )
    months = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_RENEWAL_MONTHS,
        help_text="Empty with no end date: the contract's renewal term.",
    )
    value = forms.DecimalField(
        required=False,
        min_value=0,
        max_digits=16,
        decimal_places=2,
        help_text="Empty: the same value as now.",
    )
    renewal_terms = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Empty: the same terms as now.",
    )
    reason = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))


class DocumentForm(forms.Form):
    title = forms.CharField(max_length=200, required=False, help_text="Empty: the file's name.")
    file = forms.FileField(widget=forms.ClearableFileInput(attrs={"accept": DOCUMENT_ACCEPT}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = (
            f"The signed contract, an amendment or a schedule: PDF or image, "
            f"up to {human_size(settings.VENDOR_DOCUMENT_MAX_BYTES)}."
        )


class LinkRequestForm(forms.Form):
    request = forms.CharField(
        max_length=20, label="Purchase request", help_text="Its reference, e.g. PR-000042."
    )

    def clean_request(self) -> int:
        raw = self.cleaned_data["request"].strip().upper()
        match = re.fullmatch(r"(?:PR-?)?0*(\d{1,12})", raw)
        if not match:
            raise forms.ValidationError("Give a reference such as PR-000042.")
        return int(match.group(1))
