"""The service as deployed: gunicorn with hooks/gunicorn_config.py, two workers, a registry that
needs a pull secret (token auth), logging at DEBUG, a bearer token on the hooks.

/metrics sums the counts of every worker (prometheus_client's multiprocess mode), also of
workers that are gone; stderr holds nothing but JSON lines, and never a credential.
"""

import base64
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.bodies import gated_body
from hooks.modelsource.pipeline import NO_SCAN_SLOT_RESYNC_SECONDS
from tests.harness.loopback import free_port
from tests.harness.populate import plan_from
from tests.harness.processes import (
    child_pids,
    gunicorn_command,
    socket_inodes,
    stop_process,
    tcp_sockets,
    wait_for_listeners,
    wait_until_healthy,
)
from tests.harness.registry import Registry, TokenAuth
from tests.harness.tokenserver import TokenServer
from tests.hooks.emulator import HookClient
from tests.hooks.wire import login, secret
from tests.web.hook_requests import source_sync
from tests.web.prometheus import increase, scrape

pytestmark = pytest.mark.registry

PROJECT = Path(__file__).resolve().parents[2]
PLAN = plan_from({"private/model": ["1.0.0", "1.1.0"], "private/denied": ["1.0.0"]})
PASSWORD = "planted-password-3b9e1f"
WRONG_PASSWORD = "planted-wrong-password-c47a02"
HOOK_TOKEN = "planted-hook-token-58d0aa"
WRONG_HOOK_TOKEN = "planted-wrong-hook-token-e61b93"
START_TIMEOUT = 20.0


@dataclass
class Service:
    """gunicorn serving the hooks, its stderr in a file, and the registry it scans."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    metrics_dir: Path
    registry: Registry
    token_server: TokenServer

    def client(self, token: str = HOOK_TOKEN) -> httpx.Client:
        """A fresh connection (keep-alive connections end when their worker does)."""
        return httpx.Client(
            base_url=self.url, timeout=30.0, headers={"Authorization": f"Bearer {token}"}
        )

    def log_lines(self) -> list[dict[str, Any]]:
        """Every line gunicorn has written to stderr so far, each parsed as JSON."""
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def workers(self) -> set[int]:
        """The pids of the live worker processes (children of the master)."""
        return set(child_pids(self.process.pid))


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {START_TIMEOUT} s"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def service(registry_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One server for the module; each test sends its own requests and compares scrapes."""
    work = tmp_path_factory.mktemp("gunicorn")
    with (
        TokenServer(users={"alice": PASSWORD}, anonymous_pull=False, deny=["private/denied"]) as ts,
        Registry(PLAN, TokenAuth(ts), binary=registry_binary) as registry,
        (work / "stderr.log").open("wb") as stderr,
    ):
        port = free_port()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "AIM_WORKERS": "2",
            "AIM_THREADS": "4",
            "AIM_LOG_LEVEL": "DEBUG",
            "AIM_HOOK_TOKEN": HOOK_TOKEN,
            "AIM_INSECURE_REGISTRIES": registry.host,
            "AIM_SCAN_DEADLINE_SECONDS": "10",
            "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics"),
        }
        process = subprocess.Popen(
            gunicorn_command(port),
            cwd=PROJECT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        served = Service(
            process, f"http://127.0.0.1:{port}", work / "stderr.log", work / "metrics", registry, ts
        )
        try:
            wait_until_healthy(process, served.url, START_TIMEOUT, served.log.read_text)
            wait_for_listeners(port, 2, START_TIMEOUT)
            yield served
        finally:
            stop_process(process)


def pull_secret(service: Service, password: str = PASSWORD) -> dict[str, Any]:
    return secret(f"creds-{len(password)}", login(service.registry.host, "alice", password))


def scanned(hook: HookClient, request: dict[str, Any]) -> dict[str, Any]:
    """The answer of a sync that scanned: sent again, as Metacontroller does after the short
    resync, while the worker that got it had every scan slot taken (3 of its 4 threads)."""
    while "status" not in (reply := hook.sync(request))["status"]:
        assert reply["resyncAfterSeconds"] == NO_SCAN_SLOT_RESYNC_SECONDS
    return reply


def test_metrics_sum_every_worker_also_the_ones_that_are_gone(service: Service) -> None:
    creds = pull_secret(service)
    requests = [
        source_sync(f"summed-{n}", service.registry.host, ["private/model"], [creds])
        for n in range(8)
    ]
    with service.client() as http:
        before = scrape(http)
        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(partial(scanned, HookClient(http)), requests))
    assert [reply["status"]["status"] for reply in replies] == ["Ready"] * 8
    # Each worker counts in files of its own, in the directory PROMETHEUS_MULTIPROC_DIR names.
    assert len(list(service.metrics_dir.glob("counter_*.db"))) == 2

    # A reload replaces both workers: the new ones never saw these syncs.
    old = service.workers()
    service.process.send_signal(signal.SIGHUP)
    wait_for(lambda: len(new := service.workers()) == 2 and not new & old, "workers replaced")

    with service.client() as http:
        after = scrape(http)
    calls = "aim_hooks_hook_calls_total"
    assert increase(before, after, calls, hook="sync/modelsource", outcome="Ready") == 8
    assert increase(before, after, "aim_hooks_scans_total", result="run") == 8
    assert increase(before, after, "aim_hooks_models_created_total") == 16
    requests_total = "aim_hooks_registry_requests_total"
    assert increase(before, after, requests_total, registry=service.registry.host, code="200") >= 8


