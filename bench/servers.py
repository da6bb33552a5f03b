"""The hook service under gunicorn, configured by hooks/gunicorn_config.py as deployed.

Registries point at a closed port: the benchmarks that use it send gated syncs only, and a scan
started by mistake would show as an error in the answers instead of as load on a registry.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from bench.environment import REGISTRY
from tests.harness.registry import free_port

_READY_TIMEOUT = 30.0


class Gunicorn:
    """`gunicorn --config python:hooks.gunicorn_config "hooks.app:create_app()"` on 127.0.0.1."""

    def __init__(self, *, workers: int | None = None, threads: int | None = None) -> None:
        self._workers = workers
        self._threads = threads
        self._process: subprocess.Popen[bytes] | None = None
        self._log = Path(tempfile.mkstemp(prefix="bench-gunicorn-", suffix=".log")[1])
        self.port = 0

    @property
    def url(self) -> str:
        """Base URL of the service."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self.port = free_port()
        env = {
            **os.environ,
            "AIM_BIND": f"127.0.0.1:{self.port}",
            "AIM_REGISTRY_ENDPOINTS": f"{REGISTRY}=http://127.0.0.1:9",
        }
        if self._workers is not None:
            env["AIM_WORKERS"] = str(self._workers)
        if self._threads is not None:
            env["AIM_THREADS"] = str(self._threads)
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--config",
                    "python:hooks.gunicorn_config",
                    "hooks.app:create_app()",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"gunicorn exited at start:\n{self._log.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        self.__exit__(None, None, None)
        raise RuntimeError(f"gunicorn not ready after {_READY_TIMEOUT} s")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._log.unlink(missing_ok=True)

    def worker_pids(self) -> list[int]:
        """The worker processes (children of the gunicorn master)."""
        assert self._process is not None
        master = str(self._process.pid)
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                # The fields after the parenthesised command: state, then the parent's pid.
                if stat.rsplit(")", 1)[1].split()[1] == master:
                    pids.append(int(entry))
        return sorted(pids)

    def cpu_seconds(self) -> float:
        """User and system CPU time of the workers so far (/proc/PID/stat)."""
        ticks = 0
        for pid in self.worker_pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            # utime and stime: fields 14 and 15 of stat(5), 12 and 13 after the command.
            ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def memory_kib(self, field: str) -> int:
        """The largest `VmHWM` or `VmRSS` (KiB, from /proc/PID/status) among the workers."""
        largest = 0
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(f"{field}:"):
                    largest = max(largest, int(line.split()[1]))
        return largest
