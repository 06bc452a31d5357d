"""The REST API for vendors, mounted at /api/vendors/ (namespace "vendors-api").

Same style as requests/api.py: one APIView per URL; each method parses with a small input
serializer, calls one service or selector of this app, and renders with a small output
serializer. The services decide; the API and the pages refuse the same things with the same
messages. Every error leaves through procurement.api.exception_handler as
{"code", "detail", "errors"}; a possible duplicate adds "duplicates".

Who sees what: every signed-in user sees a vendor's summary (to pick one for a request);
the file (checks, documents, sanctions, contacts...) only `vendor_may_see_file`; bank details
and their history only `vendor_may_see_bank_details`. Hidden keys are left out, not null.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from procurement.api import (
    Pagination,
    absolute_url,
    by_code,
    error_response,
    error_responses,
    object_response,
    paginated_response,
    query_filters,
    signed_in_user,
    unknown_choice,
)
from procurement.errors import NotAllowed, NotFound
from procurement.models import Category
from vendors import sanctions
from vendors.models import (
    BankDetailChange,
    CheckKind,
    CheckStatus,
    ConflictDeclaration,
    DueDiligenceCheck,
    RiskTier,
    SanctionsMatch,
    SanctionsSource,
    Vendor,
    VendorDocument,
    VendorName,
    VendorState,
    VendorType,
)
from vendors.selectors import (
    vendor_approval_blockers,
    vendor_list,
    vendor_may_manage,
    vendor_may_record_checks,
    vendor_may_see_bank_details,
    vendor_may_see_file,
)
from vendors.services import (
    VENDOR_ACTIONS,
    BankDetailsInput,
    ContactInput,
    PossibleDuplicate,
    VendorInput,
    conflict_declare,
    due_diligence_check_record,
    vendor_bank_details_change,
    vendor_create,
    vendor_document_add,
    vendor_transition,
    vendor_update,
)

_user = signed_in_user


# --- Errors (documentation only: procurement.api.exception_handler builds them) ---

_ERROR_TEXT = {
    400: "Invalid input: `errors` names each bad field (a bad tax number, IBAN, file type...).",
    403: "Not authenticated, or your role may not do this.",
    404: "No such vendor (or no such check / match of this vendor).",
    409: "The vendor's state does not allow this; approving lists `errors.blockers`.",
}
_errors = partial(error_responses, texts=_ERROR_TEXT)


class VendorDuplicateCandidateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    legal_name = serializers.CharField()
    reason = serializers.CharField(help_text='"same tax number", "name 94% alike"...')
    url = serializers.CharField(help_text="The existing vendor in the API.")


# Inline because `errors` is also the name of a Serializer attribute.
DUPLICATE_BODY = inline_serializer(
    name="VendorDuplicateError",
    fields={
        "code": serializers.CharField(help_text="possible_duplicate, or conflict"),
        "detail": serializers.CharField(help_text="One sentence for people."),
        "errors": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            help_text='{"duplicates": ["12: Acme Ltd (name 96% alike)"]}',
        ),
        # Absent when the 409 is not about duplicates (an edit of an offboarded vendor).
        "duplicates": VendorDuplicateCandidateSerializer(many=True, required=False),
    },
)


def _duplicate_response(request: Request, error: PossibleDuplicate) -> Response:
    response = error_response(
        status_code=error.status, code=error.code, detail=error.message, errors=error.fields
    )
    response.data["duplicates"] = [
        {
            "id": candidate.vendor.pk,
            "legal_name": candidate.vendor.legal_name,
            "reason": candidate.reason,
            "url": absolute_url(request, "vendors-api:detail", candidate.vendor.pk),
        }
        for candidate in error.candidates
    ]
    return response


def _duplicate_responses() -> dict[int, OpenApiResponse]:
    return {
        409: OpenApiResponse(
            DUPLICATE_BODY,
            description=(
                "The vendor looks like one we have (`duplicates`), or, on an edit, it is "
                'offboarded. Send again with `"not_a_duplicate": true` if it is a different '
                "company."
            ),
        )
    }


_VENDOR_ID = OpenApiParameter("vendor_id", int, OpenApiParameter.PATH, description="Vendor id.")


# --- Output serializers ----------------------------------------------------


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(source="__str__", help_text="Full name, or the username.")


class VendorCategorySerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class VendorTypeRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    requires_security_assessment = serializers.BooleanField()


class VendorSummarySerializer(serializers.Serializer):
    """What every signed-in user may see of a vendor: enough to pick one."""

    id = serializers.IntegerField()
    legal_name = serializers.CharField()
    trading_names = serializers.SerializerMethodField()
    country = serializers.CharField(help_text="ISO 3166 two-letter code.")
    website = serializers.CharField()
    vendor_type = VendorTypeRefSerializer()
    state = serializers.ChoiceField(choices=VendorState.choices)
    state_label = serializers.CharField(source="get_state_display")
    risk_tier = serializers.SerializerMethodField(
        help_text="From the last scored security assessment; null until then."
    )
    categories = VendorCategorySerializer(many=True, source="categories.all")
    owner = UserRefSerializer(help_text="The person in procurement who looks after the vendor.")
    url = serializers.SerializerMethodField(help_text="This vendor in the API.")
    web_url = serializers.SerializerMethodField(help_text="This vendor's page.")

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_trading_names(self, obj: Vendor) -> list[str]:
        # Filtered in Python: the list and detail prefetch other_names.
        return [n.name for n in obj.other_names.all() if n.kind == VendorName.Kind.TRADING]

    @extend_schema_field(serializers.ChoiceField(choices=RiskTier.choices, allow_null=True))
    def get_risk_tier(self, obj: Vendor) -> str | None:
        return obj.risk_tier or None

    def get_url(self, obj: Vendor) -> str:
        return absolute_url(self.context["request"], "vendors-api:detail", obj.pk)

    def get_web_url(self, obj: Vendor) -> str:
        return absolute_url(self.context["request"], "vendors:detail", obj.pk)


class VendorNameSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=VendorName.Kind.choices)


class VendorContactSerializer(serializers.Serializer):
    name = serializers.CharField()
    email = serializers.EmailField()
    phone = serializers.CharField()
    job_title = serializers.CharField()
    is_primary = serializers.BooleanField()


class VendorDocumentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=VendorDocument.Kind.choices)
    kind_label = serializers.CharField(source="get_kind_display")
    title = serializers.CharField()
    filename = serializers.CharField()
    content_type = serializers.CharField(help_text="Sniffed from the file's bytes.")
    size = serializers.IntegerField(help_text="Bytes.")
    issued_on = serializers.DateField(allow_null=True)
    expires_on = serializers.DateField(allow_null=True)
    uploaded_by = UserRefSerializer(allow_null=True, help_text="Null when the vendor uploaded it.")
    uploaded_at = serializers.DateTimeField()
    url = serializers.SerializerMethodField(
        help_text="Download link (a signed-in page, checked like the vendor's file)."
    )

    def get_url(self, obj: VendorDocument) -> str:
        path = reverse("vendors:document", args=[obj.vendor_id, obj.pk])
        return self.context["request"].build_absolute_uri(path)


class DueDiligenceCheckSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=CheckKind.choices)
    kind_label = serializers.CharField(source="get_kind_display")
    # `required` and `source` are also Field attributes; DRF's metaclass takes the declared
    # fields off the class, so only the type checker minds.
    required = serializers.BooleanField(  # type: ignore[assignment]
        help_text="A required check must pass before approval."
    )
    status = serializers.ChoiceField(choices=CheckStatus.choices)
    status_label = serializers.CharField(source="get_status_display")
    outcome = serializers.CharField(help_text="What was checked and what was found.")
    evidence = serializers.IntegerField(
        source="evidence_id", allow_null=True, help_text="Id of the evidence in `documents`."
    )
    checked_by = UserRefSerializer(allow_null=True, help_text="Null when recorded by the system.")
    checked_at = serializers.DateTimeField(allow_null=True)


class ConflictDeclarationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    person = UserRefSerializer()
    has_conflict = serializers.BooleanField()
    details = serializers.CharField()
    declared_at = serializers.DateTimeField()


class SanctionsMatchSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    source = serializers.ChoiceField(choices=SanctionsSource.choices)  # type: ignore[assignment]
    source_label = serializers.CharField(source="get_source_display")
    entry_reference = serializers.CharField(help_text="The list's own id for the entry.")
    listed_name = serializers.CharField()
    vendor_name = serializers.CharField(help_text="The vendor's name that matched.")
    score = serializers.DecimalField(max_digits=5, decimal_places=1, help_text="0-100.")
    status = serializers.ChoiceField(choices=SanctionsMatch.Status.choices)
    status_label = serializers.CharField(source="get_status_display")
    found_at = serializers.DateTimeField()
    reviewed_by = UserRefSerializer(allow_null=True)
    reviewed_at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField(help_text="The reviewer's reason.")


class BankDetailsSerializer(serializers.Serializer):
    account_name = serializers.CharField(source="bank_account_name")
    iban = serializers.CharField(source="bank_iban")
    bic = serializers.CharField(source="bank_bic")
    account_number = serializers.CharField(source="bank_account_number")
    routing_code = serializers.CharField(source="bank_routing_code")


class BankDetailChangeSerializer(serializers.Serializer):
    changed_at = serializers.DateTimeField()
    changed_by = UserRefSerializer()
    previous = serializers.CharField(help_text="Masked.")
    current = serializers.CharField(help_text="Masked.")
    reason = serializers.CharField()


# Left out of the body (not null) for callers who may not see them.
FILE_FIELDS = (
    "registration_number",
    "tax_number",
    "address",
    "processes_personal_data",
    "state_reason",
    "names",
    "contacts",
    "checks",
    "declarations",
    "documents",
    "sanctions_matches",
    "blockers",
    "risk_assessed_at",
    "next_assessment_due",
    "created_at",
    "updated_at",
)
BANK_FIELDS = ("bank_details", "bank_changes")


@extend_schema_field(serializers.ListField(child=serializers.CharField()))
class BlockersField(serializers.Field):
    """What stops a vendor's approval. Not read-only only so that the schema leaves it out of
    `required`: drf-spectacular marks read-only fields required, and the key is absent for
    callers who may not see the vendor's file."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", required=False, **kwargs)

    def to_representation(self, value: Vendor) -> list[str]:
        return vendor_approval_blockers(value)


