"""Consolidation: procurement gathers open needs into a new draft request or a draft/open
RFQ, all or nothing; volume is leverage."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse

from planning.models import Consolidation, ConsolidationKind, NeedStatus
from planning.needs import (
    RequestTarget,
    need_reference,
    need_withdraw,
    needs_consolidate_into_request,
    needs_consolidate_into_rfq,
)
from planning.tests.helpers import objective
from planning.tests.test_need_helpers import in_days, post_need, support
from procurement.errors import Conflict, InvalidInput, NotAllowed
from procurement.models import AuditEntry, Category
from requests.models import PurchaseRequest, RequestState
from sourcing.models import RfqState
from sourcing.tests.helpers import make_rfq

pytestmark = pytest.mark.django_db


def target(org, title: str = "Meeting room video kits") -> RequestTarget:
    return RequestTarget(
        title=title,
        department=org.department,
        cost_centre=org.cost_centre,
        category=Category.objects.get(code="hardware"),
    )


def two_needs(org):
    """IT's need (10 people, 1,000.00) that Marketing needs too (5 people, 500.00), needed in
    30 days, and Marketing's own (4 people, 2,000.00), needed in 12."""
    rooms = post_need(org, title="Video calls drop", people=10, budget="1000.00", days=30)
    support(org, rooms, people=5, budget="500.00")
    screens = post_need(
        org, by=org.outsider, title="Screens for events", people=4, budget="2000.00", days=12
    )
    return rooms, screens


def test_it_makes_a_draft_request_with_one_line_per_need_at_its_total_budget(org):
    rooms, screens = two_needs(org)

    consolidation = needs_consolidate_into_request(
        need_ids=[screens.pk, rooms.pk], by=org.procurement, target=target(org)
    )

    request = consolidation.purchase_request
    assert request is not None
    assert (request.state, request.requester, request.currency) == (
        RequestState.DRAFT,
        org.procurement,
        settings.BASE_CURRENCY,
    )
    assert (request.title, request.department, request.cost_centre) == (
        "Meeting room video kits",
        org.department,
        org.cost_centre,
    )
    assert request.needed_by == in_days(12)  # the earliest of the needs
    assert [
        (line.description, line.quantity, line.unit_price) for line in request.line_items.all()
    ] == [
        (f"{need_reference(rooms)} Video calls drop", Decimal("1.000"), Decimal("1500.00")),
        (f"{need_reference(screens)} Screens for events", Decimal("1.000"), Decimal("2000.00")),
    ]
    assert request.total == Decimal("3500.00")
    assert request.objective is None
    assert need_reference(rooms) in request.no_objective_reason


def test_its_justification_lists_every_need_with_its_departments_and_numbers(org):
    rooms, screens = two_needs(org)

    consolidation = needs_consolidate_into_request(
        need_ids=[rooms.pk, screens.pk], by=org.procurement, target=target(org), note="Buy once."
    )

    justification = consolidation.purchase_request.justification
    assert justification.startswith(
        "Consolidated from the needs board: 2 needs of IT, Marketing: 19 people, 3,500.00 GBP."
    )
    assert (
        f"- {need_reference(rooms)} “Video calls drop”, needed by {in_days(30):%d %b %Y}: "
        "IT 10 people, 1,000.00 GBP; Marketing 5 people, 500.00 GBP. "
        "Together 15 people, 1,500.00 GBP."
    ) in justification
    assert f"- {need_reference(screens)} “Screens for events”" in justification
    assert justification.endswith("Buy once.")


def test_it_marks_each_need_consolidated_and_audits_it(org):
    rooms, screens = two_needs(org)

    consolidation = needs_consolidate_into_request(
        need_ids=[rooms.pk, screens.pk], by=org.procurement, target=target(org)
    )

    for need in (rooms, screens):
        need.refresh_from_db()
        assert (need.status, need.consolidation) == (NeedStatus.CONSOLIDATED, consolidation)
        entry = AuditEntry.objects.get(object_id=need.pk, action="need_consolidated")
        assert (entry.actor, entry.to_state) == (org.procurement, NeedStatus.CONSOLIDATED)
    assert consolidation.kind == ConsolidationKind.REQUEST


def test_the_request_serves_the_objective_all_its_needs_share(org):
    goal = objective(org, name="Hybrid work")
    first = post_need(org, title="One", objective=goal)
    second = post_need(org, title="Two", objective=goal)

    consolidation = needs_consolidate_into_request(
        need_ids=[first.pk, second.pk], by=org.procurement, target=target(org)
    )

    request = consolidation.purchase_request
    assert (request.objective, request.no_objective_reason) == (goal, "")


def test_needs_already_consolidated_or_withdrawn_are_refused_and_nothing_is_written(org):
    rooms, screens = two_needs(org)
    needs_consolidate_into_request(need_ids=[rooms.pk], by=org.procurement, target=target(org))
    gone = post_need(org, title="Gone")
    need_withdraw(need_id=gone.pk, by=org.requester)

    with pytest.raises(Conflict) as refused:
        needs_consolidate_into_request(
            need_ids=[screens.pk, rooms.pk, gone.pk], by=org.procurement, target=target(org)
        )

    assert refused.value.message == (
        f"Only open needs can be consolidated: {need_reference(rooms)} “Video calls drop” is "
        f"consolidated; {need_reference(gone)} “Gone” is withdrawn."
    )
    assert PurchaseRequest.objects.count() == 1
    assert Consolidation.objects.count() == 1
    screens.refresh_from_db()
    assert (screens.status, screens.consolidation) == (NeedStatus.OPEN, None)


