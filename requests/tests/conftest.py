"""The requests app is tested on its own: decisions go straight to the request.

The approvals app installs its route-based workflow at start-up; these tests put the
plain one back, as if only the apps below approvals existed. Cross-app behaviour is
tested in approvals/tests and tests/.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from requests import workflow


@pytest.fixture(autouse=True)
def _direct_decisions() -> Iterator[None]:
    installed = workflow.current()
    workflow.install(workflow.DirectDecision())
    yield
    workflow.install(installed)
