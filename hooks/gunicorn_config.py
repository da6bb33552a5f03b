"""gunicorn settings for the hook service (`gunicorn --config python:hooks.gunicorn_config`).

Two workers with threads: Metacontroller syncs different parents concurrently (5 workers per
controller by default) and a scanning sync spends most of its time waiting on registries, so
threads keep gated syncs fast while a scan runs. The worker timeout is longer than the scan
deadline (AIM_SCAN_DEADLINE_SECONDS, default 20 s) so a scan is never killed mid-response.

Metrics: every worker counts in files under PROMETHEUS_MULTIPROC_DIR (prometheus_client's
multiprocess mode) and /metrics sums them, whichever worker answers. prometheus_client decides
the mode when it is first imported, so the variable is set here, before anything imports it.
Logs: one JSON line per record on stderr (text on a terminal), gunicorn's own lines included.
"""

import os
from contextlib import suppress
from pathlib import Path
from typing import Any

# /tmp is the one writable place under a read-only root filesystem.
worker_tmp_dir = os.environ.get("AIM_WORKER_TMP_DIR", "/tmp")  # noqa: S108
# One directory per server (its master's pid; 1 in the container, so a restarted container
# reuses and empties it), unless the operator names one.
_metrics_dir = Path(
    os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    or os.path.join(worker_tmp_dir, f"aim-hooks-metrics-{os.getpid()}")
)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir)

# Imported only now: see the module docstring.
from gunicorn.glogging import Logger  # type: ignore[import-untyped]  # noqa: E402
from prometheus_client import multiprocess  # noqa: E402

from hooks.allocator import keep_large_buffers  # noqa: E402
from hooks.logs import logging_config  # noqa: E402
from hooks.settings import settings_from_env  # noqa: E402

# The service's own reading of the environment: one set of defaults, and a bad variable stops
# gunicorn at start with a message naming it (gunicorn prints "Error: <message>").
_settings = settings_from_env(os.environ)
_deadline = _settings.registry.scan_deadline

bind = os.environ.get("AIM_BIND", "0.0.0.0:8080")
workers = int(os.environ.get("AIM_WORKERS", "2"))
# Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new
# connections over them. Metacontroller keeps a few connections alive and opens them in a
# burst; on one shared socket the worker that won the first accept usually took them all and
# kept them (a gthread worker keeps what it accepts), while the other worker idled: 4 runs of 6
# at 5 connections, half the pod's throughput (bench/README.md). The cost: connections waiting
# in a worker's backlog when it stops are reset, where a shared socket left them to the others.
# Only a TCP address is shared that way: each worker would remove a Unix socket's path to bind
# its own, and an inherited descriptor (fd://) cannot be opened again.
reuse_port = not bind.startswith(("unix:", "fd://"))
worker_class = "gthread"
# Scans take at most threads - 1 of them (hooks/app.py), so a probe always finds one.
threads = _settings.threads
timeout = int(_deadline + 40)
graceful_timeout = int(_deadline + 10)
# Above the 90 s a Go client keeps an idle connection (http.Transport's IdleConnTimeout, which
# Metacontroller's webhook client inherits): a server that closes first races the client's next
# request on that connection, which then fails as a transport error (a SyncError and a backoff).
keepalive = 120
# No gunicornc control socket: nothing here uses it, and its default place ($HOME) is read-only.
control_socket_disable = True
accesslog = None


class NoAccessLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn's logger without access lines. The app writes its own line per hook call and
    none per probe (hooks/app.py), and `logconfig_dict` silences gunicorn.access; but gunicorn
    builds every request's access fields whenever a logging configuration is given, only for the
    line to be dropped: 3-8% of a worker's Python time under load (bench/README.md)."""

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """No access line: the app logs each hook call itself."""


logger_class = NoAccessLogger
errorlog = "-"
loglevel = _settings.log_level.lower()
logconfig_dict = logging_config(_settings.log_level)


def _remove_metric_files() -> None:
    for path in _metrics_dir.glob("*.db"):
        path.unlink(missing_ok=True)


def on_starting(server: Any) -> None:
    """Start the counts from zero: files left by an earlier server would be summed in."""
    _metrics_dir.mkdir(parents=True, exist_ok=True)
    _remove_metric_files()


def post_fork(server: Any, worker: Any) -> None:
    """Each worker keeps a large sync's buffers for the next one (hooks/allocator.py)."""
    keep_large_buffers()


def child_exit(server: Any, worker: Any) -> None:
    """A worker is gone: its counts stay summed in, its live gauges (if any) are dropped."""
    multiprocess.mark_process_dead(worker.pid, str(_metrics_dir))  # type: ignore[no-untyped-call]


def on_exit(server: Any) -> None:
    """Leave nothing behind in /tmp (a directory the operator named may hold more: kept)."""
    _remove_metric_files()
    with suppress(OSError):
        _metrics_dir.rmdir()
