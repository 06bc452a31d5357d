"""Middleware of the platform: a request id for the logs, the request body limit, and a
page (not a 500) for a business rule refusing what a page asked.

RequestIdMiddleware runs first, so every record logged while a request is handled, the body
limit's refusals included, carries that request's id (procurement/logging.py).

RequestBodyLimitMiddleware refuses an oversized request body before anything reads it.
Django's CSRF middleware parses a multipart POST (spooling its files to disk) before any
view can check who is asking or how large each file may be. Without this, anyone, signed in
or not, could stream gigabytes at any POST address. The limit is REQUEST_MAX_BYTES; a
reverse proxy in front should refuse the same (client_max_body_size in nginx), which also
covers bodies sent without a Content-Length.

ApplicationErrorPageMiddleware answers a page whose view let an ApplicationError out (a
service refused: no exchange rate for an order's currency, a conflict) with that refusal's
status and message, as the API's exception handler does for API views, instead of a 500.
Views still catch the errors they expect and show them beside the form's fields; this is the
net under everything else, so a user reads "Ask finance to add an exchange rate" and not
"Server error".
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from procurement.errors import ApplicationError
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


_HEADINGS = {400: "This cannot be shown", 403: "Not allowed", 404: "Not found", 409: "Not now"}


class ApplicationErrorPageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ApplicationError):
            return None
        # SecurityEventMiddleware logs the 403 with this reason.
        request._security_denial_reason = exception.message  # type: ignore[attr-defined]
        if request.path.startswith("/api/"):
            body = {"code": exception.code, "detail": exception.message, "errors": exception.fields}
            return JsonResponse(body, status=exception.status)
        context = {
            "heading": _HEADINGS.get(exception.status, "This cannot be done"),
            "message": exception.message,
        }
        return render(request, "application_error.html", context, status=exception.status)
