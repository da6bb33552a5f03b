"""gunicorn settings for the hook service (`gunicorn --config python:hooks.gunicorn_config`).

Two workers with threads: Metacontroller syncs different parents concurrently (5 workers per
controller by default) and a scanning sync spends most of its time waiting on registries, so
threads keep gated syncs fast while a scan runs. The worker timeout is longer than the scan
deadline (AIM_SCAN_DEADLINE_SECONDS, default 20 s) so a scan is never killed mid-response.
"""

import os

from hooks.settings import settings_from_env

# The service's own reading of the environment: one set of defaults, and a bad variable stops
# gunicorn at start with a message naming it (gunicorn prints "Error: <message>").
_settings = settings_from_env(os.environ)
_deadline = _settings.registry.scan_deadline

bind = os.environ.get("AIM_BIND", "0.0.0.0:8080")
workers = int(os.environ.get("AIM_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("AIM_THREADS", "8"))
timeout = int(_deadline + 40)
graceful_timeout = int(_deadline + 10)
keepalive = 75
# /tmp is the one writable place under a read-only root filesystem.
worker_tmp_dir = os.environ.get("AIM_WORKER_TMP_DIR", "/tmp")  # noqa: S108
accesslog = None
errorlog = "-"
loglevel = _settings.log_level.lower()
