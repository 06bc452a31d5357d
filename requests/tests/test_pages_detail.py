"""/requests/<pk>/: the request, its lines and total, attachments, buttons and timeline."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template import Context, Template
from django.template.loader import render_to_string

from requests.forms import CommentForm
from requests.selectors import purchase_request_visible_to
from requests.services import (
    comment_create,
    purchase_request_add_attachment,
    purchase_request_transition,
)
from requests.tests.helpers import draft_for, request_in_state
from requests.tests.page_helpers import PDF_BYTES, page, text

pytestmark = pytest.mark.django_db


def action_buttons(response) -> list[str]:
    return re.findall(r'action="/requests/\d+/actions/([a-z]+)/"', page(response))


def test_it_shows_the_request_its_lines_and_total(org):
    draft = draft_for(org, title="Two laptops", line_items=2)

    response = org.client_for(org.requester).get(f"/requests/{draft.pk}/")

    assert response.status_code == 200
    content = text(response)
    assert f"{draft.reference} Draft Two laptops" in content
    assert "Requester Alice Asker" in content
    assert "Department IT" in content
    assert "Cost centre IT-100 IT operations" in content
    assert "Category Hardware" in content
    assert "Three new engineers start next month." in content
    assert "Laptop model 1 2 each 1,250.00 2,500.00" in content
    assert "Laptop model 2 2 each 1,250.00 2,500.00" in content
    assert "Total 5,000.00 GBP" in content


def test_it_links_the_attachments_for_download(org):
    draft = draft_for(org)
    attachment = purchase_request_add_attachment(
        request_id=draft.pk,
        by=org.requester,
        upload=SimpleUploadedFile("quote.pdf", PDF_BYTES, content_type="application/pdf"),
    )

    content = page(org.client_for(org.requester).get(f"/requests/{draft.pk}/"))

    assert f'href="/requests/{draft.pk}/attachments/{attachment.pk}/"' in content
    assert "quote.pdf" in content


def test_it_tells_the_timeline_in_order_with_who_and_when(org):
    request = draft_for(org)
    purchase_request_transition(request_id=request.pk, by=org.requester, action="submit")
    purchase_request_transition(
        request_id=request.pk, by=org.manager, action="return", comment="Please add a second quote."
    )
    comment_create(request_id=request.pk, by=org.requester, body="Quote attached, @mark.")

    response = org.client_for(org.requester).get(f"/requests/{request.pk}/")

    content = text(response)
    submitted = content.index("Alice Asker submitted")
    returned = content.index("Mark Manager returned for changes: Please add a second quote.")
    commented = content.index("Alice Asker commented Quote attached, @mark.")
    assert submitted < returned < commented
    timeline = page(response).split('id="timeline"', 1)[1]
    assert len(re.findall(r'<time datetime="\d{4}-\d\d-\d\dT[^"]+">', timeline)) == 3


def test_it_offers_the_requester_submit_and_cancel_on_a_draft(org):
    draft = draft_for(org)

    response = org.client_for(org.requester).get(f"/requests/{draft.pk}/")

    assert action_buttons(response) == ["submit", "cancel"]
    assert f'href="/requests/{draft.pk}/edit/"' in page(response)


def test_it_offers_the_line_manager_the_decisions(org):
    submitted = request_in_state(org, "submitted")

    response = org.client_for(org.manager).get(f"/requests/{submitted.pk}/")

    assert action_buttons(response) == ["approve", "reject", "return"]
    content = page(response)
    # A reason is required to reject or return, and the browser says so before posting.
    for name in ("reject", "return"):
        assert re.search(rf'<textarea id="comment-{name}" name="comment"[^>]*required', content)
    assert not re.search(r'<textarea id="comment-approve" name="comment"[^>]*required', content)
    assert f'href="/requests/{submitted.pk}/edit/"' not in content


def test_it_asks_before_cancelling(org):
    draft = draft_for(org)

    content = page(org.client_for(org.requester).get(f"/requests/{draft.pk}/"))

    cancel_form = content.split(f'action="/requests/{draft.pk}/actions/cancel/"', 1)[1].split(
        ">", 1
    )[0]
    assert f'data-confirm="Cancel {draft.reference}? This cannot be undone."' in cancel_form


def test_it_shows_no_buttons_to_someone_who_may_only_look(org):
    submitted = request_in_state(org, "submitted")

    response = org.client_for(org.finance).get(f"/requests/{submitted.pk}/")

    assert response.status_code == 200
    assert action_buttons(response) == []
    assert "There is nothing for you to do on this request right now." in text(response)


def test_it_shows_the_comment_form_with_the_mention_hint(org):
    draft = draft_for(org)

    content = page(org.client_for(org.requester).get(f"/requests/{draft.pk}/"))

    assert f'action="/requests/{draft.pk}/comments/"' in content
    assert '<label for="id_body">Comment' in content
    assert "Type @username to notify a colleague." in content


@pytest.mark.parametrize("who", ["outsider", "security", "legal"])
def test_it_answers_404_to_someone_who_cannot_see_it(org, who):
    draft = draft_for(org)

    response = org.client_for(getattr(org, who)).get(f"/requests/{draft.pk}/")

    assert response.status_code == 404


def test_it_answers_404_for_a_request_that_does_not_exist(org):
    assert org.client_for(org.admin).get("/requests/999999/").status_code == 404


def test_it_asks_anonymous_visitors_to_log_in(client, org):
    draft = draft_for(org)

    response = client.get(f"/requests/{draft.pk}/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_opens_exactly_the_requests_each_person_may_see(org):
    # The page answers most visitors from the request's own row (its requester, their manager,
    # the department head, procurement, finance, admins) and asks the visibility query only
    # for the others (someone @mentioned): both must agree with purchase_request_visible_to.
    own = draft_for(org)
    elsewhere = draft_for(org, requester=org.outsider, department=org.other_department)
    mentioned = draft_for(org, title="Licence renewal")
    comment_create(request_id=mentioned.pk, by=org.requester, body="@lee please check the terms")
    ids = [own.pk, elsewhere.pk, mentioned.pk, 999999]
    people = ["requester", "manager", "head", "procurement", "finance", "security", "legal"]

    for who in [*people, "admin", "outsider"]:
        user = getattr(org, who)
        client = org.client_for(user)
        opened = {pk for pk in ids if client.get(f"/requests/{pk}/").status_code == 200}
        assert opened == may_see_of(user, ids), who
    assert mentioned.pk in may_see_of(org.legal, ids)


def may_see_of(user, ids: list[int]) -> set[int]:
    return set(purchase_request_visible_to(user).filter(pk__in=ids).values_list("pk", flat=True))


@pytest.mark.parametrize("lines", [1, 5])
def test_it_shows_a_request_with_a_fixed_number_of_queries(
    org, lines, django_assert_max_num_queries
):
    request = draft_for(org, line_items=lines)
    purchase_request_transition(request_id=request.pk, by=org.requester, action="submit")
    for n in range(lines):
        comment_create(request_id=request.pk, by=org.manager, body=f"Question {n}")
    client = org.client_for(org.requester)

    # session, user, roles, the request (and whether it has attachments and comments), its
    # lines, audit entries, comments, the route (no steps: these tests decide directly),
    # purchase orders, the needs it was gathered from (planning's panel) and the nav's
    # "Approvals (N)": however many lines and comments. No attachments to ask for. Not whether
    # its requester approves it (the budget panel): routing never asks the requester.
    with django_assert_max_num_queries(11):
        response = client.get(f"/requests/{request.pk}/")

    assert response.status_code == 200
    assert text(response).count("Question") == lines


def test_it_asks_nothing_about_routes_orders_or_budgets_of_a_draft_never_submitted(
    org, django_assert_max_num_queries
):
    draft = draft_for(org, line_items=2)
    client = org.client_for(org.requester)

    # session, user, roles, the request (and whether it has attachments and comments), its
    # lines, audit entries (and their content type, once per process), the needs it was
    # gathered from (a draft procurement consolidated from needs is one never submitted) and
    # the nav's "Approvals (N)": a draft never submitted has no route and no purchase order to
    # ask for, and this one no attachment and no comment.
    with django_assert_max_num_queries(9):
        response = client.get(f"/requests/{draft.pk}/")

    assert response.status_code == 200
    assert "Approval route" not in text(response)
    assert "Purchase orders" not in text(response)


def test_it_shows_the_same_comment_box_as_the_form_renders(org):
    # The blank comment box is rendered once per process: it must be what the form gives.
    draft = draft_for(org)
    blank = render_to_string("includes/field.html", {"field": CommentForm()["body"]})

    content = page(org.client_for(org.requester).get(f"/requests/{draft.pk}/"))

    assert blank in content
    assert 'name="body"' in blank


def test_it_shows_the_dates_and_total_as_the_date_and_floatformat_filters_would(org):
    # The view formats them itself (requests.views.DetailDates): the text must not change.
    request = draft_for(org, line_items=2)
    purchase_request_transition(request_id=request.pk, by=org.requester, action="submit")
    request.refresh_from_db()
    filters = Template(
        """<time datetime="{{ pr.needed_by|date:'Y-m-d' }}">{{ pr.needed_by|date:"j M Y" }}</time>
        <dd class="total">{{ pr.total|floatformat:"2g" }} {{ pr.currency }}</dd>
        <time datetime="{{ pr.created_at|date:'c' }}">{{ pr.created_at|date:"j M Y, H:i" }}</time>
        <time datetime="{{ pr.submitted_at|date:'c' }}">{{ pr.submitted_at|date:"j M Y, H:i" }}</time>"""
    ).render(Context({"pr": request}))

    content = page(org.client_for(org.requester).get(f"/requests/{request.pk}/"))

    shown = [line.strip() for line in filters.splitlines()]
    assert [line for line in shown if line in content] == shown
    assert '<dd class="total">5,000.00 GBP</dd>' in shown
