"""The filter form every spend page shares: a period in months, a department, a category and
a vendor, sent by GET. Its choices are limited to what the user may see; the parsing itself
is `scope.spend_filters_parse`, the same the API uses."""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.renderers import BaseRenderer
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from analytics.scope import SpendFilters, spend_filters_parse
from analytics.selectors import DIMENSIONS, spend_filter_choices
from procurement.errors import InvalidInput


class MonthInput(forms.TextInput):
    input_type = "month"


class ManyOptionsSelect(forms.Select):
    """A menu of thousands of options (every vendor and department of a large ledger) written
    out in Python: Django renders each option through a template of its own, which took
    about two thirds of a spend page's server time at a million lines."""

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: BaseRenderer | None = None,
    ) -> SafeString:
        final_attrs = self.build_attrs(self.attrs, attrs)
        final_attrs["name"] = name
        chosen = set(self.format_value(value))
        selected = format_html(" {}", "selected")
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (option, selected if str(option) in chosen else "", label)
                for option, label in self.choices
            ),
        )
        return format_html("<select{}>{}</select>", flatatt(final_attrs), options)


class SpendFilterForm(forms.Form):
    # "from" is a Python keyword: the period fields are added in __init__.
    department = forms.TypedChoiceField(
        label="Department", required=False, coerce=int, widget=ManyOptionsSelect
    )
    category = forms.TypedChoiceField(
        label="Category", required=False, coerce=int, widget=ManyOptionsSelect
    )
    vendor = forms.TypedChoiceField(
        label="Vendor", required=False, coerce=int, widget=ManyOptionsSelect
    )
    # Set by the links of unmatched payees in the vendor table; never typed.
    payee = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(
        self, data: Any = None, *, scope_department_ids: frozenset[int] | None, split: bool = False
    ) -> None:
        super().__init__(data)
        self.fields = {
            "from": forms.CharField(
                label="From", required=False, widget=MonthInput(attrs={"placeholder": "YYYY-MM"})
            ),
            "to": forms.CharField(
                label="To", required=False, widget=MonthInput(attrs={"placeholder": "YYYY-MM"})
            ),
            **self.fields,
        }
        if split:
            self.fields["split"] = forms.ChoiceField(
                label="Split by",
                required=False,
                choices=[("", "No split"), *((d, d.capitalize()) for d in DIMENSIONS)],
            )
        choices = spend_filter_choices(scope_department_ids=scope_department_ids)
        for name, options, anything in (
            ("department", choices.departments, "All departments"),
            ("category", choices.categories, "All categories"),
            ("vendor", choices.vendors, "All vendors"),
        ):
            field = self.fields[name]
            assert isinstance(field, forms.TypedChoiceField)
            field.choices = [("", anything), *options]
        self.spend_filters = SpendFilters()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        params = {
            name: [str(cleaned[name])]
            for name in ("from", "to", "department", "category", "vendor", "payee")
            if cleaned.get(name) not in (None, "")
        }
        try:
            self.spend_filters = spend_filters_parse(params)
        except InvalidInput as error:
            for name, messages in error.fields.items():
                self.add_error(name if name in self.fields else None, messages)
        return cleaned

    @property
    def filtered(self) -> bool:
        """Whether the user narrowed the view (an empty view then says so, not "no spend")."""
        return self.is_bound and any(
            self.data.get(name)
            for name in ("from", "to", "department", "category", "vendor", "payee")
        )
