from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse

# Placeholder: replaced by the helper that owns this part.


def rfq_list(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404


def rfq_detail(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404
