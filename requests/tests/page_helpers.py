"""What the page tests share: the POST a browser sends for the request form, and reading errors back."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Sequence
from typing import Any

from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.utils import timezone

from procurement.models import Category

TWO_LINES: list[dict[str, str]] = [
    {"description": "Laptop", "quantity": "2", "unit": "each", "unit_price": "1249.99"},
    {
        "description": "Dock",
        "quantity": "3",
        "unit": "each",
        "unit_price": "150.01",
        "vendor_sku": "DK-1",
        "vendor_url": "https://example.com/dock",
    },
]
TWO_LINES_TOTAL = "2950.01"  # 2 x 1249.99 + 3 x 150.01

PDF_BYTES = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def request_form_data(
    org: Any,
    *,
    lines: Sequence[dict[str, str]] = TWO_LINES,
    intent: str = "draft",
    initial_forms: int = 0,
    **overrides: Any,
) -> dict[str, Any]:
    """The fields the new/edit page posts, as a browser would send them."""
    data: dict[str, Any] = {
        "title": "Two laptops",
        "justification": "New starters in January.",
        "department": str(org.department.pk),
        "cost_centre": str(org.cost_centre.pk),
        "category": str(Category.objects.get(code="hardware").pk),
        "needed_by": (timezone.localdate() + dt.timedelta(days=14)).isoformat(),
        "currency": "GBP",
        "no_objective_reason": "Replaces laptops past their service life",
        "intent": intent,
        "line_items-TOTAL_FORMS": str(len(lines)),
        "line_items-INITIAL_FORMS": str(initial_forms),
        "line_items-MIN_NUM_FORMS": "0",
        "line_items-MAX_NUM_FORMS": "200",
    }
    for index, line in enumerate(lines):
        for name, value in line.items():
            data[f"line_items-{index}-{name}"] = value
    data.update(overrides)
    return data


def page(response: HttpResponse) -> str:
    return response.content.decode()


def field_error(response: HttpResponse, field_id: str) -> str:
    """The error shown right under the input `field_id`, which must be marked invalid and point to it."""
    content = page(response)
    error = re.search(
        rf'<small class="field-error" id="{re.escape(field_id)}_error">(.*?)</small>', content, re.S
    )
    assert error, f"no error shown for {field_id}"
    widget = re.search(
        rf'<(?:input|select|textarea)[^>]*\bid="{re.escape(field_id)}"[^>]*>', content
    )
    assert widget, f"no input {field_id}"
    assert 'aria-invalid="true"' in widget.group(0)
    assert f"{field_id}_error" in widget.group(0)  # aria-describedby: read out with the field
    return html.unescape(error.group(1)).strip()


def flash_messages(response: Any) -> list[str]:  # the test client's response
    return [str(message) for message in get_messages(response.wsgi_request)]


def text(response: HttpResponse) -> str:
    """The page as a person reads it: tags dropped, entities decoded, whitespace collapsed."""
    without_tags = re.sub(r"<[^>]+>", " ", page(response))
    return " ".join(html.unescape(without_tags).split())
