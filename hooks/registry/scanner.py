"""One scan: every target's images from its registry, within a deadline, each repository once.

The entry point of the registry layer. Targets are grouped by registry (one client each, on its own
connection pool: pool.py); each repository's tags are listed at most once however
many targets need it, and only the tags some target may select are kept. A wildcard's tag
lists start as the pages of its repository listing arrive. Concurrency is bounded, a
`Retry-After` that fits the deadline is waited out, transient failures are retried, and at the
deadline the scan stops and reports where each unfinished target stands so the next sync
continues from there. Failures become a target's error text, next to whatever was read before
them (a listing cut short still yields the repositories of the pages read); nothing escapes.

Its parts: `registry_scan` (what is done against one registry), `listings` (repository
listings and their pages), `calls` (retries, waits and deadline margins of one call),
`progress` (what each target found so far, and its answer), `clock` (time, passed in).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Collection, Sequence
from dataclasses import replace

import httpx

from hooks import metrics
from hooks.registry.calls import RegistryCalls
from hooks.registry.clock import SYSTEM_CLOCK, Clock
from hooks.registry.config import RegistrySettings
from hooks.registry.credentials import Keychain
from hooks.registry.errors import MAX_TEXT_CHARS, Secrets, public_text
from hooks.registry.pool import AiohttpTransport, RegistryClient
from hooks.registry.progress import FAILURES_SHOWN, TargetProgress
from hooks.registry.registry_scan import RegistryScan
from hooks.registry.targets import ScanTarget, TargetResult


async def _scan(
    targets: Sequence[ScanTarget],
    keychain: Keychain,
    settings: RegistrySettings,
    transport: httpx.AsyncBaseTransport | None,
    clock: Clock,
) -> list[TargetResult]:
    if not targets:
        return []
    deadline = clock.monotonic() + settings.scan_deadline
    try:
        trust = settings.ssl_context()
    except (OSError, ssl.SSLError) as error:
        message = f"the CA bundle {settings.ca_bundle} (AIM_CA_BUNDLE) cannot be used: {error}"
        return [TargetResult(key=t.key, error=message) for t in targets]
    limit = asyncio.Semaphore(max(1, settings.concurrency))
    progress = {t.key: TargetProgress(t) for t in targets}
    registries = sorted({t.registry for t in targets})
    clients = {
        registry: RegistryClient(
            transport=transport or AiohttpTransport(settings.concurrency, trust),
            timeout=settings.request_timeout,
        )
        for registry in registries
    }
    try:
        scans = {
            r: RegistryScan(
                r,
                clients[r],
                keychain,
                settings,
                RegistryCalls(r, settings, limit, deadline, clock, keychain.secrets),
                [t for t in targets if t.registry == r],
            )
            for r in registries
        }
        tasks = {
            asyncio.ensure_future(scans[t.registry].scan(progress[t.key])): t.key for t in targets
        }
        done, pending = await _until(tasks, deadline - clock.monotonic(), clock)
        if pending:
            metrics.scan_deadline_hit()
        # Read before cancelling: a cancelled listing must not count as done.
        finished = {tasks[task] for task in done}
        results = [
            _public(progress[t.key].result(t.key in finished), keychain.secrets) for t in targets
        ]
        shared = [task for scan in scans.values() for task in scan.shared_tasks()]
        for task in [*pending, *shared]:
            task.cancel()
        await asyncio.gather(*pending, *shared, return_exceptions=True)
        return results
    finally:
        await asyncio.gather(*(c.aclose() for c in clients.values()), return_exceptions=True)


def _public(result: TargetResult, secrets: Secrets) -> TargetResult:
    """A target's result as it leaves the scan: its texts through `public_text` (a filter's
    error quotes up to FAILURES_SHOWN failures, each already public, hence the longer bound)."""
    limit = (FAILURES_SHOWN + 1) * MAX_TEXT_CHARS
    return replace(
        result,
        error=None if result.error is None else public_text(result.error, secrets, limit),
        warnings=tuple(public_text(w, secrets) for w in result.warnings),
    )


async def _until(
    tasks: Collection[asyncio.Task[None]], seconds: float, clock: Clock
) -> tuple[set[asyncio.Task[None]], set[asyncio.Task[None]]]:
    """Wait for every task, or for `seconds` on `clock`; (done, pending) as `asyncio.wait`."""
    everything = asyncio.ensure_future(asyncio.wait(tasks))
    timer = asyncio.ensure_future(clock.sleep(max(0.0, seconds)))
    try:
        await asyncio.wait({everything, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        everything.cancel()
        timer.cancel()
        await asyncio.gather(everything, timer, return_exceptions=True)
    done = {task for task in tasks if task.done()}
    return done, set(tasks) - done


def scan_registries(
    targets: Sequence[ScanTarget],
    keychain: Keychain,
    *,
    settings: RegistrySettings,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> list[TargetResult]:
    """Scan synchronously (the hook is a WSGI view): one event loop per call, closed after.

    Never raises for registry trouble: every target gets a result, its failures as its error.
    `clock` times the deadline, the waits and token expiry.
    """
    return _run_to_deadline(_scan(targets, keychain, settings, transport, clock))


def _run_to_deadline(scan: Awaitable[list[TargetResult]]) -> list[TargetResult]:
    """`asyncio.run`, except that closing the loop does not wait for its resolver threads.

    Host names are resolved in the loop's default executor. `asyncio.run` waits for those threads
    when it closes the loop, so a DNS server that does not answer would hold the answer for as
    long as the resolver retries (seconds per name server and search domain), past the scan
    deadline and the webhook timeout. The scan has its result at the deadline; a lookup still
    running then finishes on its own, and its answer goes nowhere.
    """
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(scan)
    finally:
        try:
            leftover = asyncio.all_tasks(loop)
            for task in leftover:
                task.cancel()
            if leftover:
                loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()  # shuts the default executor down without waiting for it
