from __future__ import annotations

app_name = "quote_portal"

urlpatterns: list = []
