"""The list, the form and the detail page fit a phone's width without sideways scrolling."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import Page, expect

from requests.services import purchase_request_add_attachment
from requests.tests.helpers import draft_for
from requests.tests.page_helpers import PDF_BYTES
from tests.browser.helpers import BROWSER_DB, request_with_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(**BROWSER_DB)]


def overflows_sideways(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


def test_it_fits_a_phone_and_a_desktop(org, page: Page, log_in_as, screenshot):
    request = request_with_history(org)
    log_in_as(org.requester)

    draft = draft_for(org, title="Monitors for the design team", line_items=2)
    purchase_request_add_attachment(
        request_id=draft.pk,
        by=org.requester,
        upload=SimpleUploadedFile("monitor-quote.pdf", PDF_BYTES, content_type="application/pdf"),
    )

    page.goto("/requests/")
    expect(page.get_by_role("link", name=request.reference)).to_be_visible()
    screenshot(page, "list")
    page.goto(f"/requests/{draft.pk}/edit/")
    expect(page.get_by_label("Remove monitor-quote.pdf")).not_to_be_checked()
    screenshot(page, "edit")

    page.set_viewport_size({"width": 390, "height": 844})
    for path, name in [
        ("/requests/", "phone-list"),
        (f"/requests/{draft.pk}/edit/", "phone-form"),
        (f"/requests/{request.pk}/", "phone-detail"),
    ]:
        page.goto(path)
        screenshot(page, name)
        assert not overflows_sideways(page), f"{path} scrolls sideways on a phone"
