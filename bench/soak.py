"""Soak: the hook service under gunicorn, a bounded mixed load for minutes, and nothing leaking.

The service runs as deployed (`gunicorn --config python:hooks.gunicorn_config`, two workers of
four threads) against a real registry behind the fault proxy, which answers 5% of tag lists
with 503, resets 3% of them, answers 5% of manifest lookups with 429 (Retry-After: 1) and
delays 10% of catalog pages. Client threads (as many as Metacontroller's workers would use)
send, for the whole run:

- gated syncs (60%): sources that scanned a moment ago, with their models, so nothing is due;
- scanning syncs (25%): new sources with a wildcard, exact repositories, an exact tag, or all;
- invalid specs (5%), customize calls (5%), config syncs (5%); and GET /metrics every 2 s.

Every answer must be a 200 keeping every child it was sent. The workers are sampled from /proc
when idle, after a warm-up and after the run: resident memory may grow by at most the stated
bound, open files, sockets and threads not at all, and no worker may have been replaced. The
pull secrets hold planted credentials, which must appear nowhere in gunicorn's output nor in
/metrics.

Run: .venv/bin/python -m bench.soak [--seconds 180] [--clients 6] [--json]
Exit status 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.environment import require_registry
from bench.proxy import ProxyProcess
from tests.harness.loopback import free_port
from tests.harness.populate import plan_from
from tests.harness.processes import (
    child_pids,
    gunicorn_command,
    open_files,
    stop_process,
    wait_until_healthy,
)
from tests.harness.registry import Registry
from tests.hooks import wire

REGISTRY = "soak.example.com"
SECRET = "soak-pull-secret"
PLANTED_PASSWORD = "soak-planted-Passw0rd-41c7b2"
RSS_BOUND_MIB = 24.0
WARM_UP_FRACTION = 0.15
IDLE_SETTLE_SECONDS = 1.5
METRICS_EVERY_SECONDS = 2.0
THREADS = 4  # request threads per gunicorn worker (AIM_THREADS)
_READY_TIMEOUT = 30.0
# The soak has always given gunicorn's graceful shutdown twice the tests' 15 s.
_STOP_TIMEOUT = 30.0
FAULTS = [
    {"match": "GET .*/tags/list", "action": "status", "status": 503, "prob": 0.05},
    {"match": "GET .*/tags/list", "action": "reset", "prob": 0.03},
    {"match": "/manifests/", "action": "status", "status": 429, "retry_after": 1, "prob": 0.05},
    {"match": "/_catalog", "action": "delay", "ms": 300, "prob": 0.1},
]
IMAGES = {f"soak/model-{n:02d}": ["0.9.0", "1.0.0", "1.1.0", "2.0.0", "latest"] for n in range(12)}
SCANNING_SPECS: list[dict[str, Any]] = [
    {"filters": [{"image": "soak/*"}]},
    {"filters": [{"image": "soak/model-03"}, {"image": "soak/model-04"}], "versions": [">=1.0"]},
    {"filters": [{"image": "soak/model-05:1.0.0"}]},
    {
        "filters": [
            {"image": "soak/model-0*", "versions": ["^1.0.0"]},
            {"image": "soak/model-11:2.0.0"},
            {"image": "soak/model-10"},
        ]
    },
]
KINDS = ["gated"] * 12 + ["scanning"] * 5 + ["invalid-spec", "customize", "config"]


@dataclass(frozen=True)
class WorkerSample:
    """One gunicorn worker, read from /proc."""

    pid: int
    rss_kib: int
    fds: int
    sockets: int
    threads: int


def sample_workers(master: int) -> list[WorkerSample]:
    """Memory, open files (sockets among them) and threads of each worker of `master`."""
    samples = []
    for pid in child_pids(master):
        status = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        )
        links = open_files(pid)
        samples.append(
            WorkerSample(
                pid=pid,
                rss_kib=int(status["VmRSS"].split()[0]),
                fds=len(links),
                sockets=sum(1 for link in links if link.startswith("socket:")),
                threads=int(status["Threads"]),
            )
        )
    return samples


@contextmanager
def gunicorn(env: dict[str, str], log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The service as the image runs it, on a free loopback port; its output goes to `log`."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            gunicorn_command(port),
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(process, url, _READY_TIMEOUT, lambda: log.read_text(errors="replace"))
        yield process, url
    finally:
        stop_process(process, _STOP_TIMEOUT)


def _secret() -> dict[str, Any]:
    return wire.secret(SECRET, wire.login(REGISTRY, "soak-robot", PLANTED_PASSWORD))


def _source_request(name: str, spec: dict[str, Any], **options: Any) -> dict[str, Any]:
    full = {
        "registry": REGISTRY,
        "syncInterval": "1h",
        "imagePullSecrets": [{"name": SECRET}],
        **spec,
    }
    parent = wire.source(name, full, status=options.get("status"))
    related = wire.source_related(full, [_secret(), wire.config("default", {})])
    return wire.sync_request(parent, options.get("children") or {}, related)


@dataclass
class Tally:
    """What the clients sent and got, shared by the client threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    children_sent: int = 0
    children_dropped: int = 0

    def record(self, kind: str, error: str | None, sent: int = 0, dropped: int = 0) -> None:
        with self.lock:
            self.requests[kind] += 1
            self.children_sent += sent
            self.children_dropped += dropped
            if error is not None:
                self.errors.append(f"{kind}: {error}")


