"""Two-factor authentication (TOTP, django-otp): enrolment, the login's second step, the policy.

- Anyone may turn it on from the Security page (/accounts/security/): scan the QR code with
  an authenticator app, type the code it shows, done. Turning it off takes a current code too,
  so a borrowed session cannot quietly remove it.
- Login: the password comes first (django-axes counts the failures). A user with a confirmed
  device is not signed in until the code is right: until then the session holds only a
  pending login, for PENDING_LOGIN_SECONDS. Wrong codes count as failed logins, so axes locks
  out code guessing as it locks out password guessing, on top of django-otp's own
  back-off per device (1, 2, 4, 8... seconds after successive wrong codes).
- OTP_REQUIRED_ROLES: holders of these roles must use two-factor. Without a device they are
  signed in, but TwoFactorMiddleware lets them reach only the Security page and logout.
- The API token is a second credential, so it follows the same rule: users with a device get
  a token only with `otp` (a current code) next to their password; users whose role requires
  two-factor get none until they have enrolled, and their old tokens stop working
  (TwoFactorTokenAuthentication). Enrolling or removing a device revokes the user's token.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from axes.handlers.proxy import AxesProxyHandler
from axes.utils import reset as axes_reset
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp import verify_token
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from procurement.errors import ApplicationError, InvalidInput
from procurement.login_throttle import lockout_response
from procurement.models import User
from procurement.services import audit_record

log = logging.getLogger("security")

# A password accepted without its code yet is forgotten after this long.
PENDING_LOGIN_SECONDS = 5 * 60
_PENDING_KEY = "two_factor_pending"
# What a session has shown, noted when it was signed in (note_login_second_factor) so that the
# middleware need not look the user's devices up on every request:
_STATE_KEY = "two_factor"
_VERIFIED = "verified"  # gave a code (at login, or by setting up an authenticator)
_NO_DEVICE = "no_device"  # had no authenticator when signed in
_CODE_MISSING = "code_missing"  # has one, but was signed in without a code (another login form)


class TwoFactorRequired(ApplicationError):
    """The user's role requires two-factor and they have not set it up yet."""

    status = 403
    code = "two_factor_required"


class CodeRequired(ApplicationError):
    status = 400
    code = "otp_required"


# --- Selectors ----------------------------------------------------------------


def two_factor_device(*, user: User) -> TOTPDevice | None:
    """The user's confirmed authenticator, if they have one."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def two_factor_required(*, user: User) -> bool:
    """Whether the user's roles make two-factor mandatory (settings.OTP_REQUIRED_ROLES)."""
    required = settings.OTP_REQUIRED_ROLES
    return bool(required) and user.has_role(*required)


# --- Verifying a code -----------------------------------------------------------


def _code_check(
    *,
    request: HttpRequest,
    user: User,
    device: TOTPDevice,
    code: str,
    counts_as_failed_login: bool,
) -> None:
    """Accept `code` for `device` or raise InvalidInput.

    django_otp.verify_token locks the device row, so one code is accepted once even when two
    requests carry it at the same moment (the device remembers the last time step used).
    """
    allowed, info = device.verify_is_allowed()
    if not allowed:
        locked_until = (info or {}).get("locked_until")
        seconds = 1
        if locked_until is not None:
            seconds = max(1, int((locked_until - timezone.now()).total_seconds() + 0.999))
        wait = "a second" if seconds == 1 else f"{seconds} seconds"
        message = f"Too many wrong codes: wait {wait}, then try the code your app shows."
        raise InvalidInput(message, fields={"otp": [message]})
    if verify_token(user, device.persistent_id, code) is None:
        if counts_as_failed_login:
            # Axes counts it like a wrong password (username + address), and the security log
            # records it; the password was right, so no password is passed on.
            user_login_failed.send(
                sender=__name__,
                credentials={"username": user.get_username()},
                request=request,
            )
        message = "That code is wrong or has expired: enter the code your app shows now."
        raise InvalidInput(message, fields={"otp": [message]})


