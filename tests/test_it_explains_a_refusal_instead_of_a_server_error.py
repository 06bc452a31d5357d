"""A business rule that refuses deep inside a page (a missing exchange rate while the forecast
converts an order) shows the user its message and status, not a 500.

Found in issue #7's review: the budget pages, the objectives report and the forecast answered
500 when an amount had no exchange rate. procurement.middleware.ApplicationErrorPageMiddleware
is the net under every page view.
"""

from __future__ import annotations

import json

from planning.tests.helpers import budget
from procurement.models import ExchangeRate
from sourcing.models import PurchaseOrder
from sourcing.tests.helpers import awarded_po


def test_a_budget_page_says_which_exchange_rate_is_missing(org):
    # An order in dollars, and no dollar rate: the budget's consumption cannot be counted.
    set_ = budget(org, "10000")
    po = awarded_po(org)
    PurchaseOrder.objects.filter(pk=po.pk).update(currency="USD")
    assert not ExchangeRate.objects.filter(currency="USD").exists()

    response = org.client_for(org.finance).get(f"/planning/budgets/{set_.pk}/")

    assert response.status_code == 400
    page = response.content.decode()
    assert "There is no exchange rate from USD" in page
    assert "Ask finance to add one." in page


def test_an_api_path_outside_drf_gets_the_json_error_shape(org, rf):
    from procurement.errors import Conflict
    from procurement.middleware import ApplicationErrorPageMiddleware

    middleware = ApplicationErrorPageMiddleware(lambda request: None)
    response = middleware.process_exception(rf.get("/api/anything/"), Conflict("Already done."))

    assert response is not None
    assert response.status_code == 409
    body = json.loads(response.content)
    assert body == {"code": "conflict", "detail": "Already done.", "errors": {}}


def test_other_exceptions_are_left_to_django(rf):
    from procurement.middleware import ApplicationErrorPageMiddleware

    middleware = ApplicationErrorPageMiddleware(lambda request: None)

    assert middleware.process_exception(rf.get("/planning/forecast/"), ValueError("bug")) is None
