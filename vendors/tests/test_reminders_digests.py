"""Reminder digests: contract owners, vendor owners, and procurement's weekly digest."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from conftest import Org
from procurement.models import User
from tests.factories import PurchaseRequestFactory, UserFactory, vendor_approved, vendor_create
from vendors.contracts import ContractInput, contract_create, contract_transition
from vendors.models import Contract, Vendor
from vendors.reminders import reminders_send_due
from vendors.services import vendor_document_add


def at(day: dt.date, hour: int = 9) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def live_contract(
    org: Org, *, owner: User, vendor: Vendor, title: str, end_date: dt.date, **extra: Any
) -> Contract:
    contract = contract_create(
        by=org.procurement,
        data=ContractInput(
            vendor_id=vendor.pk,
            title=title,
            owner_id=owner.pk,
            value=Decimal("5000"),
            currency="GBP",
            start_date=dt.date(2030, 1, 1),
            end_date=end_date,
            notice_period_days=30,
            **extra,
        ),
    )
    return contract_transition(
        contract_id=contract.pk,
        by=org.procurement,
        action="activate",
        reason="Signed",
        today=dt.date(2030, 1, 1),
    )


def sent_to(mailoutbox: list[EmailMultiAlternatives], person: User) -> list[EmailMultiAlternatives]:
    return [message for message in mailoutbox if message.to == [person.email]]


# Notice deadline 1 Dec 2030: the 90-, 30- and 7-day reminders fall on 2 Sep, 1 Nov, 24 Nov.
END = dt.date(2030, 12, 31)


def test_it_reminds_a_contract_owner_when_an_offset_is_crossed(
    org: Org, mailoutbox: list[EmailMultiAlternatives]
) -> None:
    vendor = vendor_approved(by=org.procurement)
    contract = live_contract(org, owner=org.legal, vendor=vendor, title="Fleet SaaS", end_date=END)
    assert reminders_send_due(now=at(dt.date(2030, 9, 1))) == 0
    assert reminders_send_due(now=at(dt.date(2030, 9, 2))) == 1
    (message,) = sent_to(mailoutbox, org.legal)
    assert "Fleet SaaS" in message.subject
    assert "in 90 days" in message.body
    assert f"/contracts/{contract.pk}/" in message.body
    html = message.alternatives[0][0]
    assert f"/contracts/{contract.pk}/" in str(html)


def test_it_sends_each_reminder_once_across_runs(
    org: Org, mailoutbox: list[EmailMultiAlternatives]
) -> None:
    vendor = vendor_approved(by=org.procurement)
    live_contract(org, owner=org.legal, vendor=vendor, title="Fleet SaaS", end_date=END)
    assert reminders_send_due(now=at(dt.date(2030, 9, 2), 9)) == 1
    assert reminders_send_due(now=at(dt.date(2030, 9, 2), 10)) == 0
    assert reminders_send_due(now=at(dt.date(2030, 9, 3), 9)) == 0
    assert reminders_send_due(now=at(dt.date(2030, 11, 1))) == 1  # the 30-day one
    assert len(sent_to(mailoutbox, org.legal)) == 2


def test_it_sends_one_line_for_offsets_missed_while_the_worker_was_down(
    org: Org, mailoutbox: list[EmailMultiAlternatives]
) -> None:
    vendor = vendor_approved(by=org.procurement)
    live_contract(org, owner=org.legal, vendor=vendor, title="Fleet SaaS", end_date=END)
    assert reminders_send_due(now=at(dt.date(2030, 11, 5))) == 1
    (message,) = sent_to(mailoutbox, org.legal)
    assert message.body.count("Fleet SaaS") == 1
    assert "in 26 days" in message.body
    # Both the 90- and the 30-day reminder are done: nothing more until the 7-day one.
    assert reminders_send_due(now=at(dt.date(2030, 11, 6))) == 0
    assert reminders_send_due(now=at(dt.date(2030, 11, 24))) == 1


def test_it_groups_an_owners_contracts_in_one_digest(
    org: Org, mailoutbox: list[EmailMultiAlternatives]
) -> None:
    vendor = vendor_approved(by=org.procurement)
    live_contract(org, owner=org.legal, vendor=vendor, title="Fleet SaaS", end_date=END)
    live_contract(org, owner=org.legal, vendor=vendor, title="Printer lease", end_date=END)
    live_contract(org, owner=org.finance, vendor=vendor, title="Payroll SaaS", end_date=END)
    assert reminders_send_due(now=at(dt.date(2030, 9, 2))) == 2
    (legal,) = sent_to(mailoutbox, org.legal)
    assert legal.subject == "2 contract decisions due"
    assert "Fleet SaaS" in legal.body
    assert "Printer lease" in legal.body
    assert "Payroll SaaS" not in legal.body
    (finance,) = sent_to(mailoutbox, org.finance)
    assert "Payroll SaaS" in finance.body


def test_it_reminds_again_when_the_deadline_moves(
    org: Org, mailoutbox: list[EmailMultiAlternatives]
) -> None:
    vendor = vendor_approved(by=org.procurement)
    contract = live_contract(org, owner=org.legal, vendor=vendor, title="Fleet SaaS", end_date=END)
    reminders_send_due(now=at(dt.date(2030, 9, 2)))
    Contract.objects.filter(pk=contract.pk).update(notice_deadline=dt.date(2030, 12, 2))
    assert reminders_send_due(now=at(dt.date(2030, 9, 4))) == 1


def test_it_reminds_a_vendor_owner_of_certificates_and_reassessments(
    org: Org, mailoutbox: list[EmailMultiAlternatives]
) -> None:
    today = dt.date(2030, 6, 1)
    vendor = vendor_approved(by=org.procurement, legal_name="Contoso Cloud")
    vendor_document_add(
        vendor_id=vendor.pk,
        by=org.procurement,
        kind="iso27001",
        title="ISO 27001 certificate 2029",
        upload=SimpleUploadedFile("iso.pdf", b"%PDF-1.4 iso"),
        expires_on=today + dt.timedelta(days=20),
    )
    vendor_document_add(
        vendor_id=vendor.pk,
        by=org.procurement,
        kind="soc2",
        title="SOC 2 report far off",
        upload=SimpleUploadedFile("soc2.pdf", b"%PDF-1.4 soc2"),
        expires_on=today + dt.timedelta(days=200),
    )
    Vendor.objects.filter(pk=vendor.pk).update(next_assessment_due=today + dt.timedelta(days=10))
    assert reminders_send_due(now=at(today)) == 1
    (message,) = sent_to(mailoutbox, org.procurement)
    assert "ISO 27001 certificate 2029" in message.body
    assert "in 20 days" in message.body
    assert "reassessment" in message.body
    assert "SOC 2 report far off" not in message.body
    assert f"/vendors/{vendor.pk}/" in message.body
    assert reminders_send_due(now=at(today + dt.timedelta(days=1))) == 0
    # Once more when the certificate has expired, and then never again.
    assert reminders_send_due(now=at(today + dt.timedelta(days=21))) == 1
    assert "expired on" in mailoutbox[-1].body
    assert reminders_send_due(now=at(today + dt.timedelta(days=22))) == 0


def test_it_does_not_remind_of_a_certificate_already_replaced(
    org: Org, mailoutbox: list[EmailMultiAlternatives]
) -> None:
    today = dt.date(2030, 6, 1)
    vendor = vendor_approved(by=org.procurement)
    for title, expires in (
        ("Old", today - dt.timedelta(days=5)),
        ("New", today + dt.timedelta(days=300)),
    ):
        vendor_document_add(
            vendor_id=vendor.pk,
            by=org.procurement,
            kind="insurance",
            title=title,
            upload=SimpleUploadedFile("cert.pdf", b"%PDF-1.4 cert"),
            expires_on=expires,
        )
    assert reminders_send_due(now=at(today)) == 0
    assert mailoutbox == []


def test_it_tells_procurement_weekly_about_vendors_holding_up_requests(
    org: Org, mailoutbox: list[EmailMultiAlternatives]
) -> None:
    second_buyer = UserFactory.create(username="bob", roles=["procurement"])
    prospect = vendor_create(by=org.procurement, legal_name="Fabrikam Prospects")
    approved = vendor_approved(by=org.procurement, legal_name="Approved Supplies")
    PurchaseRequestFactory.create(requester=org.requester, vendor=prospect)
    PurchaseRequestFactory.create(requester=org.requester, vendor=approved)
    monday = dt.date(2030, 6, 3)
    assert reminders_send_due(now=at(monday)) == 2
    (message,) = sent_to(mailoutbox, org.procurement)
    assert "Fabrikam Prospects" in message.body
    assert "Approved Supplies" not in message.body
    assert len(sent_to(mailoutbox, second_buyer)) == 1
    assert reminders_send_due(now=at(monday + dt.timedelta(days=4))) == 0
    assert reminders_send_due(now=at(monday + dt.timedelta(days=7))) == 2


def test_it_sends_procurement_nothing_when_nothing_is_held_up(
    org: Org, mailoutbox: list[EmailMultiAlternatives]
) -> None:
    approved = vendor_approved(by=org.procurement)
    PurchaseRequestFactory.create(requester=org.requester, vendor=approved)
    assert reminders_send_due(now=at(dt.date(2030, 6, 3))) == 0
    assert mailoutbox == []


def test_it_tells_procurement_when_a_contracts_owner_has_left(
    org: Org, mailoutbox: list[EmailMultiAlternatives]
) -> None:
    vendor = vendor_approved(by=org.procurement)
    live_contract(org, owner=org.legal, vendor=vendor, title="Fleet SaaS", end_date=END)
    User.objects.filter(pk=org.legal.pk).update(is_active=False)

    assert reminders_send_due(now=at(dt.date(2030, 9, 2))) == 1

    assert sent_to(mailoutbox, org.legal) == []
    (message,) = sent_to(mailoutbox, org.procurement)
    assert "Fleet SaaS" in message.body
    assert f"Its owner, {org.legal}, has left" in message.body
    assert f"Its owner, {org.legal}, has left" in str(message.alternatives[0][0])


def test_it_tells_procurement_of_an_expiring_certificate_when_the_vendors_owner_has_no_email(
    org: Org, mailoutbox: list[EmailMultiAlternatives]
) -> None:
    today = dt.date(2030, 6, 1)
    owner = UserFactory.create(username="gone", email="", roles=["procurement"])
    vendor = vendor_create(by=owner, legal_name="Orphaned Supplies Ltd")
    vendor_document_add(
        vendor_id=vendor.pk,
        by=org.procurement,
        kind="insurance",
        title="Liability insurance 2030",
        upload=SimpleUploadedFile("insurance.pdf", b"%PDF-1.4 insurance"),
        expires_on=today + dt.timedelta(days=10),
    )

    assert reminders_send_due(now=at(today)) == 1

    # The stand-in is the first procurement user by username ("gone" has no address).
    (message,) = mailoutbox
    assert message.to == [org.procurement.email]
    assert "Liability insurance 2030" in message.body
    assert "has left: take it over or give it a new owner" in message.body
