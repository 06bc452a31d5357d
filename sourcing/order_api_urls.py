from __future__ import annotations

app_name = "order_api"

urlpatterns: list = []
