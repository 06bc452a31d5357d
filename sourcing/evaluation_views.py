from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse

# Placeholder: replaced by the helper that owns this part.


def compare(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404