class Load:
    """The request mix, with the gated sources prepared by syncing them once (faults off)."""

    def __init__(self, http: httpx.Client, rng: random.Random) -> None:
        self.rng = rng
        self.gated = [
            self._scanned(http, f"gated-{n}", spec) for n, spec in enumerate(SCANNING_SPECS)
        ]
        self.serial = 0

    @staticmethod
    def _scanned(http: httpx.Client, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        """The request Metacontroller sends after the source's first sync was applied."""
        request = _source_request(name, spec)
        reply = http.post("/sync/modelsource", content=wire.encode(request)).json()
        children = {
            child["metadata"]["name"]: wire.observed_child(child, request["parent"], serial)
            for serial, child in enumerate(reply["children"], 1)
        }
        return _source_request(name, spec, status=reply["status"], children=children)

    def next(self) -> tuple[str, str, dict[str, Any]]:
        """(kind, path, request) of the next call."""
        kind = self.rng.choice(KINDS)
        self.serial += 1
        if kind == "gated":
            return kind, "/sync/modelsource", self.rng.choice(self.gated)
        if kind == "scanning":
            spec = self.rng.choice(SCANNING_SPECS)
            return kind, "/sync/modelsource", _source_request(f"scan-{self.serial}", spec)
        if kind == "invalid-spec":
            request = _source_request(f"bad-{self.serial}", {"filters": [], "maxModels": 0})
            return kind, "/sync/modelsource", request
        if kind == "customize":
            parent = wire.source(f"c-{self.serial}", SCANNING_SPECS[0])
            return kind, "/customize/modelsource", wire.customize_request(parent)
        config = wire.config("default", {"imagePullSecrets": [{"name": SECRET}]})
        related = wire.related([wire.SECRET_GROUP, wire.STORAGE_CLASS_GROUP], [_secret()])
        return kind, "/sync/config", wire.config_sync_request(config, related)


def _check(kind: str, request: dict[str, Any], response: httpx.Response) -> tuple[str | None, int]:
    """(error, children dropped) of one answer."""
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:200]}", 0
    if kind == "customize":
        return None, 0
    sent = set((request.get("children") or {}).get(wire.MODEL_GROUP) or {})
    returned = {child["metadata"]["name"] for child in response.json()["children"]}
    dropped = len(sent - returned)
    return (f"{dropped} children dropped" if dropped else None), dropped


def run_clients(url: str, load: Load, clients: int, seconds: float, tally: Tally) -> None:
    """`clients` threads sending `load` for `seconds`, each on its own keep-alive connection."""
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(base_url=url, timeout=60.0) as http:
            while time.monotonic() < stop:
                with lock:
                    kind, path, request = load.next()
                try:
                    response = http.post(path, content=wire.encode(request))
                except httpx.HTTPError as error:
                    tally.record(kind, f"{type(error).__name__}: {error}")
                    continue
                error, dropped = _check(kind, request, response)
                sent = len((request.get("children") or {}).get(wire.MODEL_GROUP) or {})
                tally.record(kind, error, sent, dropped)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    with httpx.Client(base_url=url, timeout=60.0) as http:
        while time.monotonic() < stop:
            response = http.get("/metrics")
            tally.record("metrics", None if response.status_code == 200 else "no metrics")
            time.sleep(METRICS_EVERY_SECONDS)
    for thread in threads:
        thread.join()


def idle_sample(master: int) -> list[WorkerSample]:
    """The workers once the clients are gone and the connections closed."""
    time.sleep(IDLE_SETTLE_SECONDS)
    return sample_workers(master)


