from __future__ import annotations

app_name = "po_portal"

urlpatterns: list = []
