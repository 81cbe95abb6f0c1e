"""Labelsite settings: everything comes from environment variables, with embedded defaults.

See `.env.example` for every variable. The switches default to production's (DEBUG off, sign-up closed);
`make run` asks for development itself. Without the rest the site runs on a SQLite file, a filesystem
Celery broker and local media, all inside the data folder (`LABELSITE_DATA_DIR`).
"""

import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from core.env import cache_from_url, database_from_url, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
LABELSITE_DATA_DIR = Path(env_str("LABELSITE_DATA_DIR", str(BASE_DIR / "data"))).resolve()
LABELSITE_DATA_DIR.mkdir(parents=True, exist_ok=True)

# Production-safe unless told otherwise: `make run` and the test suite ask for DEBUG=true themselves.
DEBUG = env_bool("DEBUG", False)
LABELSITE_TESTING = env_bool("LABELSITE_TESTING", False)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (it is off unless DEBUG=true).")
    # Development only: one random key, generated once and kept in the data folder.
    path = LABELSITE_DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off (it is off unless DEBUG=true).")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "labelsite",
    "projects",
    "labeling",
    "review",
    "exports",
    "assist",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "labelsite.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "labelsite.middleware.SessionLimitsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "labelsite.middleware.HtmxLoginRedirectMiddleware",
]

ROOT_URLCONF = "labelsite.urls"
WSGI_APPLICATION = "labelsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "labelsite.context_processors.navigation",
                "labelsite.context_processors.requests",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(env_str("DATABASE_URL", f"sqlite:///{LABELSITE_DATA_DIR / 'labelsite.sqlite3'}"))
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": cache_from_url(env_str("CACHE_URL"), str(LABELSITE_DATA_DIR / "cache"))}

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "projects.tenancy.backends.WorkspacePermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling: failures allowed per account and per client address within the window.
LABELSITE_LOGIN_FAILURES_PER_ACCOUNT = env_int("LABELSITE_LOGIN_FAILURES_PER_ACCOUNT", 5)
LABELSITE_LOGIN_FAILURES_PER_ADDRESS = env_int("LABELSITE_LOGIN_FAILURES_PER_ADDRESS", 20)
LABELSITE_LOGIN_FAILURE_WINDOW = env_int("LABELSITE_LOGIN_FAILURE_WINDOW", 15 * 60)
# API token throttling: failed token authentications allowed per client address within the window.
LABELSITE_API_TOKEN_FAILURES_PER_ADDRESS = env_int("LABELSITE_API_TOKEN_FAILURES_PER_ADDRESS", 20)
LABELSITE_API_TOKEN_FAILURE_WINDOW = env_int("LABELSITE_API_TOKEN_FAILURE_WINDOW", 5 * 60)
# Password reset throttling: requests allowed per email and per client address within the window.
LABELSITE_PASSWORD_RESETS_PER_EMAIL = env_int("LABELSITE_PASSWORD_RESETS_PER_EMAIL", 5)
LABELSITE_PASSWORD_RESETS_PER_ADDRESS = env_int("LABELSITE_PASSWORD_RESETS_PER_ADDRESS", 20)
LABELSITE_PASSWORD_RESET_WINDOW = env_int("LABELSITE_PASSWORD_RESET_WINDOW", 3600)
# Behind a reverse proxy: the META key of the header it appends the client address to (e.g. HTTP_X_FORWARDED_FOR).
LABELSITE_CLIENT_IP_HEADER = env_str("LABELSITE_CLIENT_IP_HEADER")

# Sessions end after this long without a request (a lunch break keeps you in, an evening away does not) and,
# however active (a tab polling an export keeps a session busy), this long after logging in.
LABELSITE_SESSION_IDLE_SECONDS = env_int("LABELSITE_SESSION_IDLE_SECONDS", 4 * 3600)
LABELSITE_SESSION_MAX_SECONDS = env_int("LABELSITE_SESSION_MAX_SECONDS", 24 * 3600)
SESSION_COOKIE_AGE = LABELSITE_SESSION_MAX_SECONDS

# Review queue: how long a page of tasks stays with one reviewer.
LABELSITE_REVIEW_LEASE_SECONDS = env_int("LABELSITE_REVIEW_LEASE_SECONDS", 15 * 60)

