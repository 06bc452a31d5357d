"""Settings for the procurement platform, read top to bottom.

Everything comes from the environment with a safe embedded default (SQLite
under var/, an on-disk Celery broker, mail written to var/mail/). Production
differs only by environment variables; see README.md for the list.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import dj_database_url
import pycountry
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from procurement.env import (
    env_bool,
    env_decimal,
    env_int,
    env_list,
    env_str,
    local_secret_key,
    secret_key_is_placeholder,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

# --- Core -------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
# Without SECRET_KEY a random key is generated once into var/secret_key (never
# committed), so a local install is safe without a shared, well-known key.
# Production sets SECRET_KEY so that every web and worker process agrees.
SECRET_KEY = env_str("SECRET_KEY", "") or local_secret_key(VAR_DIR / "secret_key")
# A key copied from the example file or a tutorial signs sessions and emailed links that
# anyone could forge: refuse to serve with it (docs/security.md).
if not DEBUG and secret_key_is_placeholder(SECRET_KEY):
    raise ImproperlyConfigured(
        "SECRET_KEY is a placeholder or a publicly known value; set a random one: "
        'python3 -c "import secrets; print(secrets.token_urlsafe(64))"'
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# A reverse proxy ends TLS in front of us: believe its X-Forwarded-Proto, and the last hop of
# X-Forwarded-For as the client's address (API throttles, security log).
BEHIND_PROXY = env_bool("BEHIND_PROXY", False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Login throttling and two-factor authentication (procurement/login_throttle.py, two_factor.py).
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "procurement",
    "vendors",
    "requests",
    "approvals",
    "analytics",
    "sourcing",
    "planning",
    # Object permissions (django-rules): imports each app's rules.py, where it registers who
    # may do what to its objects (procurement/permissions.py explains; docs/security.md).
    "rules.apps.AutodiscoverRulesConfig",
]

MIDDLEWARE = [
    # First, so that every log record of a request carries its id (procurement/logging.py).
    "procurement.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise: static files need no policy. Both see every page's response, 413s included.
    "procurement.security.ContentSecurityPolicyMiddleware",
    "procurement.security.SecurityEventMiddleware",
    # Before anything parses a body (the CSRF check reads multipart uploads).
    "procurement.middleware.RequestBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): did this session give a two-factor code.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Holds signed-in users to the two-factor policy (after messages: it may leave one).
    "procurement.two_factor.TwoFactorMiddleware",
    # A refusal a page view did not catch (e.g. a missing exchange rate) as a page with its
    # message and status, not a 500 (procurement/middleware.py).
    "procurement.middleware.ApplicationErrorPageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as axes asks: turns a locked-out login's response into the 429 "try again in N minutes".
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "procurement.urls"
WSGI_APPLICATION = "procurement.wsgi.application"
AUTH_USER_MODEL = "procurement.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "requests:list"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # {% state_badge %} on every page without a {% load %} (procurement/templatetags).
            "builtins": ["procurement.templatetags.badges"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "procurement.context_processors.platform",
                "approvals.context_processors.pending_approvals",
                "vendors.context_processors.vendor_navigation",
                "analytics.context_processors.analytics_navigation",
                "sourcing.context_processors.sourcing_navigation",
                "planning.context_processors.planning_navigation",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
_database_url = env_str("DATABASE_URL", "")
if _database_url:
    try:
        # A reused connection is checked (SELECT 1) before a request's first query and
        # replaced when PostgreSQL dropped it (restart, failover, pg_terminate_backend), so
        # a lost connection costs no failed request (docs/operations.md).
        _db = dj_database_url.parse(
            _database_url,
            conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
            conn_health_checks=True,
        )
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from None
    if not _db.get("ENGINE"):
        raise ImproperlyConfigured(f"DATABASE_URL has an unsupported scheme: {_database_url!r}")
else:
    _db = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(VAR_DIR / "db.sqlite3")}
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker, beat and the relay share this file. WAL lets readers go on beside a writer;
    # IMMEDIATE transactions take the write lock up front and wait for it (timeout), instead
    # of failing with "database is locked" when a read lock cannot be upgraded. The same for
    # a DATABASE_URL of sqlite:///... (the real-worker tests hand theirs to their processes).
    _db["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        **_db.get("OPTIONS", {}),
    }
DATABASES = {"default": _db}
# procurement/prepared.py's queries are prepared once per PostgreSQL session (PREPARE, then
# EXECUTE). Off behind a pooler that moves a client between sessions (docs/operations.md).
DB_SERVER_PREPARED_STATEMENTS = env_bool("DB_SERVER_PREPARED_STATEMENTS", True)
# A process chains the audit trail after a commit at most this often, each time all that
# waits; the relay chains what is left every second (procurement/audit_chain.py).
AUDIT_CHAIN_SEAL_INTERVAL_MS = env_int("AUDIT_CHAIN_SEAL_INTERVAL_MS", 200, minimum=0)
# Dashboards read their rollups from a read replica when one is configured
# (procurement/db_router.py; docs/scaling.md). Everything else stays on the primary.
_replica_url = env_str("DATABASE_REPLICA_URL", "")
if _replica_url:
    try:
        DATABASES["replica"] = dj_database_url.parse(
            _replica_url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60), conn_health_checks=True
        )
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_REPLICA_URL is malformed: {exc}") from None
    # Tests run against the primary: a test database has no replica of its own.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["procurement.db_router.AnalyticsReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes sees every authenticate() call first and refuses locked-out clients; it never
# signs anyone in itself. authenticate() must be given the request (tests: client.login(request=
# HttpRequest(), ...), or force_login).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # user.has_perm("requests.view_purchaserequest", obj) asks our rules; code asks them
    # through procurement.permissions.allowed (the superuser shortcut of has_perm is not ours).
    "rules.permissions.ObjectPermissionBackend",
    # ModelBackend, loading each request's user with a query compiled once (procurement/auth.py).
    "procurement.auth.UserBackend",
]
# Login throttling (procurement/login_throttle.py): AXES_FAILURE_LIMIT failed logins (wrong
# passwords or two-factor codes) for one username from one client address lock that pair out
# for AXES_COOLOFF_MINUTES, counted from the failure that reached the limit. Other users, and
# the same user from elsewhere, are unaffected; a successful login clears the count.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_MINUTES = env_int("AXES_COOLOFF_MINUTES", 15, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=AXES_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Failures during the lock do not extend it: the cool-off is finite whatever an attacker does.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# The same client address as the security log and the API throttles (BEHIND_PROXY: the hop
# our proxy appended to X-Forwarded-For).
AXES_CLIENT_IP_CALLABLE = "procurement.login_throttle.client_ip_address"
AXES_LOCKOUT_CALLABLE = "procurement.login_throttle.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# No start-up banner in every command's output; the security log records each failed login.
AXES_VERBOSE = False
# Two-factor authentication (procurement/two_factor.py): holders of these roles must set up an
# authenticator app before they can do anything else; anyone else may.
OTP_REQUIRED_ROLES = env_list("OTP_REQUIRED_ROLES", [])
# procurement.models.Role's values (settings cannot import models; a test keeps them equal).
ROLE_NAMES = (
    "requester",
    "manager",
    "procurement",
    "finance",
    "security_reviewer",
    "legal",
    "admin",
)
for _role in OTP_REQUIRED_ROLES:
    if _role not in ROLE_NAMES:
        raise ImproperlyConfigured(
            f"OTP_REQUIRED_ROLES: {_role!r} is not a role; use some of {', '.join(ROLE_NAMES)}."
        )
# The name authenticator apps show next to the code.
OTP_TOTP_ISSUER = "Procurement"

# --- Internationalisation and money ----------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "Europe/London")
USE_I18N = True
USE_TZ = True

BASE_CURRENCY = env_str("BASE_CURRENCY", "GBP").upper()
CURRENCIES = [
    code.upper()
    for code in env_list(
        "CURRENCIES",
        ["GBP", "EUR", "USD", "CHF", "SEK", "NOK", "DKK", "PLN", "CAD", "AUD", "JPY", "INR"],
    )
]
# ISO 4217 also lists codes nobody is paid in: "no currency" (XXX), testing (XTS),
# precious metals and accounting units. A purchase in those is a typo.
_NOT_MONEY = {
    "XXX",
    "XTS",
    "XAU",
    "XAG",
    "XPT",
    "XPD",
    "XDR",
    "XAD",
    "XBA",
    "XBB",
    "XBC",
    "XBD",
    "XSU",
    "XUA",
}
for _code in [BASE_CURRENCY, *CURRENCIES]:
    if pycountry.currencies.get(alpha_3=_code) is None or _code in _NOT_MONEY:
        raise ImproperlyConfigured(
            f"CURRENCIES/BASE_CURRENCY: {_code!r} is not an ISO 4217 code of a real currency."
        )
if BASE_CURRENCY not in CURRENCIES:
    CURRENCIES.insert(0, BASE_CURRENCY)

# --- Approvals ---------------------------------------------------------------
# How long an emailed Approve/Reject link works (it also dies once the step is decided).
APPROVAL_LINK_MAX_AGE_HOURS = env_int("APPROVAL_LINK_MAX_AGE_HOURS", 72, minimum=1)
# Above this total (base currency) an emailed link only asks the approver to sign in and
# decide on the request page; unset means links may decide requests of any amount.
APPROVAL_EMAIL_SIGNIN_ABOVE = env_decimal("APPROVAL_EMAIL_SIGNIN_ABOVE", None)
# Daily digest of pending approvals: sent from this local hour (0-23) on, at most
# APPROVAL_REMINDER_MAX times per step and approver (0 turns reminders off).
APPROVAL_REMINDER_HOUR = env_int("APPROVAL_REMINDER_HOUR", 9, minimum=0)
if APPROVAL_REMINDER_HOUR > 23:
    raise ImproperlyConfigured(f"APPROVAL_REMINDER_HOUR={APPROVAL_REMINDER_HOUR} must be 0-23.")
APPROVAL_REMINDER_MAX = env_int("APPROVAL_REMINDER_MAX", 3, minimum=0)
# An approved request amended to a total more than this much above its approved total
# needs approving again.
# A step nobody decides for this many days expires, and the request goes back to the requester
# (0: steps never expire).
APPROVAL_STEP_EXPIRY_DAYS = env_int("APPROVAL_STEP_EXPIRY_DAYS", 30, minimum=0)
APPROVAL_REAPPROVAL_TOLERANCE_PERCENT = env_int(
    "APPROVAL_REAPPROVAL_TOLERANCE_PERCENT", 10, minimum=0
)
# Inbox items whose total (base currency) is below this, and that are neither software nor
# personal data, may be approved in bulk; everything else is decided one by one.
APPROVAL_BULK_MAX_TOTAL = env_int("APPROVAL_BULK_MAX_TOTAL", 1000, minimum=0)

# --- Vendors ----------------------------------------------------------------
# A questionnaire link lets a vendor contact answer without an account for this many days.
VENDOR_QUESTIONNAIRE_LINK_DAYS = env_int("VENDOR_QUESTIONNAIRE_LINK_DAYS", 14, minimum=1)
# Months until a vendor is assessed again, by risk tier: low, medium, high, critical.
_reassess = env_list("VENDOR_REASSESSMENT_MONTHS", ["24", "12", "6", "3"])
if len(_reassess) != 4 or not all(m.isdigit() and int(m) > 0 for m in _reassess):
    raise ImproperlyConfigured(
        f"VENDOR_REASSESSMENT_MONTHS={','.join(_reassess)!r} must be four whole numbers of "
        "months, for the low, medium, high and critical tiers (e.g. 24,12,6,3)."
    )
VENDOR_REASSESSMENT_MONTHS = dict(
    zip(("low", "medium", "high", "critical"), (int(m) for m in _reassess), strict=True)
)
# The vendor's owner hears of a certificate this many days before it expires.
VENDOR_CERTIFICATE_WARNING_DAYS = env_int("VENDOR_CERTIFICATE_WARNING_DAYS", 30, minimum=1)
VENDOR_DOCUMENT_MAX_BYTES = env_int("VENDOR_DOCUMENT_MAX_BYTES", 10 * 1024 * 1024, minimum=1)
# A sanctions-list name at least this alike (0-100, rapidfuzz) is a possible match for a person to judge.
SANCTIONS_MATCH_THRESHOLD = env_int("SANCTIONS_MATCH_THRESHOLD", 85, minimum=50)
if SANCTIONS_MATCH_THRESHOLD > 100:
    raise ImproperlyConfigured(
        f"SANCTIONS_MATCH_THRESHOLD={SANCTIONS_MATCH_THRESHOLD} must be 50-100."
    )
# A contract's owner is reminded this many days before its notice deadline.
_offsets = env_list("CONTRACT_REMINDER_DAYS", ["90", "30", "7"])
if not _offsets or not all(d.isdigit() for d in _offsets):
    raise ImproperlyConfigured(
        f"CONTRACT_REMINDER_DAYS={','.join(_offsets)!r} must be whole numbers of days, e.g. 90,30,7."
    )
CONTRACT_REMINDER_DAYS = sorted({int(d) for d in _offsets}, reverse=True)

# --- Spend analytics ----------------------------------------------------------
# A new supplier name at least this alike (0-100, rapidfuzz) to a vendor's name is matched to it.
SPEND_VENDOR_MATCH_THRESHOLD = env_int("SPEND_VENDOR_MATCH_THRESHOLD", 90, minimum=50)
if SPEND_VENDOR_MATCH_THRESHOLD > 100:
    raise ImproperlyConfigured(
        f"SPEND_VENDOR_MATCH_THRESHOLD={SPEND_VENDOR_MATCH_THRESHOLD} must be 50-100."
    )
# Split purchases: several payments to one payee within SPEND_SPLIT_WINDOW_DAYS, each just
# under one of these thresholds (within SPEND_SPLIT_BAND_PERCENT of it), adding up to more.
# The thresholds of active approval rules are checked as well.
_split = env_list("SPEND_SPLIT_THRESHOLDS", ["500", "1000", "5000", "10000", "25000"])
try:
    SPEND_SPLIT_THRESHOLDS = sorted({Decimal(t) for t in _split})
except ArithmeticError:
    raise ImproperlyConfigured(
        f"SPEND_SPLIT_THRESHOLDS={','.join(_split)!r} must be amounts, e.g. 500,1000,5000."
    ) from None
SPEND_SPLIT_WINDOW_DAYS = env_int("SPEND_SPLIT_WINDOW_DAYS", 7, minimum=1)
SPEND_SPLIT_BAND_PERCENT = env_int("SPEND_SPLIT_BAND_PERCENT", 20, minimum=1)
# Largest spend file accepted from the web page; the command line has no limit.
SPEND_IMPORT_MAX_BYTES = env_int("SPEND_IMPORT_MAX_BYTES", 100 * 1024 * 1024, minimum=1)

# --- Sourcing, orders and invoices -------------------------------------------
# A vendor's quote link lives this long, and never past the RFQ's deadline (or its
# counter-offer's reply-by date) by more than the link's own life.
SOURCING_QUOTE_LINK_DAYS = env_int("SOURCING_QUOTE_LINK_DAYS", 30, minimum=1)
# What an award's saving is measured from: the winning vendor's first quote, or the median
# price paid before (the benchmark from spend history).
SOURCING_SAVINGS_BASELINE = env_str("SOURCING_SAVINGS_BASELINE", "first_quote")
if SOURCING_SAVINGS_BASELINE not in ("first_quote", "benchmark"):
    raise ImproperlyConfigured(
        f"SOURCING_SAVINGS_BASELINE={SOURCING_SAVINGS_BASELINE!r} must be first_quote or benchmark."
    )
# A change order raising a PO's total more than this above its approved total is re-approved.
PO_CHANGE_TOLERANCE_PERCENT = env_int("PO_CHANGE_TOLERANCE_PERCENT", 10, minimum=0)
# An invoice line may differ from the PO price, and from the quantity received, by this much
# and still match (per vendor or category: the MatchTolerance rows in the admin).
INVOICE_PRICE_TOLERANCE_PERCENT = env_decimal("INVOICE_PRICE_TOLERANCE_PERCENT", Decimal("2"))
INVOICE_QUANTITY_TOLERANCE_PERCENT = env_decimal("INVOICE_QUANTITY_TOLERANCE_PERCENT", Decimal("0"))
QUOTE_ATTACHMENT_MAX_BYTES = env_int("QUOTE_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024, minimum=1)

# --- Files ------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # Front-end libraries are installed from the npm registry by `make`, never copied in.
    ("vendor/htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
    ("vendor/pico", BASE_DIR / "node_modules" / "@picocss" / "pico" / "css"),
    ("vendor/chartjs", BASE_DIR / "node_modules" / "chart.js" / "dist"),
]
STORAGES = {
    # Attachments are private: they are served only through a permission-checked view.
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media-not-served/"
ATTACHMENT_MAX_BYTES = env_int("ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024, minimum=1)
ATTACHMENTS_PER_REQUEST = env_int("ATTACHMENTS_PER_REQUEST", 20, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# The largest request body, uploads included (procurement/middleware.py): ten files at the
# largest size allowed, plus the form.
REQUEST_MAX_BYTES = env_int("REQUEST_MAX_BYTES", 110 * 1024 * 1024, minimum=1024 * 1024)
# The request form posts 7 fields per line item and up to 400 rows (200 kept, plus removed ones).
DATA_UPLOAD_MAX_NUMBER_FIELDS = 3000

# --- Email ------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Procurement <procurement@localhost>")
EMAIL_HOST = env_str("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
    EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
else:
    # Every message becomes a .eml file under var/mail/, listed at /outbox/ when DEBUG is on.
    EMAIL_BACKEND = "procurement.mail.EmlOutboxBackend"
EMAIL_OUTBOX_DIR = Path(env_str("EMAIL_OUTBOX_DIR", str(VAR_DIR / "mail")))

# --- Celery -----------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
CELERY_BROKER_DIR = VAR_DIR / "celery"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        # A task taken by a worker that then died (SIGKILL, OOM, lost host) goes back to the
        # queue this long after it was taken. It must exceed the longest wait plus run of a
        # task (time limit 5 min; retries back off up to 10 min), or a slow task runs twice.
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=1),
        # Look for such tasks every 10 s (kombu's default scans only every 100 s).
        "unacked_restore_throttle": 1,
        # A web request publishes on commit: never let a vanished Redis hang it for minutes
        # (procurement/outbox.py keeps the task when publishing fails).
        "socket_connect_timeout": 5,
        "socket_timeout": 10,
    }
else:
    # Embedded default: kombu's filesystem transport, so `make run` needs no Redis.
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        # Exchange bindings; kombu's default is ./control, relative to wherever a process runs.
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 4 * 60
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
# Beat queues each due run through the task outbox, once per entry and period, so two beat
# processes started by mistake do not run anything twice (docs/operations.md, "Beat runs once").
CELERY_BEAT_SCHEDULER = "procurement.celery:OnceScheduler"
# Queues, so that a large spend import or a report never holds up an approval email. A worker
# started without -Q consumes all four (make run); docker-compose.yml runs one worker per
# queue. A task not named below goes to "default" (docs/operations.md, "Queues").
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = tuple(
    Queue(name, Exchange(name), routing_key=name)
    for name in ("default", "email", "reports", "imports")
)
CELERY_TASK_ROUTES = {
    # Exact names are looked up before the patterns at the end.
    "approvals.tasks.send_reminder_digest": {"queue": "email"},
    "sourcing.order_tasks.send_purchase_order": {"queue": "email"},
    # The hourly contract and vendor digests are sent by the beat task itself.
    "vendors.tasks.send_vendor_reminders": {"queue": "email"},
    # Reports aggregate a period of spend before they are mailed: minutes, not milliseconds.
    "analytics.tasks.send_due_spend_reports": {"queue": "reports"},
    "analytics.tasks.send_spend_report": {"queue": "reports"},
    "analytics.tasks.spend_import_task": {"queue": "imports"},
    "analytics.tasks.scan_spend_import_findings": {"queue": "imports"},
    # Screening every vendor again after a sanctions list import is an import's batch work.
    "vendors.tasks.rescreen_all_vendors": {"queue": "imports"},
    # Moves lines between partitions (docs/scaling.md): batch work, beside the imports.
    "analytics.tasks.keep_spend_line_partitions": {"queue": "imports"},
    # Every notify_* task sends mail and nothing else.
    "*.notify_*": {"queue": "email"},
}
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "worker-heartbeat": {"task": "procurement.tasks.worker_heartbeat", "schedule": 60.0},
    # Scans of the database for what is due: never long countdowns, which die with a worker.
    "approval-delegations": {"task": "approvals.tasks.start_due_delegations", "schedule": 600.0},
    "approval-escalations": {"task": "approvals.tasks.escalate_overdue_steps", "schedule": 600.0},
    "approval-reminders": {"task": "approvals.tasks.send_due_reminders", "schedule": 600.0},
    "approval-expiry": {"task": "approvals.tasks.expire_stale_steps", "schedule": 3600.0},
    "contract-states": {"task": "vendors.tasks.update_contract_states", "schedule": 3600.0},
    "vendor-reminders": {"task": "vendors.tasks.send_vendor_reminders", "schedule": 3600.0},
    "spend-reports": {"task": "analytics.tasks.send_due_spend_reports", "schedule": 3600.0},
    "spend-findings": {"task": "analytics.tasks.scan_missed_spend_findings", "schedule": 600.0},
    # Does nothing until the lines are partitioned (manage.py partition_spend_lines).
    "spend-line-partitions": {
        "task": "analytics.tasks.keep_spend_line_partitions",
        "schedule": 86400.0,
    },
    # RFQs past their deadline close (quotes unsealed, procurement told); counter-offers past
    # their reply-by date expire.
    "rfq-deadlines": {"task": "sourcing.rfq_tasks.close_due_rfqs", "schedule": 60.0},
    "counter-offer-expiry": {
        "task": "sourcing.evaluation_tasks.expire_due_counter_offers",
        "schedule": 600.0,
    },
}

# --- Sessions and cache (several web processes: docs/scaling.md) -------------
# Sessions live in the database, so any web process serves any request: a load balancer in
# front of several needs no sticky sessions.
# The database store, reading a session with a query compiled once (procurement/sessions.py).
SESSION_ENGINE = "procurement.sessions"
# The cache holds what every web process must count together: the API's token throttle.
# With Redis at CACHE_URL all processes share it; without, `make run`'s one web process keeps
# it in memory. CACHE_URL is never taken from REDIS_URL: a cache may be cleared (FLUSHDB),
# a broker's queues must never be, so give the cache a database of its own (redis://…/1).
# While Redis is down the cache answers as a miss rather than failing requests
# (procurement/cache.py).
CACHE_URL = env_str("CACHE_URL", "")
if CACHE_URL:
    if not CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(
            f"CACHE_URL={CACHE_URL!r} must be a Redis URL, e.g. redis://127.0.0.1:6379/1."
        )
    CACHES = {
        "default": {
            "BACKEND": "procurement.cache.ResilientRedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "procurement",
            # A vanished Redis costs a request at most this long, then reads as a miss.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- REST API ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # A token of a user who must use two-factor but has not set it up is refused.
        "procurement.two_factor.TwoFactorTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "procurement.api.Pagination",
    "PAGE_SIZE": 25,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "procurement.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_THROTTLE_RATES": {"token": "10/min"},
    # Throttles key on the client's address: believe X-Forwarded-For only as set by our own proxy.
    "NUM_PROXIES": 1 if BEHIND_PROXY else 0,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Procurement platform API",
    "DESCRIPTION": "Purchase requests, approvals, vendors, security assessments and contracts. "
    "Authenticate with a session or `Authorization: Token <key>` from `POST /api/auth/token/`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Requests and approval steps both have a `state`: name each set of choices.
    "ENUM_NAME_OVERRIDES": {
        "RequestStateEnum": "requests.models.RequestState",
        "ApprovalStepStateEnum": "approvals.models.StepState",
        "VendorStateEnum": "vendors.models.VendorState",
        "CheckStatusEnum": "vendors.models.CheckStatus",
        "CheckKindEnum": "vendors.models.CheckKind",
        "VendorDocumentKindEnum": "vendors.models.VendorDocument.Kind",
        "VendorNameKindEnum": "vendors.models.VendorName.Kind",
        "SanctionsMatchStatusEnum": "vendors.models.SanctionsMatch.Status",
        "ContractStateEnum": "vendors.models.ContractState",
        "SpendImportStateEnum": "analytics.models.ImportState",
        "PoStateEnum": "sourcing.models.PoState",
        "ObjectiveStatusEnum": "procurement.models.ObjectiveStatus",
        # Several serializers have an "action" or "kind"; these keep the names the API had.
        "ActionEnum": "requests.services.ACTIONS",
        "KindEnum": ["transition", "comment"],
    },
}

# --- Security (production is DEBUG off; `manage.py check --deploy` is clean) ---
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
# TLS usually ends at a proxy in front of gunicorn, so redirecting is opt-in.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
# What a link to another site reveals of our URLs (ids, and never a link's token).
SECURE_REFERRER_POLICY = env_str("SECURE_REFERRER_POLICY", "same-origin")
_REFERRER_POLICIES = {
    "no-referrer",
    "no-referrer-when-downgrade",
    "origin",
    "origin-when-cross-origin",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
}
if not {p.strip() for p in SECURE_REFERRER_POLICY.split(",")} <= _REFERRER_POLICIES:
    raise ImproperlyConfigured(
        f"SECURE_REFERRER_POLICY={SECURE_REFERRER_POLICY!r} must be one or more (comma-separated) "
        f"of {', '.join(sorted(_REFERRER_POLICIES))}."
    )
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "procurement.security.csrf_failure"
# Content-Security-Policy of every page (procurement/security.py), in the shape of Django 6.0's
# SECURE_CSP. No inline script or style anywhere, nothing from another origin: templates keep
# their CSS and JS in static/, and `manage.py check --deploy` warns if scripts are loosened.
SECURE_CSP: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    # data: for the CSS's inline SVG icons (Pico's select arrows and checkboxes).
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

# json: one object per line with the request id (procurement/logging.py), for a log collector;
# plain reads better in a terminal.
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be plain or json.")
LOGGING_CONFIG = "procurement.logging.configure"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        # The id of the request (or of the request that queued the task) on every record.
        "request_id": {"()": "procurement.logging.RequestIdFilter"},
        # An emailed approval link's token is a credential: cut it out of every record.
        "redact_links": {"()": "procurement.log_filters.RedactApprovalLinks"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "procurement.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            # request_id first: it reads gunicorn's atoms, which the redaction may drop.
            "filters": ["request_id", "redact_links"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Request lines (runserver; gunicorn --access-logfile) go through the filtered console; the
    # filter on the logger also covers any handler added elsewhere (gunicorn adds its own).
    "loggers": {
        "django.server": {"handlers": ["console"], "filters": ["redact_links"], "propagate": False},
        "gunicorn.access": {
            "handlers": ["console"],
            "filters": ["request_id", "redact_links"],
            "propagate": False,
        },
        # gunicorn's worker-process messages, in the same format (its master logs before
        # Django loads: see docs/operations.md, "Logs").
        "gunicorn.error": {"handlers": ["console"], "propagate": False},
        "django.request": {"filters": ["redact_links"]},
    },
}
# Celery workers and beat keep the configuration above (JSON, request ids, redaction) instead
# of replacing the root logger's handlers with their own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
