"""The purchase order as a PDF: what the vendor gets attached to the email, and what the PO
page offers for download.

fpdf2 with its core font (Helvetica): no font files, no network. Core fonts take latin-1
only, so other characters are replaced by their nearest latin-1 spelling (an en dash by "-",
the euro sign by "EUR") or dropped, never an error. Written uncompressed: a one-page order is a few
kilobytes either way, and the text stays searchable by plain tools.
"""

from __future__ import annotations

import unicodedata

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from sourcing.models import PurchaseOrder
from sourcing.orders import line_amount, money_text, organisation, quantity_text

# Characters outside latin-1 that orders and vendor names commonly hold.
_REPLACEMENTS = str.maketrans(
    {
        "\u2018": "'",  # left single quotation mark
        "\u2019": "'",  # right single quotation mark
        "\u201a": ",",  # single low-9 quotation mark
        "\u201c": '"',  # left double quotation mark
        "\u201d": '"',  # right double quotation mark
        "\u201e": '"',  # double low-9 quotation mark
        "\u2013": "-",  # en dash
        "\u2014": "-",  # em dash
        "\u2212": "-",  # minus sign
        "\u2026": "...",  # ellipsis
        "\u20ac": "EUR",  # euro sign
        "\u2022": "*",  # bullet
        "\u2192": "->",  # rightwards arrow
        "\u00a0": " ",  # no-break space
        "\u200b": "",  # zero-width space
    }
)


def latin1(text: object) -> str:
    """`text` in characters the core fonts can draw: replaced where a close spelling exists,
    decomposed ("ł" -> "l") where that helps, else "?"."""
    out = []
    for char in str(text).translate(_REPLACEMENTS):
        if ord(char) < 256:
            out.append(char)
            continue
        plain = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode("latin-1")
        out.append(plain or "?")
    return "".join(out)


class _OrderPdf(FPDF):
    def __init__(self, po: PurchaseOrder) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.po = po
        self.set_compression(False)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_title(latin1(f"Purchase order {po.number}"))
        self.set_creator("Procurement platform")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(
            0,
            5,
            latin1(f"{self.po.number} version {self.po.version} - page {self.page_no()}"),
            align="C",
        )

    def line_text(
        self, text: str, *, size: float = 10, bold: bool = False, height: float = 5
    ) -> None:
        self.set_font("Helvetica", style="B" if bold else "", size=size)
        self.multi_cell(0, height, latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


COLUMNS = (
    ("#", 8),
    ("Description", 82),
    ("Quantity", 22),
    ("Unit", 18),
    ("Unit price", 30),
    ("Amount", 30),
)


def po_pdf(po: PurchaseOrder) -> bytes:
    """The PO (number, version, vendor, lines, totals, delivery date, terms, our name and
    address, the contract if any) as PDF bytes."""
    pdf = _OrderPdf(po)
    pdf.add_page()
    us = organisation()
    pdf.line_text(us["name"], size=11, bold=True)
    if us["address"]:
        pdf.line_text(us["address"], size=9)
    pdf.ln(4)
    pdf.line_text(f"Purchase order {po.number}", size=16, bold=True, height=8)
    issued = po.issued_at.date() if po.issued_at else po.created_at.date()
    pdf.line_text(f"Version {po.version} - dated {issued:%d %B %Y}")
    pdf.ln(3)
    vendor = po.vendor
    pdf.line_text("Vendor", bold=True)
    pdf.line_text(vendor.legal_name)
    if vendor.address:
        pdf.line_text(vendor.address, size=9)
    pdf.line_text(f"Contact: {po.contact_email}", size=9)
    pdf.ln(3)
    facts = [
        ("Request", f"{po.request.reference} {po.request.title}"),
        ("Currency", po.currency),
        ("Deliver by", f"{po.delivery_date:%d %B %Y}" if po.delivery_date else "As agreed"),
    ]
    if po.contract_id and po.contract is not None:
        facts.append(("Contract", po.contract.title))
    for label, value in facts:
        pdf.set_font("Helvetica", style="B", size=10)
        pdf.cell(30, 5, latin1(label))
        pdf.set_font("Helvetica", size=10)
        pdf.multi_cell(0, 5, latin1(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)

    pdf.set_font("Helvetica", style="B", size=9)
    for title, width in COLUMNS:
        pdf.cell(
            width, 6, title, border="B", align="L" if title in ("#", "Description", "Unit") else "R"
        )
    pdf.ln()
    pdf.set_font("Helvetica", size=9)
    for number, line in enumerate(po.lines.order_by("position", "id"), start=1):
        values = (
            str(number),
            line.description,
            quantity_text(line.quantity),
            line.unit,
            money_text(line.unit_price),
            money_text(line_amount(line.quantity, line.unit_price)),
        )
        for (title, width), value in zip(COLUMNS, values, strict=True):
            text = latin1(value)
            while (
                title == "Description" and pdf.get_string_width(text) > width - 2 and len(text) > 3
            ):
                text = text[:-4] + "..."
            pdf.cell(width, 6, text, align="L" if title in ("#", "Description", "Unit") else "R")
        pdf.ln()
    pdf.set_font("Helvetica", style="B", size=10)
    pdf.cell(sum(width for _t, width in COLUMNS[:-1]), 8, "Total", border="T", align="R")
    pdf.cell(
        COLUMNS[-1][1], 8, latin1(f"{money_text(po.total)} {po.currency}"), border="T", align="R"
    )
    pdf.ln(12)
    if po.terms:
        pdf.line_text("Terms", bold=True)
        pdf.line_text(po.terms, size=9)
        pdf.ln(3)
    pdf.line_text(
        "Please acknowledge this order with the link in the email it came with, and quote "
        f"{po.number} on your delivery note and invoice.",
        size=9,
    )
    return bytes(pdf.output())
