"""Page forms for vendors.

The rules live in vendors/services.py; these forms only parse the browser's POST into the
values the services take, and carry the services' errors back to the fields they name.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import pycountry
from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Q, QuerySet
from django.forms.utils import ErrorList

from procurement.files import human_size
from procurement.models import Category, Role, User
from vendors.models import CheckStatus, SanctionsMatch, Vendor, VendorDocument, VendorType
from vendors.services import VENDOR_ACTIONS, BankDetailsInput, ContactInput, VendorInput

# What the file picker offers; the service still sniffs the bytes, since a name proves nothing.
DOCUMENT_ACCEPT = (
    ".pdf,.png,.jpg,.jpeg,.gif,.webp,application/pdf,image/png,image/jpeg,image/gif,image/webp"
)
CONTACTS_PREFIX = "contacts"
CONTACT_ROWS_MAX = 20


def _country_choices() -> list[tuple[str, str]]:
    countries = sorted(pycountry.countries, key=lambda country: country.name)
    return [("", "Choose a country"), *((c.alpha_2, c.name) for c in countries)]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def procurement_users() -> QuerySet[User]:
    """Who may own a vendor: active members of procurement."""
    return (
        User.objects.filter(is_active=True, roles__role=Role.PROCUREMENT)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


class OwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.get_full_name() or obj.username)


class VendorForm(forms.Form):
    legal_name = forms.CharField(label="Legal name", max_length=200)
    trading_names = forms.CharField(
        label="Trading names",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line: the names on its website, invoices and card statements.",
    )
    aliases = forms.CharField(
        label="Aliases",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line: former names, abbreviations, misspellings seen on invoices.",
    )
    registration_number = forms.CharField(
        label="Company registration number", required=False, max_length=40
    )
    tax_number = forms.CharField(
        label="Tax / VAT number",
        required=False,
        max_length=40,
        help_text="Checked against the country's format and check digits where we know them.",
    )
    country = forms.ChoiceField(label="Country", choices=_country_choices)
    address = forms.CharField(
        label="Address", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    # A plain text field: the service says what is wrong with the address, as the API does.
    website = forms.CharField(
        label="Website",
        required=False,
        max_length=300,
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )
    vendor_type = forms.ModelChoiceField(
        label="Vendor type",
        queryset=VendorType.objects.all(),
        empty_label="Choose a type",
        help_text="Decides the due-diligence checklist and whether a security assessment is needed.",
    )
    categories = forms.ModelMultipleChoiceField(
        label="Categories",
        queryset=Category.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    owner = OwnerChoiceField(
        label="Owner",
        queryset=User.objects.none(),
        empty_label="Choose an owner",
        help_text="The person in procurement who looks after this vendor.",
    )
    processes_personal_data = forms.BooleanField(
        label="Will store or process personal data for us", required=False
    )
    not_a_duplicate = forms.BooleanField(
        label="This is a different company — add it anyway", required=False
    )

    def __init__(self, *args: Any, vendor: Vendor | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current_owner = vendor.owner_id if vendor is not None else None
        current_categories = (
            list(vendor.categories.values_list("pk", flat=True)) if vendor is not None else []
        )
        # A former buyer who still owns a vendor stays selectable, so the edit can be saved
        # (the service then says the owner must be in procurement, next to the field).
        cast(OwnerChoiceField, self.fields["owner"]).queryset = User.objects.filter(
            Q(pk__in=procurement_users().values("pk")) | Q(pk=current_owner)
        ).order_by("first_name", "last_name", "username")
        cast(
            forms.ModelMultipleChoiceField, self.fields["categories"]
        ).queryset = Category.objects.filter(Q(is_active=True) | Q(pk__in=current_categories))

    @staticmethod
    def initial_for(vendor: Vendor) -> dict[str, Any]:
        names = list(vendor.other_names.all())
        return {
            "legal_name": vendor.legal_name,
            "trading_names": "\n".join(n.name for n in names if n.kind == "trading"),
            "aliases": "\n".join(n.name for n in names if n.kind == "alias"),
            "registration_number": vendor.registration_number,
            "tax_number": vendor.tax_number,
            "country": vendor.country,
            "address": vendor.address,
            "website": vendor.website,
            "vendor_type": vendor.vendor_type_id,
            "categories": list(vendor.categories.values_list("pk", flat=True)),
            "owner": vendor.owner_id,
            "processes_personal_data": vendor.processes_personal_data,
        }

    def vendor_input(self, contacts: list[ContactInput]) -> VendorInput:
        data = self.cleaned_data
        return VendorInput(
            legal_name=data["legal_name"],
            country=data["country"],
            vendor_type_id=data["vendor_type"].pk,
            owner_id=data["owner"].pk,
            registration_number=data["registration_number"],
            tax_number=data["tax_number"],
            address=data["address"],
            website=data["website"],
            processes_personal_data=data["processes_personal_data"],
            category_ids=[category.pk for category in data["categories"]],
            trading_names=_lines(data["trading_names"]),
            aliases=_lines(data["aliases"]),
            contacts=contacts,
        )


class ContactForm(forms.Form):
    """One contact row. A row left blank is ignored; a half-filled one needs name and email."""

    name = forms.CharField(label="Name", required=False, max_length=120)
    email = forms.EmailField(label="Email", required=False, max_length=254)
    phone = forms.CharField(label="Phone", required=False, max_length=40)
    job_title = forms.CharField(label="Job title", required=False, max_length=120)
    is_primary = forms.BooleanField(label="Primary contact", required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.is_blank():
            return data
        for name in ("name", "email"):
            if not data.get(name) and name not in self.errors:
                self.add_error(name, "Needed for a contact.")
        return data

    def is_blank(self) -> bool:
        data = self.cleaned_data
        return not any(data.get(name) for name in ("name", "email", "phone", "job_title"))

    def contact_input(self) -> ContactInput:
        data = self.cleaned_data
        return ContactInput(
            name=data["name"],
            email=data["email"],
            phone=data["phone"],
            job_title=data["job_title"],
            is_primary=data["is_primary"],
        )


class BaseContactFormSet(forms.BaseFormSet):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.service_errors: list[str] = []

    def contact_inputs(self) -> list[ContactInput]:
        """The filled-in rows, in order. Call once the formset is valid."""
        return [
            cast(ContactForm, form).contact_input()
            for form in self.forms
            if form.has_changed() and not cast(ContactForm, form).is_blank()
        ]

    def add_non_form_errors(self, messages: list[str]) -> None:
        """Errors about the contacts that only the service could find."""
        self.service_errors.extend(messages)

    def non_form_errors(self) -> ErrorList:
        errors = super().non_form_errors()
        if not self.service_errors:
            return errors
        return ErrorList([*errors, *self.service_errors], error_class="nonform")


ContactFormSet = forms.formset_factory(
    ContactForm,
    formset=BaseContactFormSet,
    extra=0,
    max_num=CONTACT_ROWS_MAX,
    validate_max=True,
    absolute_max=CONTACT_ROWS_MAX,
)


def contact_formset(*, data: Any = None, vendor: Vendor | None = None) -> BaseContactFormSet:
    """The vendor's contacts plus blank rows to add more (three for a new vendor)."""
    initial = [
        {
            "name": contact.name,
            "email": contact.email,
            "phone": contact.phone,
            "job_title": contact.job_title,
            "is_primary": contact.is_primary,
        }
        for contact in (vendor.contacts.all() if vendor is not None else [])
    ]
    formset = cast(
        BaseContactFormSet, ContactFormSet(data=data, initial=initial, prefix=CONTACTS_PREFIX)
    )
    formset.extra = 1 if initial else 3
    return formset