class VendorDetailSerializer(VendorSummarySerializer):
    """The summary, plus the vendor's file for those who may see it, plus bank details for
    procurement and finance. Keys a caller may not see are absent."""

    registration_number = serializers.CharField(required=False)
    tax_number = serializers.CharField(required=False, help_text="Compact form.")
    address = serializers.CharField(required=False)
    processes_personal_data = serializers.BooleanField(required=False)
    state_reason = serializers.CharField(
        required=False, help_text="Why the vendor is in its state (the last move's reason)."
    )
    names = VendorNameSerializer(
        many=True, source="other_names.all", required=False, help_text="Trading names, aliases."
    )
    contacts = VendorContactSerializer(many=True, source="contacts.all", required=False)
    checks = DueDiligenceCheckSerializer(many=True, source="checks.all", required=False)
    declarations = ConflictDeclarationSerializer(
        many=True, source="declarations.all", required=False
    )
    documents = VendorDocumentSerializer(many=True, source="documents.all", required=False)
    sanctions_matches = SanctionsMatchSerializer(
        many=True, source="sanctions_matches.all", required=False
    )
    blockers = BlockersField(
        help_text="What stops approval now, one sentence each; empty when clear."
    )
    risk_assessed_at = serializers.DateTimeField(allow_null=True, required=False)
    next_assessment_due = serializers.DateField(allow_null=True, required=False)
    created_at = serializers.DateTimeField(required=False)
    updated_at = serializers.DateTimeField(required=False)
    bank_details = BankDetailsSerializer(
        source="*", required=False, help_text="Procurement and finance only."
    )
    bank_changes = BankDetailChangeSerializer(
        many=True,
        source="bank_changes.all",
        required=False,
        help_text="Newest first; procurement and finance only.",
    )

    def __init__(self, *args: Any, file: bool = False, bank: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Removed before rendering, so what a caller may not see is never even read.
        hidden = (() if file else FILE_FIELDS) + (() if bank else BANK_FIELDS)
        for name in hidden:
            self.fields.pop(name)


# For the schema: every key a caller may get.
VENDOR_DETAIL = VendorDetailSerializer(file=True, bank=True)


def _vendors_for_list(vendors: QuerySet[Vendor]) -> QuerySet[Vendor]:
    return vendors.select_related("owner", "vendor_type").prefetch_related(
        "categories", "other_names"
    )


def _detail_response(
    request: Request, vendor_id: int, *, status_code: int = status.HTTP_200_OK
) -> Response:
    user = _user(request)
    file, bank = vendor_may_see_file(user), vendor_may_see_bank_details(user)
    vendors = _vendors_for_list(Vendor.objects.filter(pk=vendor_id))
    if file:
        vendors = vendors.prefetch_related(
            "contacts",
            Prefetch("checks", DueDiligenceCheck.objects.select_related("checked_by")),
            Prefetch("declarations", ConflictDeclaration.objects.select_related("person")),
            Prefetch("documents", VendorDocument.objects.select_related("uploaded_by")),
            Prefetch("sanctions_matches", SanctionsMatch.objects.select_related("reviewed_by")),
        )
    if bank:
        vendors = vendors.prefetch_related(
            Prefetch("bank_changes", BankDetailChange.objects.select_related("changed_by"))
        )
    vendor = vendors.first()
    if vendor is None:
        raise NotFound("No such vendor.")
    body = VendorDetailSerializer(vendor, context={"request": request}, file=file, bank=bank).data
    return object_response(body, status_code=status_code)


def _require_vendor(vendor_id: int) -> Vendor:
    # Every signed-in user may see every vendor's summary, so "not found" means it does not exist.
    vendor = Vendor.objects.filter(pk=vendor_id).first()
    if vendor is None:
        raise NotFound("No such vendor.")
    return vendor


# --- Input serializers -----------------------------------------------------


class ContactInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    email = serializers.EmailField(max_length=254)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    job_title = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    is_primary = serializers.BooleanField(required=False, default=False)


def _optional_text(max_length: int, help_text: str = "") -> serializers.CharField:
    return serializers.CharField(
        max_length=max_length, required=False, allow_blank=True, help_text=help_text
    )


class VendorInputSerializer(serializers.Serializer):
    """Create a prospect. The service checks the tax number (per country), website,
    owner and duplicates; fields left out are empty."""

    legal_name = serializers.CharField(max_length=200)
    country = serializers.CharField(max_length=2, help_text="ISO 3166 two-letter code, e.g. GB.")
    vendor_type = by_code(VendorType.objects.all(), "vendor type")
    owner = serializers.IntegerField(
        required=False,
        help_text="User id of a member of procurement; by default, you (on create).",
    )
    registration_number = _optional_text(40, "Company registration number.")
    tax_number = _optional_text(40, "Tax / VAT number, checked for the country.")
    address = _optional_text(2000)
    website = _optional_text(300, "http:// or https:// address.")
    processes_personal_data = serializers.BooleanField(required=False)
    categories = by_code(Category.objects.all(), "category", many=True, required=False)
    trading_names = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=50
    )
    aliases = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=50
    )
    contacts: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=ContactInputSerializer(), required=False, max_length=20
    )
    not_a_duplicate = serializers.BooleanField(
        required=False,
        help_text='Your answer to "did you mean ...?" after a 409: add it anyway.',
    )


