"""The state diagrams in docs/approvals.md draw exactly the transitions the models have."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import models

from approvals.models import ApprovalStep
from requests.models import PurchaseRequest

DOC = Path(settings.BASE_DIR) / "docs" / "approvals.md"
EDGE = re.compile(r"^\s*(\S+)\s*-->\s*(\S+)\s*(?::\s*(\S+))?\s*$")

Edge = tuple[str, str, str]


def state_field(model: type[models.Model]) -> Any:
    # A django-fsm FSMField, which the django stubs do not know.
    return model._meta.get_field("state")


def model_edges(model: type[models.Model]) -> set[Edge]:
    field = state_field(model)
    states = [str(value) for value, _ in field.choices]
    edges = set()
    for transition in field.get_all_transitions(model):
        # django-fsm's wildcards: "*" is any state, "+" any state but the target.
        if transition.source == "*":
            sources = states
        elif transition.source == "+":
            sources = [state for state in states if state != transition.target]
        else:
            sources = [transition.source]
        edges |= {(str(source), str(transition.target), transition.name) for source in sources}
    return edges


def diagram(heading: str) -> tuple[str, set[Edge]]:
    """The initial state and the edges of the Mermaid block under `### heading`."""
    text = DOC.read_text()
    section = re.search(rf"^### {re.escape(heading)}\n(.*?)(?=^#|\Z)", text, re.M | re.S)
    assert section, f"docs/approvals.md has no '### {heading}' section"
    block = re.search(r"```mermaid\n(.*?)```", section.group(1), re.S)
    assert block, f"'### {heading}' has no mermaid block"
    lines = block.group(1).splitlines()
    assert lines[0].strip() == "stateDiagram-v2"
    initial = ""
    edges = set()
    for line in lines[1:]:
        match = EDGE.match(line)
        if not match:
            continue
        source, target, name = match.groups()
        if source == "[*]":
            initial = target
        elif target != "[*]":
            edges.add((source, target, name or ""))
    return initial, edges


@pytest.mark.parametrize(
    ("heading", "model"), [("PurchaseRequest", PurchaseRequest), ("ApprovalStep", ApprovalStep)]
)
def test_it_draws_every_transition_of_the_model_and_no_other(heading, model):
    initial, drawn = diagram(heading)
    actual = model_edges(model)

    assert actual, "the model has no transitions: is this the right field?"
    missing = sorted(actual - drawn)
    stale = sorted(drawn - actual)
    assert not missing, f"add to the {heading} diagram in docs/approvals.md: {missing}"
    assert not stale, f"remove from the {heading} diagram in docs/approvals.md: {stale}"
    assert initial == state_field(model).default
