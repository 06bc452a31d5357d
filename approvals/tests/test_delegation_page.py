"""Approvers set their own out-of-office delegate on /approvals/delegation/."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from approvals.models import Delegation, StepApprover
from approvals.services import delegation_create
from approvals.tests.helpers import LINE_MANAGER, policy, submitted

pytestmark = pytest.mark.django_db


def form(delegate, *, start=0, end=7, reason="Annual leave"):
    today = timezone.localdate()
    return {
        "delegate": delegate.pk,
        "starts_on": (today + dt.timedelta(days=start)).isoformat(),
        "ends_on": (today + dt.timedelta(days=end)).isoformat(),
        "reason": reason,
    }


def test_it_lets_an_approver_hand_over_their_pending_steps(org):
    policy(LINE_MANAGER)
    request = submitted(org)
    client = org.client_for(org.manager)

    response = client.post("/approvals/delegation/", form(org.head))

    assert response.status_code == 302
    delegation = Delegation.objects.get()
    assert (delegation.delegator, delegation.delegate, delegation.reason) == (
        org.manager,
        org.head,
        "Annual leave",
    )
    pending = StepApprover.objects.get(step__request=request, decision="pending")
    assert (pending.approver, pending.on_behalf_of) == (org.head, org.manager)
    page = client.get("/approvals/delegation/").content.decode()
    assert "End delegation to Hana Head" in page


def test_it_refuses_a_cycle_with_the_reason_on_the_page(org):
    delegation_create(
        delegator=org.head,
        delegate=org.manager,
        starts_on=timezone.localdate(),
        ends_on=timezone.localdate() + dt.timedelta(days=3),
    )

    response = org.client_for(org.manager).post("/approvals/delegation/", form(org.head))

    assert response.status_code == 400
    assert "cycle" in response.content.decode().lower()
    assert Delegation.objects.count() == 1


def test_it_refuses_dates_in_the_wrong_order(org):
    response = org.client_for(org.manager).post(
        "/approvals/delegation/", form(org.head, start=5, end=2)
    )

    assert response.status_code == 400
    assert Delegation.objects.count() == 0


def test_it_does_not_offer_delegating_to_oneself(org):
    page = org.client_for(org.manager).get("/approvals/delegation/").content.decode()
    assert f'value="{org.manager.pk}"' not in page
    response = org.client_for(org.manager).post("/approvals/delegation/", form(org.manager))
    assert response.status_code == 400
    assert Delegation.objects.count() == 0


def test_it_ends_a_delegation_only_for_its_owner(org):
    delegation = delegation_create(
        delegator=org.manager,
        delegate=org.head,
        starts_on=timezone.localdate() + dt.timedelta(days=2),
        ends_on=timezone.localdate() + dt.timedelta(days=9),
    )

    org.client_for(org.outsider).post(f"/approvals/delegation/{delegation.pk}/end/")
    assert Delegation.objects.filter(pk=delegation.pk).exists()

    response = org.client_for(org.manager).post(f"/approvals/delegation/{delegation.pk}/end/")
    assert response.status_code == 302
    assert not Delegation.objects.filter(pk=delegation.pk).exists()  # had not started: dropped


def test_it_changes_nothing_on_get_or_without_csrf(org):
    delegation = delegation_create(
        delegator=org.manager,
        delegate=org.head,
        starts_on=timezone.localdate() + dt.timedelta(days=2),
        ends_on=timezone.localdate() + dt.timedelta(days=9),
    )
    assert (
        org.client_for(org.manager).get(f"/approvals/delegation/{delegation.pk}/end/").status_code
        == 405
    )
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(org.manager)
    assert strict.post("/approvals/delegation/", form(org.legal)).status_code == 403
    assert list(Delegation.objects.values_list("pk", flat=True)) == [delegation.pk]


def test_it_links_the_page_from_the_inbox(org):
    page = org.client_for(org.manager).get("/approvals/").content.decode()
    assert 'href="/approvals/delegation/"' in page
