"""One scan: every target's images from its registry, within a deadline, each repository once.

The scanner groups targets by registry (one client each, on its own connection pool: pool.py),
lists each repository's tags at most once however many targets need it, and keeps only the tags
some target may select. A wildcard's tag lists start as the pages of its repository listing
arrive. It bounds concurrency, waits out a `Retry-After` when it fits the deadline, retries
transient failures, and at the deadline stops and reports where each unfinished target stands so
the next sync continues from there. Failures become a target's error text, next to whatever was
read before them (a listing cut short still yields the repositories of the pages read); nothing
escapes.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from hooks import metrics
from hooks.logs import log_fields
from hooks.reference import ImageRef
from hooks.registry.auth import RegistryAuth
from hooks.registry.config import RegistrySettings
from hooks.registry.credentials import Keychain
from hooks.registry.distribution import DistributionClient, TagList
from hooks.registry.dockerhub import DockerHubClient
from hooks.registry.errors import (
    NotFoundError,
    RateLimitedError,
    RegistryError,
    UnavailableError,
)
from hooks.registry.github import GitHubPackagesClient
from hooks.registry.pool import AiohttpTransport, RegistryClient
from hooks.registry.targets import ScanTarget, TargetResult

T = TypeVar("T")

log = logging.getLogger(__name__)

DOCKER_HUB = "docker.io"
GHCR = "ghcr.io"
# Retries of a transient failure (5xx, dropped connection) before it becomes the filter's error.
TRANSIENT_RETRIES = 2
TRANSIENT_BACKOFF_SECONDS = (0.2, 0.5)
# Waits for a `Retry-After` per call: a registry answering `Retry-After: 0` forever must not keep
# a scan busy until its deadline.
RATE_LIMIT_RETRIES = 3
# Distribution's own default catalog page: a registry whose `catalog.maxentries` is below 1000
# refuses `n=1000` with 400, and `max_pages` pages of 100 still cover 20 000 repositories.
CATALOG_PAGE_SIZE = 100
# A wildcard that loses many repositories names the first few; the rest are counted.
FAILURES_SHOWN = 10

# A call is not started when less than this many times the slowest tenth of the scan's calls so
# far remains before the deadline: cut off, it would be wasted and made again by the next sync.
LAUNCH_MARGIN = 2.0
# How many recent call durations the margin is drawn from.
DURATIONS_KEPT = 64

PageSource = Callable[[str | None], AsyncIterator[list[str]]]
"""Pages of repository names, continuing after the given name where the API can."""


def utc_now() -> datetime:
    """Wall-clock time for token expiry and HTTP-date Retry-After values."""
    return datetime.now(UTC)


@dataclass
class _Durations:
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


class _Listing:
    """The repositories a wildcard draws from, page by page as they arrive, shared by every
    target of the scan that needs them; and the failure that cut the listing short.

    Targets start listing tags as soon as a page arrives rather than after the last one, so a
    listing longer than the deadline still makes progress. `in_order` holds while the names
    arrive sorted, as `/v2/_catalog` gives them: then a listing cut by the deadline still says
    where the next call resumes (after the last name read and done).
    """

    def __init__(self, sorted_by_name: bool) -> None:
        self.names: list[str] = []
        self.in_order = sorted_by_name
        self.complete = False
        self.error: RegistryError | None = None
        self._seen: set[str] = set()
        self._arrived = asyncio.Event()

    def add(self, page: Sequence[str]) -> None:
        """Names of a new page; repeats (a listing read again after a retry) are dropped."""
        for name in page:
            if name in self._seen:
                continue
            if self.names and name <= self.names[-1]:
                self.in_order = False  # a registry that does not sort: resume only when complete
            self._seen.add(name)
            self.names.append(name)
        self._wake()

    def end(self, error: RegistryError | None) -> None:
        """No more pages: the listing is complete, or `error` cut it short."""
        self.complete = True
        self.error = error
        self._wake()

    def _wake(self) -> None:
        self._arrived.set()
        self._arrived = asyncio.Event()

    async def batches(self) -> AsyncIterator[list[str]]:
        """The names read so far, then each page's new names as it arrives, until the end."""
        given = 0
        while True:
            if given < len(self.names):
                batch = self.names[given:]
                given = len(self.names)
                yield batch
            elif self.complete:
                return
            else:
                await self._arrived.wait()


