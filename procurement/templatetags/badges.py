"""{% state_badge state label %}: a state as the pages show it everywhere (a coloured badge).

A tag, not an include of a one-line template: an include pushes a context and renders a
template of its own, several times what this costs, and a request's page shows a badge per
route step, RFQ and order. Loaded on every template (TEMPLATES' "builtins").
"""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def state_badge(state: object, label: object) -> SafeString:
    return format_html('<span class="badge badge-{}">{}</span>', state, label)
