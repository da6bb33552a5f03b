"""The one clock of the registry layer: wall time, monotonic time and sleeping, passed in.

Token expiry and HTTP-date `Retry-After` values need wall time; deadlines and call durations
need a monotonic reading; waits for a `Retry-After`, a transient retry or the deadline sleep on
that same monotonic time. Every client and the scanner take a `Clock`, so a test can replace
all of them at once and a deadline test need not wait in real time.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime


class Clock:
    """The system's clocks; subclasses (tests) move time themselves."""

    def time(self) -> float:
        """Seconds since the epoch (wall time)."""
        return time.time()

    def utc(self) -> datetime:
        """Wall time as an aware UTC datetime (HTTP dates, token expiry)."""
        return datetime.fromtimestamp(self.time(), UTC)

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps: deadlines and durations."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of monotonic time."""
        await asyncio.sleep(seconds)


SYSTEM_CLOCK = Clock()
