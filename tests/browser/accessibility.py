"""axe-core in the page under test, for the accessibility checks of the browser tests.

axe-core comes from the npm registry (package.json; `make install` runs `npm ci`) and is read
from node_modules by the tests only: it is not one of the static files the site serves.

How it gets into a page under the strict Content-Security-Policy: a <script> tag, inline or
from another URL, would be refused (and rightly fail the test through the page fixture's
`csp_refusals`), and a context with `bypass_csp=True` would switch off the very policy the
other checks rely on. Instead the source is evaluated through Playwright's `page.evaluate`,
which runs it over the DevTools protocol as the browser's own debugger would: the page's
policy does not apply to that (it governs what the page loads, not what its debugger runs),
nothing is refused, and the page keeps its real CSP for everything it does itself. axe's own
packages for Playwright inject it the same way.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from playwright.sync_api import Page

AXE_SCRIPT = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
# What fails a check. "moderate" and "minor" findings are reported by axe too, but the
# issue's bar (and WCAG's most common reading of axe's scale) is serious and critical.
FAILING_IMPACTS = ("serious", "critical")
# The WCAG 2.x A and AA rules and axe's best practices; not the experimental ones.
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}


@cache
def axe_source() -> str:
    if not AXE_SCRIPT.is_file():
        raise AssertionError(
            f"axe-core is not installed ({AXE_SCRIPT} is missing): run `make install` "
            "(npm ci) so the accessibility checks can run."
        )
    return AXE_SCRIPT.read_text(encoding="utf-8")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe's serious and critical violations on the page as it is now (after it loaded,
    with whatever the test opened or filled in)."""
    page.wait_for_load_state("load")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    results: dict[str, Any] = page.evaluate(
        "options => window.axe.run(document, options)", AXE_OPTIONS
    )
    return [v for v in results["violations"] if v["impact"] in FAILING_IMPACTS]


def describe(violations: list[dict[str, Any]], *, where: str) -> str:
    """One paragraph per violation: the rule, its impact, what it asks for, where on the
    page (axe's CSS selectors, a few of them) and the rule's help page."""
    lines = []
    for violation in violations:
        targets = [
            " ".join(
                json.dumps(part) if not isinstance(part, str) else part for part in node["target"]
            )
            for node in violation["nodes"]
        ]
        shown = ", ".join(targets[:5]) + (
            f" and {len(targets) - 5} more" if len(targets) > 5 else ""
        )
        summary = (violation["nodes"][0].get("failureSummary") or "").replace("\n", " ")
        lines.append(
            f"- {where}: {violation['id']} ({violation['impact']}): {violation['help']}\n"
            f"    at {shown}\n"
            f"    {summary}\n"
            f"    {violation['helpUrl']}"
        )
    return "\n".join(lines)


def expect_accessible(page: Page, where: str) -> None:
    """Fail with every serious or critical axe violation on the page, if there is one."""
    violations = axe_violations(page)
    assert not violations, (
        f"axe-core found serious or critical accessibility violations:\n"
        f"{describe(violations, where=where)}"
    )