# --- Detail-page actions -----------------------------------------------------------


class TransitionForm(forms.Form):
    action = forms.ChoiceField(choices=[(name, name) for name in VENDOR_ACTIONS])
    reason = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))


class CheckRecordForm(forms.Form):
    status = forms.ChoiceField(
        label="Outcome",
        choices=[
            (CheckStatus.PASSED, "Passed"),
            (CheckStatus.FAILED, "Failed"),
            (CheckStatus.NOT_APPLICABLE, "Not applicable"),
            (CheckStatus.OPEN, "Reopen"),
        ],
    )
    outcome = forms.CharField(
        label="What was checked and found",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    evidence = forms.FileField(
        label="Evidence (optional)",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": DOCUMENT_ACCEPT}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["evidence"].help_text = _document_help()


class DeclarationForm(forms.Form):
    has_conflict = forms.TypedChoiceField(
        label="Do you have a conflict of interest with this vendor?",
        choices=[("no", "No, I have no conflict"), ("yes", "Yes, I have a conflict")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    details = forms.CharField(
        label="Details",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed if you have a conflict: who, and what the relationship is.",
    )


class DocumentForm(forms.Form):
    kind = forms.ChoiceField(label="Kind", choices=VendorDocument.Kind.choices)
    title = forms.CharField(label="Title", required=False, max_length=200)
    file = forms.FileField(
        label="File", widget=forms.ClearableFileInput(attrs={"accept": DOCUMENT_ACCEPT})
    )
    issued_on = forms.DateField(
        label="Issued on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    expires_on = forms.DateField(
        label="Expires on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _document_help()

    @property
    def upload(self) -> UploadedFile:
        return cast(UploadedFile, self.cleaned_data["file"])

    @property
    def dates(self) -> tuple[dt.date | None, dt.date | None]:
        return self.cleaned_data["issued_on"], self.cleaned_data["expires_on"]


def _document_help() -> str:
    return f"PDF, PNG, JPEG, GIF or WebP, up to {human_size(settings.VENDOR_DOCUMENT_MAX_BYTES)}."


class BankDetailsForm(forms.Form):
    account_name = forms.CharField(label="Account name", max_length=140)
    iban = forms.CharField(label="IBAN", required=False, max_length=50)
    bic = forms.CharField(label="BIC / SWIFT", required=False, max_length=20)
    account_number = forms.CharField(
        label="Account number",
        required=False,
        max_length=34,
        help_text="Only for countries without IBAN.",
    )
    routing_code = forms.CharField(
        label="Sort code / routing number", required=False, max_length=20
    )
    reason = forms.CharField(
        label="Why do the details change, and how was it verified?",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="E.g. “Confirmed by phone with the finance director on the number we hold”.",
    )

    def details(self) -> BankDetailsInput:
        data = self.cleaned_data
        return BankDetailsInput(
            account_name=data["account_name"],
            iban=data["iban"],
            bic=data["bic"],
            account_number=data["account_number"],
            routing_code=data["routing_code"],
        )


class SanctionsReviewForm(forms.Form):
    match_id = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    decision = forms.ChoiceField(
        label="Decision",
        choices=[
            ("clear", SanctionsMatch.Status.CLEARED.label),
            ("confirm", SanctionsMatch.Status.CONFIRMED.label),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label="Reason", max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )
