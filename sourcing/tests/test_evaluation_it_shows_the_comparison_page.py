"""The comparison page and its API: sealed before the deadline, shown after to procurement
and finance only, with the matrix, formulas, flags and the forms that act on it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from sourcing.models import CriterionKind, CriterionScore, Rfq, RfqState
from sourcing.tests.helpers import (
    closed_rfq_with_two_quotes,
    invite,
    make_quote,
    make_rfq,
    vendor,
)


def compare_url(rfq: Rfq) -> str:
    return reverse("evaluation:compare", args=[rfq.pk])


def api_url(rfq: Rfq) -> str:
    return reverse("evaluation_api:evaluation", args=[rfq.pk])


def test_it_keeps_quotes_sealed_until_the_deadline(org):
    rfq = make_rfq(org)
    make_quote(invite(org, rfq, vendor(org, "Northwind Hardware Ltd")), ["1150.00"])

    response = org.client_for(org.procurement).get(compare_url(rfq))

    assert response.status_code == 409
    text = response.content.decode()
    assert f"Quotes are sealed until {timezone.localtime(rfq.deadline):%-d %b %Y, %H:%M}" in text
    assert "1,150" not in text
    assert "1150" not in text


def test_it_refuses_the_api_matrix_before_the_deadline_with_a_json_409(org):
    rfq = make_rfq(org)

    response = org.client_for(org.procurement).get(api_url(rfq))

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflict"
    assert body["detail"].startswith("Quotes are sealed until")


def test_it_shows_no_quote_until_target_and_walk_away_are_set(org):
    rfq, _, _ = closed_rfq_with_two_quotes(org)
    Rfq.objects.filter(pk=rfq.pk).update(target_price=None, walk_away_price=None)

    response = org.client_for(org.procurement).get(compare_url(rfq))

    assert response.status_code == 409
    assert "Set the target and walk-away prices first" in response.content.decode()


def test_it_shows_the_matrix_once_the_rfq_is_closed(org):
    rfq, _, _ = closed_rfq_with_two_quotes(org)

    response = org.client_for(org.procurement).get(compare_url(rfq))

    assert response.status_code == 200
    text = response.content.decode()
    for expected in (
        "Northwind Hardware Ltd",
        "Contoso Devices Ltd",
        "1,150.00",  # Northwind's unit price
        "2,400.00",  # Contoso's TCO over the term
        "TCO over the term",
        "Total score",
        "Rank",
        "TCO score = 100 x lowest TCO / this quote&#x27;s TCO",
        "Send a counter-offer to Northwind Hardware Ltd",
        "Winning quote",
        "The best offer is at or below the target price.",
    ):
        assert expected in text, expected


def test_it_shows_finance_the_matrix_without_the_forms(org):
    rfq, _, _ = closed_rfq_with_two_quotes(org)

    response = org.client_for(org.finance).get(compare_url(rfq))

    assert response.status_code == 200
    text = response.content.decode()
    assert "Northwind Hardware Ltd" in text
    assert "Send a counter-offer" not in text
    assert "Winning quote" not in text


def test_it_answers_404_to_people_who_may_not_see_sourcing(org):
    rfq, _, _ = closed_rfq_with_two_quotes(org)

    for user in (org.requester, org.manager):
        assert org.client_for(user).get(compare_url(rfq)).status_code == 404
        assert org.client_for(user).get(api_url(rfq)).status_code == 404


def test_it_flags_above_walk_away_on_the_page_with_the_approver_role(org):
    rfq, _, _ = closed_rfq_with_two_quotes(org)
    Rfq.objects.filter(pk=rfq.pk).update(
        target_price=Decimal("1800"), walk_away_price=Decimal("2000")
    )

    text = org.client_for(org.procurement).get(compare_url(rfq)).content.decode()

    assert "The best offer is above the walk-away price." in text
    assert "approval by Finance" in text
    assert "above walk-away" in text


def test_it_saves_a_custom_score_from_the_page(org):
    rfq, northwind, _ = closed_rfq_with_two_quotes(org)
    quality = rfq.criteria.get(kind=CriterionKind.CUSTOM)
    prefix = f"score-{quality.pk}-{northwind.invitation_id}"
    client = org.client_for(org.procurement)

    response = client.post(
        reverse("evaluation:score", args=[rfq.pk]),
        {
            "prefix": prefix,
            f"{prefix}-criterion": quality.pk,
            f"{prefix}-invitation": northwind.invitation_id,
            f"{prefix}-score": "75",
            f"{prefix}-note": "Good plan",
        },
        follow=True,
    )

    assert "Score saved." in response.content.decode()
    assert CriterionScore.objects.get().score == Decimal("75.00")


def test_it_puts_a_bad_score_back_next_to_its_field(org):
    rfq, northwind, _ = closed_rfq_with_two_quotes(org)
    quality = rfq.criteria.get(kind=CriterionKind.CUSTOM)
    prefix = f"score-{quality.pk}-{northwind.invitation_id}"

    response = org.client_for(org.procurement).post(
        reverse("evaluation:score", args=[rfq.pk]),
        {
            "prefix": prefix,
            f"{prefix}-criterion": quality.pk,
            f"{prefix}-invitation": northwind.invitation_id,
            f"{prefix}-score": "150",
        },
    )

    assert response.status_code == 400
    assert "Ensure this value is less than or equal to 100." in response.content.decode()
    assert not CriterionScore.objects.exists()


def test_it_returns_the_matrix_benchmarks_and_formulas_as_json(org):
    rfq, northwind, _ = closed_rfq_with_two_quotes(org)

    response = org.client_for(org.finance).get(api_url(rfq))

    assert response.status_code == 200
    body = response.json()
    assert body["reference"] == rfq.reference
    assert {c["vendor"]["legal_name"] for c in body["columns"]} == {
        "Northwind Hardware Ltd",
        "Contoso Devices Ltd",
    }
    northwind_column = next(
        c for c in body["columns"] if c["invitation"] == northwind.invitation_id
    )
    assert northwind_column["tco"] == "2300.00"
    assert northwind_column["lines"][0]["unit_price"] == "1150.00"
    assert [c["rank"] for c in body["columns"]] == [1, 2]
    assert any(f["name"] == "Total cost of ownership" for f in body["formulas"])
    assert body["benchmarks"][0]["basis"] == "none"
    assert body["flag"] == "within_target"


def test_it_sets_a_custom_score_over_the_api(org):
    rfq, northwind, _ = closed_rfq_with_two_quotes(org)
    quality = rfq.criteria.get(kind=CriterionKind.CUSTOM)
    url = reverse("evaluation_api:score", args=[rfq.pk, quality.pk, northwind.invitation_id])
    client = org.client_for(org.procurement)

    good = client.put(url, {"score": "60", "note": "ok"}, content_type="application/json")
    bad = client.put(url, {"score": "101"}, content_type="application/json")

    assert good.status_code == 200
    assert good.json()["score"] == "60.00"
    assert bad.status_code == 400
    assert bad.json()["errors"] == {"score": ["Give a score from 0 to 100."]}
    assert CriterionScore.objects.get().score == Decimal("60.00")


def test_it_shows_a_cancelled_rfq_sealed_if_it_never_closed(org):
    rfq = make_rfq(org, deadline=timezone.now() + dt.timedelta(days=1))
    Rfq.objects.filter(pk=rfq.pk).update(state=RfqState.CANCELLED)

    response = org.client_for(org.procurement).get(compare_url(rfq))

    assert response.status_code == 409
