"""Child processes the tests and benchmarks run (gunicorn, docker-registry): waiting until the
hook service is healthy and every worker listens, finding its workers and the connections they
hold, and stopping a child as its supervisor would.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.harness.loopback import free_port

_HEALTH_POLL_SECONDS = 0.05


HOOK_APP = "hooks.app:create_app()"
PROJECT = Path(__file__).resolve().parents[2]


def gunicorn_command(port: int, app: str = HOOK_APP) -> list[str]:
    """How the image starts the service (Dockerfile ENTRYPOINT), on a loopback port; a
    benchmark may serve another WSGI `app` with the same configuration."""
    return [
        str(Path(sys.executable).parent / "gunicorn"),
        "--config",
        "python:hooks.gunicorn_config",
        "--bind",
        f"127.0.0.1:{port}",
        app,
    ]


class ServiceNotReady(RuntimeError):
    """The hook service exited or did not answer /healthz in time; the message holds its output."""


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM, as Kubernetes stops a pod, and `timeout` seconds for a graceful exit; then SIGKILL,
    so that no test or benchmark leaves a child behind. Nothing happens if it has exited."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until_healthy(
    process: subprocess.Popen[bytes], url: str, timeout: float, output: Callable[[], str]
) -> None:
    """Return once `GET {url}/healthz` answers 200.

    Raise ServiceNotReady with `output()` (what the process wrote) when it exits first or after
    `timeout` seconds, so that a start-up failure reads as its cause instead of as a refused
    connection in whatever test runs next.
    """
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise ServiceNotReady(f"the hook service not healthy after {timeout} s:\n{output()}")
        time.sleep(_HEALTH_POLL_SECONDS)
    raise ServiceNotReady(f"the hook service exited at start:\n{output()}")


@contextmanager
def gunicorn_service(
    env: Mapping[str, str], log: Path, timeout: float, cwd: Path = PROJECT
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The hook service under gunicorn on a loopback port, its stderr in the file `log` (a
    file, not a pipe: nothing reads stderr while it runs, and a full pipe would block it);
    (the process, its base URL) once healthy, stopped afterwards."""
    port = free_port()
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            gunicorn_command(port), cwd=cwd, env=dict(env), stdout=subprocess.DEVNULL, stderr=stderr
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(process, url, timeout, log.read_text)
        yield process, url
    finally:
        stop_process(process)


def child_pids(parent: int) -> list[int]:
    """The live children of `parent` (gunicorn's workers, for its master), from /proc.

    Zombies are left out: a worker that has exited but not yet been reaped holds no memory, files
    or threads to measure, and is no longer serving.
    """
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # After the parenthesised command: the state, then the parent's pid.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if fields[0] != "Z" and int(fields[1]) == parent:
            pids.append(int(stat.parent.name))
    return sorted(pids)


@dataclass(frozen=True)
class TcpSocket:
    """One IPv4 TCP socket of this network namespace, as /proc/net/tcp lists it."""

    local_port: int
    remote_port: int
    state: str  # the kernel's code: 0A listening, 01 established
    inode: str

    @property
    def listening(self) -> bool:
        return self.state == "0A"

    @property
    def established(self) -> bool:
        return self.state == "01"


def tcp_sockets() -> list[TcpSocket]:
    """Every IPv4 TCP socket of this network namespace (the services here bind 127.0.0.1)."""
    sockets = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        sockets.append(
            TcpSocket(
                local_port=int(fields[1].rsplit(":", 1)[1], 16),
                remote_port=int(fields[2].rsplit(":", 1)[1], 16),
                state=fields[3],
                inode=fields[9],
            )
        )
    return sockets


def open_files(pid: int) -> list[str]:
    """What each descriptor process `pid` holds open points to (`socket:[INODE]` for a socket),
    from /proc; one closed while they are read is left out."""
    targets = []
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            targets.append(os.readlink(descriptor))
    return targets


def socket_inodes(pid: int) -> set[str]:
    """The inodes of the sockets process `pid` holds open."""
    return {
        target[len("socket:[") : -1] for target in open_files(pid) if target.startswith("socket:[")
    }


def wait_for_listeners(port: int, count: int, timeout: float) -> None:
    """Return once `count` sockets listen on `port`. gunicorn's workers each listen on a socket
    of their own (hooks/gunicorn_config.py `reuse_port`), and /healthz answers as soon as the
    first one does: a test or benchmark that loads every worker waits for all of them."""
    deadline = time.monotonic() + timeout
    while sum(s.local_port == port and s.listening for s in tcp_sockets()) < count:
        if time.monotonic() > deadline:
            raise ServiceNotReady(f"fewer than {count} sockets listen on port {port}")
        time.sleep(_HEALTH_POLL_SECONDS)
