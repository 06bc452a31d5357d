"""The state diagrams in docs/approvals.md draw exactly the transitions the models have."""

from __future__ import annotations

import pytest

from approvals.models import ApprovalStep
from requests.models import PurchaseRequest
from tests.diagrams import assert_diagram_matches


@pytest.mark.parametrize(
    ("heading", "model"), [("PurchaseRequest", PurchaseRequest), ("ApprovalStep", ApprovalStep)]
)
def test_it_draws_every_transition_of_the_model_and_no_other(heading, model):
    assert_diagram_matches("approvals.md", heading, model)
