"""/vendors/new/ and /vendors/<id>/edit/: the vendor form, its errors and "did you mean ...?"."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from procurement.models import AuditEntry, Category
from tests.factories import vendor_create, vendor_type
from vendors.models import Vendor
from vendors.services import vendor_transition

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def field_error(response, field_id: str) -> str:
    """The error shown right under the input `field_id`, which must be marked invalid."""
    content = response.content.decode()
    error = re.search(
        rf'<small class="field-error" id="{field_id}_error">(.*?)</small>', content, re.S
    )
    assert error, f"no error shown for {field_id}"
    widget = re.search(rf'<(?:input|select|textarea)[^>]*\bid="{field_id}"[^>]*>', content)
    assert widget, f"no input {field_id}"
    assert 'aria-invalid="true"' in widget.group(0)
    return html.unescape(error.group(1)).strip()


def form_data(org: Any, **overrides: Any) -> dict[str, Any]:
    """What the add/edit page posts, as a browser sends it (three blank contact rows)."""
    data: dict[str, Any] = {
        "legal_name": "Kestrel Networks Ltd",
        "trading_names": "Kestrel\nKestrel Net",
        "aliases": "KNL\n",
        "registration_number": "09876543",
        "tax_number": "GB 980 7806 84",
        "country": "GB",
        "address": "1 Quay Street\nBristol",
        "website": "https://kestrel.example",
        "vendor_type": str(vendor_type("hardware").pk),
        "categories": [str(Category.objects.get(code="hardware").pk)],
        "owner": str(org.procurement.pk),
        "contacts-TOTAL_FORMS": "3",
        "contacts-INITIAL_FORMS": "0",
        "contacts-MIN_NUM_FORMS": "0",
        "contacts-MAX_NUM_FORMS": "20",
        "contacts-0-name": "Kim Sales",
        "contacts-0-email": "kim@kestrel.example",
        "contacts-0-is_primary": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_it_shows_the_form_to_procurement_with_me_as_owner(org):
    response = org.client_for(org.procurement).get("/vendors/new/")

    assert response.status_code == 200
    content = response.content.decode()
    assert f'<option value="{org.procurement.pk}" selected>Pat Buyer</option>' in content
    assert '<option value="GB">United Kingdom</option>' in content
    # Only procurement people can own a vendor.
    assert f'<option value="{org.finance.pk}"' not in content
    assert 'name="contacts-2-email"' in content


def test_it_refuses_the_form_to_people_outside_procurement(org):
    assert org.client_for(org.requester).get("/vendors/new/").status_code == 403
    assert org.client_for(org.finance).post("/vendors/new/", form_data(org)).status_code == 403
    assert not Vendor.objects.exists()


def test_it_adds_a_vendor_with_its_names_contacts_and_categories(org):
    client = org.client_for(org.procurement)
    response = client.post("/vendors/new/", form_data(org))

    vendor = Vendor.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/vendors/{vendor.pk}/"
    assert vendor.state == "prospect"
    assert vendor.tax_number == "980780684"
    assert sorted(vendor.other_names.values_list("kind", "name")) == [
        ("alias", "KNL"),
        ("trading", "Kestrel"),
        ("trading", "Kestrel Net"),
    ]
    assert list(vendor.contacts.values_list("name", "email", "is_primary")) == [
        ("Kim Sales", "kim@kestrel.example", True)
    ]
    assert list(vendor.categories.values_list("code", flat=True)) == ["hardware"]
    page = text(client.get(response["Location"]))
    assert "Kestrel Networks Ltd added as a prospect." in page


def test_it_shows_an_invalid_tax_number_next_to_the_field(org):
    response = org.client_for(org.procurement).post(
        "/vendors/new/", form_data(org, tax_number="GB123456789")
    )

    assert response.status_code == 400
    assert "not a valid United Kingdom tax number" in field_error(response, "id_tax_number")
    assert "Please correct the errors below." in text(response)
    # What was typed is kept, so only the mistake needs fixing.
    assert 'value="Kestrel Networks Ltd"' in response.content.decode()
    assert not Vendor.objects.exists()


def test_it_shows_a_bad_website_and_a_missing_name_next_to_their_fields(org):
    response = org.client_for(org.procurement).post(
        "/vendors/new/", form_data(org, website="ftp://kestrel.example", legal_name="")
    )

    assert response.status_code == 400
    assert field_error(response, "id_legal_name") == "This field is required."
    assert not Vendor.objects.exists()


def test_it_asks_for_the_email_of_a_half_filled_contact(org):
    response = org.client_for(org.procurement).post(
        "/vendors/new/", form_data(org, **{"contacts-1-name": "Chris Support"})
    )

    assert response.status_code == 400
    assert field_error(response, "id_contacts-1-email") == "Needed for a contact."
    assert not Vendor.objects.exists()


def test_it_asks_did_you_mean_and_adds_the_vendor_once_confirmed(org):
    existing = vendor_create(by=org.procurement, legal_name="Kestrel Networks Limited")
    client = org.client_for(org.procurement)

    flagged = client.post("/vendors/new/", form_data(org))

    assert flagged.status_code == 409
    page = text(flagged)
    assert "Did you mean this vendor?" in page
    assert "Kestrel Networks Limited Prospect name 100% alike" in page
    assert f'href="/vendors/{existing.pk}/"' in flagged.content.decode()
    assert "This is a different company — add it anyway" in page
    assert Vendor.objects.count() == 1

    confirmed = client.post("/vendors/new/", form_data(org, not_a_duplicate="on"))

    assert confirmed.status_code == 302
    added = Vendor.objects.exclude(pk=existing.pk).get()
    created = AuditEntry.objects.get(object_id=added.pk, action="created")
    assert "Kestrel Networks Limited" in created.comment


def test_it_fills_the_edit_form_and_saves_changes(org):
    vendor = vendor_create(
        by=org.procurement,
        legal_name="Kestrel Networks Ltd",
        trading_names=["Kestrel"],
        contacts=[],
    )
    client = org.client_for(org.procurement)

    form = client.get(f"/vendors/{vendor.pk}/edit/")

    assert form.status_code == 200
    assert 'value="Kestrel Networks Ltd"' in form.content.decode()
    assert re.search(r'name="trading_names"[^>]*>\s*Kestrel</textarea>', form.content.decode())

    saved = client.post(
        f"/vendors/{vendor.pk}/edit/",
        form_data(org, legal_name="Kestrel Networks Group Ltd", tax_number="", trading_names=""),
    )

    assert saved.status_code == 302
    vendor.refresh_from_db()
    assert vendor.legal_name == "Kestrel Networks Group Ltd"
    assert list(vendor.other_names.values_list("name", flat=True)) == ["KNL"]
    assert AuditEntry.objects.filter(object_id=vendor.pk, action="edited").exists()


def test_it_removes_a_contact_whose_row_is_cleared(org):
    vendor = vendor_create(by=org.procurement, legal_name="Kestrel Networks Ltd")
    client = org.client_for(org.procurement)
    client.post(f"/vendors/{vendor.pk}/edit/", form_data(org))
    assert vendor.contacts.count() == 1

    client.post(
        f"/vendors/{vendor.pk}/edit/",
        form_data(
            org, **{"contacts-0-name": "", "contacts-0-email": "", "contacts-0-is_primary": None}
        ),
    )

    assert vendor.contacts.count() == 0


def test_it_refuses_editing_to_people_outside_procurement(org):
    vendor = vendor_create(by=org.procurement, legal_name="Kestrel Networks Ltd")

    response = org.client_for(org.security).post(
        f"/vendors/{vendor.pk}/edit/", form_data(org, legal_name="Hijacked Ltd")
    )

    assert response.status_code == 403
    vendor.refresh_from_db()
    assert vendor.legal_name == "Kestrel Networks Ltd"


def test_it_sends_an_offboarded_vendor_back_to_its_page_instead_of_the_form(org):
    vendor = vendor_create(by=org.procurement, legal_name="Kestrel Networks Ltd")
    vendor_transition(vendor_id=vendor.pk, by=org.procurement, action="offboard", reason="Gone")

    response = org.client_for(org.procurement).get(f"/vendors/{vendor.pk}/edit/", follow=True)

    assert response.redirect_chain == [(f"/vendors/{vendor.pk}/", 302)]
    assert "Kestrel Networks Ltd is offboarded; it can no longer be edited." in text(response)