# --- Enrolment ------------------------------------------------------------------


def two_factor_enrolment_start(*, user: User) -> TOTPDevice:
    """A new, unconfirmed authenticator with a fresh secret; earlier unconfirmed ones go."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def two_factor_enrolment_confirm(*, request: HttpRequest, user: User, code: str) -> TOTPDevice:
    """Confirm the pending authenticator with a code it shows; the session counts as verified.

    In one transaction: the device becomes confirmed, the user's API token is revoked (it was
    obtained without a code) and an audit entry records it.
    """
    pending = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if pending is None:
        raise InvalidInput("Start the set-up again: there is no authenticator waiting.")
    if two_factor_device(user=user) is not None:
        raise InvalidInput("Two-factor authentication is already on.")
    _code_check(request=request, user=user, device=pending, code=code, counts_as_failed_login=False)
    with transaction.atomic():
        pending.confirmed = True
        pending.save(update_fields=["confirmed"])
        Token.objects.filter(user=user).delete()
        audit_record(target=user, actor=user, action="two_factor_enabled")
    otp_login(request, pending)
    request.session[_STATE_KEY] = _VERIFIED
    log.info("two-factor enabled user=%s", user.get_username())
    return pending


def two_factor_remove(*, request: HttpRequest, user: User, code: str) -> None:
    """Turn two-factor off with a current code: devices and API token go, audited.

    A user whose role requires it is then sent back to enrolment by the middleware.
    """
    device = two_factor_device(user=user)
    if device is None:
        raise InvalidInput("Two-factor authentication is not on.")
    _code_check(request=request, user=user, device=device, code=code, counts_as_failed_login=True)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        Token.objects.filter(user=user).delete()
        audit_record(target=user, actor=user, action="two_factor_removed")
    request.session[_STATE_KEY] = _NO_DEVICE
    log.info("two-factor removed user=%s", user.get_username())


# --- The login's second step ------------------------------------------------------


def two_factor_login_begin(*, request: HttpRequest, user: User) -> None:
    """Remember a user whose password was right, until their code is checked."""
    request.session[_PENDING_KEY] = {
        "user": user.pk,
        "backend": getattr(user, "backend", settings.AUTHENTICATION_BACKENDS[-1]),
        "at": int(time.time()),
    }


def two_factor_login_pending_user(*, request: HttpRequest) -> User | None:
    pending = request.session.get(_PENDING_KEY)
    if not pending or time.time() - pending["at"] > PENDING_LOGIN_SECONDS:
        request.session.pop(_PENDING_KEY, None)
        return None
    user = User.objects.filter(pk=pending["user"], is_active=True).first()
    if user is not None:
        user.backend = pending["backend"]
    return user


def two_factor_login_finish(*, request: HttpRequest, user: User, code: str) -> None:
    """Sign the pending user in once their code is right (raises InvalidInput otherwise).

    A wrong code that reaches the failure limit also ends the pending login: the password
    must be given again once the lock is over.
    """
    device = two_factor_device(user=user)
    if device is not None:
        try:
            _code_check(
                request=request, user=user, device=device, code=code, counts_as_failed_login=True
            )
        except InvalidInput:
            if getattr(request, "axes_locked_out", False):
                request.session.pop(_PENDING_KEY, None)
            raise
    request.session.pop(_PENDING_KEY, None)
    # Signals user_logged_in: axes clears the failure count and records the access.
    auth_login(request, user, backend=cast(Any, user).backend)
    if device is not None:
        otp_login(request, device)
        request.session[_STATE_KEY] = _VERIFIED


def note_login_second_factor(
    sender: object, request: HttpRequest | None, user: User, **kwargs: Any
) -> None:
    """On every sign-in, whatever signed the user in (user_logged_in, connected in apps.py):
    note whether they have an authenticator. One query per login, none per request.

    two_factor_login_finish marks the session verified right after, when the code was given.
    """
    if request is None or not hasattr(request, "session"):
        return
    has_device = two_factor_device(user=user) is not None
    request.session[_STATE_KEY] = _CODE_MISSING if has_device else _NO_DEVICE


# --- The API token ----------------------------------------------------------------


def two_factor_check_api_login(*, request: HttpRequest, user: User, code: str) -> None:
    """Decide whether `user`, whose password was right, may have an API token.

    Users with a device must send a current code; users whose role requires two-factor and
    who have no device get none. On success the user's failed-login count is cleared, as a
    page login would clear it.
    """
    device = two_factor_device(user=user)
    if device is None:
        if two_factor_required(user=user):
            raise TwoFactorRequired(
                "Your role requires two-factor authentication: set it up on the Security page "
                "(/accounts/security/), then ask for a token with the code in `otp`."
            )
    elif not code:
        message = "This account uses two-factor authentication: send the code from your authenticator app in `otp`."
        raise CodeRequired(message, fields={"otp": [message]})
    else:
        _code_check(
            request=request, user=user, device=device, code=code, counts_as_failed_login=True
        )
    ip_address = getattr(request, "axes_ip_address", None)
    if ip_address is not None:  # without it axes would clear the name's count from every address
        axes_reset(ip=ip_address, username=user.get_username())


class TwoFactorTokenAuthentication(TokenAuthentication):
    """Token authentication that refuses the tokens of users who must enrol first.

    Tokens issued before OTP_REQUIRED_ROLES was switched on stop working for those users
    until they have set up two-factor (which revokes the old token anyway).
    """

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        user, token = super().authenticate_credentials(key)
        if two_factor_required(user=user) and two_factor_device(user=user) is None:
            raise AuthenticationFailed(
                "Your role requires two-factor authentication: set it up on the Security page, "
                "then get a new token."
            )
        return user, token


# --- Middleware --------------------------------------------------------------------

# Where a signed-in user who still owes the policy may go: the login steps, logout, the
# Security page and its forms, and the health probe.
_ALWAYS_OPEN = {
    "login",
    "login-code",
    "logout",
    "security",
    "security-enrol",
    "security-confirm",
    "security-remove",
    "healthz",
}


class TwoFactorMiddleware:
    """Holds signed-in users to the two-factor policy (after OTPMiddleware).

    - A session of a user with a device that never gave a code (signed in some other way,
      e.g. the admin's own login form) is signed out and sent to the login page.
    - A user whose role requires two-factor and who has no device may reach only the
      Security page (and logout) until they have enrolled.

    It reads what the session noted at sign-in: no query of its own on an ordinary request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponseBase],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        user = request.user
        if not user.is_authenticated:
            return None
        match = request.resolver_match
        if match is not None and match.url_name in _ALWAYS_OPEN:
            return None
        state = request.session.get(_STATE_KEY)
        if state is None or (state == _VERIFIED and not cast(Any, user).is_verified()):
            # A session from before two-factor existed, or whose authenticator has been
            # removed since (by an administrator): look again, once.
            state = _CODE_MISSING if two_factor_device(user=user) is not None else _NO_DEVICE
            request.session[_STATE_KEY] = state
        if state == _CODE_MISSING:
            auth_logout(request)
            detail = "Sign in again with the code from your authenticator app."
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"code": "not_authenticated", "detail": detail, "errors": {}}, status=403
                )
            messages.info(request, detail)
            return redirect_to_login(request.get_full_path())
        if state == _NO_DEVICE and two_factor_required(user=user):
            detail = (
                "Your role requires two-factor authentication: set it up on the Security page "
                "before you continue."
            )
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"code": TwoFactorRequired.code, "detail": detail, "errors": {}}, status=403
                )
            return redirect("security")
        return None


