"""Writes shared by every app: the audit trail and idempotent email."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from email.mime.base import MIMEBase

from django.contrib.contenttypes.models import ContentType
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, connection, models, transaction
from django.template import Context, Engine
from django.template.loader import render_to_string

from procurement.audit_chain import audit_chain_seal_after_commit
from procurement.models import AuditEntry, SentEmail, User
from procurement.prepared import PreparedInsert

logger = logging.getLogger(__name__)

# Every state change writes one or two: compiled once (procurement/prepared.py).
_AUDIT_ENTRY_INSERT = PreparedInsert(AuditEntry)


def audit_record(
    *,
    target: models.Model,
    actor: User | None,
    action: str,
    from_state: str = "",
    to_state: str = "",
    comment: str = "",
) -> AuditEntry:
    """Append an audit entry. Call it inside the transaction of the change it records.

    The entry is chained to the one before it (procurement/audit_chain.py) after that
    transaction commits (within AUDIT_CHAIN_SEAL_INTERVAL_MS, or the relay's next pass when
    a process is busy): chaining needs the single chain head, and holding it until the
    change commits would queue every state change behind every other one and deadlock
    against the row locks a service takes after writing its entry. Until then the entry
    is complete but for its chain fields; the append-only trigger guards it all along.
    """
    entry = _AUDIT_ENTRY_INSERT.create(
        content_type=ContentType.objects.get_for_model(target),
        object_id=target.pk,
        actor=actor,
        action=action,
        from_state=from_state,
        to_state=to_state,
        comment=comment,
    )
    _chain_on_commit()
    return entry


def _chain_on_commit() -> None:
    """Queue audit_chain_seal_after_commit on commit, once per transaction: one call chains
    every entry waiting. Not again while one queued in this savepoint or around it is
    pending: that one runs whenever this entry commits (a rollback dropping it drops the
    entry too). robust: the change has committed by then; a failed chaining is logged, and
    the next one (the relay's, or verify_audit_chain) picks the entry up."""
    current = set(connection.savepoint_ids)
    # Each queued callback is (savepoint ids, function, robust).
    if not any(
        queued[1] is audit_chain_seal_after_commit and queued[0] <= current
        for queued in connection.run_on_commit
    ):
        transaction.on_commit(audit_chain_seal_after_commit, robust=True)


def email_send_once(
    *,
    key: str,
    to: str,
    template: str,
    context: dict[str, object],
    attachments: Sequence[MIMEBase | tuple[str, bytes, str]] = (),
) -> bool:
    """Send `template` (subject.txt, body.txt, body.html under templates/emails/) once per key,
    with `attachments` (MIME parts, e.g. an inline image, or (filename, content, mimetype)).

    The key row is inserted in the same transaction as the send: if sending
    raises, the row is rolled back and a retry sends again; if the row already
    exists (a retried or duplicated task), nothing is sent. Returns whether it sent.
    """
    # A subject is plain text, as body.txt is: without autoescape, "Tom's" stays "Tom's".
    subject_template = Engine.get_default().get_template(f"emails/{template}/subject.txt")
    subject = subject_template.render(Context(context, autoescape=False)).strip()
    subject = " ".join(subject.split())  # a header must be one line
    text = render_to_string(f"emails/{template}/body.txt", context)
    html = render_to_string(f"emails/{template}/body.html", context)
    try:
        with transaction.atomic():
            SentEmail.objects.create(key=key, to=to, subject=subject[:255])
            message = EmailMultiAlternatives(subject=subject, body=text, to=[to])
            message.attach_alternative(html, "text/html")
            for attachment in attachments:
                if isinstance(attachment, MIMEBase):
                    message.attach(attachment)
                else:
                    message.attach(*attachment)
            message.send()
    except IntegrityError:
        logger.info("email %s already sent; skipping", key)
        return False
    return True
