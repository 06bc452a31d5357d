"""GET /vendors/: the vendor list, its search and state filter."""

from __future__ import annotations

import html
import re

import pytest

from tests.factories import vendor_create
from vendors.models import Vendor
from vendors.services import vendor_transition

pytestmark = pytest.mark.django_db


def text(response) -> str:
    """The page as a person reads it: tags dropped, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def names_listed(response) -> list[str]:
    return re.findall(
        r'<td data-label="Name"><a href="/vendors/\d+/">([^<]+)</a>', response.content.decode()
    )


def test_it_lists_vendors_with_state_risk_tier_and_owner(org):
    vendor_create(by=org.procurement, legal_name="Northwind Hardware Ltd")
    scored = vendor_create(by=org.procurement, legal_name="Contoso Cloud GmbH", country="DE")
    # The tier is set by scoring an assessment (another page); here only its display matters.
    Vendor.objects.filter(pk=scored.pk).update(risk_tier="high")

    response = org.client_for(org.procurement).get("/vendors/")

    assert response.status_code == 200
    assert names_listed(response) == ["Contoso Cloud GmbH", "Northwind Hardware Ltd"]
    rows = text(response).split("Owner", 1)[1]
    assert "Contoso Cloud GmbH Prospect High risk Hardware reseller DE Pat Buyer" in rows
    assert "Northwind Hardware Ltd Prospect Not assessed Hardware reseller GB Pat Buyer" in rows


def test_it_offers_add_vendor_to_procurement_only(org):
    assert (
        'href="/vendors/new/"' in org.client_for(org.procurement).get("/vendors/").content.decode()
    )
    assert (
        'href="/vendors/new/"'
        not in org.client_for(org.requester).get("/vendors/").content.decode()
    )


def test_it_shows_the_list_to_requesters_who_pick_vendors(org):
    vendor_create(by=org.procurement, legal_name="Northwind Hardware Ltd")

    response = org.client_for(org.requester).get("/vendors/")

    assert names_listed(response) == ["Northwind Hardware Ltd"]


def test_it_asks_anonymous_visitors_to_log_in(client):
    response = client.get("/vendors/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("northwind", ["Northwind Hardware Ltd"]),  # part of the legal name, any case
        ("NW Kit", ["Northwind Hardware Ltd"]),  # a trading name
        ("Nrthwnd", ["Northwind Hardware Ltd"]),  # an alias
        ("12345678", ["Northwind Hardware Ltd"]),  # the registration number
        ("Contoso", ["Contoso Cloud GmbH"]),
        ("nothing like it", []),
    ],
)
def test_it_searches_names_aliases_and_registration_numbers(org, q, found):
    vendor_create(
        by=org.procurement,
        legal_name="Northwind Hardware Ltd",
        registration_number="12345678",
        trading_names=["NW Kit"],
        aliases=["Nrthwnd"],
    )
    vendor_create(by=org.procurement, legal_name="Contoso Cloud GmbH", country="DE")

    response = org.client_for(org.procurement).get("/vendors/", {"q": q})

    assert names_listed(response) == found
    if not found:
        assert "No vendors match this search." in text(response)


def test_it_filters_by_state(org):
    prospect = vendor_create(by=org.procurement, legal_name="Northwind Hardware Ltd")
    reviewed = vendor_create(by=org.procurement, legal_name="Contoso Cloud GmbH", country="DE")
    vendor_transition(
        vendor_id=reviewed.pk, by=org.procurement, action="start_review", reason="New"
    )

    client = org.client_for(org.procurement)
    assert names_listed(client.get("/vendors/", {"state": "under_review"})) == [reviewed.legal_name]
    assert names_listed(client.get("/vendors/", {"state": "prospect"})) == [prospect.legal_name]
    # An unknown state is ignored rather than matching nothing.
    assert len(names_listed(client.get("/vendors/", {"state": "bogus"}))) == 2


def test_it_searches_for_a_nul_character_without_failing(org):
    response = org.client_for(org.procurement).get("/vendors/", {"q": "acme\x00"})

    assert response.status_code == 200
