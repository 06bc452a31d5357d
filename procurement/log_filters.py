"""Logging filters, wired in settings.LOGGING.

An emailed approval link (/approvals/email/<token>/) lets whoever holds it decide a step
without a password, and a questionnaire link (/assessments/respond/<token>/) lets them read and
answer a vendor's security questionnaire, so its token is a credential and must never reach a log: not the
request lines of runserver (django.server) or gunicorn (gunicorn.access), not Django's
"Gone: /approvals/email/..." warnings (django.request), not a Referer header.
"""

from __future__ import annotations

import logging
import re

# The path approvals/email_urls.py is mounted at (procurement/urls.py); a test checks they
# agree. Also matched percent-encoded, as it appears inside a ?next= parameter.
# A vendor's questionnaire link (/assessments/respond/<token>/) is a credential too: it
# opens that vendor's answers and evidence to whoever holds it.
_APPROVAL_LINK = re.compile(
    r"(?P<prefix>/approvals/email/|%2Fapprovals%2Femail%2F"
    r"|/assessments/respond/|%2Fassessments%2Frespond%2F"
    # A vendor's quote link (the RFQ portal) and its purchase-order acknowledgement link.
    r"|/sourcing/quote/|%2Fsourcing%2Fquote%2F|/orders/vendor/|%2Forders%2Fvendor%2F)"
    r"(?:[A-Za-z0-9_.:-]|%3A)+",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


def redact_approval_links(text: str) -> str:
    return _APPROVAL_LINK.sub(lambda match: match["prefix"] + REDACTED, text)


class RedactApprovalLinks(logging.Filter):
    """Rewrite a record whose message holds an approval link's token; never drops a record.

    The message is rendered once and stored without its arguments, so whatever handler
    formats the record next (our console, gunicorn's own, pytest's) sees only the redacted
    text. Records without a token keep their arguments untouched.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):
            return True  # a malformed call; logging reports it itself
        redacted = redact_approval_links(message)
        if redacted != message:
            record.msg = redacted
            record.args = ()
        return True
