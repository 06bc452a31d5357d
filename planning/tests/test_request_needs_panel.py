"""The page of a request that procurement gathered from needs links back to those needs and to
the consolidation (docs/planning/needs.md)."""

from __future__ import annotations

import re

import pytest

from planning.needs import need_reference, needs_consolidate_into_request
from planning.tests.test_need_consolidation import target, two_needs
from requests.tests.helpers import draft_for

pytestmark = pytest.mark.django_db


def from_needs_section(html: str) -> str:
    match = re.search(r'<section aria-labelledby="from-needs-heading".*?</section>', html, re.S)
    return match[0] if match else ""


def test_it_lists_the_needs_a_request_was_gathered_from_with_links(org):
    rooms, screens = two_needs(org)
    consolidation = needs_consolidate_into_request(
        need_ids=[rooms.pk, screens.pk], by=org.procurement, target=target(org)
    )
    request = consolidation.purchase_request

    for viewer in (org.procurement, org.finance):
        page = org.client_for(viewer).get(f"/requests/{request.pk}/")
        section = from_needs_section(page.content.decode())

        assert "Procurement gathered this request from 2 needs" in section
        assert f'href="/planning/needs/consolidations/{consolidation.pk}/"' in section
        for need in (rooms, screens):
            assert f'href="/planning/needs/{need.pk}/"' in section
            assert f"{need_reference(need)} {need.title}" in section


def test_it_shows_no_needs_on_a_request_written_by_hand(org):
    request = draft_for(org)

    page = org.client_for(org.requester).get(f"/requests/{request.pk}/")

    assert page.status_code == 200
    assert from_needs_section(page.content.decode()) == ""
    assert "From needs" not in page.content.decode()
