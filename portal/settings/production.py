"""Production: every secret from the environment, HTTPS only. Passes ``check --deploy``.

Required: ``SECRET_KEY``, ``GLASSPANE_CREDENTIAL_KEYS``, ``DATABASE_URL``, ``GLASSPANE_ALLOWED_HOSTS``;
``check --deploy`` also warns until ``GLASSPANE_CACHE_URL`` names a shared Redis cache (portal.W002).
"""

from django.core.exceptions import ImproperlyConfigured

from portal.settings.base import *  # noqa: F403
from portal.settings.base import DATABASES, env, use_connection_pool

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY")
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
