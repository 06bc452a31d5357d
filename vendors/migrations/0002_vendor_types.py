"""The vendor types an IT buyer meets, each with its due-diligence checklist.

Admins may change these and add their own in the admin; this only seeds a new install.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

# (code, name, security assessment needed, [(check, required, only with personal data)])
TYPES = [
    (
        "saas",
        "Software / SaaS",
        True,
        [
            ("registration", True, False),
            ("sanctions", True, False),
            ("financial_health", True, False),
            ("references", False, False),
            ("insurance", True, False),
            ("conflict_of_interest", True, False),
            ("data_processing", True, True),
        ],
    ),
    (
        "services",
        "IT services / consultancy",
        True,
        [
            ("registration", True, False),
            ("sanctions", True, False),
            ("financial_health", False, False),
            ("references", True, False),
            ("insurance", True, False),
            ("conflict_of_interest", True, False),
            ("data_processing", True, True),
        ],
    ),
    (
        "hardware",
        "Hardware reseller",
        False,
        [
            ("registration", True, False),
            ("sanctions", True, False),
            ("financial_health", True, False),
            ("insurance", False, False),
            ("conflict_of_interest", True, False),
        ],
    ),
    (
        "other",
        "Other supplier",
        False,
        [
            ("registration", True, False),
            ("sanctions", True, False),
            ("conflict_of_interest", True, False),
        ],
    ),
]


def seed(apps: Any, schema_editor: Any) -> None:
    VendorType = apps.get_model("vendors", "VendorType")
    ChecklistItem = apps.get_model("vendors", "ChecklistItem")
    for code, name, security, checks in TYPES:
        vendor_type, created = VendorType.objects.get_or_create(
            code=code, defaults={"name": name, "requires_security_assessment": security}
        )
        if not created:
            continue
        for kind, required, personal in checks:
            ChecklistItem.objects.create(
                vendor_type=vendor_type,
                kind=kind,
                required=required,
                only_with_personal_data=personal,
            )


class Migration(migrations.Migration):
    dependencies = [("vendors", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