def test_every_line_on_stderr_is_json_and_a_sync_s_lines_name_its_parent(
    service: Service,
) -> None:
    creds = pull_secret(service)
    request = source_sync(
        "json-lines", service.registry.host, ["private/model", "private/missing"], [creds]
    )

    with service.client() as http:
        reply = HookClient(http).sync(request)

    assert reply["status"]["status"] == "Degraded"
    lines = service.log_lines()
    assert {"gunicorn.error", "hooks.app", "hooks.registry.scanner"} <= {
        line["logger"] for line in lines
    }
    mine = [line for line in lines if line.get("parent") == "json-lines"]
    (failure,) = [line for line in mine if line["message"] == "registry call failed"]
    assert (failure["registry"], failure["error_class"], failure["status"]) == (
        service.registry.host,
        "NotFoundError",
        404,
    )
    (call,) = [line for line in mine if line["message"] == "hook call"]
    assert (call["hook"], call["outcome"], call["scanned"], call["created"], call["http"]) == (
        "sync/modelsource",
        "Degraded",
        True,
        2,
        200,
    )


def test_no_credential_ever_reaches_the_log(service: Service) -> None:
    good, wrong = pull_secret(service), pull_secret(service, WRONG_PASSWORD)
    host = service.registry.host
    images = ["private/model", "private/denied", "private/missing"]

    with service.client() as http:
        hook = HookClient(http)
        hook.sync(source_sync("good-secret", host, images, [good]))
        hook.sync(source_sync("wrong-secret", host, ["private/model"], [wrong]))
    with service.client(WRONG_HOOK_TOKEN) as http:
        assert http.post("/sync/modelsource", content=b"{}").status_code == 401

    failed = {
        (line["parent"], line["error_class"])
        for line in service.log_lines()
        if line["message"] == "registry call failed"
        and line["parent"] in ("good-secret", "wrong-secret")
    }
    # Failed calls that carried the credentials were logged (at DEBUG, everything is).
    assert failed == {
        ("good-secret", "AccessDeniedError"),
        ("good-secret", "NotFoundError"),
        ("wrong-secret", "AuthenticationError"),
    }
    assert service.token_server.requests
    text = service.log.read_text()
    planted = [PASSWORD, WRONG_PASSWORD, HOOK_TOKEN, WRONG_HOOK_TOKEN]
    planted += [
        base64.b64encode(f"alice:{p}".encode()).decode() for p in (PASSWORD, WRONG_PASSWORD)
    ]
    planted += [s["data"][".dockerconfigjson"] for s in (good, wrong)]
    assert [p for p in planted if p in text] == []
    # Every JWT starts with the base64 of '{"': no registry token was logged either.
    assert "eyJ" not in text


def minor_faults(pid: int) -> int:
    """Pages a process has faulted in so far without I/O (/proc/PID/stat field 10)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[7])


def test_a_large_sync_reuses_the_pages_of_the_one_before(service: Service) -> None:
    """hooks/allocator.py in the deployed workers: a 10,000-child sync's 13 MB body and 4.7 MB
    answer come from memory the previous one freed, so a sync faults in fewer pages than those
    two buffers alone take (2,000-3,400 here; 8,100 with glibc's defaults, bench/README.md)."""
    body = gated_body(10_000, datetime.now(UTC))
    with service.client() as client:  # one kept-alive connection: one worker
        answer = client.post("/sync/modelsource", content=body)
        assert answer.status_code == 200
        for _ in range(2):
            client.post("/sync/modelsource", content=body).raise_for_status()
        before = {pid: minor_faults(pid) for pid in service.workers()}
        for _ in range(5):
            client.post("/sync/modelsource", content=body).raise_for_status()
        faulted = sum(minor_faults(pid) - count for pid, count in before.items())
    buffer_pages = (len(body) + len(answer.content)) // 4096
    assert faulted / 5 < buffer_pages


def test_connections_opened_together_are_spread_over_the_workers(service: Service) -> None:
    """Metacontroller opens its few kept-alive connections in a burst, and a gthread worker
    keeps the connections it accepts. Each worker listens on a socket of its own (gunicorn's
    reuse_port) and the kernel spreads connections by their addresses; on one shared socket the
    first worker to wake accepted the whole burst (5 of 5, five runs of five, bench/README.md).
    Sixteen connections all landing on one of two sockets by hash is a chance of 2 in 65,536."""
    port = int(service.url.rsplit(":", 1)[1])
    burst = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
    peers = {connection.getsockname()[1] for connection in burst}
    try:
        held: dict[int, int] = {}

        def all_accepted() -> bool:
            burst_inodes = {
                s.inode
                for s in tcp_sockets()
                if s.established and s.local_port == port and s.remote_port in peers
            }
            held.update({pid: len(burst_inodes & socket_inodes(pid)) for pid in service.workers()})
            return sum(held.values()) == 16

        wait_for(all_accepted, "every connection accepted")
    finally:
        for connection in burst:
            connection.close()
    assert len(held) == 2
    assert all(count > 0 for count in held.values()), held
