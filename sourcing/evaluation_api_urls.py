from __future__ import annotations

app_name = "evaluation_api"

urlpatterns: list = []
