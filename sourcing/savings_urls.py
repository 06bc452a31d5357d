from __future__ import annotations

app_name = "savings"

urlpatterns: list = []
