"""One WSGI entry for every OpenStack API run by scripts/openstack-real.sh under gunicorn.

``GP_OS_WSGI=module:attribute`` names the service's own WSGI application. The services build
their configuration with oslo.config, which parses ``sys.argv``: under gunicorn that is gunicorn's
own command line, which oslo.config refuses. So the arguments are hidden before the import.
"""

import importlib
import os
import sys

sys.argv = sys.argv[:1]
_module, _, _attribute = os.environ["GP_OS_WSGI"].partition(":")
application = getattr(importlib.import_module(_module), _attribute or "application")
