"""A request's page lists its purchase orders to those who may open them: the requester (who
records what arrived) and the sourcing roles; a manager who may see the request but not the
order is not sent to a page they cannot open."""

from __future__ import annotations

import pytest

from sourcing.tests.helpers import issued_po

pytestmark = pytest.mark.django_db


def test_it_lists_the_order_on_the_request_page_for_the_requester(org):
    po = issued_po(org)

    page = org.client_for(org.requester).get(f"/requests/{po.request_id}/")

    assert page.status_code == 200
    assert f'href="/orders/{po.pk}/"' in page.text
    assert po.number in page.text
    assert org.client_for(org.requester).get(f"/orders/{po.pk}/").status_code == 200


def test_it_does_not_link_the_order_for_a_manager_who_cannot_open_it(org):
    po = issued_po(org)

    page = org.client_for(org.manager).get(f"/requests/{po.request_id}/")

    assert page.status_code == 200
    assert f'href="/orders/{po.pk}/"' not in page.text
    assert "Purchase orders" not in page.text
    assert org.client_for(org.manager).get(f"/orders/{po.pk}/").status_code == 404


def test_it_names_the_vendor_and_state_of_each_order(org):
    po = issued_po(org)

    page = org.client_for(org.requester).get(f"/requests/{po.request_id}/")

    assert po.vendor.legal_name in page.text
    assert po.get_state_display() in page.text
    assert f"{po.currency} {po.total}" in page.text


def test_it_lists_the_order_for_procurement_too(org):
    po = issued_po(org)

    page = org.client_for(org.procurement).get(f"/requests/{po.request_id}/")

    assert f'href="/orders/{po.pk}/"' in page.text
