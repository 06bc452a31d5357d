"""/requests/: my requests, everything I can see, filters, search and pages of 25."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.template import Context, Template

from requests.models import PurchaseRequest
from requests.tests.helpers import draft_for, request_in_state
from requests.tests.page_helpers import page, text
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_it_sends_the_home_page_to_the_list(org):
    response = org.client_for(org.requester).get("/")

    assert response.status_code == 302
    assert response["Location"] == "/requests/"


def test_it_asks_anonymous_visitors_to_log_in(client):
    response = client.get("/requests/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/requests/")


def test_it_shows_my_requests_with_their_columns(org):
    mine = draft_for(org, title="Docking stations", line_items=2)

    response = org.client_for(org.requester).get("/requests/")

    assert response.status_code == 200
    content = text(response)
    assert mine.reference in content
    assert "Docking stations" in content
    assert "Draft" in content
    assert "5,000.00 GBP" in content
    assert mine.needed_by.strftime("%-d %b %Y") in content
    assert "Alice Asker" in content
    assert f'href="/requests/{mine.pk}/"' in page(response)


def test_it_shows_only_my_own_requests_by_default_and_everything_visible_on_the_other_tab(org):
    own = draft_for(org, requester=org.manager, title="Manager's own monitor")
    reports = draft_for(org, title="Alice's laptop")
    client = org.client_for(org.manager)

    mine = text(client.get("/requests/"))
    everything = text(client.get("/requests/?scope=all"))

    assert own.title in mine
    assert reports.title not in mine
    assert own.title in everything
    assert reports.title in everything
    assert "All I can see" in everything


def test_it_never_lists_another_departments_requests(org):
    secret = draft_for(org, title="Confidential budget laptop")
    client = org.client_for(org.outsider)

    for url in ("/requests/", "/requests/?scope=all", f"/requests/?scope=all&q={secret.reference}"):
        response = client.get(url)
        assert response.status_code == 200
        assert "Confidential budget laptop" not in text(response)
        assert secret.reference not in text(response)


def test_it_filters_by_state(org):
    draft = draft_for(org, title="Still a draft")
    submitted = request_in_state(org, "submitted")

    content = text(org.client_for(org.requester).get("/requests/?state=submitted"))

    assert submitted.reference in content
    assert draft.reference not in content


def test_it_ignores_an_unknown_state_filter(org):
    draft = draft_for(org)

    response = org.client_for(org.requester).get("/requests/?state=nonsense")

    assert response.status_code == 200
    assert draft.reference in text(response)


def test_it_searches_titles_and_references(org):
    laptops = draft_for(org, title="Laptops for the interns")
    licences = draft_for(org, title="Design software licences")
    client = org.client_for(org.requester)

    by_word = text(client.get("/requests/?q=licences"))
    by_reference = text(client.get(f"/requests/?q={laptops.reference}"))

    assert licences.reference in by_word
    assert laptops.reference not in by_word
    assert laptops.reference in by_reference
    assert licences.reference not in by_reference


def test_it_searches_for_a_superscript_digit_as_text(org):
    squared = draft_for(org, title="Monitor 27² bundle")
    client = org.client_for(org.requester)

    response = client.get("/requests/", {"q": "PR-²"})
    by_text = client.get("/requests/", {"q": "²"})

    assert response.status_code == 200
    assert squared.reference in text(by_text)


def test_it_ignores_a_null_character_in_the_search(org):
    # PostgreSQL refuses a NUL in a string literal: it must not reach the query (a 500 there).
    laptops = draft_for(org, title="Laptops for the interns")

    response = org.client_for(org.requester).get("/requests/", {"q": "Lap\x00tops"})

    assert response.status_code == 200
    assert laptops.reference in text(response)


def test_it_says_so_when_nothing_matches(org):
    draft_for(org)

    content = text(org.client_for(org.requester).get("/requests/?q=zeppelin"))

    assert "No requests match these filters." in content


def test_it_pages_by_twenty_five_and_keeps_the_filters_in_the_links(org):
    requests = [draft_for(org, title=f"Cable batch {n}") for n in range(30)]
    client = org.client_for(org.requester)

    first = client.get("/requests/?q=Cable")
    second = client.get("/requests/?q=Cable&page=2")

    newest_first = list(reversed(requests))
    assert first.content.decode().count("<tr>") - 1 == 25  # minus the header row
    assert newest_first[0].reference in text(first)
    assert newest_first[25].reference not in text(first)
    assert "Page 1 of 2" in text(first)
    assert 'href="?q=Cable&amp;page=2"' in page(first)
    assert newest_first[25].reference in text(second)
    assert newest_first[29].reference in text(second)


@pytest.mark.parametrize("count", [5, 50])
def test_it_lists_with_the_same_number_of_queries_for_5_or_50_rows(
    org, count, django_assert_max_num_queries
):
    for _ in range(count):
        draft_for(org)
    client = org.client_for(org.requester)

    # session, user, roles, which visibility arms apply, count, page, and the nav's
    # "Approvals (N)": the budget does not grow with the rows.
    with django_assert_max_num_queries(7):
        response = client.get("/requests/?scope=all")

    assert response.status_code == 200
    assert text(response).count("PR-") >= min(count, 25)


# What each row showed when the template formatted it with {% url %}, |date and |floatformat;
# the view now formats the cells itself (requests.views.ListRows), which must read the same.
TEMPLATE_ROW = """{% for pr in requests %}<tr>
<td class="nowrap" data-label="Reference"><a href="{% url 'requests:detail' pr.pk %}">{{ pr.reference }}</a></td>
<td data-label="Title"><a href="{% url 'requests:detail' pr.pk %}" tabindex="-1" class="title-link">{{ pr.title }}</a></td>
<td data-label="State">{% state_badge pr.state pr.get_state_display %}</td>
<td class="num nowrap" data-label="Total">{{ pr.total|floatformat:"2g" }} {{ pr.currency }}</td>
<td class="nowrap" data-label="Needed by">{{ pr.needed_by|date:"j M Y" }}</td>
<td data-label="Requester">{{ pr.requester }}</td>
<td class="nowrap" data-label="Created"><time datetime="{{ pr.created_at|date:'c' }}">{{ pr.created_at|date:"j M Y" }}</time></td>
</tr>{% endfor %}"""


def test_it_shows_each_cell_as_the_template_filters_wrote_it(org):
    nameless = UserFactory.create(
        username="nobody-named", first_name="", last_name="", department=org.department
    )
    totals = ["0.00", "0.05", "999.99", "1000.00", "1234567.89", "12345678901234.50"]
    for month in range(1, 13):
        request = draft_for(
            org,
            title=f"<b>Monitors</b> & cables, batch {month}",
            requester=nameless if month % 3 == 0 else org.requester,
            needed_by=dt.date(2031, month, 1 + month),
        )
        # Late evening in UTC is the next day in London in summer: the page shows local dates.
        PurchaseRequest.objects.filter(pk=request.pk).update(
            total=Decimal(totals[month % len(totals)]),
            created_at=dt.datetime(2026, month, 28, 23, 30, tzinfo=dt.UTC),
        )
    requests = list(
        PurchaseRequest.objects.select_related("requester").order_by("-created_at", "-id")
    )

    response = org.client_for(org.procurement).get("/requests/?scope=all")

    shown = re.search(r"<tbody>(.*)</tbody>", page(response), re.S)
    assert shown is not None
    expected = Template(TEMPLATE_ROW).render(Context({"requests": requests}))
    assert squeeze(shown.group(1)) == squeeze(expected)
    assert "nobody-named" in text(response)


def squeeze(html: str) -> str:
    """Markup without the whitespace between tags, which the browser ignores."""
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", html)).strip()
