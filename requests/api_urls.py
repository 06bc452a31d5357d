"""URLs of the REST API, mounted under /api/ (namespace "api"). Documented in docs/api.md."""

from __future__ import annotations

import re

from django.urls import URLPattern, path, re_path, register_converter

from requests import api
from requests.services import ACTIONS

app_name = "api"


class ActionConverter:
    """Only the names in requests.services.ACTIONS: any other segment is not an action URL."""

    regex = "|".join(re.escape(name) for name in ACTIONS)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ActionConverter, "request_action")

urlpatterns: list[URLPattern] = [
    path("auth/token/", api.TokenObtainApi.as_view(), name="token"),
    path("schema/", api.SchemaApi.as_view(), name="schema"),
    path("docs/", api.docs_view, name="docs"),
    path("requests/", api.PurchaseRequestListCreateApi.as_view(), name="request-list"),
    path(
        "requests/<int:request_id>/", api.PurchaseRequestDetailApi.as_view(), name="request-detail"
    ),
    path(
        "requests/<int:request_id>/comments/",
        api.PurchaseRequestCommentsApi.as_view(),
        name="request-comments",
    ),
    path(
        "requests/<int:request_id>/attachments/",
        api.PurchaseRequestAttachmentsApi.as_view(),
        name="request-attachments",
    ),
    path(
        "requests/<int:request_id>/<request_action:action>/",
        api.PurchaseRequestTransitionApi.as_view(),
        name="request-transition",
    ),
    # Last: anything else under /api/ is a JSON 404, not the site's HTML error page.
    re_path(r"^(?P<unmatched>.*)$", api.api_not_found),
]
