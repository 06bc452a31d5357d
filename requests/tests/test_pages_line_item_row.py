"""GET /requests/line-items/new/: the blank row "Add line" appends, with the next row number."""

from __future__ import annotations

import pytest

from requests.tests.page_helpers import page

pytestmark = pytest.mark.django_db


def test_it_returns_a_blank_row_numbered_by_the_current_total(org):
    response = org.client_for(org.requester).get(
        "/requests/line-items/new/", {"line_items-TOTAL_FORMS": "3"}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    content = page(response)
    assert content.lstrip().startswith('<fieldset class="line-item" id="line_items-3"')
    for name in (
        "description",
        "quantity",
        "unit",
        "unit_price",
        "vendor_sku",
        "vendor_url",
        "DELETE",
    ):
        assert f'name="line_items-3-{name}"' in content
        assert f'<label for="id_line_items-3-{name}"' in content or name == "DELETE"
    assert '<label class="delete-toggle" for="id_line_items-3-DELETE">' in content
    assert 'name="line_items-2-' not in content
    assert "<html" not in content  # a fragment, not a page
    assert "Line <span data-line-number>4</span>" in content


def test_it_moves_the_form_total_on_by_one_out_of_band(org):
    content = page(
        org.client_for(org.requester).get(
            "/requests/line-items/new/", {"line_items-TOTAL_FORMS": "3"}
        )
    )

    assert (
        '<input type="hidden" name="line_items-TOTAL_FORMS" id="id_line_items-TOTAL_FORMS" value="4"'
        ' hx-swap-oob="true">'
    ) in content


def test_it_offers_the_first_row_when_there_is_none(org):
    content = page(
        org.client_for(org.requester).get("/requests/line-items/new/?line_items-TOTAL_FORMS=0")
    )

    assert 'name="line_items-0-description"' in content
    assert 'value="1" hx-swap-oob="true"' in content


@pytest.mark.parametrize("total", ["", "-1", "abc", "400", "100000"])
def test_it_refuses_a_row_number_out_of_range(org, total):
    response = org.client_for(org.requester).get(
        "/requests/line-items/new/", {"line_items-TOTAL_FORMS": total}
    )

    assert response.status_code == 400


def test_it_refuses_a_row_number_written_in_other_digits(org):
    # "²" is a digit to str.isdigit() but not a number to int(): a 400, not a crash.
    response = org.client_for(org.requester).get(
        "/requests/line-items/new/", {"line_items-TOTAL_FORMS": "²"}
    )

    assert response.status_code == 400


def test_it_is_for_logged_in_users_and_only_answers_get(client, org):
    assert client.get("/requests/line-items/new/?line_items-TOTAL_FORMS=1").status_code == 302
    assert org.client_for(org.requester).post("/requests/line-items/new/").status_code == 405


def test_it_wires_the_add_line_button_to_the_row_view(org):
    content = page(org.client_for(org.requester).get("/requests/new/"))

    button = content.split('id="add-line"', 1)[1].split(">", 1)[0]
    assert 'hx-get="/requests/line-items/new/"' in button
    assert 'hx-target="#line-items"' in button
    assert 'hx-swap="beforeend"' in button
    assert 'hx-include="#id_line_items-TOTAL_FORMS"' in button
    assert 'id="line-items"' in content
    assert 'id="id_line_items-TOTAL_FORMS"' in content
