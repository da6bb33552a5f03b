"""One registry call of a scan: under the concurrency limit, retried, and inside the deadline.

A transient failure (5xx, a dropped connection) is retried after a short pause; a `429` is
waited out when its `Retry-After` fits before the deadline; a call that would most likely still
run at the deadline is not started. Every failed attempt gets one log line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from hooks.logs import log_fields
from hooks.registry.clock import Clock
from hooks.registry.config import RegistrySettings
from hooks.registry.errors import (
    RateLimitedError,
    RegistryError,
    Secrets,
    UnavailableError,
    public_text,
)

T = TypeVar("T")

# The scan's one logger name, whichever module of it logs: log queries select on it.
log = logging.getLogger("hooks.registry.scanner")

# Retries of a transient failure (5xx, dropped connection) before it becomes the filter's error.
TRANSIENT_RETRIES = 2
TRANSIENT_BACKOFF_SECONDS = (0.2, 0.5)
# Waits for a `Retry-After` per call: a registry answering `Retry-After: 0` forever must not keep
# a scan busy until its deadline.
RATE_LIMIT_RETRIES = 3
# A call is not started when less than this many times the slowest tenth of the scan's calls so
# far remains before the deadline: cut off, it would be wasted and made again by the next sync.
LAUNCH_MARGIN = 2.0
# How many recent call durations the margin is drawn from.
DURATIONS_KEPT = 64


@dataclass
class CallDurations:
    """How long one registry's calls take in this scan (the latest DURATIONS_KEPT of them)."""

    seconds: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.seconds.append(seconds)
        del self.seconds[:-DURATIONS_KEPT]

    def launch_margin(self) -> float:
        """The time a new call needs before the deadline: 0 until a call has finished."""
        if not self.seconds:
            return 0.0
        ordered = sorted(self.seconds)
        return LAUNCH_MARGIN * ordered[(len(ordered) * 9) // 10]


async def _logged(registry: str, secrets: Secrets, make: Callable[[], Awaitable[T]]) -> T:
    """One attempt of a registry call; a failure gets a log line (its message says what was
    being done and why it failed, never a header or a body) before it is retried or reported.

    This is where a registry's failure leaves the registry clients: its message is made
    public here (`public_text`), once, for the log line and for the status alike."""
    try:
        return await make()
    except RegistryError as error:
        error.message = public_text(error.message, secrets)
        error.args = (error.message,)  # repr() and tracebacks show `args`
        log.warning(
            "registry call failed",
            extra=log_fields(
                registry=registry,
                error_class=type(error).__name__,
                status=error.status,
                error=str(error),
            ),
        )
        raise


class RegistryCalls:
    """The calls of one scan to one registry: the scan's concurrency limit, deadline and clock."""

    def __init__(
        self,
        registry: str,
        settings: RegistrySettings,
        limit: asyncio.Semaphore,
        deadline: float,
        clock: Clock,
        secrets: Secrets,
    ) -> None:
        self.registry = registry
        self.secrets = secrets
        self.settings = settings
        self.limit = limit
        self.deadline = deadline
        self.clock = clock
        self.durations = CallDurations()

    def remaining(self) -> float:
        """Seconds until the scan's deadline (negative past it)."""
        return self.deadline - self.clock.monotonic()

    async def call(self, make: Callable[[], Awaitable[T]], *, timed: bool = True) -> T:
        """One registry call under the concurrency limit, with waits that fit the deadline.

        A `timed` call (one tag list, one manifest lookup) is not started when it would most
        likely still run at the deadline (`CallDurations.launch_margin`): it waits for the
        deadline instead, so the repositories a sync reports are those it listed, and the next
        sync lists each remaining one once instead of again. A repository listing (`timed`
        False) pages until the deadline: each page it reads moves the next sync on.
        """
        clock = self.clock
        transient = rate_limited = 0
        while True:
            try:
                async with self.limit:
                    if not timed:
                        return await _logged(self.registry, self.secrets, make)
                    if self.remaining() < self.durations.launch_margin():
                        await clock.sleep(max(0.0, self.remaining()) + 1.0)  # cancelled then
                    started = clock.monotonic()
                    result = await _logged(self.registry, self.secrets, make)
                    self.durations.add(clock.monotonic() - started)
                    return result
            except RateLimitedError as error:
                wait = error.retry_after
                if (
                    wait is None
                    or rate_limited >= RATE_LIMIT_RETRIES
                    or wait > self.remaining() - self.settings.request_timeout
                ):
                    raise
                rate_limited += 1
                await clock.sleep(wait)
            except UnavailableError:
                if transient >= TRANSIENT_RETRIES:
                    raise
                pause = TRANSIENT_BACKOFF_SECONDS[transient]
                if pause > self.remaining():
                    raise
                transient += 1
                await clock.sleep(pause)
