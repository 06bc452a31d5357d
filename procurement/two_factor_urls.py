"""Sign-in (password, then the code for users with an authenticator) and the Security page.

Included under /accounts/ without a namespace: "login" is Django's LOGIN_URL.
"""

from __future__ import annotations

from django.urls import path

from procurement import two_factor

urlpatterns = [
    path("login/", two_factor.LoginView.as_view(), name="login"),
    path("login/code/", two_factor.login_code, name="login-code"),
    path("security/", two_factor.security, name="security"),
    path("security/enrol/", two_factor.security_enrol, name="security-enrol"),
    path("security/confirm/", two_factor.security_confirm, name="security-confirm"),
    path("security/remove/", two_factor.security_remove, name="security-remove"),
]
