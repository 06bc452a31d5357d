"""Refuse an oversized request body before anything reads it.

Django's CSRF middleware parses a multipart POST (spooling its files to disk) before any
view can check who is asking or how large each file may be. Without this, anyone, signed in
or not, could stream gigabytes at any POST address. The limit is REQUEST_MAX_BYTES; a
reverse proxy in front should refuse the same (client_max_body_size in nginx), which also
covers bodies sent without a Content-Length.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from procurement.files import human_size


class RequestBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        declared = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(declared)
        except ValueError:
            length = -1
        limit = settings.REQUEST_MAX_BYTES
        if length < 0 or length > limit:
            detail = (
                f"The request is larger than the server accepts ({human_size(limit)})."
                if length > 0
                else "The request's Content-Length is not a number."
            )
            status = 413 if length > 0 else 400
            if request.path.startswith("/api/"):
                code = "too_large" if status == 413 else "invalid"
                return JsonResponse({"code": code, "detail": detail, "errors": {}}, status=status)
            return HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
