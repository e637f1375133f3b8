"""Vastavuoro settings, read from environment variables (documented in .env.example).

Only this module reads ``os.environ``. With nothing set, the project runs on embedded defaults
(SQLite and a file-system Celery broker under ``var/``, e-mail written to ``var/mail/``), so
``make run`` needs no servers. ``DJANGO_ENV=production`` removes every default that would be
unsafe and refuses to start without the secrets it needs.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.schedule import PERIODIC_TASKS

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"{name} must be set when DJANGO_ENV=production.")
    return value


DJANGO_ENV = os.environ.get("DJANGO_ENV", "development").strip().lower()
if DJANGO_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured("DJANGO_ENV must be one of development, test, production.")
IS_PRODUCTION = DJANGO_ENV == "production"
if not IS_PRODUCTION:
    # The embedded defaults keep their state here: SQLite, the file-system broker, e-mail files.
    for _folder in ("", "broker/out", "broker/processed", "broker/control", "mail", "staticfiles"):
        (VAR_DIR / _folder).mkdir(parents=True, exist_ok=True)

# --- Core ---------------------------------------------------------------------------------------

if IS_PRODUCTION:
    SECRET_KEY = env_required("SECRET_KEY")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DJANGO_ENV=production.")
    DEBUG = False
else:
    SECRET_KEY = os.environ.get("SECRET_KEY") or "dev-only-insecure-key-never-use-in-production-0123456789"
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
    DEBUG = env_bool("DEBUG", DJANGO_ENV == "development")

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "core",
    "customers",
    "loyalty",
    "campaigns",
    "referrals",
    "config.wiring.WiringConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a login that django-axes refused into the locked-out page (HTTP 429).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
AUTH_USER_MODEL = "customers.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------

SQLITE_PATH = VAR_DIR / "vastavuoro.sqlite3"
DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()
if IS_PRODUCTION:
    DATABASE_URL = env_required("DATABASE_URL")

if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")), conn_health_checks=True
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(SQLITE_PATH),
            "OPTIONS": {
                # One writer at a time: take the write lock when the transaction starts, so
                # concurrent writers queue instead of failing with "database is locked".
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }

# --- Passwords and login ------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first (its AxesStandaloneBackend, letting calls without a request through): it
# refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "customers.portal.lockout.LockoutBackend",
    "customers.auth.StaffBackend",
    "customers.auth.CustomerBackend",
]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:login"
MAGIC_LINK_MAX_AGE = int(os.environ.get("MAGIC_LINK_MAX_AGE", str(15 * 60)))
# The link in the e-mail that confirms a portal sign-up's address works this long (seconds).
EMAIL_VERIFY_MAX_AGE = int(os.environ.get("EMAIL_VERIFY_MAX_AGE", str(3 * 24 * 60 * 60)))
PASSWORD_RESET_TIMEOUT = int(os.environ.get("PASSWORD_RESET_TIMEOUT", str(2 * 60 * 60)))

# Brute-force protection (django-axes): LOGIN_FAILURE_LIMIT wrong passwords within
# LOGIN_COOLOFF_MINUTES lock out the login typed (a customer's e-mail or a staff username, from
# any address) and, separately, the client's network address (for every login), until the
# failures fall out of that window. The portal's magic link and password reset still work for a
# locked-out customer: they prove the mailbox, not the password (docs/operations.md).
LOGIN_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
LOGIN_COOLOFF_MINUTES = int(os.environ.get("LOGIN_COOLOFF_MINUTES", "15"))
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
# Per login and per address; private and loopback addresses only per login (see the callable).
AXES_LOCKOUT_PARAMETERS = "customers.portal.lockout.lockout_parameters"
AXES_USERNAME_CALLABLE = "customers.portal.lockout.lockout_username"
# The client's address the same way as everywhere else: CLIENT_IP_HEADER, else REMOTE_ADDR.
AXES_CLIENT_IP_CALLABLE = "core.addresses.client_address"
AXES_LOCKOUT_CALLABLE = "customers.portal.lockout.lockout_response"
# Failed attempts are kept only for the cool-off (and shown in the admin); no login history.
AXES_DISABLE_ACCESS_LOG = True
# A successful login does not clear the counters: an attacker with an account of their own
# could otherwise reset the count for their address between guesses.
AXES_RESET_ON_SUCCESS = False

# Mail a visitor can make the portal send (sign-in links, password resets, verification
# resends): at most PORTAL_MAIL_LIMIT_PER_ACCOUNT of one kind to one customer, and at most
# PORTAL_MAIL_LIMIT_PER_CLIENT requests of one kind from one network address, per
# PORTAL_MAIL_LIMIT_WINDOW seconds. Counted in the cache (Redis in production).
PORTAL_MAIL_LIMIT_PER_ACCOUNT = int(os.environ.get("PORTAL_MAIL_LIMIT_PER_ACCOUNT", "3"))
PORTAL_MAIL_LIMIT_PER_CLIENT = int(os.environ.get("PORTAL_MAIL_LIMIT_PER_CLIENT", "20"))
PORTAL_MAIL_LIMIT_WINDOW = int(os.environ.get("PORTAL_MAIL_LIMIT_WINDOW", str(15 * 60)))

# --- Internationalisation -----------------------------------------------------------------------

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fi", _("Finnish")), ("ru", _("Russian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("PROGRAM_TIME_ZONE", "Europe/Helsinki")
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if IS_PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Cache --------------------------------------------------------------------------------------

REDIS_URL = os.environ.get("REDIS_URL", "").strip()
if IS_PRODUCTION and not REDIS_URL:
    # Several web processes must share throttling counters and caches: Redis, never local memory.
    REDIS_URL = "redis://127.0.0.1:6379/1"
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- E-mail -------------------------------------------------------------------------------------

DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Vastavuoro <hello@vastavuoro.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_URL = os.environ.get("EMAIL_URL", "").strip()
if IS_PRODUCTION and not EMAIL_URL:
    EMAIL_URL = "smtp://127.0.0.1:25"  # the host's mail relay; files under var/ are for development
if EMAIL_URL.startswith(("smtp://", "smtps://")):
    from urllib.parse import unquote, urlsplit

    _email = urlsplit(EMAIL_URL)
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _email.hostname or "localhost"
    EMAIL_PORT = _email.port or (465 if _email.scheme == "smtps" else 25)
    EMAIL_HOST_USER = unquote(_email.username or "")
    EMAIL_HOST_PASSWORD = unquote(_email.password or "")
    EMAIL_USE_SSL = _email.scheme == "smtps"
    EMAIL_USE_TLS = "tls=1" in (_email.query or "")
    EMAIL_TIMEOUT = 20
elif EMAIL_URL == "console":
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"

# --- Messages ----------------------------------------------------------------------------------

# Absolute links in messages (unsubscribe, portal): the public address of this installation.
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
MARKETING_CAP_COUNT = int(os.environ.get("MARKETING_CAP_COUNT", "3"))
MARKETING_CAP_DAYS = int(os.environ.get("MARKETING_CAP_DAYS", "7"))
MESSAGE_LEASE_SECONDS = int(os.environ.get("MESSAGE_LEASE_SECONDS", "600"))  # > the task time limit
MESSAGE_MAX_ATTEMPTS = int(os.environ.get("MESSAGE_MAX_ATTEMPTS", "8"))
SMS_PROVIDER = os.environ.get("SMS_PROVIDER", "customers.channels.FileSmsProvider")
SMS_FILE_PATH = VAR_DIR / "sms"

# --- Security -----------------------------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if IS_PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# The request header a reverse proxy sets to the client's address (Django's name, HTTP_X_REAL_IP,
# or the header's, X-Real-IP); empty: REMOTE_ADDR. Only a header the proxy overwrites can be trusted.
CLIENT_IP_HEADER = os.environ.get("CLIENT_IP_HEADER", "").strip().upper().replace("-", "_")
if CLIENT_IP_HEADER and not CLIENT_IP_HEADER.startswith("HTTP_") and CLIENT_IP_HEADER != "REMOTE_ADDR":
    CLIENT_IP_HEADER = f"HTTP_{CLIENT_IP_HEADER}"

# --- REST API -----------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["customers.api.authentication.PartnerKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["customers.api.permissions.HasScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.IdCursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.api.exceptions.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["customers.api.throttling.PartnerKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"partner": os.environ.get("API_THROTTLE_RATE", "6000/min")},
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Vastavuoro partner API",
    "DESCRIPTION": (
        "Register customers, record purchases, redeem rewards and vouchers. "
        "Authenticate with `Authorization: Api-Key <key>`; errors are application/problem+json."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Rewards and segments both have a "kind": name both enums (the rewards' keeps its first name).
    "ENUM_NAME_OVERRIDES": {
        "KindEnum": "loyalty.models.Reward.Kind",
        "SegmentKindEnum": "customers.models.Segment.Kind",
    },
}

# --- Celery -------------------------------------------------------------------------------------

BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "").strip() or (
    "redis://127.0.0.1:6379/0" if IS_PRODUCTION else "filesystem://"
)
# The longest countdown or ETA any task may be given; the Redis visibility timeout must exceed it,
# or Redis would hand a waiting task to a second worker (tests assert the relation).
CELERY_MAX_COUNTDOWN = int(os.environ.get("CELERY_MAX_COUNTDOWN", str(60 * 60 * 6)))
# How long Redis keeps a task that a worker took and never acknowledged (it was killed, or ran out
# of memory) before another worker gets it. A task waiting for its countdown is unacknowledged too,
# so this must exceed CELERY_MAX_COUNTDOWN; one hour above it unless set (tests set it short).
CELERY_VISIBILITY_TIMEOUT = int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "").strip() or CELERY_MAX_COUNTDOWN + 3600)
if CELERY_VISIBILITY_TIMEOUT <= CELERY_MAX_COUNTDOWN:
    raise ImproperlyConfigured("CELERY_VISIBILITY_TIMEOUT must exceed CELERY_MAX_COUNTDOWN.")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
        # Workers look for such tasks every 100 s (kombu's default: a check every 10 s, a scan at
        # every 10th); with a timeout shorter than that, at every check.
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 10 if CELERY_VISIBILITY_TIMEOUT >= 100 else 1,
        # A request that enqueues must not hang on a dead broker: give up quickly; the outbox and
        # the sweeps send what could not be enqueued.
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
        "socket_connect_timeout": 2,
    }
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "").strip() or None
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = int(os.environ.get("CELERY_TASK_SOFT_TIME_LIMIT", "240"))
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", "300"))
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Declared in code (config/schedule.py), synced into django-celery-beat's tables by
# `manage.py sync_periodic_tasks` (run by `migrate`), where staff can pause or re-time them.
VASTAVUORO_PERIODIC_TASKS = PERIODIC_TASKS

# --- Health -------------------------------------------------------------------------------------

READYZ_BROKER_TIMEOUT = int(os.environ.get("READYZ_BROKER_TIMEOUT", "2"))

# --- Logging ------------------------------------------------------------------------------------

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Demo ---------------------------------------------------------------------------------------

DEMO_STAFF_EMAIL = os.environ.get("DEMO_STAFF_EMAIL", "staff@vastavuoro.local")
DEMO_STAFF_PASSWORD = os.environ.get("DEMO_STAFF_PASSWORD", "vastavuoro-demo")

SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(int(timedelta(days=14).total_seconds()))))
