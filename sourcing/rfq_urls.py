from __future__ import annotations

app_name = "rfqs"

urlpatterns: list = []
