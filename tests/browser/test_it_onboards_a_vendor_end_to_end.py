"""A new supplier from first contact to approved, in a real browser:

procurement adds the vendor and sends the security questionnaire; the vendor's contact
answers it through the emailed link (no account), saving once and coming back; the
security reviewer scores it; procurement completes the due diligence and approves the
vendor; a request to that vendor then no longer needs the new-vendor step.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from approvals.models import ApprovalStep
from approvals.tests.helpers import LINE_MANAGER, policy
from requests.models import PurchaseRequest
from tests.browser.helpers import BROWSER_DB, fill_line, fill_request_fields
from vendors.models import Vendor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(**BROWSER_DB)]

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
NEW_VENDOR = {
    "name": "New vendor review",
    "approver_kind": "role",
    "approver_role": "procurement",
    "vendor_not_approved": True,
    "stage": 2,
}


def questionnaire_link(outbox: Path, to: str) -> str:
    for eml in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if message["To"] != to:
            continue
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        found = re.search(r"https?://\S+/assessments/respond/\S+/", body.get_content())
        if found:
            return found.group(0)
    raise AssertionError(f"No questionnaire link to {to} in {outbox}")


def act_on_vendor(page: Page, action: str, reason: str) -> None:
    form = page.locator(f"form.action-{action}")
    form.get_by_role("textbox").fill(reason)
    form.get_by_role("button").click()


def answer_everything(page: Page) -> None:
    """Answer as a careful vendor: the first (best) option of each question, some words for
    each text question, and a PDF as evidence wherever one is asked for."""
    form = page.locator("form.questionnaire")
    for group in form.locator("fieldset").all():
        group.locator("input[type=radio]").first.check()
    for text in form.locator("textarea").all():
        text.fill("Described in our security policy, section 4; reviewed yearly.")
    for upload in form.locator("input[type=file]").all():
        upload.set_input_files(
            {"name": "evidence.pdf", "mimeType": "application/pdf", "buffer": PDF}
        )


def test_it_takes_a_new_vendor_from_questionnaire_to_approved(
    org, settings, live_server, browser: Browser, page: Page, log_in_as, screenshot
):
    settings.EMAIL_BACKEND = "procurement.mail.EmlOutboxBackend"
    settings.SITE_URL = live_server.url
    policy(LINE_MANAGER, NEW_VENDOR)

    # Procurement adds the vendor and starts its review.
    log_in_as(org.procurement)
    page.goto("/vendors/new/")
    page.get_by_label("Legal name").fill("Cloudberry Analytics Ltd")
    page.get_by_label("Country").select_option("GB")
    page.get_by_label("Vendor type").select_option(label="Software / SaaS")
    contact = page.locator("fieldset.contact-row").first
    contact.get_by_label("Name").fill("Cleo Berry")
    contact.get_by_label("Email").fill("cleo@cloudberry.example")
    page.get_by_role("button", name="Add vendor").click()
    expect(page.get_by_role("heading", name="Cloudberry Analytics Ltd")).to_be_visible()
    vendor = Vendor.objects.get(legal_name="Cloudberry Analytics Ltd")
    act_on_vendor(page, "start_review", "New analytics supplier for the data team")
    expect(page.locator("#due-diligence")).to_contain_text("Registration verified")

    # ...and sends the security questionnaire to the vendor's contact.
    page.get_by_role("button", name="Send questionnaire").click()  # a link styled as a button
    expect(page.get_by_label("Contact email")).to_have_value("cleo@cloudberry.example")
    page.get_by_role("button", name="Send questionnaire").click()
    link = questionnaire_link(Path(settings.EMAIL_OUTBOX_DIR), "cleo@cloudberry.example")

    # The vendor answers without an account: part of it, save, come back, finish, submit.
    vendor_side = browser.new_context(base_url=live_server.url)
    answers = vendor_side.new_page()
    answers.goto(link)
    first_text = answers.locator("form.questionnaire textarea").first
    first_text.fill("MFA for every administrator, enforced by our identity provider.")
    answers.get_by_role("button", name="Save and continue later").click()
    answers.goto(link)
    expect(answers.locator("form.questionnaire textarea").first).to_have_value(
        "MFA for every administrator, enforced by our identity provider."
    )
    answer_everything(answers)
    screenshot(answers, "vendor-questionnaire")
    answers.get_by_role("button", name="Submit answers").click()
    expect(answers.get_by_role("heading").first).to_contain_text("Thank you")
    answers.goto(link)  # the link is spent once the answers are in
    expect(answers.locator("body")).to_contain_text("already")
    vendor_side.close()

    # The security reviewer scores it, judging the free-text answers themselves.
    log_in_as(org.security)
    page.goto("/assessments/")
    page.get_by_role("link", name=re.compile("Cloudberry Analytics Ltd")).first.click()
    scoring = page.get_by_role("form", name="Score the assessment")
    for label in scoring.locator("label:has(span.required)").all():
        score_input = scoring.locator(f"#{label.get_attribute('for')}")
        score_input.fill("80")
        reason_name = (score_input.get_attribute("name") or "").replace("score_", "reason_")
        scoring.locator(f"[name='{reason_name}']").fill("Adequate, with a yearly review.")
    screenshot(page, "assessment-scoring")
    page.get_by_role("button", name="Save score and set the vendor's tier").click()
    expect(page.locator("main")).to_contain_text("Low")
    vendor.refresh_from_db()
    assert vendor.risk_tier == "low"

    # Procurement declares its interests, completes each check, and approves.
    log_in_as(org.procurement)
    page.goto(f"/vendors/{vendor.pk}/")
    page.get_by_text("Declare my interests").click()
    page.get_by_label("No, I have no conflict").check()
    page.get_by_role("button", name="Declare").click()
    while True:
        # Each recording reloads the page; the next open check is then the first one left.
        pending = page.locator("#due-diligence article.check-open details.record-check")
        if pending.count() == 0:
            break
        check = pending.first
        check.locator("summary").click()
        check.get_by_label("Outcome").select_option("passed")
        check.get_by_label("What was checked and found").fill("Verified with the documents.")
        check.get_by_role("button", name="Record").click()
        expect(page.locator(".flash").first).to_be_visible()
    act_on_vendor(page, "approve", "Due diligence complete, low risk")
    expect(page.locator(".detail-head .badge").first).to_have_text("Approved")
    screenshot(page, "vendor-approved")

    # A request to that vendor now goes to the line manager alone.
    log_in_as(org.requester)
    page.goto("/requests/new/")
    fill_request_fields(page, title="Analytics seats")
    page.get_by_label("Vendor", exact=True).select_option(label="Cloudberry Analytics Ltd")
    fill_line(page, 0, description="Analyst seat", quantity="3", unit_price="400")
    page.get_by_role("button", name="Save and submit").click()
    expect(page.locator(".detail-head .badge")).to_have_text("Pending approval")
    request = PurchaseRequest.objects.get(title="Analytics seats")
    assert request.vendor_id == vendor.pk
    assert list(ApprovalStep.objects.filter(request=request).values_list("name", flat=True)) == [
        "Line manager"
    ]
