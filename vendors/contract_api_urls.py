"""The contracts API, mounted at /api/contracts/ (namespace "contracts-api"). See docs/api.md."""

from __future__ import annotations

import re

from django.urls import URLPattern, URLResolver, path, register_converter

from vendors import contract_api as api
from vendors.contracts import CONTRACT_ACTIONS

app_name = "contracts-api"


class ContractActionConverter:
    """Only the names in vendors.contracts.CONTRACT_ACTIONS."""

    regex = "|".join(re.escape(name) for name in CONTRACT_ACTIONS)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ContractActionConverter, "contract_action")

urlpatterns: list[URLPattern | URLResolver] = [
    path("", api.ContractListCreateApi.as_view(), name="list"),
    path("<int:contract_id>/", api.ContractDetailApi.as_view(), name="detail"),
    path("<int:contract_id>/renew/", api.ContractRenewApi.as_view(), name="renew"),
    path(
        "<int:contract_id>/<contract_action:action>/",
        api.ContractTransitionApi.as_view(),
        name="transition",
    ),
]
