"""The vendor's quote page, mounted at /sourcing/quote/ (namespace "quote_portal").

Public: the token is a credential, and procurement/log_filters.py redacts it from logged
paths under this prefix. The TCO preview is addressed relative to the page ("tco/"), so the
page never writes its own token.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from sourcing import portal_views as views

app_name = "quote_portal"

urlpatterns: list[URLPattern | URLResolver] = [
    path("<str:token>/", views.quote_page, name="quote"),
    path("<str:token>/tco/", views.quote_tco_preview, name="tco"),
]
