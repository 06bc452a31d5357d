"""The state diagrams in docs/vendors.md draw exactly the transitions the models have."""

from __future__ import annotations

import pytest

from tests.diagrams import assert_diagram_matches
from vendors.models import Assessment, Contract, Vendor


@pytest.mark.parametrize(
    ("heading", "model"), [("Vendor", Vendor), ("Assessment", Assessment), ("Contract", Contract)]
)
def test_it_draws_every_transition_of_the_model_and_no_other(heading, model):
    assert_diagram_matches("vendors.md", heading, model)
