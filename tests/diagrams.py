"""Read the Mermaid state diagrams in docs/*.md and the transitions of django-fsm models,
so a test can say the docs draw exactly what the code does."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models

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


def diagram(doc: str, heading: str) -> tuple[str, set[Edge]]:
    """The initial state and the edges of the Mermaid block under `### heading` in docs/`doc`."""
    text = (Path(settings.BASE_DIR) / "docs" / doc).read_text()
    section = re.search(rf"^### {re.escape(heading)}\n(.*?)(?=^#|\Z)", text, re.M | re.S)
    assert section, f"docs/{doc} has no '### {heading}' section"
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


def assert_diagram_matches(doc: str, heading: str, model: type[models.Model]) -> None:
    initial, drawn = diagram(doc, heading)
    actual = model_edges(model)

    assert actual, "the model has no transitions: is this the right field?"
    missing = sorted(actual - drawn)
    stale = sorted(drawn - actual)
    assert not missing, f"add to the {heading} diagram in docs/{doc}: {missing}"
    assert not stale, f"remove from the {heading} diagram in docs/{doc}: {stale}"
    assert initial == state_field(model).default
