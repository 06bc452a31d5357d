from __future__ import annotations

from django.urls import path

from analytics import anomaly_views

app_name = "anomalies"

urlpatterns = [
    path("anomalies/", anomaly_views.anomaly_list_page, name="list"),
    path("anomalies/<int:pk>/dismiss/", anomaly_views.anomaly_dismiss_action, name="dismiss"),
    path("cycle-times/", anomaly_views.cycle_times_page, name="cycle-times"),
]
