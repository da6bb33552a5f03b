"""When the cyclic garbage collector may run in a worker: not over a hook call's own objects.

A gated sync of 10,000 children builds ~450,000 objects (the parsed body, the kept children, the
answer), none of them in a reference cycle, and frees them when its answer is sent. With the
collector on, it walks them again and again as they are built, and once more as each generation
fills: a large share of such a sync's time after the parse (bench/README.md). A permanently
higher threshold was measured to let the cyclic garbage of scans (event loops, TLS contexts,
HTTP clients) grow a worker's memory by tens of MiB; pausing the collector only around the
calls that do not scan costs nothing there.

So the collector is paused while anything holds a pause (`paused`: a body being parsed,
`Pause`: a hook call from its request to its answer being sent), and runs whenever a scan is
under way (`running`), pause or not, so that a scan, which may last its whole deadline and
makes the cyclic garbage, never runs without it. The collector is process-wide and requests
run in threads: pauses and scans are counted, the last one out restores it, and a collector
that something else had disabled is left alone.

A pause delays collection, it never loses it: what became garbage meanwhile is collected once
the last pause ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial


class Collector:
    """Counted pauses and scans over the process's one garbage collector."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pauses = 0
        self._scans = 0
        self._disabled_by_us = False

    def _apply(self) -> None:
        """Disable or re-enable the collector for the counts (called with the lock held)."""
        off = self._pauses > 0 and self._scans == 0
        if off and not self._disabled_by_us and gc.isenabled():
            gc.disable()
            self._disabled_by_us = True
        elif not off and self._disabled_by_us:
            gc.enable()
            self._disabled_by_us = False

    def _count(self, pauses: int = 0, scans: int = 0) -> None:
        with self._lock:
            self._pauses += pauses
            self._scans += scans
            self._apply()

    def pause(self) -> Pause:
        """A pause not yet begun: `start` begins it, `end` gives it back (for one that spans a
        response's life, begun once the request's body is read)."""
        return Pause(partial(self._count, pauses=1), partial(self._count, pauses=-1))

    @contextmanager
    def paused(self) -> Iterator[None]:
        """A pause for the block."""
        held = self.pause()
        held.start()
        try:
            yield
        finally:
            held.end()

    @contextmanager
    def running(self) -> Iterator[None]:
        """The collector on for the block (a scan), whatever pauses other calls hold."""
        self._count(scans=1)
        try:
            yield
        finally:
            self._count(scans=-1)


class Pause:
    """One pause: held from `start` to `end`, each effective once however often called."""

    def __init__(self, take: Callable[[], None], give_back: Callable[[], None]) -> None:
        self._take: Callable[[], None] | None = take
        self._give_back: Callable[[], None] | None = None
        self._pending_give_back = give_back

    def start(self) -> None:
        """Hold the pause (a second call, or one after `end`, does nothing)."""
        take, self._take = self._take, None
        if take is not None:
            take()
            self._give_back = self._pending_give_back

    def end(self) -> None:
        """Give the pause back if it was held (a second call does nothing)."""
        self._take = None
        give_back, self._give_back = self._give_back, None
        if give_back is not None:
            give_back()


collector = Collector()
"""The process's one: the garbage collector is process-wide."""