# Labeling: how long a claimed page of tasks stays with a labeler before it returns to the pool.
LABELSITE_LEASE_MINUTES = env_int("LABELSITE_LEASE_MINUTES", 30)
# Where `manage.py run` serves the site (host:port).
LABELSITE_ADDR = env_str("LABELSITE_ADDR", "127.0.0.1:8000")

# Anyone may create an organization only where the operator says so; otherwise people join by invitation.
LABELSITE_OPEN_SIGNUP = env_bool("LABELSITE_OPEN_SIGNUP", False)
# Whether the organization admins that sign-up creates may use Django admin (their datastores and members);
# otherwise an operator grants it: `manage.py admin_access <username>`.
LABELSITE_SIGNUP_ADMIN_ACCESS = env_bool("LABELSITE_SIGNUP_ADMIN_ACCESS", False)
LABELSITE_INVITATION_MAX_AGE = env_int("LABELSITE_INVITATION_MAX_AGE", 7 * 24 * 3600)

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(LABELSITE_DATA_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "labelsite" / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(LABELSITE_DATA_DIR / "media")))
MEDIA_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and not LABELSITE_TESTING
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Labelsite <noreply@localhost>")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)

# Security headers and cookies. Production (DEBUG off) gets HTTPS-only cookies and HSTS.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
if env_bool("LABELSITE_USE_X_FORWARDED_PROTO", False, old="USE_X_FORWARDED_PROTO"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Extra image sources for the Content-Security-Policy, space separated. Not needed for datastores: a workspace's
# pages allow the exact origins of its datastores' image URLs by themselves (labelsite.middleware).
LABELSITE_CSP_IMG_SRC = env_str("LABELSITE_CSP_IMG_SRC", "")

# Celery. Default: kombu's filesystem transport under the data folder, so no server is needed.
# The host is named although the transport ignores it: with a bare `filesystem://` kombu warns "No hostname was
# supplied" in every process (web, worker, beat).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://localhost/")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue = LABELSITE_DATA_DIR / "celery" / "queue"
    _processed = LABELSITE_DATA_DIR / "celery" / "processed"
    _control = LABELSITE_DATA_DIR / "celery" / "control"
    for folder in (_queue, _processed, _control, LABELSITE_DATA_DIR / "celery" / "results"):
        folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "processed_folder": str(_processed),
        "control_folder": str(_control),
        "store_processed": False,
        "polling_interval": 0.2,
    }
CELERY_RESULT_BACKEND = (
    env_str(
        "CELERY_RESULT_BACKEND",
        f"file://{LABELSITE_DATA_DIR / 'celery' / 'results'}" if CELERY_BROKER_URL.startswith("filesystem://") else "",
    )
    or None
)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
# ML assist's pipeline runs on its own queue, consumed by a worker that keeps the model loaded (`make run` starts
# one when the ML packages are installed): `celery -A labelsite worker -Q ml --include assist.worker`.
CELERY_TASK_ROUTES = {"assist.pipeline_run": {"queue": "ml"}}

# ML assist: `off` disables it (and `make run` then does not install requirements-ml.txt); `auto` uses it when
# its packages are installed.
LABELSITE_ML = env_str("LABELSITE_ML", "auto").strip().lower()
if LABELSITE_ML not in ("auto", "off"):
    raise ImproperlyConfigured("LABELSITE_ML must be `auto` or `off`.")
# Seconds between checks whether a project's labels grew enough to retrain (Celery beat).
LABELSITE_ML_RETRAIN_INTERVAL = env_int("LABELSITE_ML_RETRAIN_INTERVAL", 300)
# Images per featurization batch (the ML worker peaks at about 0.8 GB with 32).
LABELSITE_ML_BATCH = env_int("LABELSITE_ML_BATCH", 32)

