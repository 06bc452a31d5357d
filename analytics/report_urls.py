from __future__ import annotations

from django.urls import path

from analytics import report_views

app_name = "reports"

urlpatterns = [
    path("", report_views.report_list_page, name="list"),
    path("new/", report_views.report_create_action, name="create"),
    path("<int:pk>/pause/", report_views.report_pause_action, name="pause"),
    path("<int:pk>/resume/", report_views.report_resume_action, name="resume"),
    path("<int:pk>/delete/", report_views.report_delete_action, name="delete"),
]
