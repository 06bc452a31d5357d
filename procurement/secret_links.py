"""Pages opened from a link whose token is the credential (an approval link, a vendor's
questionnaire link). The token is also redacted from logs: see procurement/log_filters.py."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

View = Callable[..., HttpResponse]


def secret_link_page(view: View) -> View:
    """The token is in the address: never cached, never sent on as a Referer, never indexed.

    A view may set its own Referrer-Policy (a form that posts back needs an Origin).
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response.setdefault("Referrer-Policy", "no-referrer")
        response["X-Robots-Tag"] = "noindex, nofollow"
        add_never_cache_headers(response)
        return response

    return wrapped
