""" "We need this too" (one per department, never the need's own) and comments/alternatives."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from planning.models import NeedComment, NeedCommentKind, NeedSupport
from planning.needs import need_comment_add, need_support_add, need_withdraw
from planning.tests.test_need_helpers import post_need, support
from procurement.errors import Conflict, InvalidInput, NotAllowed
from procurement.models import AuditEntry

pytestmark = pytest.mark.django_db


def support_form(**changes: str) -> dict[str, str]:
    data = {"support-people_affected": "7", "support-rough_budget": "700.00", "support-note": ""}
    data.update(changes)
    return data


def test_another_department_says_it_needs_it_too_with_its_own_numbers(org):
    need = post_need(org)
    client = org.client_for(org.outsider)

    response = client.post(
        reverse("needs:support", args=[need.pk]),
        support_form(**{"support-note": "Two rooms here"}),
        follow=True,
    )

    row = NeedSupport.objects.get()
    assert (row.department, row.supporter, row.people_affected, row.rough_budget) == (
        org.other_department,
        org.outsider,
        7,
        Decimal("700.00"),
    )
    assert "Marketing needs this too" in response.content.decode()
    entry = AuditEntry.objects.get(object_id=need.pk, action="need_supported")
    assert entry.comment == "Marketing: 7 people, 700.00 GBP"


def test_a_department_joins_once_and_the_second_is_a_conflict_next_to_the_form(org):
    need = post_need(org)
    support(org, need)

    with pytest.raises(Conflict, match="Marketing already said it needs this too"):
        support(org, need, by=org.outsider)
    response = org.client_for(org.outsider).post(
        reverse("needs:support", args=[need.pk]), support_form()
    )

    assert response.status_code == 409
    assert "Marketing already said it needs this too" in response.content.decode()
    assert NeedSupport.objects.count() == 1


def test_the_needs_own_department_cannot_say_it_needs_it_too(org):
    need = post_need(org)

    with pytest.raises(Conflict, match="IT posted this need"):
        support(org, need, by=org.manager)

    assert not NeedSupport.objects.exists()


def test_procurement_names_the_department_and_others_cannot(org):
    need = post_need(org)

    need_support_add(
        need_id=need.pk,
        by=org.procurement,
        department=org.other_department,
        people_affected=3,
        rough_budget=Decimal("0"),
    )
    other = post_need(org, title="Other")
    with pytest.raises(NotAllowed, match="only for your own department"):
        need_support_add(
            need_id=other.pk,
            by=org.manager,
            department=org.other_department,
            people_affected=3,
            rough_budget=Decimal("0"),
        )

    assert NeedSupport.objects.get().department == org.other_department


def test_a_support_refuses_a_negative_budget_next_to_the_field(org):
    need = post_need(org)

    response = org.client_for(org.outsider).post(
        reverse("needs:support", args=[need.pk]), support_form(**{"support-rough_budget": "-1"})
    )

    assert response.status_code == 400
    assert response.context["support_form"].errors["rough_budget"] == [
        "A rough budget cannot be negative (0 when you cannot guess)."
    ]
    assert not NeedSupport.objects.exists()


def test_a_withdrawn_need_takes_no_support(org):
    need = post_need(org)
    need_withdraw(need_id=need.pk, by=org.requester)

    with pytest.raises(Conflict, match="only an open need can be supported"):
        support(org, need)


def test_anyone_signed_in_comments_or_suggests_an_alternative(org):
    need = post_need(org)

    need_comment_add(need_id=need.pk, by=org.legal, body="Check the licence terms.")
    need_comment_add(
        need_id=need.pk, by=org.outsider, body="Use the big room.", kind=NeedCommentKind.ALTERNATIVE
    )

    assert list(NeedComment.objects.values_list("author__username", "kind")) == [
        ("lee", "comment"),
        ("otto", "alternative"),
    ]


def test_a_comment_cannot_be_empty_or_too_long(org):
    need = post_need(org)
    client = org.client_for(org.requester)

    with pytest.raises(InvalidInput, match="At most 5000 characters"):
        need_comment_add(need_id=need.pk, by=org.requester, body="x" * 5001)
    response = client.post(
        reverse("needs:comment", args=[need.pk]), {"comment-kind": "comment", "comment-body": " "}
    )

    assert response.status_code == 400
    assert response.context["comment_form"].errors["body"]
    assert not NeedComment.objects.exists()
