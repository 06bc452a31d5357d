"""The project's URLs plus the benchmark's floor, for bench/web/settings.py only.

`/bench/floor/<user id>/` answers the same 25 rows that `GET /api/requests/` gives that user
(their own requests, newest first), read with one plain SQL query and written as JSON, with no
authentication and no session: what serving those rows costs with Django and nothing of ours
but the middleware every response goes through. `/bench/hello/` answers a constant JSON body
without touching the database: the framework alone.
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path

from procurement.urls import handler500  # noqa: F401  (the site's own 500 page)
from procurement.urls import urlpatterns as project_urlpatterns

# The columns PurchaseRequestRowSerializer writes, from the same tables.
FLOOR_SQL = """
SELECT r.id, r.title, r.state, u.id, u.username, u.first_name, u.last_name,
       d.code, d.name, cc.code, cc.name, c.code, c.name, r.needed_by, r.currency,
       r.processes_personal_data, v.id, v.legal_name, v.state, o.id, o.name, fy.name,
       r.no_objective_reason, r.version, r.total, r.created_at, r.submitted_at
FROM requests_purchaserequest r
JOIN procurement_user u ON u.id = r.requester_id
JOIN procurement_department d ON d.id = r.department_id
JOIN procurement_costcentre cc ON cc.id = r.cost_centre_id
JOIN procurement_category c ON c.id = r.category_id
LEFT JOIN vendors_vendor v ON v.id = r.vendor_id
LEFT JOIN procurement_objective o ON o.id = r.objective_id
LEFT JOIN procurement_fiscalyear fy ON fy.id = o.fiscal_year_id
WHERE r.requester_id = %s
ORDER BY r.created_at DESC, r.id DESC
LIMIT 25
"""


def floor(request: HttpRequest, user_id: int) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_SQL, [user_id])
        rows = cursor.fetchall()
    results = [
        {
            "id": row[0],
            "reference": f"PR-{row[0]:06d}",
            "title": row[1],
            "state": row[2],
            "requester": {"id": row[3], "username": row[4], "name": f"{row[5]} {row[6]}"},
            "department": {"code": row[7], "name": row[8]},
            "cost_centre": {"code": row[9], "name": row[10]},
            "category": {"code": row[11], "name": row[12]},
            "needed_by": row[13].isoformat(),
            "currency": row[14],
            "processes_personal_data": row[15],
            "vendor": {"id": row[16], "legal_name": row[17], "state": row[18]} if row[16] else None,
            "objective": {"id": row[19], "name": row[20], "fiscal_year": row[21]}
            if row[19]
            else None,
            "no_objective_reason": row[22],
            "version": row[23],
            "total": str(row[24]),
            "created_at": row[25].isoformat(),
            "submitted_at": row[26].isoformat() if row[26] else None,
            "url": f"/api/requests/{row[0]}/",
            "web_url": f"/requests/{row[0]}/",
        }
        for row in rows
    ]
    return JsonResponse({"results": results})


def hello(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"hello": "world"})


urlpatterns = [
    path("bench/floor/<int:user_id>/", floor),
    path("bench/hello/", hello),
    *project_urlpatterns,
]
