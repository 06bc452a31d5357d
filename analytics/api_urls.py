"""URLs of the spend API, mounted at /api/analytics/ (namespace "analytics-api")."""

from __future__ import annotations

from django.urls import URLPattern, path

from analytics import api

app_name = "analytics-api"

urlpatterns: list[URLPattern] = [
    path("spend/over-time/", api.SpendOverTimeApi.as_view(), name="spend-over-time"),
    path("spend/by-category/", api.SpendByCategoryApi.as_view(), name="spend-by-category"),
    path("spend/by-vendor/", api.SpendByVendorApi.as_view(), name="spend-by-vendor"),
    path("spend/by-department/", api.SpendByDepartmentApi.as_view(), name="spend-by-department"),
    path("spend/contract/", api.SpendContractApi.as_view(), name="spend-contract"),
]
