"""Settings shared by every environment, read from the environment with django-environ.

Only ``DATABASE_URL``, ``CELERY_BROKER_URL`` and ``SECRET_KEY`` keep their conventional names; every
Glasspane setting starts with ``GLASSPANE_``. The README's configuration table lists them all.
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("GLASSPANE_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()

DEBUG = env.bool("GLASSPANE_DEBUG", default=False)
ALLOWED_HOSTS = env.list("GLASSPANE_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("GLASSPANE_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "providers",
    "metering",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.middleware.UserTimezoneMiddleware",
    "portal.middleware.ChargebackMemoMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
                "portal.web.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'glasspane.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server, the worker and beat share the file; the timeout rides out writers.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("GLASSPANE_CONN_MAX_AGE", default=0))


def use_connection_pool(databases: dict, max_size: int) -> None:
    """Django's psycopg pool on PostgreSQL: each process keeps up to ``max_size`` connections open
    and lends them to requests and tasks (no connect per request). Off on SQLite or when 0."""
    db = databases["default"]
    if max_size > 0 and db["ENGINE"] == "django.db.backends.postgresql":
        db.setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": max_size, "timeout": 10}
        db["CONN_MAX_AGE"] = 0  # the pool keeps connections; Django refuses both at once


#: connections per process in the psycopg pool (PostgreSQL); 0 = none (production's default is 4)
GLASSPANE_DB_POOL = env.int("GLASSPANE_DB_POOL", default=0)
use_connection_pool(DATABASES, GLASSPANE_DB_POOL)

# -- cache: login and API throttles, any page cache ---------------------------------------------------
#: ``redis://host:6379/N``: one cache shared by every process and machine (production); unset: each
#: process keeps its own in memory, which is right only for one process (tests) or ``make run``
GLASSPANE_CACHE_URL = env.str("GLASSPANE_CACHE_URL", default="")
if GLASSPANE_CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": GLASSPANE_CACHE_URL,
                          "KEY_PREFIX": "glasspane", "TIMEOUT": 300,
                          "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2}}}
elif GLASSPANE_CACHE_URL:
    raise ImproperlyConfigured(f"GLASSPANE_CACHE_URL must be a redis:// URL, got {GLASSPANE_CACHE_URL!r}")
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "glasspane"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"  # storage and server time; pages show the user's own zone
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["portal.formats"]  # ISO dates (Y-m-d H:i) in the admin and pages
GLASSPANE_DEFAULT_TIMEZONE = env.str("GLASSPANE_DEFAULT_TIMEZONE", default="UTC")

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# -- credentials at rest ----------------------------------------------------------------------------
GLASSPANE_CREDENTIAL_KEYS = env.list("GLASSPANE_CREDENTIAL_KEYS", default=[])

# -- Celery -------------------------------------------------------------------------------------------
# The embedded default is kombu's filesystem transport on folders under var/: no server process,
# shared by the web server, the worker and beat on one machine. Redis in production.
_BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("in", "processed", "control"):
        (_BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "in"),
        "data_folder_out": str(_BROKER_DIR / "in"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
    }
    (VAR_DIR / "results").mkdir(exist_ok=True)
    _default_results = f"file://{VAR_DIR / 'results'}"
else:
    # a message not acknowledged within this many seconds (its worker died) is delivered again; it must
    # stay above the longest task's time limit, or a task still running is handed to a second worker
    # (``manage.py check`` says so: portal.E001)
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int(
        "GLASSPANE_VISIBILITY_TIMEOUT", default=max(3600, 2 * env.int("GLASSPANE_TASK_TIME_LIMIT", default=900)))}
    _default_results = CELERY_BROKER_URL
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=_default_results)
# A broker or result store that is down fails a request within a few seconds (a 503 with Retry-After),
# instead of kombu's and the Redis backend's default retries holding it for ~20 s.
GLASSPANE_BROKER_TIMEOUT = env.float("GLASSPANE_BROKER_TIMEOUT", default=2.0)
CELERY_BROKER_CONNECTION_TIMEOUT = GLASSPANE_BROKER_TIMEOUT
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5},
    "socket_connect_timeout": GLASSPANE_BROKER_TIMEOUT,
}
if not CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS.update({"socket_connect_timeout": GLASSPANE_BROKER_TIMEOUT,
                                            "max_retries": 1, "interval_start": 0, "interval_step": 0.5})
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the message for redelivery
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CONCURRENCY = env.int("GLASSPANE_WORKER_CONCURRENCY", default=0) or None  # None: one per core
CELERY_TASK_TIME_LIMIT = env.int("GLASSPANE_TASK_TIME_LIMIT", default=900)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("GLASSPANE_TASK_SOFT_TIME_LIMIT", default=840)
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TASK_ALWAYS_EAGER = env.bool("GLASSPANE_TASKS_EAGER", default=False)
CELERY_BEAT_SCHEDULER = "portal.beat:SingleBeatScheduler"  # only the beat holding the lease dispatches
#: seconds a beat's lease lasts without renewal: a standby beat takes over this long after the holder dies
GLASSPANE_BEAT_LEASE = env.int("GLASSPANE_BEAT_LEASE", default=30)

# -- work queues ---------------------------------------------------------------------------------------
# One queue per kind of work, so a slow provider's refreshes never delay provisioning; routing is by
# task name, here and nowhere else (the README's "Work queues" table says the same). A worker started
# without -Q consumes all four (``make run``); in production each queue gets workers of its own.
GLASSPANE_QUEUE_TASKS = {
    # collection: long (up to GLASSPANE_TASK_TIME_LIMIT), one per account at a time (the lease)
    "refresh": ["metering.refresh_account"],
    # changes made on providers for users: provisioning, resource actions, stop-newest, quota push-down
    "provisioning": ["metering.provision_request", "metering.resource_action", "metering.enforce_breach",
                     "metering.push_quotas"],
    # reports and exports: hourly utilization rollups, budget evaluation (costs of every project),
    # scheduled reports (statements and exports rendered and mailed)
    "reports": ["metering.rollup_utilization", "metering.check_budgets", "metering.send_scheduled_reports"],
    # short periodic and notification work: the refresh dispatcher, partition maintenance, alert mail
    # and webhooks, pings
    "housekeeping": ["metering.dispatch_refreshes", "metering.prune_samples", "metering.breach_webhook",
                     "metering.notify_budget_alerts", "metering.budget_webhook", "portal.ping",
                     "metering.sweep_requests", "metering.reap_runs",
                     "metering.retry_quota_pushes",
                     "metering.compact_ledger_changes"],
}
CELERY_TASK_QUEUES = [Queue(name, Exchange(name), routing_key=name) for name in GLASSPANE_QUEUE_TASKS]
CELERY_TASK_DEFAULT_QUEUE = "housekeeping"  # a task missing from the table (tests fail on that)
CELERY_TASK_ROUTES = {task: {"queue": queue} for queue, tasks in GLASSPANE_QUEUE_TASKS.items() for task in tasks}

# -- quota push-down retries (metering.quotas.pushdown) ------------------------------------------------
#: a provider that refused a push (4xx) is asked again after this many seconds, doubling each time up
#: to GLASSPANE_PUSH_RETRY_MAX, at most GLASSPANE_PUSH_ATTEMPTS times; then it waits for a new save
#: or ``quota push``. An unreachable provider is retried by the task itself (30 s doubling to 15 min).
GLASSPANE_PUSH_RETRY_BASE = env.int("GLASSPANE_PUSH_RETRY_BASE", default=900)
GLASSPANE_PUSH_RETRY_MAX = env.int("GLASSPANE_PUSH_RETRY_MAX", default=6 * 3600)
GLASSPANE_PUSH_ATTEMPTS = env.int("GLASSPANE_PUSH_ATTEMPTS", default=6)

# -- nothing stuck: the sweeper of lost provision requests and the reaper of lost refresh runs -------
#: seconds a provision request may stay pending (never started) / provisioning before it is released
GLASSPANE_PROVISION_START_TIMEOUT = env.int("GLASSPANE_PROVISION_START_TIMEOUT", default=900)
GLASSPANE_PROVISION_TIMEOUT = env.int("GLASSPANE_PROVISION_TIMEOUT", default=3600)
#: seconds a refresh run may stay queued before it is ended as abandoned
GLASSPANE_RUN_QUEUE_TIMEOUT = env.int("GLASSPANE_RUN_QUEUE_TIMEOUT", default=900)
#: a running refresh's lease on its account lasts this many seconds and is renewed every
#: GLASSPANE_LEASE_HEARTBEAT seconds; a lost worker's lease lapses within the TTL
GLASSPANE_LEASE_TTL = env.int("GLASSPANE_LEASE_TTL", default=120)
GLASSPANE_LEASE_HEARTBEAT = env.int("GLASSPANE_LEASE_HEARTBEAT", default=30)

# -- accounting ---------------------------------------------------------------------------------------
#: seconds a gap between two observations may last and still be trusted; 0 = 3 x the account's interval
GLASSPANE_MAX_GAP = env.int("GLASSPANE_MAX_GAP", default=0)
GLASSPANE_MAX_GAP_FACTOR = 3
# how far back an account's first refresh looks (days; 0: since the start of the current month)
GLASSPANE_LOOKBACK_DAYS = env.int("GLASSPANE_LOOKBACK_DAYS", default=0)
#: days raw utilization samples are kept; hourly rollups are kept
GLASSPANE_RAW_RETENTION = env.int("GLASSPANE_RAW_RETENTION", default=7)
#: how often beat looks for accounts whose refresh is due (seconds)
GLASSPANE_SCHEDULER_TICK = env.int("GLASSPANE_SCHEDULER_TICK", default=15)
#: the longest period a report or API call may cover (days)
GLASSPANE_MAX_PERIOD_DAYS = env.int("GLASSPANE_MAX_PERIOD_DAYS", default=731)

# -- the client's address, throttles --------------------------------------------------------------
#: reverse proxies in front of Glasspane that append to X-Forwarded-For; 0 = the header is ignored
GLASSPANE_TRUSTED_PROXIES = env.int("GLASSPANE_TRUSTED_PROXIES", default=0)
#: failures before a lock: of one API token, of one username from one address (web login); lock seconds
GLASSPANE_TOKEN_MAX_FAILURES = env.int("GLASSPANE_TOKEN_MAX_FAILURES", default=20)
GLASSPANE_LOGIN_MAX_FAILURES = env.int("GLASSPANE_LOGIN_MAX_FAILURES", default=5)
GLASSPANE_LOGIN_LOCKOUT = env.int("GLASSPANE_LOGIN_LOCKOUT", default=900)

# -- outbound calls (breach webhooks; metering.outbound) ----------------------------------------------
GLASSPANE_WEBHOOK_TIMEOUT = env.int("GLASSPANE_WEBHOOK_TIMEOUT", default=5)
#: refuse webhook hosts that resolve to private, loopback or link-local addresses (on in production)
GLASSPANE_WEBHOOK_DENY_PRIVATE = env.bool("GLASSPANE_WEBHOOK_DENY_PRIVATE", default=False)
GLASSPANE_WEBHOOK_ALLOWED_NETWORKS = env.list("GLASSPANE_WEBHOOK_ALLOWED_NETWORKS", default=[])

# -- /metrics and the API schema --------------------------------------------------------------------
#: open: anyone may scrape /metrics; restricted (production default): a bearer token or an allowed address
GLASSPANE_METRICS_ACCESS = env.str("GLASSPANE_METRICS_ACCESS", default="open")
GLASSPANE_METRICS_TOKEN = env.str("GLASSPANE_METRICS_TOKEN", default="")
#: addresses or networks (CIDR) that may scrape /metrics without the token when access is restricted
GLASSPANE_METRICS_ALLOWED_NETWORKS = env.list("GLASSPANE_METRICS_ALLOWED_NETWORKS", default=[])
#: /api/schema/ and /api/docs/: public, authenticated (production default) or off
GLASSPANE_API_SCHEMA = env.str("GLASSPANE_API_SCHEMA", default="public")

# -- email: budget alerts and scheduled reports -----------------------------------------------------------
# EMAIL_URL: smtp://user:password@host:25, submission://user:password@host:587 (STARTTLS),
# smtps://...:465 (TLS); the default prints messages to the worker's log.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("GLASSPANE_FROM_EMAIL", default="glasspane@localhost")
EMAIL_TIMEOUT = env.int("GLASSPANE_EMAIL_TIMEOUT", default=20)
#: seconds between budget checks (each threshold still fires once a month)
GLASSPANE_BUDGET_CHECK_INTERVAL = env.int("GLASSPANE_BUDGET_CHECK_INTERVAL", default=900)
#: the organisation named in FOCUS exports (BillingAccountId, InvoiceIssuer)
GLASSPANE_FOCUS_ORGANISATION = env.str("GLASSPANE_FOCUS_ORGANISATION", default="Glasspane")
#: seconds a Test connection waits for the provider (providers.connection_check)
GLASSPANE_CONNECTION_CHECK_TIMEOUT = env.float("GLASSPANE_CONNECTION_CHECK_TIMEOUT", default=20.0)

# -- REST API -----------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # tokens first: an anonymous call gets 401 with a Bearer challenge; sessions enforce CSRF on writes
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "portal.api.permissions.TokenScopePermission",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PARSER_CLASSES": ["portal.api.parsers.StrictJSONParser"],  # a JSON API: no form-encoding quirks
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.PagePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "portal.api.negotiation.StrictContentNegotiation",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("GLASSPANE_API_ANON_RATE", default="60/minute"),
        "user": env.str("GLASSPANE_API_USER_RATE", default="1200/minute"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "EXCEPTION_HANDLER": "portal.api.errors.exception_handler",  # a lost database is a 503, not a 500
    # the client address behind reverse proxies, as portal.authentication.client_ip reads it
    "NUM_PROXIES": GLASSPANE_TRUSTED_PROXIES or None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Glasspane API",
    "DESCRIPTION": "Inventory, usage, quotas and chargeback over KVM, Docker and OpenStack. Authenticate with a "
                   "session (browser; CSRF token on writes) or a personal access token "
                   "(`Authorization: Bearer <token>`). Objects in projects you cannot see are 404.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",  # served from drf-spectacular-sidecar's static files: no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ResourceKindEnum": "metering.choices.ResourceKind",
        "ProvisionKindEnum": ["vm", "server", "instance", "container", "volume"],
        "ProviderKindEnum": "providers.registry.kinds",  # the account form, the API and test-connection
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "portal.api.schema.add_error_responses",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("GLASSPANE_LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