@dataclass
class _Progress:
    """What one target found so far, by repository; read at the deadline too."""

    target: ScanTarget
    errors: list[str] = field(default_factory=list)
    found: dict[str, list[ImageRef]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, str] = field(default_factory=dict)
    selected: list[str] | None = None
    listing: _Listing | None = None
    retry_after: float | None = None

    def fail(self, repository: str | None, error: RegistryError) -> None:
        """Record a failure of the whole target (`repository` None) or of one repository."""
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            self.retry_after = max(self.retry_after or 0.0, error.retry_after)
        if repository is None:
            self.errors.append(str(error))
        else:
            self.failed[repository] = str(error)

    def done(self, repository: str) -> bool:
        return repository in self.found or repository in self.failed

    def resume_after(self) -> str | None:
        """Where the next call starts: after the longest prefix, by name, of the repositories
        this call has dealt with. With a sorted listing that is every name read up to the first
        selected one not yet done, so pages without a match count as progress too; otherwise,
        once the listing is complete, the done prefix of the selected names."""
        last = self.target.resume_after
        listing = self.listing
        if listing is None:
            return last
        if listing.in_order:
            selected = set(self.selected or ())
            for name in listing.names:
                if last is not None and name <= last:
                    continue
                if name in selected and not self.done(name):
                    break
                last = name
            return last
        if not listing.complete:
            return last
        for repository in sorted(self.selected or ()):
            if not self.done(repository):
                break
            last = repository
        return last

    def result(self, finished: bool) -> TargetResult:
        """The target's answer. An unfinished one reports only the repositories up to its
        `resume_after`: the next call starts after it, so nothing is reported twice."""
        resume_after = None if finished else self.resume_after()

        def reported(repository: str) -> bool:
            return finished or (resume_after is not None and repository <= resume_after)

        images = [
            image
            for repository in sorted(self.found)
            if reported(repository)
            for image in self.found[repository]
        ]
        failed = sorted(r for r in self.failed if reported(r))
        errors = list(self.errors)
        if failed and self.target.wildcard:
            shown = [self.failed[r] for r in failed[:FAILURES_SHOWN]]
            more = len(failed) - len(shown)
            errors.append(
                f"{len(failed)} of {len(self.selected or failed)} repositories could not be "
                f"read: {'; '.join(shown)}" + (f"; and {more} more" if more else "")
            )
        else:
            errors.extend(self.failed[r] for r in failed)
        return TargetResult(
            key=self.target.key,
            images=tuple(images),
            error="; ".join(errors) if errors else None,
            finished=finished,
            resume_after=resume_after,
            retry_after=self.retry_after,
            warnings=tuple(self.warnings[r] for r in sorted(self.warnings) if reported(r)),
        )


async def _logged(registry: str, make: Callable[[], Awaitable[T]]) -> T:
    """One attempt of a registry call; a failure gets a log line (its message says what was
    being done and why it failed, never a header or a body) before it is retried or reported."""
    try:
        return await make()
    except RegistryError as error:
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


