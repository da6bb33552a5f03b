"""The hook service under gunicorn, configured by hooks/gunicorn_config.py as deployed.

Registries point at a closed port: the benchmarks that use it send gated syncs only, and a scan
started by mistake would show as an error in the answers instead of as load on a registry.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Self

from bench.environment import REGISTRY
from bench.report import process_cpu_seconds
from tests.harness.loopback import LoopbackServer, free_port
from tests.harness.processes import (
    HOOK_APP,
    ServiceNotReady,
    child_pids,
    gunicorn_command,
    stop_process,
    wait_for_listeners,
    wait_until_healthy,
)

_READY_TIMEOUT = 30.0


class Gunicorn(LoopbackServer):
    """`gunicorn --config python:hooks.gunicorn_config "hooks.app:create_app()"` on 127.0.0.1
    (or another `app`, such as the floor of bench/floor.py, with the same configuration)."""

    def __init__(
        self,
        *,
        workers: int | None = None,
        threads: int | None = None,
        app: str = HOOK_APP,
        env: dict[str, str] | None = None,
    ) -> None:
        self._workers = workers
        self._threads = threads
        self._app = app
        self._env = env or {}
        self._process: subprocess.Popen[bytes] | None = None
        self._log = Path(tempfile.mkstemp(prefix="bench-gunicorn-", suffix=".log")[1])
        self.port = 0

    def start(self) -> Self:
        """Start gunicorn on a free port and wait until it answers /healthz."""
        self.port = free_port()
        env = {
            **os.environ,
            "AIM_REGISTRY_ENDPOINTS": f"{REGISTRY}=http://127.0.0.1:9",
            **self._env,
        }
        if self._workers is not None:
            env["AIM_WORKERS"] = str(self._workers)
        if self._threads is not None:
            env["AIM_THREADS"] = str(self._threads)
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                gunicorn_command(self.port, self._app),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            wait_until_healthy(self._process, self.url, _READY_TIMEOUT, self._log.read_text)
            # Each worker listens on a socket of its own and the first one up answers /healthz;
            # by then gunicorn has forked them all (it imports the app in each after the fork).
            wait_for_listeners(self.port, len(self.worker_pids()), _READY_TIMEOUT)
        except ServiceNotReady:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM gunicorn (a graceful shutdown of its workers) and remove its log."""
        process, self._process = self._process, None
        if process is not None:
            stop_process(process)
        self._log.unlink(missing_ok=True)

    def worker_pids(self) -> list[int]:
        """The worker processes (children of the gunicorn master)."""
        assert self._process is not None
        return child_pids(self._process.pid)

    def cpu_seconds(self) -> float:
        """User and system CPU time of the workers so far (/proc/PID/stat)."""
        return sum(process_cpu_seconds(pid) for pid in self.worker_pids())

    def memory_kib(self, field: str) -> int:
        """The largest `VmHWM` or `VmRSS` (KiB, from /proc/PID/status) among the workers."""
        largest = 0
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(f"{field}:"):
                    largest = max(largest, int(line.split()[1]))
        return largest
