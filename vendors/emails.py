"""Emails about vendors. One email = one function + templates/emails/<name>/."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from procurement.models import AuditEntry
from procurement.services import email_send_once
from vendors.models import BankDetailChange, Vendor


def vendor_url(vendor_id: int) -> str:
    return settings.SITE_URL + reverse("vendors:detail", args=[vendor_id])


def send_bank_details_changed(*, change_id: int) -> bool:
    """Tell the vendor's owner that its bank details changed, by whom, and that it is under review."""
    change = BankDetailChange.objects.select_related("vendor__owner", "changed_by").get(
        pk=change_id
    )
    owner = change.vendor.owner
    # The person who made the change knows; an owner who left cannot act on it.
    if not owner.email or not owner.is_active or owner.pk == change.changed_by_id:
        return False
    return email_send_once(
        key=f"vendor-bank-change:{change.pk}",
        to=owner.email,
        template="vendor_bank_details_changed",
        context={"change": change, "vendor": change.vendor, "url": vendor_url(change.vendor_id)},
    )


def send_vendor_back_under_review(*, audit_entry_id: int) -> bool:
    """Tell the vendor's owner that their approved vendor went back under review, and why."""
    entry = AuditEntry.objects.select_related("actor").get(pk=audit_entry_id)
    vendor = Vendor.objects.select_related("owner").get(pk=entry.object_id)
    owner = vendor.owner
    # Whoever sent it back knows; an owner who left cannot act on it.
    if not owner.email or not owner.is_active or owner.pk == entry.actor_id:
        return False
    return email_send_once(
        key=f"vendor-back-under-review:{entry.pk}",
        to=owner.email,
        template="vendor_back_under_review",
        context={
            "vendor": vendor,
            "owner": owner,
            "actor": entry.actor,
            "reason": entry.comment,
            "at": entry.created_at,
            "url": vendor_url(vendor.pk),
        },
    )