class VendorReplaceSerializer(VendorInputSerializer):
    """PUT: every field; those left out become empty (names, contacts and categories too)."""

    owner = serializers.IntegerField(help_text="User id of a member of procurement.")


class VendorChangesSerializer(VendorInputSerializer):
    """PATCH: any of the fields; those left out keep their values."""

    legal_name = serializers.CharField(max_length=200, required=False)
    country = serializers.CharField(max_length=2, required=False)
    vendor_type = by_code(VendorType.objects.all(), "vendor type", required=False)


# What a field left out of a create or a PUT becomes.
_EMPTY: dict[str, Any] = {
    "registration_number": "",
    "tax_number": "",
    "address": "",
    "website": "",
    "processes_personal_data": False,
    "categories": [],
    "trading_names": [],
    "aliases": [],
    "contacts": [],
}


def _current_values(vendor: Vendor) -> dict[str, Any]:
    """A vendor's record as validated input: what a PATCH leaves out stays as it is."""
    names = list(vendor.other_names.all())
    return {
        "legal_name": vendor.legal_name,
        "country": vendor.country,
        "vendor_type": vendor.vendor_type,
        "owner": vendor.owner_id,
        "registration_number": vendor.registration_number,
        "tax_number": vendor.tax_number,
        "address": vendor.address,
        "website": vendor.website,
        "processes_personal_data": vendor.processes_personal_data,
        "categories": list(vendor.categories.all()),
        "trading_names": [n.name for n in names if n.kind == VendorName.Kind.TRADING],
        "aliases": [n.name for n in names if n.kind == VendorName.Kind.ALIAS],
        "contacts": [
            {
                "name": c.name,
                "email": c.email,
                "phone": c.phone,
                "job_title": c.job_title,
                "is_primary": c.is_primary,
            }
            for c in vendor.contacts.all()
        ],
    }


