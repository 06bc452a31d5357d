"""Above APPROVAL_EMAIL_SIGNIN_ABOVE (base currency) a link only asks the approver to sign in."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

from approvals.models import ApprovalPolicy, ApprovalStep
from approvals.tests.email_helpers import fingerprint, link_path, waiting_for_mark
from approvals.tests.helpers import LINE_MANAGER, policy, submitted
from procurement.models import ExchangeRate
from requests.models import PurchaseRequest

pytestmark = pytest.mark.django_db


def test_it_lets_a_link_decide_any_amount_by_default(org):
    assert django_settings.APPROVAL_EMAIL_SIGNIN_ABOVE is None
    step = waiting_for_mark(org, total_lines=40)  # 100,000.00 GBP
    request = step.request

    page = Client().post(link_path(step, org.manager), {"decision": "approve"})

    assert page.status_code == 200
    assert PurchaseRequest.objects.get(pk=request.pk).state == "approved"


def test_it_asks_to_sign_in_above_the_amount_and_refuses_the_post(org, settings):
    settings.APPROVAL_EMAIL_SIGNIN_ABOVE = Decimal("5000")
    step = waiting_for_mark(org, total_lines=3)  # 7,500.00 GBP
    request = step.request
    path = link_path(step, org.manager)
    before = fingerprint()

    shown = Client().get(path)
    posted = Client().post(path, {"decision": "approve"})

    assert shown.status_code == 200
    html = shown.content.decode()
    assert f"Sign in to decide {request.reference}" in html
    assert "Requests above 5,000.00 GBP are decided signed in" in html
    assert f'href="/accounts/login/?next=%2Frequests%2F{request.pk}%2F"' in html
    assert '<form method="post" class="decision-' not in html
    assert posted.status_code == 403
    assert "Nothing was decided." in posted.content.decode()
    assert fingerprint() == before


def test_it_lets_a_link_decide_at_exactly_the_amount(org, settings):
    settings.APPROVAL_EMAIL_SIGNIN_ABOVE = Decimal("2500")
    step = waiting_for_mark(org, total_lines=1)  # 2,500.00 GBP
    request = step.request

    page = Client().post(link_path(step, org.manager), {"decision": "approve"})

    assert page.status_code == 200
    assert PurchaseRequest.objects.get(pk=request.pk).state == "approved"


def test_it_compares_in_the_base_currency(org, settings):
    settings.APPROVAL_EMAIL_SIGNIN_ABOVE = Decimal("3000")
    ExchangeRate.objects.create(
        currency="EUR", rate=Decimal("1.25"), valid_from=dt.date(2000, 1, 1)
    )
    # 2,500.00 EUR is 3,125.00 GBP: above the amount, though its own figure is not.
    step = waiting_for_mark(org, currency="EUR")
    request = step.request

    page = Client().get(link_path(step, org.manager))

    assert f"Sign in to decide {request.reference}" in page.content.decode()


def test_it_asks_to_sign_in_when_the_amount_cannot_be_converted(org, settings):
    settings.APPROVAL_EMAIL_SIGNIN_ABOVE = Decimal("1000000")
    ExchangeRate.objects.create(
        currency="EUR", rate=Decimal("1.25"), valid_from=dt.date(2000, 1, 1)
    )
    step = waiting_for_mark(org, currency="EUR")
    request = step.request
    ExchangeRate.objects.all().delete()

    page = Client().post(link_path(step, org.manager), {"decision": "approve"})

    assert page.status_code == 403
    assert PurchaseRequest.objects.get(pk=request.pk).state == "pending_approval"


@pytest.mark.parametrize("value", ["lots", "-1", "NaN", "Infinity"])
def test_it_refuses_a_malformed_amount_at_start_up(tmp_path: Path, value):
    env = {key: val for key, val in os.environ.items() if key != "DATABASE_URL"}
    env.update(
        VAR_DIR=str(tmp_path / "var"),
        SECRET_KEY="settings-test-" + "k" * 50,
        APPROVAL_EMAIL_SIGNIN_ABOVE=value,
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode != 0
    assert "APPROVAL_EMAIL_SIGNIN_ABOVE" in result.stderr


def test_it_takes_the_limit_from_the_policy_before_the_setting(org, settings):
    settings.APPROVAL_EMAIL_SIGNIN_ABOVE = Decimal("100000")
    step = waiting_for_mark(org, total_lines=3)  # 7,500.00 GBP, routed by the active policy
    ApprovalPolicy.objects.filter(is_active=True).update(email_signin_above=Decimal("5000"))

    shown = Client().get(link_path(step, org.manager))
    posted = Client().post(link_path(step, org.manager), {"decision": "approve"})

    assert "Requests above 5,000.00 GBP are decided signed in" in shown.content.decode()
    assert posted.status_code == 403
    assert "Nothing was decided." in posted.content.decode()


def test_it_keeps_the_limit_of_the_policy_the_route_was_frozen_from(org, settings):
    settings.APPROVAL_EMAIL_SIGNIN_ABOVE = Decimal("100000")
    step = waiting_for_mark(org, total_lines=3)  # 7,500.00 GBP, under a policy with no limit
    policy(LINE_MANAGER, email_signin_above=Decimal("5000"))  # a newer policy, stricter
    assert ApprovalPolicy.objects.filter(is_active=False).count() == 1

    shown = Client().get(link_path(step, org.manager))

    assert "Sign in to decide" not in shown.content.decode()
    assert '<form method="post" class="decision-approve">' in shown.content.decode()


def test_it_takes_the_active_policys_limit_for_a_route_no_rule_made(org, settings):
    settings.APPROVAL_EMAIL_SIGNIN_ABOVE = Decimal("100000")
    # No rule matches: the line manager decides, on a step no rule made.
    policy(no_match="line_manager", email_signin_above=Decimal("5000"))
    step = ApprovalStep.objects.select_related("request").get(request=submitted(org, total_lines=3))
    assert step.rule_id is None

    shown = Client().get(link_path(step, org.manager))

    assert "Requests above 5,000.00 GBP are decided signed in" in shown.content.decode()
