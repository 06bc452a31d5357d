from __future__ import annotations

from django.urls import path
from django.views.generic import RedirectView

app_name = "requests"

# Placeholder routes; the pages come in requests/views.py.
urlpatterns = [
    path("", RedirectView.as_view(pattern_name="requests:list"), name="home"),
    path("requests/", RedirectView.as_view(url="/"), name="list"),
    path("requests/<int:pk>/", RedirectView.as_view(url="/"), name="detail"),
]