def _vendor_input(data: dict[str, Any], *, defaults: dict[str, Any]) -> VendorInput:
    values = {**defaults, **data}
    return VendorInput(
        legal_name=values["legal_name"],
        country=values["country"],
        vendor_type_id=values["vendor_type"].pk,
        owner_id=values["owner"],
        registration_number=values["registration_number"],
        tax_number=values["tax_number"],
        address=values["address"],
        website=values["website"],
        processes_personal_data=values["processes_personal_data"],
        category_ids=[category.pk for category in values["categories"]],
        trading_names=list(values["trading_names"]),
        aliases=list(values["aliases"]),
        contacts=[ContactInput(**contact) for contact in values["contacts"]],
    )


class VendorListFilterSerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False,
        max_length=200,
        help_text="Part of the legal name, a trading name or alias, or a registration number.",
    )
    state = serializers.ChoiceField(
        choices=VendorState.choices,
        required=False,
        error_messages=unknown_choice("state", VendorState.values),
    )
    risk_tier = serializers.ChoiceField(
        choices=RiskTier.choices,
        required=False,
        error_messages=unknown_choice("risk tier", RiskTier.values),
    )
    category = by_code(Category.objects.all(), "category", required=False)


class VendorTransitionInputSerializer(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=list(VENDOR_ACTIONS),
        error_messages=unknown_choice("action", VENDOR_ACTIONS),
    )
    reason = serializers.CharField(
        max_length=5000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required: kept in the vendor's history.",
    )


