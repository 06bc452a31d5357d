from __future__ import annotations

from django.urls import path
from django.views.generic import RedirectView

from requests import views

app_name = "requests"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="requests:list"), name="home"),
    path("requests/", views.request_list, name="list"),
    path("requests/new/", views.request_create, name="create"),
    path("requests/line-items/new/", views.line_item_row, name="line-item-row"),
    path("requests/<int:pk>/", views.request_detail, name="detail"),
    path("requests/<int:pk>/edit/", views.request_edit, name="edit"),
    path("requests/<int:pk>/actions/<slug:action>/", views.request_action, name="action"),
    path("requests/<int:pk>/comments/", views.comment_add, name="comment"),
    path(
        "requests/<int:pk>/attachments/<int:att_pk>/", views.attachment_download, name="attachment"
    ),
]
