"""Middleware of the platform: a request id for the logs, and the request body limit.

RequestIdMiddleware runs first, so every record logged while a request is handled, the body
limit's refusals included, carries that request's id (procurement/logging.py).

RequestBodyLimitMiddleware refuses an oversized request body before anything reads it.
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
from procurement.logging import (
    REQUEST_ID_HEADER,
    request_id_from_header,
    request_id_new,
    request_id_var,
)


class RequestIdMiddleware:
    """Tag the request with an id: the caller's X-Request-ID when sane, else a new one.

    The id is in every log record of the request and in the response's X-Request-ID, so a
    user's report ("it failed, the id was ...") or a proxy's log leads to the lines.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from_header(request.headers.get(REQUEST_ID_HEADER))
        request_id = request_id or request_id_new()
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


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
