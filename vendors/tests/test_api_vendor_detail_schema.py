"""A vendor's detail is documented with the keys everyone gets as required, and the vendor's
file (blockers included) as optional, since it is absent for who may not see it.

Found by schemathesis (fuzz/run.py) fuzzing as a manager: the answer lacked `blockers`,
which the schema listed as required (drf-spectacular makes read-only fields required).
"""

from __future__ import annotations

from rest_framework.test import APIClient

from tests.factories import vendor_create
from vendors.api import FILE_FIELDS
from vendors.services import vendor_transition


def test_it_requires_only_the_keys_every_caller_gets(org):
    vendor = vendor_create(by=org.procurement, legal_name="Kestrel Cloud Ltd")
    schema = org.client_for(org.manager).get("/api/schema/", {"format": "json"}).json()
    documented = schema["components"]["schemas"]["VendorDetail"]

    answered = org.client_for(org.manager).get(f"/api/vendors/{vendor.pk}/").json()

    assert "blockers" in documented["properties"]
    assert not set(FILE_FIELDS) & set(documented["required"])
    assert set(documented["required"]) <= set(answered)
    assert "blockers" not in answered


def test_it_still_sends_the_blockers_to_those_who_see_the_file(org):
    vendor = vendor_create(by=org.procurement, legal_name="Kestrel Cloud Ltd")

    answered = org.client_for(org.procurement).get(f"/api/vendors/{vendor.pk}/").json()

    assert isinstance(answered["blockers"], list)


def test_an_edit_of_an_offboarded_vendor_answers_the_documented_409(org):
    # Found by schemathesis as procurement: the 409 for an offboarded vendor has no
    # `duplicates`, which the schema listed as required.
    vendor = vendor_create(by=org.procurement, legal_name="Kestrel Cloud Ltd")
    vendor_transition(vendor_id=vendor.pk, by=org.procurement, action="offboard", reason="Gone")
    schema = org.client_for(org.procurement).get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/vendors/{vendor_id}/"]["patch"]
    reference = operation["responses"]["409"]["content"]["application/json"]["schema"]["$ref"]
    documented = schema["components"]["schemas"][reference.rsplit("/", 1)[-1]]

    client = APIClient()
    client.force_authenticate(org.procurement)
    response = client.patch(
        f"/api/vendors/{vendor.pk}/", {"website": "https://kestrel.example"}, format="json"
    )

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflict"
    assert set(documented["required"]) <= set(body) <= set(documented["properties"])
