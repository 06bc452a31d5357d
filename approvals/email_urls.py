from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

app_name = "approvals-email"


def _placeholder(request: HttpRequest, token: str) -> HttpResponse:  # replaced by the email-links work
    return HttpResponse(status=404)


urlpatterns = [path("<str:token>/", _placeholder, name="confirm")]