# --- Forms ---------------------------------------------------------------------------


class CodeForm(forms.Form):
    otp = forms.CharField(
        label="Code from your authenticator app",
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "pattern": "[0-9 ]*",
            }
        ),
    )

    def clean_otp(self) -> str:
        code = "".join(self.cleaned_data["otp"].split())
        if not code.isdigit() or len(code) not in (6, 8):
            raise forms.ValidationError("Enter the 6-digit code your app shows.")
        return code


# --- Views -----------------------------------------------------------------------------


def _safe_next(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


class LoginView(auth_views.LoginView):
    """The password step; users with an authenticator go on to the code step."""

    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        if two_factor_device(user=user) is None:
            return super().form_valid(form)
        two_factor_login_begin(request=self.request, user=user)
        url = reverse("login-code")
        next_url = self.get_redirect_url()
        if next_url:
            url += "?" + urlencode({"next": next_url})
        return redirect(url)


@never_cache
@require_http_methods(["GET", "POST"])
def login_code(request: HttpRequest) -> HttpResponse:
    """The code step of the login, for a user whose password was just accepted."""
    next_url = _safe_next(request)
    user = two_factor_login_pending_user(request=request)
    if user is None:
        messages.info(request, "Your sign-in timed out: enter your password again.")
        return redirect_to_login(next_url or reverse(settings.LOGIN_REDIRECT_URL))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        credentials = {"username": user.get_username()}
        if not AxesProxyHandler.is_allowed(request, credentials):
            request.session.pop(_PENDING_KEY, None)
            return lockout_response(request, None, credentials)
        try:
            two_factor_login_finish(request=request, user=user, code=form.cleaned_data["otp"])
        except InvalidInput as exc:
            form.add_error("otp", exc.message)
        else:
            return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    status = 400 if form.is_bound else 200
    return render(request, "two_factor/code.html", {"form": form, "next": next_url}, status=status)


def _qr_code_data_uri(text: str) -> str:
    """`text` as a QR code: an SVG drawn here (no third-party service sees the secret)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    svg = image.to_string(encoding="utf-8")
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def _secret_for_typing(device: TOTPDevice) -> str:
    secret = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _render_security(
    request: HttpRequest, *, form: CodeForm | None = None, status: int = 200
) -> HttpResponse:
    user = cast(User, request.user)
    device = two_factor_device(user=user)
    pending = None
    if device is None:
        pending = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    context: dict[str, Any] = {
        "device": device,
        "pending": pending,
        "required": two_factor_required(user=user),
        "form": form or CodeForm(),
    }
    if pending is not None:
        context["qr_code"] = _qr_code_data_uri(pending.config_url)
        context["secret"] = _secret_for_typing(pending)
    response = render(request, "two_factor/security.html", context, status=status)
    # The page can carry the secret: never keep it in a cache.
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET"])
def security(request: HttpRequest) -> HttpResponse:
    return _render_security(request)


@login_required
@require_POST
def security_enrol(request: HttpRequest) -> HttpResponse:
    two_factor_enrolment_start(user=cast(User, request.user))
    return redirect("security")


@login_required
@require_POST
def security_confirm(request: HttpRequest) -> HttpResponse:
    form = CodeForm(request.POST)
    if form.is_valid():
        try:
            two_factor_enrolment_confirm(
                request=request, user=cast(User, request.user), code=form.cleaned_data["otp"]
            )
        except InvalidInput as exc:
            form.add_error("otp", exc.message)
        else:
            messages.success(
                request,
                "Two-factor authentication is on: from now on you sign in with a code from your app.",
            )
            return redirect("security")
    return _render_security(request, form=form, status=400)


@login_required
@require_POST
def security_remove(request: HttpRequest) -> HttpResponse:
    form = CodeForm(request.POST)
    if form.is_valid():
        try:
            two_factor_remove(
                request=request, user=cast(User, request.user), code=form.cleaned_data["otp"]
            )
        except InvalidInput as exc:
            form.add_error("otp", exc.message)
        else:
            messages.success(request, "Two-factor authentication is off.")
            return redirect("security")
    return _render_security(request, form=form, status=400)


def admin_login(request: HttpRequest) -> HttpResponseBase:
    """The admin's sign-in goes through ours, so that it asks for the code too."""
    if not request.user.is_authenticated:
        return redirect_to_login(_safe_next(request) or reverse("admin:index"))
    return admin.site.login(request)
