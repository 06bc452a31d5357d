from __future__ import annotations

from django.urls import path

from approvals import email_views

app_name = "approvals-email"

# Mounted at /approvals/email/ (procurement/urls.py); procurement/log_filters.py redacts
# the token from any logged path under that prefix.
urlpatterns = [path("<str:token>/", email_views.decision_confirm, name="confirm")]
