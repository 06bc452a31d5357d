"""Contract pages: pipeline, list, form, detail, actions, renewal and documents."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from conftest import Org
from tests.factories import vendor_approved
from vendors.contracts import ContractInput, contract_create, contract_transition
from vendors.models import Contract, ContractState, Vendor


def draft(org: Org, vendor: Vendor | None = None, *, days_to_end: int = 365) -> Contract:
    vendor = vendor or vendor_approved(by=org.procurement)
    today = timezone.localdate()
    return contract_create(
        by=org.procurement,
        data=ContractInput(
            vendor_id=vendor.pk,
            title="Helpdesk SaaS",
            owner_id=org.procurement.pk,
            value=Decimal("9000"),
            currency="GBP",
            start_date=today - dt.timedelta(days=30),
            end_date=today + dt.timedelta(days=days_to_end),
            notice_period_days=30,
        ),
    )


def live(org: Org, *, days_to_end: int = 365) -> Contract:
    contract = draft(org, days_to_end=days_to_end)
    return contract_transition(
        contract_id=contract.pk, by=org.procurement, action="activate", reason="Signed"
    )


def form_data(vendor: Vendor, org: Org, **changes: str) -> dict[str, str]:
    data = {
        "vendor": str(vendor.pk),
        "title": "Laptop leasing",
        "owner": str(org.procurement.pk),
        "value": "12000",
        "currency": "GBP",
        "start_date": "2030-01-01",
        "end_date": "2030-12-31",
        "notice_period_days": "30",
        "renewal_term_months": "12",
        "renewal_terms": "",
    }
    data.update(changes)
    return data


def test_it_creates_a_contract_from_the_form_preselecting_the_vendor(org: Org) -> None:
    vendor = vendor_approved(by=org.procurement)
    client = org.client_for(org.procurement)
    page = client.get(reverse("contracts:create") + f"?vendor={vendor.pk}")
    assert page.status_code == 200
    assert f'<option value="{vendor.pk}" selected>' in page.content.decode()
    response = client.post(reverse("contracts:create"), form_data(vendor, org))
    contract = Contract.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("contracts:detail", args=[contract.pk])
    assert contract.notice_deadline == dt.date(2030, 12, 1)


def test_it_shows_the_services_errors_next_to_the_fields(org: Org) -> None:
    vendor = vendor_approved(by=org.procurement)
    client = org.client_for(org.procurement)
    response = client.post(
        reverse("contracts:create"), form_data(vendor, org, notice_period_days="400")
    )
    assert response.status_code == 400
    assert "must be shorter than the term" in response.content.decode()
    response = client.post(
        reverse("contracts:create"), form_data(vendor, org, end_date="2029-12-31")
    )
    assert response.status_code == 400
    assert "The end date must be after the start date." in response.content.decode()
    assert not Contract.objects.exists()


def test_it_answers_requesters_with_404_everywhere(org: Org) -> None:
    contract = live(org)
    client = org.client_for(org.requester)
    for url in (
        reverse("contracts:pipeline"),
        reverse("contracts:list"),
        reverse("contracts:create"),
        reverse("contracts:detail", args=[contract.pk]),
        reverse("contracts:edit", args=[contract.pk]),
    ):
        assert client.get(url).status_code == 404, url
    response = client.post(
        reverse("contracts:action", args=[contract.pk, "terminate"]), {"reason": "No"}
    )
    assert response.status_code == 404


def test_it_shows_finance_the_contract_without_action_buttons(org: Org) -> None:
    contract = live(org)
    client = org.client_for(org.finance)
    page = client.get(reverse("contracts:detail", args=[contract.pk])).content.decode()
    assert "Helpdesk SaaS" in page
    assert reverse("contracts:action", args=[contract.pk, "terminate"]) not in page
    client.post(reverse("contracts:action", args=[contract.pk, "terminate"]), {"reason": "No"})
    contract.refresh_from_db()
    assert contract.state == ContractState.ACTIVE


def test_it_terminates_with_a_reason_shown_in_the_history(org: Org) -> None:
    contract = live(org)
    client = org.client_for(org.procurement)
    response = client.post(
        reverse("contracts:action", args=[contract.pk, "terminate"]),
        {"reason": "Moving to another supplier"},
    )
    assert response.status_code == 302
    contract.refresh_from_db()
    assert contract.state == ContractState.TERMINATED
    page = client.get(reverse("contracts:detail", args=[contract.pk])).content.decode()
    assert "terminated it" in page
    assert "Moving to another supplier" in page


def test_it_renews_from_the_renew_page(org: Org) -> None:
    contract = live(org)
    client = org.client_for(org.procurement)
    response = client.post(
        reverse("contracts:renew", args=[contract.pk]), {"months": "12", "reason": "Good value"}
    )
    successor = Contract.objects.get(renewed_from=contract)
    assert response["Location"] == reverse("contracts:detail", args=[successor.pk])
    assert successor.start_date == contract.end_date + dt.timedelta(days=1)


def test_it_lists_the_pipeline_with_overdue_contracts_flagged(org: Org) -> None:
    overdue = live(org, days_to_end=10)  # notice deadline 20 days ago
    upcoming = live(org, days_to_end=60)  # notice deadline in 30 days
    client = org.client_for(org.legal)
    page = client.get(reverse("contracts:pipeline")).content.decode()
    assert "Overdue: notice deadline passed" in page
    assert page.index(reverse("contracts:detail", args=[overdue.pk])) < page.index(
        reverse("contracts:detail", args=[upcoming.pk])
    )
    month = (timezone.localdate() + dt.timedelta(days=30)).strftime("%B %Y")
    assert f"<h3>{month}</h3>" in page
    assert client.get(reverse("contracts:pipeline") + "?days=30").status_code == 200


def test_it_uploads_and_downloads_a_document_for_those_who_may_see_it(org: Org) -> None:
    contract = live(org)
    client = org.client_for(org.procurement)
    response = client.post(
        reverse("contracts:document-upload", args=[contract.pk]),
        {"title": "Signed", "file": SimpleUploadedFile("signed.pdf", b"%PDF-1.4 signed")},
    )
    assert response.status_code == 302
    document = contract.documents.get()
    url = reverse("contracts:document", args=[contract.pk, document.pk])
    download = org.client_for(org.finance).get(url)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 signed"  # type: ignore[attr-defined]
    assert org.client_for(org.requester).get(url).status_code == 404


def test_it_refuses_an_upload_that_is_not_a_document(org: Org) -> None:
    contract = live(org)
    response = org.client_for(org.procurement).post(
        reverse("contracts:document-upload", args=[contract.pk]),
        {"title": "", "file": SimpleUploadedFile("notes.txt", b"just text")},
    )
    assert response.status_code == 400
    assert "is not a PDF or an image" in response.content.decode()
    assert not contract.documents.exists()