class BankDetailsInputSerializer(serializers.Serializer):
    account_name = serializers.CharField(max_length=140)
    iban = serializers.CharField(max_length=42, required=False, allow_blank=True, default="")
    bic = serializers.CharField(
        max_length=14, required=False, allow_blank=True, default="", help_text="8 or 11 characters."
    )
    account_number = serializers.CharField(
        max_length=34,
        required=False,
        allow_blank=True,
        default="",
        help_text="For countries without IBAN (give this or an IBAN).",
    )
    routing_code = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        default="",
        help_text="Sort code / routing number.",
    )
    reason = serializers.CharField(
        max_length=5000, help_text="Why the details change, and how the change was verified."
    )


class CheckRecordSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=CheckStatus.choices,
        help_text="open reopens the check; not_applicable only for checks that are not required.",
    )
    outcome = serializers.CharField(
        max_length=5000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required: what was checked and what was found.",
    )


class CheckRecordUploadSerializer(CheckRecordSerializer):
    evidence = serializers.FileField(
        required=False, help_text="Optional: a PDF or an image (PNG, JPEG, GIF, WebP)."
    )


class DeclarationInputSerializer(serializers.Serializer):
    has_conflict = serializers.BooleanField()
    details = serializers.CharField(
        max_length=5000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required when has_conflict is true: who, what relationship.",
    )


class DocumentUploadSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=VendorDocument.Kind.choices)
    title = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="Default: file name.",
    )
    file = serializers.FileField(help_text="A PDF or an image (PNG, JPEG, GIF, WebP).")
    issued_on = serializers.DateField(required=False, allow_null=True, default=None)
    expires_on = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="Reminders are sent before it."
    )


class SanctionsReviewInputSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(
        choices=[
            ("clear", "Not the same party"),
            ("confirm", "The same party: the vendor is blocked"),
        ]
    )
    reason = serializers.CharField(
        max_length=5000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required: how you know.",
    )


