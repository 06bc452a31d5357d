from __future__ import annotations

app_name = "approvals-api"
urlpatterns: list[object] = []
