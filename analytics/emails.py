"""Emails about spend. One email = one function + templates/emails/<name>/."""

from __future__ import annotations

import datetime as dt
import logging
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from analytics.exports import XLSX_TYPE, tables_xlsx
from analytics.models import ReportDelivery, ReportSubscription
from analytics.reports import (
    report_period_starting,
    report_subscription_describe,
    report_subscription_filters,
    spend_report_build,
    spend_report_chart_png,
    spend_report_tables,
)
from procurement.errors import NotAllowed
from procurement.services import email_send_once

logger = logging.getLogger(__name__)


def _inline_png(content: bytes, *, cid: str, filename: str) -> MIMEImage:
    # Shown in the HTML where it says src="cid:<cid>"; mail clients that do not show inline
    # parts list it as an attachment instead.
    image = MIMEImage(content, "png")
    image.add_header("Content-ID", f"<{cid}>")
    image.add_header("Content-Disposition", "inline", filename=filename)
    return image


def send_spend_report(*, subscription_id: int, period_start: dt.date) -> bool:
    """Email one subscription's report for the period starting on `period_start`: key
    figures, a chart (inline PNG) and the workbook (XLSX attached).

    At most once per subscription and period: the ReportDelivery row (unique per period)
    and the email's key are written in the transaction that sends, so a retried task or a
    second beat sends nothing, and a failed send leaves nothing behind to stop the retry.
    Sends nothing for a paused or deleted subscription, a period not over yet, or an owner
    who no longer sees spend. Returns whether it sent.
    """
    subscription = (
        ReportSubscription.objects.select_related("user", "department", "category", "payee")
        .filter(pk=subscription_id)
        .first()
    )
    if subscription is None or not subscription.is_active or not subscription.user.email:
        return False
    period = report_period_starting(frequency=subscription.frequency, start=period_start)
    if period.end >= timezone.localdate():
        return False
    if ReportDelivery.objects.filter(subscription=subscription, period_start=period.start).exists():
        return False
    try:
        filters = report_subscription_filters(subscription)
    except NotAllowed:
        logger.info(
            "spend report %s for %s not sent: its owner no longer has access",
            subscription.pk,
            period.start,
        )
        return False

    report = spend_report_build(filters=filters, period=period)
    scope = report_subscription_describe(subscription)
    stem = f"spend-report-{period.start:%Y-%m-%d}"
    chart_cid = f"{stem}-chart.{subscription.pk}@procurement"
    attachments: list[MIMEBase | tuple[str, bytes, str]] = [
        _inline_png(spend_report_chart_png(report), cid=chart_cid, filename=f"{stem}.png"),
        (f"{stem}.xlsx", tables_xlsx(spend_report_tables(report, scope=scope)), XLSX_TYPE),
    ]
    context = {
        "recipient": subscription.user,
        "subscription": subscription,
        "report": report,
        "scope": scope,
        "chart_cid": chart_cid,
        "url": settings.SITE_URL + reverse("reports:list"),
    }
    try:
        with transaction.atomic():
            ReportDelivery.objects.create(
                subscription=subscription, period_start=period.start, period_end=period.end
            )
            return email_send_once(
                key=f"spend-report:{subscription.pk}:{period.start.isoformat()}",
                to=subscription.user.email,
                template="spend_report",
                context=context,
                attachments=attachments,
            )
    except IntegrityError:
        # Another run recorded this period first (on PostgreSQL, after waiting for it).
        logger.info("spend report %s for %s already sent", subscription.pk, period.start)
        return False
