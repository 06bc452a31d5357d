from requests.services import purchase_request_submit
from tests.factories import PurchaseRequestFactory


def test_it_submits_a_draft(org):
    draft = PurchaseRequestFactory(requester=org.requester, department=org.department, cost_centre=org.cost_centre)
    submitted = purchase_request_submit(request_id=draft.pk, by=org.requester)
    assert submitted.state == "submitted"