def leak_checks(
    before: list[WorkerSample], after: list[WorkerSample], bound_mib: float, pool: int
) -> list[str]:
    """What grew that must not, worker by worker.

    A worker starts its `pool` request threads only as concurrent requests need them: a worker
    that had not needed them all by the first sample may have more threads at the second,
    up to the main thread and the pool, and no further.
    """
    if [w.pid for w in before] != [w.pid for w in after]:
        return [f"workers replaced: {[w.pid for w in before]} -> {[w.pid for w in after]}"]
    failures = []
    for old, new in zip(before, after, strict=True):
        grown = (new.rss_kib - old.rss_kib) / 1024
        if grown > bound_mib:
            failures.append(f"worker {new.pid}: RSS grew {grown:.1f} MiB (bound {bound_mib} MiB)")
        allowed = {"fds": old.fds, "sockets": old.sockets, "threads": max(old.threads, 1 + pool)}
        for what, most in allowed.items():
            if getattr(new, what) > most:
                failures.append(
                    f"worker {new.pid}: {what} {getattr(old, what)} -> {getattr(new, what)}"
                )
    return failures


def soak(seconds: float, clients: int, bound_mib: float) -> dict[str, Any]:
    """Run the whole soak; the report (see the module docstring)."""
    rng = random.Random(7)
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="soak-") as scratch:
        log = Path(scratch) / "gunicorn.log"
        metrics_dir = Path(scratch) / "metrics"
        metrics_dir.mkdir()
        with ExitStack() as stack:
            registry = stack.enter_context(Registry(plan_from(IMAGES)))
            proxy = stack.enter_context(ProxyProcess(registry.port))
            closed = f"http://127.0.0.1:{free_port()}"
            env = {
                "AIM_REGISTRY_ENDPOINTS": f"{REGISTRY}={proxy.url}",
                "AIM_INSECURE_REGISTRIES": REGISTRY,
                "AIM_DOCKERHUB_API_URL": closed,
                "AIM_GITHUB_API_URL": closed,
                "AIM_SCAN_DEADLINE_SECONDS": "5",
                "AIM_REQUEST_TIMEOUT_SECONDS": "2",
                "AIM_WORKERS": "2",
                "AIM_THREADS": str(THREADS),
                "AIM_LOG_LEVEL": "INFO",
                "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            }
            process, url = stack.enter_context(gunicorn(env, log))
            with httpx.Client(base_url=url, timeout=60.0) as http:
                load = Load(http, rng)
            proxy.set_latency(0, FAULTS)
            run_clients(url, load, clients, max(3.0, seconds * WARM_UP_FRACTION), Tally())
            before = idle_sample(process.pid)
            started = time.monotonic()
            run_clients(url, load, clients, seconds, tally)
            elapsed = time.monotonic() - started
            after = idle_sample(process.pid)
            metrics = httpx.get(f"{url}/metrics", timeout=10).text
        # gunicorn has stopped: its log is complete.
        output = log.read_text(errors="replace")
    planted = (PLANTED_PASSWORD, _secret()["data"][".dockerconfigjson"])
    leaks = [value for value in planted if value in output + metrics]
    failures = leak_checks(before, after, bound_mib, THREADS)
    failures += tally.errors[:20]
    if tally.children_dropped:
        failures.append(f"{tally.children_dropped} children dropped")
    if leaks:
        failures.append(f"planted credentials found in the output: {len(leaks)}")
    return {
        "seconds": round(elapsed, 1),
        "clients": clients,
        "requests": sum(tally.requests.values()),
        "by_kind": dict(sorted(tally.requests.items())),
        "errors": len(tally.errors),
        "children_sent": tally.children_sent,
        "children_dropped": tally.children_dropped,
        "secrets_found": len(leaks),
        "rss_bound_mib": bound_mib,
        "workers_before": [asdict(w) for w in before],
        "workers_after": [asdict(w) for w in after],
        "failures": failures,
        "ok": not failures,
    }


def _print(report: dict[str, Any]) -> None:
    print(
        f"soak: {report['seconds']} s, {report['clients']} clients, {report['requests']} requests"
    )
    print(f"  by kind: {report['by_kind']}")
    print(
        f"  errors {report['errors']}, children sent {report['children_sent']}, dropped "
        f"{report['children_dropped']}, planted secrets found {report['secrets_found']}"
    )
    for old, new in zip(report["workers_before"], report["workers_after"], strict=False):
        print(
            f"  worker {new['pid']}: RSS {old['rss_kib'] / 1024:.1f} -> {new['rss_kib'] / 1024:.1f}"
            f" MiB, fds {old['fds']} -> {new['fds']}, sockets {old['sockets']} ->"
            f" {new['sockets']}, threads {old['threads']} -> {new['threads']}"
        )
    print("  ok" if report["ok"] else "  FAILED: " + "; ".join(report["failures"]))


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, soak, report; 0 when every check passed."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=180.0, help="length of the run (180)")
    parser.add_argument("--clients", type=int, default=6, help="client threads (6)")
    parser.add_argument(
        "--rss-bound-mib", type=float, default=RSS_BOUND_MIB, help="allowed RSS growth per worker"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    require_registry()
    report = soak(args.seconds, args.clients, args.rss_bound_mib)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        _print(report)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
