"""gunicorn settings for Glasspane's web process, read from the environment (``make run`` and the
systemd unit use this same file: ``gunicorn -c deploy/gunicorn.conf.py portal.wsgi``).

Sync workers: each request holds one worker and one database connection, so ``workers`` x web
hosts must stay below PostgreSQL's ``max_connections`` (or the pool's ``max_size`` x workers, with
``GLASSPANE_DB_POOL``). Static files are served by WhiteNoise from ``collectstatic``'s output.
"""

import multiprocessing
import os

bind = os.environ.get("GLASSPANE_BIND", "127.0.0.1:8000")
#: the usual 2 x cores + 1, at most 9 unless told otherwise
workers = int(os.environ.get("GLASSPANE_WEB_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 9)))
threads = int(os.environ.get("GLASSPANE_WEB_THREADS", 1))
timeout = int(os.environ.get("GLASSPANE_WEB_TIMEOUT", 60))  # a request longer than this kills its worker
graceful_timeout = 15  # Ctrl-C / SIGTERM: requests in flight get this long, then workers are killed
keepalive = 5
#: recycle a worker after this many requests (with jitter, so they do not all restart at once)
max_requests = int(os.environ.get("GLASSPANE_WEB_MAX_REQUESTS", 2000))
max_requests_jitter = max_requests // 10
accesslog = os.environ.get("GLASSPANE_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("GLASSPANE_LOG_LEVEL", "info").lower()
proc_name = "glasspane-web"
# X-Forwarded-Proto/-For are believed only from these addresses (gunicorn's FORWARDED_ALLOW_IPS)
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"  # heartbeat files off a possibly slow disk
# gunicorn's runtime control socket defaults to one path per user: several instances would fight over it
control_socket_disable = True
