"""An emailed link opens a confirmation page: the request summary and the buttons, nothing decided."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from approvals.services import delegation_create
from approvals.tests.email_helpers import (
    fingerprint,
    link_path,
    token_of,
    waiting_for_finance,
    waiting_for_mark,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


def test_it_shows_the_request_summary_and_both_buttons_without_signing_in(org):
    step = waiting_for_mark(org, title="Standing desks", justification="Back pain.")
    request = step.request

    page = Client().get(link_path(step, org.manager, decision="approve"))

    assert page.status_code == 200
    html = page.content.decode()
    assert f"Approve or reject {request.reference}?" in html
    assert "Standing desks" in html
    assert "Back pain." in html
    assert "Alice Asker" in html
    assert "2,500.00 GBP" in html
    assert f"Approve {request.reference}</button>" in html
    assert f"Reject {request.reference}</button>" in html
    assert re.search(r'<textarea id="reject-reason" name="comment"[^>]* required', html)


def test_it_shows_what_was_approved_so_far(org):
    finance = waiting_for_finance(org)

    html = Client().get(link_path(finance, org.finance)).content.decode()

    assert "Line manager by Mark Manager" in html
    assert "7,500.00 GBP" in html


@pytest.mark.parametrize("method", ["get", "head"])
def test_it_changes_nothing_on_get_or_head(org, method):
    # Mail scanners fetch every link, sometimes several times: none of that may decide.
    step = waiting_for_mark(org)
    path = link_path(step, org.manager, decision="approve")
    before = fingerprint()

    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            response = getattr(Client(), method)(path)
            assert response.status_code == 200

    assert [q["sql"] for q in queries.captured_queries if WRITES.match(q["sql"])] == []
    assert fingerprint() == before
    step.refresh_from_db()
    assert step.state == "pending"


def test_it_preselects_reject_when_the_reject_link_was_followed(org):
    step = waiting_for_mark(org)

    rejecting = Client().get(link_path(step, org.manager, decision="reject")).content.decode()
    approving = Client().get(link_path(step, org.manager, decision="approve")).content.decode()

    assert re.search(r'<textarea id="reject-reason"[^>]*autofocus', rejecting)
    assert not re.search(r"<button[^>]*autofocus", rejecting)
    assert re.search(r"<button[^>]*autofocus>Approve", approving)
    assert not re.search(r'<textarea id="reject-reason"[^>]*autofocus', approving)


def test_it_keeps_the_pages_out_of_caches_and_referers(org):
    step = waiting_for_mark(org)
    path = link_path(step, org.manager)

    page = Client().get(path)
    done = Client().post(path, {"decision": "approve"})
    dead = Client().get("/approvals/email/not-a-token/")

    for response in (page, done, dead):
        assert "no-store" in response["Cache-Control"]
        assert "noindex" in response["X-Robots-Tag"]
    assert done["Referrer-Policy"] == dead["Referrer-Policy"] == "no-referrer"
    # The page with the form sends only its origin (never the path, which holds the token):
    # with "no-referrer" browsers post `Origin: null`, which fails the CSRF check.
    assert page["Referrer-Policy"] == "strict-origin"


def test_it_writes_the_token_nowhere_in_the_page(org):
    # The forms post back to the page's own address; no link leads anywhere with the token.
    step = waiting_for_mark(org)
    path = link_path(step, org.manager, decision="approve")

    html = Client().get(path).content.decode()

    assert token_of(path) not in html
    assert "/approvals/email/" not in html
    assert re.findall(r"<form method=\"post\" class=\"decision-\w+\">", html) == [
        '<form method="post" class="decision-approve">',
        '<form method="post" class="decision-reject">',
    ]


def test_it_says_on_whose_behalf_a_delegate_decides(org):
    xavier = UserFactory.create(username="xavier", first_name="Xavier", last_name="Deputy")
    today = timezone.localdate()
    delegation_create(
        delegator=org.manager, delegate=xavier, starts_on=today, ends_on=today + dt.timedelta(7)
    )
    step = waiting_for_mark(org)

    html = Client().get(link_path(step, xavier)).content.decode()

    assert "Xavier Deputy, Alice Asker asks for your approval on behalf of Mark Manager." in html


def test_it_opens_the_page_in_six_queries(org, django_assert_max_num_queries):
    # The link, its step, request and approver in one query; then the sign-in limit, the lines,
    # what was approved so far and the budget panel (the page took 11 before issue #8).
    path = link_path(waiting_for_finance(org), org.finance)

    with django_assert_max_num_queries(6):
        page = Client().get(path)

    assert page.status_code == 200
    assert "Line manager by Mark Manager" in page.content.decode()
