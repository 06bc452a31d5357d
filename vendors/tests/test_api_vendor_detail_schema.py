"""A vendor's detail is documented with the keys everyone gets as required, and the vendor's
file (blockers included) as optional, since it is absent for who may not see it.

Found by schemathesis (fuzz/run.py) fuzzing as a manager: the answer lacked `blockers`,
which the schema listed as required (drf-spectacular makes read-only fields required).
"""

from __future__ import annotations

from tests.factories import vendor_create
from vendors.api import FILE_FIELDS


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
