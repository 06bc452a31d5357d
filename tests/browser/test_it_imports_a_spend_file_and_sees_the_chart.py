"""A spend file from upload to chart, in a real browser: procurement uploads the Home Office
card file, maps its Date, Amount and Supplier columns, previews the rows, imports, watches
the progress bar give way to the report, and sees the spend drawn on the analytics overview.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from analytics.models import ImportState, SpendImport, SpendLine
from analytics.tasks import spend_import_task
from tests.browser.helpers import BROWSER_DB

pytestmark = [pytest.mark.browser, pytest.mark.django_db(**BROWSER_DB)]

HOME_OFFICE = (
    Path(settings.BASE_DIR).parent
    / "shared"
    / "datasets"
    / "home-office-procurement-card"
    / "2020.csv"
)


@pytest.mark.skipif(
    not HOME_OFFICE.is_file(), reason=f"the shared spend file is not here ({HOME_OFFICE})"
)
def test_it_imports_the_home_office_card_file_and_draws_its_spend(
    org, monkeypatch, page: Page, log_in_as, screenshot
):
    # Hold the import task back, as a busy worker would, so the progress bar can be seen;
    # the test then runs it the way the worker does.
    held: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr(
        spend_import_task, "delay", lambda *args, **kwargs: held.append((args, kwargs))
    )

    log_in_as(org.procurement)
    page.goto("/analytics/imports/")
    page.get_by_role("button", name="New import").click()  # a link styled as a button
    page.get_by_label("New source name").fill("Home Office purchase cards")
    page.get_by_label("Spend file (CSV)").set_input_files(str(HOME_OFFICE))
    page.get_by_role("button", name="Upload and map the columns").click()

    expect(page.get_by_role("heading", name="Map the columns")).to_be_visible()
    page.get_by_label("Date").select_option("Date")
    page.get_by_label("Amount").select_option("Amount")
    page.get_by_label("Supplier").select_option("Supplier")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#preview tbody tr")
    expect(preview).to_have_count(20)
    expect(preview.first).to_contain_text("2020-12-01")
    expect(preview.first).to_contain_text("Amazon")
    screenshot(page, "spend-import-preview")

    page.get_by_role("button", name="Import", exact=True).click()
    progress = page.locator("#import-progress progress")
    expect(progress).to_be_visible()
    expect(page.locator("#import-progress")).to_have_attribute("hx-trigger", "every 1s")
    screenshot(page, "spend-import-progress")

    assert len(held) == 1
    args, kwargs = held[0]
    spend_import_task.apply(args=args, kwargs=kwargs)
    spend_import = SpendImport.objects.get()
    assert spend_import.state == ImportState.DONE

    # The polling notices and the page reloads with the report.
    report = page.locator("#import-report")
    expect(report).to_be_visible()
    lines = SpendLine.objects.count()
    assert lines > 800
    expect(report.locator("[data-count=imported]")).to_have_text(str(lines))
    expect(page.locator("#import-progress")).to_have_count(0)
    expect(page.locator("#new-payees")).to_contain_text("AMAZON")  # "Amazon", "AMAZON": one payee
    screenshot(page, "spend-import-report")

    page.goto("/analytics/?from=2020-01&to=2020-12")
    canvas = page.locator("canvas[data-chart]").first
    expect(canvas).to_be_visible()
    page.wait_for_function(
        "canvas => window.Chart !== undefined && window.Chart.getChart(canvas) !== undefined",
        arg=canvas.element_handle(),
    )
    # Drawn, not blank: a chart's image is far larger than an empty canvas of the same size.
    drawn, blank = canvas.evaluate(
        """canvas => {
            const empty = document.createElement("canvas");
            empty.width = canvas.width;
            empty.height = canvas.height;
            return [canvas.toDataURL().length, empty.toDataURL().length];
        }"""
    )
    assert drawn > blank * 2, (drawn, blank)
    screenshot(page, "spend-overview-chart")
