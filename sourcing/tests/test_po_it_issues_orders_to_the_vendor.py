"""Issuing a PO emails the vendor a PDF and a signed link to acknowledge it; the request
moves to ordered; the link works once, and tampered, expired or cancelled links say why."""

from __future__ import annotations

import re
import time
from urllib.parse import urlparse

import pytest
from django.core import signing
from django.test import Client

from procurement.errors import Conflict, NotAllowed
from requests.models import PurchaseRequest
from sourcing.models import PurchaseOrder
from sourcing.order_selectors import po_history
from sourcing.orders import po_cancel, po_issue, po_link_token
from sourcing.tests.helpers import awarded_po
from vendors.services import vendor_transition

pytestmark = pytest.mark.django_db


def _issue(org, django_capture_on_commit_callbacks, po=None):
    po = po or awarded_po(org)
    with django_capture_on_commit_callbacks(execute=True):
        po_issue(po_id=po.pk, by=org.procurement)
    return PurchaseOrder.objects.get(pk=po.pk)


def _po_email(mailoutbox, po):
    [email] = [m for m in mailoutbox if m.to == [po.contact_email]]
    return email


def _link_path(email) -> str:
    [url] = re.findall(r"https?://\S+/orders/vendor/\S+/", email.body)
    return urlparse(url).path


def test_it_emails_the_vendor_the_po_as_a_pdf(org, mailoutbox, django_capture_on_commit_callbacks):
    po = _issue(org, django_capture_on_commit_callbacks)

    assert po.state == "issued"
    email = _po_email(mailoutbox, po)
    assert email.subject.startswith(f"Purchase order {po.number}")
    assert "Laptop, 14 inch" in email.body
    assert "Total: 2,300.00 GBP" in email.body
    [(filename, content, mimetype)] = email.attachments
    assert (filename, mimetype) == (f"{po.number}.pdf", "application/pdf")
    assert content.startswith(b"%PDF")
    assert po.number.encode() in content
    assert b"Northwind Hardware Ltd" in content
    assert b"2,300.00 GBP" in content
    assert "issued it to the vendor" in [row.verb for row in po_history(po)]


def test_it_moves_the_request_to_ordered(org, django_capture_on_commit_callbacks):
    po = _issue(org, django_capture_on_commit_callbacks)

    assert PurchaseRequest.objects.get(pk=po.request_id).state == "ordered"


def test_it_lets_the_vendor_acknowledge_once_through_the_link(
    org, mailoutbox, django_capture_on_commit_callbacks
):
    po = _issue(org, django_capture_on_commit_callbacks)
    path = _link_path(_po_email(mailoutbox, po))
    vendor = Client()

    page = vendor.get(path)
    assert page.status_code == 200
    assert po.number in page.text
    assert f"Acknowledge {po.number}" in page.text
    assert page["Cache-Control"].startswith("max-age=0")
    assert page["X-Robots-Tag"] == "noindex, nofollow"

    done = vendor.post(path)
    assert done.status_code == 200
    assert f"Thank you: {po.number} is acknowledged" in done.text
    assert PurchaseOrder.objects.get(pk=po.pk).state == "acknowledged"
    assert [row.entry.actor for row in po_history(po) if row.verb == "acknowledged it"] == [None]

    again = vendor.post(path)
    assert again.status_code == 409
    assert f"{po.number} was already acknowledged on" in again.text


def test_it_refuses_a_tampered_link(org, django_capture_on_commit_callbacks):
    po = _issue(org, django_capture_on_commit_callbacks)
    token = po_link_token(po)

    page = Client().get(f"/orders/vendor/{token[:-3]}abc/")

    assert page.status_code == 404
    assert "This link was changed or cut short" in page.text
    assert po.number not in page.text


def test_it_refuses_an_expired_link(org, django_capture_on_commit_callbacks, monkeypatch):
    po = _issue(org, django_capture_on_commit_callbacks)
    ninety_one_days_ago = int(time.time()) - 91 * 24 * 3600
    monkeypatch.setattr(
        signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(ninety_one_days_ago)
    )
    token = po_link_token(po)
    monkeypatch.undo()

    page = Client().post(f"/orders/vendor/{token}/")

    assert page.status_code == 410
    assert "This link has expired" in page.text
    assert PurchaseOrder.objects.get(pk=po.pk).state == "issued"


def test_it_tells_the_vendor_a_cancelled_order_is_off(org, django_capture_on_commit_callbacks):
    po = _issue(org, django_capture_on_commit_callbacks)
    po_cancel(po_id=po.pk, by=org.procurement, reason="Budget withdrawn")

    page = Client().get(f"/orders/vendor/{po_link_token(po)}/")

    assert page.status_code == 410
    assert f"Purchase order {po.number} was cancelled" in page.text


def test_it_lets_only_procurement_issue(org):
    po = awarded_po(org)

    with pytest.raises(NotAllowed):
        po_issue(po_id=po.pk, by=org.requester)

    assert PurchaseOrder.objects.get(pk=po.pk).state == "draft"


def test_it_refuses_to_issue_to_a_vendor_blocked_since_the_award(org, mailoutbox):
    po = awarded_po(org)
    vendor_transition(vendor_id=po.vendor_id, by=org.procurement, action="block", reason="Fraud")

    with pytest.raises(Conflict) as refused:
        po_issue(po_id=po.pk, by=org.procurement)

    assert (
        refused.value.message
        == "Northwind Hardware Ltd is blocked: no order can be placed with it."
    )
    assert PurchaseOrder.objects.get(pk=po.pk).state == "draft"
    assert PurchaseRequest.objects.get(pk=po.request_id).state == "approved"


def test_it_refuses_to_issue_twice(org, django_capture_on_commit_callbacks):
    po = _issue(org, django_capture_on_commit_callbacks)

    with pytest.raises(Conflict) as refused:
        po_issue(po_id=po.pk, by=org.procurement)

    assert refused.value.message == f"{po.number} is issued: it cannot be issued now."
