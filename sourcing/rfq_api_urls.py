from __future__ import annotations

app_name = "rfq_api"

urlpatterns: list = []
