from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from procurement import two_factor, views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    # The admin signs in through our login, which asks for the two-factor code.
    path("admin/login/", two_factor.admin_login),
    path("admin/", admin.site.urls),
    # login (password, then the code), the Security page (two-factor set-up).
    path("accounts/", include("procurement.two_factor_urls")),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/approvals/", include("approvals.api_urls")),
    path("api/vendors/", include("vendors.api_urls")),
    path("api/assessments/", include("vendors.assessment_api_urls")),
    path("api/contracts/", include("vendors.contract_api_urls")),
    path("api/analytics/imports/", include("analytics.import_api_urls")),
    path("api/analytics/", include("analytics.api_urls")),
    path("api/sourcing/", include("sourcing.rfq_api_urls")),
    path("api/sourcing/", include("sourcing.evaluation_api_urls")),
    path("api/orders/", include("sourcing.order_api_urls")),
    path("api/planning/", include("planning.budget_api_urls")),
    path("api/planning/", include("planning.need_api_urls")),
    path("api/planning/", include("planning.forecast_api_urls")),
    path("api/", include("requests.api_urls")),
    path("approvals/email/", include("approvals.email_urls")),
    path("approvals/", include("approvals.urls")),
    path("vendors/", include("vendors.urls")),
    path("assessments/", include("vendors.assessment_urls")),
    path("contracts/", include("vendors.contract_urls")),
    # Each part of analytics keeps its own URL module (and namespace) under /analytics/.
    path("analytics/savings/", include("sourcing.savings_urls")),
    path("analytics/imports/", include("analytics.import_urls")),
    path("analytics/payees/", include("analytics.payee_urls")),
    path("analytics/reports/", include("analytics.report_urls")),
    path("analytics/", include("analytics.anomaly_urls")),
    path("analytics/", include("analytics.urls")),
    # A vendor's pages (no account: the signed link is the credential; see log_filters.py).
    path("sourcing/quote/", include("sourcing.portal_urls")),
    path("orders/vendor/", include("sourcing.order_portal_urls")),
    path("sourcing/", include("sourcing.rfq_urls")),
    path("sourcing/", include("sourcing.evaluation_urls")),
    path("orders/", include("sourcing.order_urls")),
    path("planning/budgets/", include("planning.budget_urls")),
    path("planning/objectives/", include("planning.objective_urls")),
    path("planning/needs/", include("planning.need_urls")),
    path("planning/forecast/", include("planning.forecast_urls")),
    path("", include("requests.urls")),
]

handler500 = "procurement.views.server_error"

if settings.DEBUG:
    # The outbox exists only for local use; in production mail really leaves.
    urlpatterns += [
        path("outbox/", views.outbox, name="outbox"),
        path("outbox/<str:name>/", views.outbox_message, name="outbox-message"),
    ]