# Exports: rows per read, heartbeat cadence, and when the reaper declares a silent export dead.
LABELSITE_EXPORT_CHUNK_SIZE = env_int("LABELSITE_EXPORT_CHUNK_SIZE", 2000)
LABELSITE_EXPORT_HEARTBEAT_INTERVAL = env_int("LABELSITE_EXPORT_HEARTBEAT_INTERVAL", 2)
LABELSITE_EXPORT_STALE_AFTER = env_int("LABELSITE_EXPORT_STALE_AFTER", 120)
LABELSITE_EXPORT_QUEUED_TIMEOUT = env_int("LABELSITE_EXPORT_QUEUED_TIMEOUT", 24 * 3600)
LABELSITE_EXPORT_TEMP_DIR = env_str("LABELSITE_EXPORT_TEMP_DIR")  # default: the system temp folder
LABELSITE_EXPORT_DB_WORK_MEM = env_str(
    "LABELSITE_EXPORT_DB_WORK_MEM", "64MB"
)  # PostgreSQL work_mem for an export's sorts
LABELSITE_IMPORT_MAX_BYTES = env_int("LABELSITE_IMPORT_MAX_BYTES", 512 * 1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "projects.tenancy.api_auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "EXCEPTION_HANDLER": "core.api.api_exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.AnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env_str("LABELSITE_API_RATE_USER", "6000/min"),
        "anon": env_str("LABELSITE_API_RATE_ANON", "60/min"),
    },
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Labelsite API",
    "DESCRIPTION": "Everything the pages do. Authenticate with `Authorization: Bearer <token>` (tokens: /accounts/tokens/).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ProjectStateEnum": "projects.models.LabelingProject.State",
        "ExportStateEnum": "exports.models.Export.State",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LABELSITE_LOG_LEVEL", "INFO", old="LOG_LEVEL")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Storage SDKs log request details at INFO; datastore errors are reported by projects.datastores.storage instead.
        "azure": {"level": "WARNING"},
        "botocore": {"level": "WARNING"},
        "boto3": {"level": "WARNING"},
    },
}

# Datastores (projects/datastores/storage.py). Local folders must sit inside one of these roots (real paths).
LABELSITE_LOCAL_DATASTORE_ROOTS = [
    str(Path(p).expanduser().resolve())
    for p in env_list("LABELSITE_LOCAL_DATASTORE_ROOTS", [str(LABELSITE_DATA_DIR / "datastores")])
]
# host or host:port that may resolve to private/loopback addresses (a local emulator); empty by default.
LABELSITE_DATASTORE_ALLOWED_HOSTS = [h.lower() for h in env_list("LABELSITE_DATASTORE_ALLOWED_HOSTS")]
# Fernet keys for datastore secrets: the first encrypts, all decrypt (rotate by putting a new key first).
LABELSITE_ENCRYPTION_KEYS = env_list("LABELSITE_ENCRYPTION_KEYS")
if not LABELSITE_ENCRYPTION_KEYS:
    # Derived from SECRET_KEY when unset; production should set its own keys so SECRET_KEY can rotate alone.
    import base64
    import hashlib

    LABELSITE_ENCRYPTION_KEYS = [
        base64.urlsafe_b64encode(hashlib.sha256(f"labelsite-datastore-secrets:{SECRET_KEY}".encode()).digest()).decode()
    ]
LABELSITE_REFRESH_INTERVAL = env_int("LABELSITE_REFRESH_INTERVAL", 300)  # seconds between incremental refreshes
LABELSITE_MAX_IMAGE_BYTES = env_int("LABELSITE_MAX_IMAGE_BYTES", 50 * 1024 * 1024)
LABELSITE_MAX_IMAGE_PIXELS = env_int("LABELSITE_MAX_IMAGE_PIXELS", 80_000_000)
LABELSITE_THUMBNAIL_SIZE = env_int("LABELSITE_THUMBNAIL_SIZE", 256)
LABELSITE_STORAGE_TIMEOUT = env_int("LABELSITE_STORAGE_TIMEOUT", 15)  # seconds, every datastore read or connect
# Seconds one datastore request may take in all (connect to last byte, however slowly the server sends), and
# one page's datastore work (Test connection, Browse, an image read) with its retries.
LABELSITE_STORAGE_DEADLINE = env_int("LABELSITE_STORAGE_DEADLINE", 20)
# Bytes one datastore answer may carry (a ranged read: its range); beyond it reading stops with an error.
LABELSITE_STORAGE_MAX_RESPONSE_BYTES = env_int(
    "LABELSITE_STORAGE_MAX_RESPONSE_BYTES", LABELSITE_MAX_IMAGE_BYTES + 1024 * 1024
)
# Seconds the browser waits for an htmx request before it reports a timeout with a Retry (0 = wait forever).
LABELSITE_REQUEST_TIMEOUT = env_int("LABELSITE_REQUEST_TIMEOUT", 30)
LABELSITE_SIGNED_URL_TTL = env_int("LABELSITE_SIGNED_URL_TTL", 300)  # seconds a signed image URL lives
LABELSITE_SCAN_BATCH = env_int("LABELSITE_SCAN_BATCH", 1000)
