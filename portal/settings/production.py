"""Production: every secret from the environment, HTTPS only. Passes ``check --deploy``.

Required: ``SECRET_KEY``, ``GLASSPANE_CREDENTIAL_KEYS``, ``DATABASE_URL``, ``GLASSPANE_ALLOWED_HOSTS``;
``check --deploy`` also warns until ``GLASSPANE_CACHE_URL`` names a shared Redis cache (portal.W002).
"""

import os

from django.core.exceptions import ImproperlyConfigured

from portal.settings.base import *  # noqa: F403
from portal.settings.base import DATABASES, env, use_connection_pool

DEBUG = False
# read as it is: django-environ takes a value that starts with "$" for another variable's name, and
# Django's own key generator puts "$" first in one key in fifty
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    raise ImproperlyConfigured("Set the SECRET_KEY environment variable")
GLASSPANE_CREDENTIAL_KEYS = env.list("GLASSPANE_CREDENTIAL_KEYS")
if not GLASSPANE_CREDENTIAL_KEYS:
    raise ImproperlyConfigured("Set the GLASSPANE_CREDENTIAL_KEYS environment variable")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("GLASSPANE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("GLASSPANE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# every web and worker process keeps a small pool of PostgreSQL connections
GLASSPANE_DB_POOL = env.int("GLASSPANE_DB_POOL", default=4)
use_connection_pool(DATABASES, GLASSPANE_DB_POOL)

# load balancers probe the web machines directly over plain HTTP: the probes answer, never redirect
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# /metrics and the API schema are not for everyone in production (README: "Metrics and schema")
GLASSPANE_METRICS_ACCESS = env.str("GLASSPANE_METRICS_ACCESS", default="restricted")
GLASSPANE_API_SCHEMA = env.str("GLASSPANE_API_SCHEMA", default="authenticated")
GLASSPANE_WEBHOOK_DENY_PRIVATE = env.bool("GLASSPANE_WEBHOOK_DENY_PRIVATE", default=True)
