"""The RFQ state diagram in docs/sourcing/rfqs.md draws exactly the transitions Rfq has."""

from __future__ import annotations

from sourcing.models import Rfq
from tests.diagrams import assert_diagram_matches


def test_it_draws_every_transition_of_an_rfq_and_no_other():
    assert_diagram_matches("sourcing/rfqs.md", "Rfq", Rfq)
