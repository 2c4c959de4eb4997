"""Fidelis settings, read from the environment (see README "Configuration")."""

from importlib.util import find_spec
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from fidelis.config.env import env_bool, env_int, env_list, env_str

PACKAGE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("FIDELIS_DATA_DIR", str(Path.cwd() / "data"))).resolve()

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG and env_bool("FIDELIS_REQUIRE_SECRET_KEY", False):
        raise ImproperlyConfigured("SECRET_KEY must be set")
    # A per-data-dir key so that a one-command start works and stays stable across restarts.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        from django.core.management.utils import get_random_secret_key

        key_file.write_text(get_random_secret_key(), encoding="utf-8")
        key_file.chmod(0o600)
    SECRET_KEY = key_file.read_text(encoding="utf-8").strip()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "js_lib_htmx",
    "ninja",  # serves the Swagger UI of /api/docs from its own static files, not a CDN
    "fidelis.core",
    "fidelis.accounts",
    "fidelis.events",
    "fidelis.customers",
    "fidelis.loyalty",
    "fidelis.sales",
    "fidelis.pipeline",
    "fidelis.work",
    "fidelis.feedback",
    "fidelis.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "fidelis.web.middleware.DefaultLanguageMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "fidelis.accounts.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "fidelis.accounts.middleware.RequestContextMiddleware",
    "fidelis.core.idempotency.IdempotencyMiddleware",
]

ROOT_URLCONF = "fidelis.config.urls"
WSGI_APPLICATION = "fidelis.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "fidelis.web.context_processors.navigation",
            ],
        },
    },
]

_default_db = f"sqlite:///{DATA_DIR / 'fidelis.sqlite3'}"
DATABASE_URL = env_str("DATABASE_URL", _default_db)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "fidelis.core.postgresql"  # Django's, reading timestamps faster
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
# Django's database sessions and ModelBackend, each reading its row with one hand-written statement (see there).
AUTHENTICATION_BACKENDS = ["fidelis.accounts.backends.UserBackend"]
SESSION_ENGINE = "fidelis.accounts.sessions"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "accounts:login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [
    ("zh-hans", "简体中文"),
    ("zh-hant", "繁體中文"),
    ("en", "English"),
]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
FORMAT_MODULE_PATH = ["fidelis.config.formats"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
# Static files come straight from the installed packages (no collectstatic step needed to run).
WHITENOISE_USE_FINDERS = True
# Plotly's browser bundle ships inside the `plotly` wheel: served as static/plotly/plotly.min.js, no CDN.
STATICFILES_DIRS = [("plotly", Path(find_spec("plotly").origin).parent / "package_data")]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = DATA_DIR / "media"
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Largest customer import file accepted, in bytes.
FIDELIS_IMPORT_MAX_BYTES = env_int("FIDELIS_IMPORT_MAX_BYTES", 20 * 1024 * 1024)
# Caps on what an import reads from a file (customers and orders): data rows, columns, characters in one cell.
FIDELIS_IMPORT_MAX_ROWS = env_int("FIDELIS_IMPORT_MAX_ROWS", 200_000)
FIDELIS_IMPORT_MAX_COLUMNS = env_int("FIDELIS_IMPORT_MAX_COLUMNS", 200)
FIDELIS_IMPORT_MAX_CELL_CHARS = env_int("FIDELIS_IMPORT_MAX_CELL_CHARS", 10_000)
for _name in ("FIDELIS_IMPORT_MAX_ROWS", "FIDELIS_IMPORT_MAX_COLUMNS", "FIDELIS_IMPORT_MAX_CELL_CHARS"):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1")
FIDELIS_DEFAULT_REGION = env_str("FIDELIS_DEFAULT_REGION", "CN")
# The clean-up list (customers.cleanup): years without any event after which a customer needs attention, and the
# data every record must have ("phone|email": at least one of them).
FIDELIS_CLEANUP_INACTIVE_YEARS = env_int("FIDELIS_CLEANUP_INACTIVE_YEARS", 3)
FIDELIS_CLEANUP_REQUIRED_FIELDS = env_list("FIDELIS_CLEANUP_REQUIRED_FIELDS", ["name", "phone|email"])

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Behind HTTPS (FIDELIS_HTTPS=true) cookies are secure, HTTP redirects to HTTPS and HSTS is on:
# `fidelis check --deploy` is then clean.
HTTPS = env_bool("FIDELIS_HTTPS", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", HTTPS)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)
if env_bool("FIDELIS_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Background work: with no broker configured, tasks run in-process when they are sent.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", None)
CELERY_TIMEZONE = TIME_ZONE
# Periodic work, run by `celery -A fidelis.config beat` next to the workers.
CELERY_BEAT_SCHEDULE = {
    "customers-duplicates-scan": {"task": "customers.duplicates_scan", "schedule": 24 * 3600.0},
    "accounts-clear-expired-sessions": {"task": "accounts.clear_expired_sessions", "schedule": 24 * 3600.0},
    "core-purge-idempotent-requests": {"task": "core.purge_idempotent_requests", "schedule": 3600.0},
    "loyalty-expiry-notices": {"task": "loyalty.expiry_notices", "schedule": 24 * 3600.0},
    "loyalty-expire-points": {"task": "loyalty.expire_points", "schedule": 3600.0},
    "loyalty-tier-reviews": {"task": "loyalty.tier_reviews", "schedule": 24 * 3600.0},
    "events-dispatch-pending": {"task": "events.dispatch_pending", "schedule": 60.0},
    "loyalty-apply-missed": {"task": "loyalty.apply_missed", "schedule": 300.0},
    "events-webhook-retry-due": {"task": "events.webhook_retry_due", "schedule": 60.0},
    "work-send-due-reminders": {"task": "work.send_due_reminders", "schedule": 60.0},
    "pipeline-contract-expiry-reminders": {"task": "pipeline.contract_expiry_reminders", "schedule": 3600.0},
}
# How many queued events a worker hands to the handlers in one transaction (events.dispatch_pending).
FIDELIS_DISPATCH_BATCH = env_int("FIDELIS_DISPATCH_BATCH", 500)
# Days before a contract's end date when its owner gets a to-do to renew it.
FIDELIS_CONTRACT_REMINDER_DAYS = env_int("FIDELIS_CONTRACT_REMINDER_DAYS", 30)

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "fidelis@localhost")
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")  # or EMAIL_HOST_PASSWORD_FILE
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)  # STARTTLS, usually port 587
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)  # TLS from the start, usually port 465
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL exclude each other; set one")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
# Where the staff reach Fidelis: links in e-mails (task reminders) start with it.
FIDELIS_SITE_URL = (env_str("FIDELIS_SITE_URL", "http://127.0.0.1:8000") or "").rstrip("/")

NINJA_PAGINATION_PER_PAGE = 50

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}

