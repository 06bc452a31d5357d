"""The whole API's OpenAPI schema is valid, warning-free and lists every endpoint of every app."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS


def test_it_generates_a_valid_schema_without_a_single_warning(tmp_path: Path):
    # Warnings are counted process-wide; start from none so any counted here are this schema's.
    GENERATOR_STATS.reset()
    target = tmp_path / "schema.json"

    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--format",
        "openapi-json",
        "--file",
        str(target),
    )

    schema = json.loads(target.read_text())
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/auth/token/",
        "/api/requests/",
        "/api/requests/{request_id}/",
        "/api/requests/{request_id}/{action}/",
        "/api/requests/{request_id}/comments/",
        "/api/requests/{request_id}/attachments/",
        "/api/approvals/inbox/",
        "/api/approvals/requests/{request_id}/amend/",
        "/api/approvals/requests/{request_id}/route/",
        "/api/approvals/steps/{step_id}/decide/",
        "/api/vendors/",
        "/api/vendors/{vendor_id}/",
        "/api/vendors/{vendor_id}/transitions/",
        "/api/vendors/{vendor_id}/bank-details/",
        "/api/vendors/{vendor_id}/checks/{check_id}/",
        "/api/vendors/{vendor_id}/declarations/",
        "/api/vendors/{vendor_id}/documents/",
        "/api/vendors/{vendor_id}/sanctions-matches/{match_id}/review/",
        "/api/assessments/",
        "/api/assessments/{assessment_id}/",
        "/api/assessments/{assessment_id}/score/",
        "/api/assessments/{assessment_id}/resend/",
        "/api/assessments/{assessment_id}/cancel/",
        "/api/assessments/{assessment_id}/reopen/",
        "/api/orders/",
        "/api/orders/{po_id}/",
        "/api/orders/{po_id}/cancel/",
        "/api/orders/{po_id}/change-orders/",
        "/api/orders/{po_id}/close/",
        "/api/orders/{po_id}/invoices/",
        "/api/orders/{po_id}/issue/",
        "/api/orders/{po_id}/receipts/",
        "/api/orders/change-orders/{change_order_id}/decide/",
        "/api/orders/invoices/{invoice_id}/reject/",
        "/api/orders/invoices/{invoice_id}/release/",
        "/api/orders/invoices/{invoice_id}/rematch/",
        "/api/sourcing/",
        "/api/sourcing/{rfq_id}/",
        "/api/sourcing/{rfq_id}/cancel/",
        "/api/sourcing/{rfq_id}/clarifications/",
        "/api/sourcing/{rfq_id}/close/",
        "/api/sourcing/{rfq_id}/criteria/",
        "/api/sourcing/{rfq_id}/evaluation/",
        "/api/sourcing/{rfq_id}/evaluation/award/",
        "/api/sourcing/{rfq_id}/evaluation/counter-offers/",
        "/api/sourcing/{rfq_id}/evaluation/counter-offers/{counter_offer_id}/withdraw/",
        "/api/sourcing/{rfq_id}/evaluation/scores/{criterion_id}/{invitation_id}/",
        "/api/sourcing/{rfq_id}/invitations/",
        "/api/sourcing/{rfq_id}/invitations/{invitation_id}/resend/",
        "/api/sourcing/{rfq_id}/lines/",
        "/api/sourcing/{rfq_id}/open/",
        "/api/sourcing/{rfq_id}/prices/",
        "/api/sourcing/{rfq_id}/questions/{question_id}/answer/",
        "/api/sourcing/{rfq_id}/reopen/",
        "/api/sourcing/awards/{award_id}/",
        "/api/sourcing/awards/{award_id}/approve/",
        "/api/sourcing/awards/{award_id}/refuse/",
        "/api/sourcing/from-request/{request_id}/",
        "/api/analytics/imports/",
        "/api/analytics/imports/{import_id}/",
        "/api/analytics/spend/by-category/",
        "/api/analytics/spend/by-department/",
        "/api/analytics/spend/by-vendor/",
        "/api/analytics/spend/contract/",
        "/api/analytics/spend/over-time/",
        "/api/contracts/",
        "/api/contracts/{contract_id}/",
        "/api/contracts/{contract_id}/renew/",
        "/api/contracts/{contract_id}/{action}/",
        "/api/planning/objectives/",
        "/api/planning/objectives/{objective_id}/",
        "/api/planning/budgets/",
        "/api/planning/budgets/{budget_id}/",
        "/api/planning/budgets/{budget_id}/revisions/",
        "/api/planning/needs/",
        "/api/planning/needs/{need_id}/",
        "/api/planning/needs/{need_id}/withdraw/",
        "/api/planning/needs/{need_id}/supports/",
        "/api/planning/needs/{need_id}/comments/",
        "/api/planning/needs/consolidations/",
        "/api/planning/needs/consolidations/{consolidation_id}/",
        "/api/planning/forecast/",
    }
