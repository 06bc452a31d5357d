"""The spend filters' menus (every vendor, department and category a user may pick) are written
out in Python for speed: they must say the same as Django's own select would."""

from __future__ import annotations

from html.parser import HTMLParser

from django import forms

from analytics.forms import ManyOptionsSelect

CHOICES = [("", "All vendors"), (5, "Acme & Sons <Ltd>"), (7, 'Quote "Co"'), (12, "Zeta")]


class _Options(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.select: dict[str, str | None] = {}
        self.options: list[tuple[str | None, bool, str]] = []
        self._open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "select":
            self.select = dict(attrs)
        if tag == "option":
            found = dict(attrs)
            self.options.append((found.get("value"), "selected" in found, ""))
            self._open = True

    def handle_data(self, data: str) -> None:
        if self._open and self.options and data.strip():
            value, selected, _ = self.options[-1]
            self.options[-1] = (value, selected, data.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag == "option":
            self._open = False


def _parsed(widget: forms.Select, value: object) -> _Options:
    widget.choices = CHOICES
    parser = _Options()
    parser.feed(widget.render("vendor", value, attrs={"id": "id_vendor", "aria-invalid": "true"}))
    return parser


def test_it_renders_the_same_options_as_djangos_select() -> None:
    for value in ["", "7", 7, None]:
        ours, django = _parsed(ManyOptionsSelect(), value), _parsed(forms.Select(), value)

        assert ours.options == django.options
        assert ours.select == django.select


def test_it_escapes_names_and_marks_the_chosen_vendor() -> None:
    html = ManyOptionsSelect(choices=CHOICES).render("vendor", "5")

    assert '<option value="5" selected>Acme &amp; Sons &lt;Ltd&gt;</option>' in html
    assert "Quote &quot;Co&quot;" in html
    assert html.count(" selected") == 1