class _RegistryScan:
    """Everything one scan does against one registry, sharing one connection pool."""

    def __init__(
        self,
        registry: str,
        client: httpx.AsyncClient,
        keychain: Keychain,
        settings: RegistrySettings,
        limit: asyncio.Semaphore,
        deadline: float,
        targets: Sequence[ScanTarget],
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.limit = limit
        self.deadline = deadline
        self.keychain = keychain
        self.targets = targets
        self.catalog_start = _catalog_start(targets)
        base_url = settings.base_url(registry)
        auth = RegistryAuth(registry, keychain, base_url=base_url, client=client, settings=settings)
        self.distribution = DistributionClient(registry, base_url, client, auth, settings)
        self.client = client
        self._tags: dict[str, asyncio.Task[TagList]] = {}
        self.durations = _Durations()
        self._listings: dict[str, tuple[_Listing, asyncio.Task[None]]] = {}

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    async def call(self, make: Callable[[], Awaitable[T]], *, timed: bool = True) -> T:
        """One registry call under the concurrency limit, with waits that fit the deadline.

        A `timed` call (one tag list, one manifest lookup) is not started when it would most
        likely still run at the deadline (`_Durations.launch_margin`): it waits for the
        deadline instead, so the repositories a sync reports are those it listed, and the next
        sync lists each remaining one once instead of again. A repository listing (`timed`
        False) pages until the deadline: each page it reads moves the next sync on.
        """
        transient = rate_limited = 0
        while True:
            try:
                async with self.limit:
                    if not timed:
                        return await _logged(self.registry, make)
                    if self.remaining() < self.durations.launch_margin():
                        await asyncio.sleep(max(0.0, self.remaining()) + 1.0)  # cancelled then
                    started = time.monotonic()
                    result = await _logged(self.registry, make)
                    self.durations.add(time.monotonic() - started)
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
                await asyncio.sleep(wait)
            except UnavailableError:
                if transient >= TRANSIENT_RETRIES:
                    raise
                pause = TRANSIENT_BACKOFF_SECONDS[transient]
                if pause > self.remaining():
                    raise
                transient += 1
                await asyncio.sleep(pause)

    def tags(self, repository: str) -> asyncio.Future[TagList]:
        """The tags of a repository that any target may select, listed once per scan whoever
        asks; each target still applies its own selection to them."""
        task = self._tags.get(repository)
        if task is None:
            keep = self._wanted_tags(repository)
            task = asyncio.ensure_future(
                self.call(lambda: self.distribution.tags(repository, keep=keep))
            )
            self._tags[repository] = task
        return asyncio.shield(task)

    def _wanted_tags(self, repository: str) -> Callable[[str], bool]:
        """Whether any target of the scan that lists `repository` could select a tag.

        Every target is known when the scan starts, so no later asker can want a tag that was
        dropped. A selector that fails keeps the tag: the target's own selection then fails
        with the same error, as that target's error alone, and the others are unaffected.
        """
        selectors = [
            t.selects_tag
            for t in self.targets
            if t.tag is None and t.digest is None and t.selects_repository(repository)
        ]

        def keep(tag: str) -> bool:
            for selects in selectors:
                try:
                    if selects(tag):
                        return True
                except Exception:  # reported by the target's own selection
                    return True
            return False

        return keep

    def repositories(self, target: ScanTarget) -> _Listing:
        """All repositories a wildcard can draw from: Hub namespace, GitHub owner, or catalog;
        listed once per scan, its pages shared as they arrive."""
        scope = ""
        pages: PageSource = self._catalog_pages
        if self.registry in (DOCKER_HUB, GHCR):
            scope = target.repository.split("/", 1)[0]
            pages = (
                self._hub_pages(scope) if self.registry == DOCKER_HUB else self._ghcr_pages(scope)
            )
        started = self._listings.get(scope)
        if started is not None:
            return started[0]
        listing = _Listing(sorted_by_name=not scope)
        self._listings[scope] = (listing, asyncio.ensure_future(self._list(pages, listing)))
        return listing

    def shared_tasks(self) -> list[asyncio.Future[Any]]:
        """The tag and repository listings started for targets (to cancel at the deadline)."""
        return [*self._tags.values(), *(task for _, task in self._listings.values())]

    async def _list(self, pages: PageSource, listing: _Listing) -> None:
        """Read every page into `listing`, retried as one call; a failure keeps what was read."""

        async def read() -> None:
            async for page in pages(listing.names[-1] if listing.names else None):
                listing.add(page)

        try:
            await self.call(read, timed=False)
        except RegistryError as error:
            listing.end(error)
        except Exception as error:
            # The targets waiting on the pages must hear of a bug, not wait for the deadline.
            log.exception("listing the repositories of %s failed", self.registry)
            listing.end(
                RegistryError(
                    f"listing the repositories of {self.registry}: internal error "
                    f"({type(error).__name__})"
                )
            )
        else:
            listing.end(None)

    def _catalog_pages(self, after: str | None) -> AsyncIterator[list[str]]:
        """`/v2/_catalog` is sorted, so a retry continues after the last name read."""
        return self.distribution.catalog(
            start_after=after or self.catalog_start, page_size=CATALOG_PAGE_SIZE
        )

    def _hub_pages(self, namespace: str) -> PageSource:
        """The Hub API pages by number: a retry reads from the first page again."""
        credential = self.keychain.lookup(DOCKER_HUB)
        username = credential.username if credential else None
        secret = credential.password if credential and credential.password else None
        hub = DockerHubClient(
            self.client,
            self.settings.dockerhub_api_url,
            username=username if secret else None,
            secret=secret if username else None,
            settings=self.settings,
            clock=utc_now,
        )
        return lambda _: hub.repositories(namespace)

    def _ghcr_pages(self, owner: str) -> PageSource:
        """GitHub pages by number too: a retry reads from the first page again."""
        credential = self.keychain.lookup(GHCR)
        github = GitHubPackagesClient(
            self.client,
            self.settings.github_api_url,
            token=credential.password if credential else None,
            settings=self.settings,
            clock=utc_now,
        )
        return lambda _: github.packages(owner)

    async def scan(self, progress: _Progress) -> None:
        """Fill `progress` for one target; errors are recorded, never raised."""
        target = progress.target
        if target.digest is not None or target.tag is not None:
            work: Awaitable[None] = self._exact(progress)
        elif target.wildcard:
            work = self._wildcard(progress)
        elif target.selects_repository(target.repository):
            work = self._repository(progress, target.repository)
        else:
            return  # an exact repository its own filter excludes: nothing to list
        await self._guarded(progress, None, work)

    async def _guarded(
        self, progress: _Progress, repository: str | None, work: Awaitable[None]
    ) -> None:
        """Run `work`; its failure becomes the target's (or the repository's) error."""
        try:
            await work
        except RegistryError as error:
            progress.fail(repository, error)
        except Exception as error:
            # A bug must cost one filter its result, not the whole sync (and every child).
            log.exception("scanning %s for target %s failed", self.registry, progress.target.key)
            where = f"{self.registry}/{repository}" if repository else self.registry
            progress.fail(
                repository,
                RegistryError(f"scanning {where}: internal error ({type(error).__name__})"),
            )

    async def _exact(self, progress: _Progress) -> None:
        target = progress.target
        if not target.selects_repository(target.repository):
            return
        reference = target.digest or target.tag or ""
        digest = await self.call(
            lambda: self.distribution.manifest_exists(target.repository, reference)
        )
        if digest is None:
            sep = "@" if target.digest else ":"
            raise NotFoundError(
                f"image {self.registry}/{target.repository}{sep}{reference} does not exist"
            )
        progress.found[target.repository] = [
            ImageRef(self.registry, target.repository, tag=target.tag, digest=target.digest)
        ]

    async def _repository(self, progress: _Progress, repository: str) -> None:
        target = progress.target
        listing = await self.tags(repository)
        if listing.truncated:
            progress.warnings[repository] = (
                f"tags of {repository} truncated at {self.settings.max_tags_per_repository}"
            )
        progress.found[repository] = [
            ImageRef(self.registry, repository, tag=tag)
            for tag in listing.tags
            if target.selects_tag(tag)
        ]

    async def _wildcard(self, progress: _Progress) -> None:
        """List the tags of each selected repository as soon as its listing page arrives."""
        target = progress.target
        listing = self.repositories(target)
        progress.listing = listing
        selected: list[str] = []
        progress.selected = selected
        start = target.resume_after
        async with asyncio.TaskGroup() as group:
            async for names in listing.batches():
                for name in names:
                    if (start is None or name > start) and target.selects_repository(name):
                        selected.append(name)
                        group.create_task(
                            self._guarded(progress, name, self._repository(progress, name))
                        )
            if listing.error is not None:
                progress.fail(None, listing.error)


def _catalog_start(targets: Sequence[ScanTarget]) -> str | None:
    """Where a registry's catalog listing may begin: after the earliest resume point, when
    every wildcard target on it continues an earlier call."""
    starts = [t.resume_after for t in targets if t.wildcard]
    if not starts or any(start is None for start in starts):
        return None
    return min(start for start in starts if start is not None)


async def _scan(
    targets: Sequence[ScanTarget],
    keychain: Keychain,
    settings: RegistrySettings,
    transport: httpx.AsyncBaseTransport | None,
) -> list[TargetResult]:
    if not targets:
        return []
    deadline = time.monotonic() + settings.scan_deadline
    try:
        trust = settings.ssl_context()
    except (OSError, ssl.SSLError) as error:
        message = f"the CA bundle {settings.ca_bundle} (AIM_CA_BUNDLE) cannot be used: {error}"
        return [TargetResult(key=t.key, error=message) for t in targets]
    limit = asyncio.Semaphore(max(1, settings.concurrency))
    progress = {t.key: _Progress(t) for t in targets}
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
            r: _RegistryScan(
                r,
                clients[r],
                keychain,
                settings,
                limit,
                deadline,
                [t for t in targets if t.registry == r],
            )
            for r in registries
        }
        tasks = {
            asyncio.ensure_future(scans[t.registry].scan(progress[t.key])): t.key for t in targets
        }
        done, pending = await asyncio.wait(tasks, timeout=max(0.0, deadline - time.monotonic()))
        if pending:
            metrics.scan_deadline_hit()
        # Read before cancelling: a cancelled listing must not count as done.
        finished = {tasks[task] for task in done}
        results = [progress[t.key].result(t.key in finished) for t in targets]
        shared = [task for scan in scans.values() for task in scan.shared_tasks()]
        for task in [*pending, *shared]:
            task.cancel()
        await asyncio.gather(*pending, *shared, return_exceptions=True)
        return results
    finally:
        await asyncio.gather(*(c.aclose() for c in clients.values()), return_exceptions=True)


def scan_registries(
    targets: Sequence[ScanTarget],
    keychain: Keychain,
    *,
    settings: RegistrySettings,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[TargetResult]:
    """Scan synchronously (the hook is a WSGI view): one event loop per call, closed after.

    Never raises for registry trouble: every target gets a result, its failures as its error.
    """
    return _run_to_deadline(_scan(targets, keychain, settings, transport))


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