_CREATE_EXAMPLE = OpenApiExample(
    "A SaaS prospect",
    request_only=True,
    value={
        "legal_name": "Kestrel Cloud Ltd",
        "country": "GB",
        "vendor_type": "saas",
        "tax_number": "GB980780684",
        "website": "https://kestrel.example",
        "categories": ["software", "cloud"],
        "trading_names": ["Kestrel"],
        "processes_personal_data": True,
        "contacts": [{"name": "Jo Sales", "email": "jo@kestrel.example", "is_primary": True}],
    },
)
_DUPLICATE_EXAMPLE = OpenApiExample(
    "Possible duplicate",
    response_only=True,
    status_codes=["409"],
    value={
        "code": "possible_duplicate",
        "detail": "Did you mean Kestrel Cloud Limited (name 100% alike)? If this is a different "
        "company, confirm to add it anyway.",
        "errors": {"duplicates": ["12: Kestrel Cloud Limited (name 100% alike)"]},
        "duplicates": [
            {
                "id": 12,
                "legal_name": "Kestrel Cloud Limited",
                "reason": "name 100% alike",
                "url": "https://buy.example/api/vendors/12/",
            }
        ],
    },
)
_BLOCKED_EXAMPLE = OpenApiExample(
    "Approval with open checks",
    response_only=True,
    status_codes=["409"],
    value={
        "code": "conflict",
        "detail": "Kestrel Cloud Ltd cannot be approved yet: The insurance check is still open.",
        "errors": {"blockers": ["The insurance check is still open."]},
    },
)


# --- Vendors ---------------------------------------------------------------


class VendorListCreateApi(APIView):
    parser_classes = [JSONParser]
    pagination_class = Pagination  # read by the schema generator for the paginated list

    @extend_schema(
        operation_id="vendors_list",
        summary="List vendors (the summary every signed-in user may see)",
        parameters=[VendorListFilterSerializer],
        responses={200: VendorSummarySerializer(many=True), **_errors(400, 403)},
        tags=["vendors"],
    )
    def get(self, request: Request) -> Response:
        data = query_filters(request, VendorListFilterSerializer)
        vendors = vendor_list(user=_user(request), q=data.get("q", ""), state=data.get("state", ""))
        if data.get("risk_tier"):
            vendors = vendors.filter(risk_tier=data["risk_tier"])
        if data.get("category"):
            vendors = vendors.filter(categories=data["category"])
        vendors = _vendors_for_list(vendors).order_by("legal_name", "id")
        return paginated_response(self, request, vendors, VendorSummarySerializer)

    @extend_schema(
        operation_id="vendors_create",
        summary="Add a prospect vendor (procurement)",
        description=(
            "A vendor that looks like one we have (name, registration or tax number) is "
            'refused with 409 and the `duplicates`; send again with `"not_a_duplicate": true` '
            "if it is a different company."
        ),
        request=VendorInputSerializer,
        responses={201: VENDOR_DETAIL, **_errors(400, 403), **_duplicate_responses()},
        examples=[_CREATE_EXAMPLE, _DUPLICATE_EXAMPLE],
        tags=["vendors"],
    )
    def post(self, request: Request) -> Response:
        if not vendor_may_manage(_user(request)):
            raise NotAllowed("Only procurement can add vendors.")
        serializer = VendorInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            vendor = vendor_create(
                by=_user(request),
                data=_vendor_input(data, defaults={**_EMPTY, "owner": _user(request).pk}),
                not_a_duplicate=data.get("not_a_duplicate", False),
            )
        except PossibleDuplicate as error:
            return _duplicate_response(request, error)
        return _detail_response(request, vendor.pk, status_code=status.HTTP_201_CREATED)


class VendorDetailApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="vendors_retrieve",
        summary="A vendor: the summary, its file if you may see it, bank details if yours to see",
        parameters=[_VENDOR_ID],
        responses={200: VENDOR_DETAIL, **_errors(403, 404)},
        tags=["vendors"],
    )
    def get(self, request: Request, vendor_id: int) -> Response:
        return _detail_response(request, vendor_id)

    @extend_schema(
        operation_id="vendors_replace",
        summary="Replace a vendor's record (procurement)",
        description="Not its state or bank details: those have their own endpoints.",
        parameters=[_VENDOR_ID],
        request=VendorReplaceSerializer,
        responses={200: VENDOR_DETAIL, **_errors(400, 403, 404), **_duplicate_responses()},
        tags=["vendors"],
    )
    def put(self, request: Request, vendor_id: int) -> Response:
        return self._update(request, vendor_id, partial=False)

    @extend_schema(
        operation_id="vendors_partial_update",
        summary="Change some fields of a vendor's record (procurement)",
        description="Fields left out keep their values; a list that is sent replaces the list.",
        parameters=[_VENDOR_ID],
        request=VendorChangesSerializer,
        responses={200: VENDOR_DETAIL, **_errors(400, 403, 404), **_duplicate_responses()},
        tags=["vendors"],
    )
    def patch(self, request: Request, vendor_id: int) -> Response:
        return self._update(request, vendor_id, partial=True)

    def _update(self, request: Request, vendor_id: int, *, partial: bool) -> Response:
        # Looked up and permission-checked before the body is read: a 404 or 403 whatever was sent.
        current = _require_vendor(vendor_id)
        if not vendor_may_manage(_user(request)):
            raise NotAllowed("Only procurement can edit vendors.")
        input_class = VendorChangesSerializer if partial else VendorReplaceSerializer
        serializer = input_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            vendor_update(
                vendor_id=vendor_id,
                by=_user(request),
                data=_vendor_input(data, defaults=_current_values(current) if partial else _EMPTY),
                not_a_duplicate=data.get("not_a_duplicate", False),
            )
        except PossibleDuplicate as error:
            return _duplicate_response(request, error)
        return _detail_response(request, vendor_id)


class VendorTransitionApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="vendors_transition",
        summary="Move a vendor through its lifecycle (procurement; a reason is required)",
        description=(
            "prospect -start_review-> under_review -approve-> approved -suspend-> suspended; "
            "return_to_review, block and offboard from most states. Approving while checks, "
            "sanctions matches or the security assessment are open is a 409 listing "
            "`errors.blockers`."
        ),
        parameters=[_VENDOR_ID],
        request=VendorTransitionInputSerializer,
        responses={200: VENDOR_DETAIL, **_errors(400, 403, 404, 409)},
        examples=[_BLOCKED_EXAMPLE],
        tags=["vendors"],
    )
    def post(self, request: Request, vendor_id: int) -> Response:
        _require_vendor(vendor_id)
        if not vendor_may_manage(_user(request)):
            raise NotAllowed("Only procurement can change a vendor's status.")
        serializer = VendorTransitionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        vendor_transition(vendor_id=vendor_id, by=_user(request), **serializer.validated_data)
        return _detail_response(request, vendor_id)


class VendorBankDetailsApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="vendors_bank_details_update",
        summary="Change where we pay a vendor (procurement and finance)",
        description=(
            "The change is kept (masked) with its reason; an approved or suspended vendor goes "
            "back under review, and its owner is emailed."
        ),
        parameters=[_VENDOR_ID],
        request=BankDetailsInputSerializer,
        responses={200: VENDOR_DETAIL, **_errors(400, 403, 404, 409)},
        tags=["vendors"],
    )
    def put(self, request: Request, vendor_id: int) -> Response:
        _require_vendor(vendor_id)
        if not vendor_may_see_bank_details(_user(request)):
            raise NotAllowed("Only procurement and finance can change a vendor's bank details.")
        serializer = BankDetailsInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        reason = data.pop("reason")
        vendor_bank_details_change(
            vendor_id=vendor_id, by=_user(request), details=BankDetailsInput(**data), reason=reason
        )
        return _detail_response(request, vendor_id)


def _require_file_viewer(request: Request, vendor_id: int, message: str) -> None:
    _require_vendor(vendor_id)
    if not vendor_may_see_file(_user(request)):
        raise NotAllowed(message)