def test_a_need_without_any_budget_cannot_become_a_request_line(org):
    free = post_need(org, title="No idea of the price", budget="0")

    with pytest.raises(Conflict, match="give these needs a rough budget first"):
        needs_consolidate_into_request(need_ids=[free.pk], by=org.procurement, target=target(org))

    assert not PurchaseRequest.objects.exists()
    free.refresh_from_db()
    assert free.status == NeedStatus.OPEN


def test_it_refuses_an_empty_selection_and_unknown_needs(org):
    with pytest.raises(InvalidInput, match="Choose at least one need"):
        needs_consolidate_into_request(need_ids=[], by=org.procurement, target=target(org))
    with pytest.raises(InvalidInput, match="Unknown need #404"):
        needs_consolidate_into_request(need_ids=[404], by=org.procurement, target=target(org))


def test_only_procurement_consolidates(org):
    rooms, _ = two_needs(org)

    for user in (org.requester, org.manager, org.finance, org.outsider):
        with pytest.raises(NotAllowed, match="Only procurement consolidates needs"):
            needs_consolidate_into_request(need_ids=[rooms.pk], by=user, target=target(org))
    page = org.client_for(org.finance).post(reverse("needs:consolidate"), {"needs": [rooms.pk]})

    assert page.status_code == 403
    assert not Consolidation.objects.exists()


def test_it_gathers_needs_into_an_open_rfq(org):
    rooms, screens = two_needs(org)
    rfq = make_rfq(org, state=RfqState.OPEN)

    consolidation = needs_consolidate_into_rfq(
        need_ids=[rooms.pk, screens.pk], by=org.procurement, rfq_id=rfq.pk
    )

    assert (consolidation.kind, consolidation.rfq) == (ConsolidationKind.RFQ, rfq)
    assert set(consolidation.needs.values_list("status", flat=True)) == {NeedStatus.CONSOLIDATED}
    entry = AuditEntry.objects.get(object_id=rfq.pk, action="needs_consolidated")
    assert "2 needs of IT, Marketing: 19 people, 3,500.00 GBP" in entry.comment


@pytest.mark.parametrize(
    "state", [RfqState.CLOSED, RfqState.AWARD_PENDING, RfqState.AWARDED, RfqState.CANCELLED]
)
def test_it_refuses_an_rfq_past_open_and_writes_nothing(org, state):
    rooms, _ = two_needs(org)
    rfq = make_rfq(org, state=state)

    with pytest.raises(Conflict, match="needs can join only a draft or open RFQ"):
        needs_consolidate_into_rfq(need_ids=[rooms.pk], by=org.procurement, rfq_id=rfq.pk)

    rooms.refresh_from_db()
    assert rooms.status == NeedStatus.OPEN
    assert not Consolidation.objects.exists()


# --- Pages -------------------------------------------------------------------------------


def test_procurement_selects_needs_on_the_board_then_consolidates_them_from_the_page(org):
    rooms, screens = two_needs(org)
    client = org.client_for(org.procurement)

    chosen = client.post(reverse("needs:consolidate"), {"needs": [rooms.pk, screens.pk]})
    done = client.post(
        reverse("needs:consolidate"),
        {
            "needs": [rooms.pk, screens.pk],
            "kind": "request",
            "title": "Meeting room video kits",
            "department": org.department.pk,
            "cost_centre": org.cost_centre.pk,
            "category": Category.objects.get(code="hardware").pk,
            "note": "",
        },
        follow=True,
    )

    assert chosen.status_code == 200
    assert "Consolidate 2 needs" in chosen.content.decode()
    assert "19 people in 2 departments, 3,500.00 GBP" in chosen.content.decode()
    consolidation = Consolidation.objects.get()
    assert done.redirect_chain[-1][0] == reverse("needs:consolidation", args=[consolidation.pk])
    html = done.content.decode()
    assert "2 needs consolidated into a purchase request" in html
    assert reverse("requests:detail", args=[consolidation.purchase_request_id]) in html
    assert "Video calls drop" in html
    assert "Screens for events" in html
    assert "3,500.00 GBP" in html


def test_the_page_shows_a_conflict_and_writes_nothing(org):
    rooms, screens = two_needs(org)
    needs_consolidate_into_request(need_ids=[rooms.pk], by=org.procurement, target=target(org))
    rfq = make_rfq(org, state=RfqState.OPEN)

    response = org.client_for(org.procurement).post(
        reverse("needs:consolidate"),
        {"needs": [rooms.pk, screens.pk], "kind": "rfq", "rfq": rfq.pk},
    )

    assert response.status_code == 409
    assert "Only open needs can be consolidated" in response.content.decode()
    assert Consolidation.objects.count() == 1


def test_the_page_asks_for_the_request_fields(org):
    rooms, _ = two_needs(org)

    response = org.client_for(org.procurement).post(
        reverse("needs:consolidate"), {"needs": [rooms.pk], "kind": "request", "title": ""}
    )

    assert response.status_code == 400
    assert response.context["form"].errors["cost_centre"] == ["Needed for a new request."]


def test_the_need_page_links_to_the_request_only_for_those_who_may_see_it(org):
    rooms, _ = two_needs(org)
    consolidation = needs_consolidate_into_request(
        need_ids=[rooms.pk], by=org.procurement, target=target(org)
    )
    request_url = reverse("requests:detail", args=[consolidation.purchase_request_id])

    for_procurement = org.client_for(org.procurement).get(reverse("needs:detail", args=[rooms.pk]))
    for_otto = org.client_for(org.outsider).get(reverse("needs:detail", args=[rooms.pk]))

    assert request_url in for_procurement.content.decode()
    assert request_url not in for_otto.content.decode()
    assert reverse("needs:consolidation", args=[consolidation.pk]) in for_otto.content.decode()
