"""``make run`` and ``manage.py`` by default: debug on, secrets generated once into ``var/``."""

from cryptography.fernet import Fernet
from django.core.management.utils import get_random_secret_key

from portal.settings.base import *  # noqa: F403
from portal.settings.base import VAR_DIR, env


def _generated(name: str, make) -> str:
    path = VAR_DIR / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env.bool("GLASSPANE_DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="") or _generated("secret_key", get_random_secret_key)
GLASSPANE_CREDENTIAL_KEYS = env.list("GLASSPANE_CREDENTIAL_KEYS", default=[]) or [
    _generated("credential_key", lambda: Fernet.generate_key().decode())
]