class DueDiligenceCheckRecordApi(APIView):
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        operation_id="vendors_checks_record",
        summary="Record a due-diligence check's outcome (procurement, finance, legal)",
        description=(
            "JSON, or multipart with an `evidence` file. The sanctions check cannot be passed "
            "while a possible match is uncleared, nor the conflict-of-interest check before "
            "anyone declared (409)."
        ),
        parameters=[
            _VENDOR_ID,
            OpenApiParameter("check_id", int, OpenApiParameter.PATH, description="Check id."),
        ],
        request={
            "multipart/form-data": CheckRecordUploadSerializer,
            "application/json": CheckRecordSerializer,
        },
        responses={200: DueDiligenceCheckSerializer, **_errors(400, 403, 404, 409, 415)},
        tags=["vendors"],
    )
    def post(self, request: Request, vendor_id: int, check_id: int) -> Response:
        _require_vendor(vendor_id)
        if not vendor_may_record_checks(_user(request)):
            raise NotAllowed("Only procurement, finance or legal can record due-diligence checks.")
        # A check of another vendor is not this vendor's: the same 404 as no check at all.
        if not DueDiligenceCheck.objects.filter(pk=check_id, vendor_id=vendor_id).exists():
            raise NotFound("This vendor has no such check.")
        serializer = CheckRecordUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        check = due_diligence_check_record(
            check_id=check_id,
            by=_user(request),
            status=data["status"],
            outcome=data["outcome"],
            evidence=data.get("evidence"),
        )
        check = DueDiligenceCheck.objects.select_related("checked_by").get(pk=check.pk)
        return Response(DueDiligenceCheckSerializer(check).data)


class ConflictDeclarationApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="vendors_declarations_create",
        summary="Declare whether you have a conflict of interest with a vendor",
        description="Replaces your earlier declaration for this vendor.",
        parameters=[_VENDOR_ID],
        request=DeclarationInputSerializer,
        responses={201: ConflictDeclarationSerializer, **_errors(400, 403, 404)},
        tags=["vendors"],
    )
    def post(self, request: Request, vendor_id: int) -> Response:
        _require_vendor(vendor_id)
        serializer = DeclarationInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        declaration = conflict_declare(
            vendor_id=vendor_id, by=_user(request), **serializer.validated_data
        )
        return Response(
            ConflictDeclarationSerializer(declaration).data, status=status.HTTP_201_CREATED
        )


class VendorDocumentsApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="vendors_documents_create",
        summary="Add a certificate or report (multipart field `file`)",
        parameters=[_VENDOR_ID],
        request={"multipart/form-data": DocumentUploadSerializer},
        responses={201: VendorDocumentSerializer, **_errors(400, 403, 404, 415)},
        tags=["vendors"],
    )
    def post(self, request: Request, vendor_id: int) -> Response:
        _require_file_viewer(
            request,
            vendor_id,
            "Only procurement, finance, legal or security can add vendor documents.",
        )
        serializer = DocumentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        document = vendor_document_add(
            vendor_id=vendor_id,
            by=_user(request),
            kind=data["kind"],
            title=data["title"],
            upload=data["file"],
            issued_on=data["issued_on"],
            expires_on=data["expires_on"],
        )
        return Response(
            VendorDocumentSerializer(document, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class SanctionsMatchReviewApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="vendors_sanctions_matches_review",
        summary="Clear or confirm a possible sanctions match (procurement, finance, legal)",
        description=(
            "`clear`: not the same party; when no match is left the sanctions check passes. "
            "`confirm`: the same party; the sanctions check fails and the vendor is blocked."
        ),
        parameters=[
            _VENDOR_ID,
            OpenApiParameter("match_id", int, OpenApiParameter.PATH, description="Match id."),
        ],
        request=SanctionsReviewInputSerializer,
        responses={200: SanctionsMatchSerializer, **_errors(400, 403, 404, 409)},
        tags=["vendors"],
    )
    def post(self, request: Request, vendor_id: int, match_id: int) -> Response:
        _require_vendor(vendor_id)
        if not vendor_may_record_checks(_user(request)):
            raise NotAllowed(
                "Only procurement, finance, legal or an admin can review sanctions matches."
            )
        if not SanctionsMatch.objects.filter(pk=match_id, vendor_id=vendor_id).exists():
            raise NotFound("This vendor has no such sanctions match.")
        serializer = SanctionsReviewInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        match = sanctions.sanctions_match_review(
            match_id=match_id, by=_user(request), **serializer.validated_data
        )
        match = SanctionsMatch.objects.select_related("reviewed_by").get(pk=match.pk)
        return Response(SanctionsMatchSerializer(match).data)
