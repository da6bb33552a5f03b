"""The repositories a wildcard draws from: a catalog, a Docker Hub namespace or a GitHub owner,
read page by page, shared by every target of a scan that needs them.

`/v2/_catalog` is sorted by name and continues after a given name, so a listing cut short (by a
failure or the deadline) still says where the next read resumes. The Hub and GitHub APIs page
by number and in their own order: a retry reads them from the first page again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence

import httpx

from hooks.reference import is_valid_repository
from hooks.registry.calls import RegistryCalls
from hooks.registry.clock import Clock
from hooks.registry.credentials import Keychain
from hooks.registry.distribution import DistributionClient
from hooks.registry.dockerhub import DockerHubClient
from hooks.registry.errors import RegistryError
from hooks.registry.github import GitHubPackagesClient
from hooks.registry.targets import ScanTarget

log = logging.getLogger("hooks.registry.scanner")

DOCKER_HUB = "docker.io"
GHCR = "ghcr.io"
# Distribution's own default catalog page: a registry whose `catalog.maxentries` is below 1000
# refuses `n=1000` with 400, and `max_pages` pages of 100 still cover 20 000 repositories.
CATALOG_PAGE_SIZE = 100

PageSource = Callable[[str | None], AsyncIterator[list[str]]]
"""Pages of repository names, continuing after the given name where the API can."""


# Names handed to a target at a time, and how many such chunks may wait for a slow target: the
# listing reads on only as the targets keep up, so names read are not piled up in memory.
CHUNK_NAMES = 100
CHUNKS_QUEUED = 4


class Listing:
    """The repositories a wildcard draws from, handed to every target of the scan that needs
    them in chunks as pages arrive; and how the listing ended.

    Targets start listing tags as soon as a page arrives rather than after the last one, so a
    listing longer than the deadline still makes progress. Nothing keeps the names read: each
    target takes them from its own short queue, and the listing waits while a queue is full.
    `in_order` holds while the names arrive sorted, as `/v2/_catalog` gives them: then a listing
    cut by the deadline or by this call's budget still says where the next call resumes.

    A call reads at most `budget` names (None: no bound; the Hub and GitHub listings are bounded
    by their page cap); past it the listing ends `cut`, to continue in the next call. Names
    outside the distribution grammar are dropped and counted in `invalid`.
    """

    def __init__(self, sorted_by_name: bool, budget: int | None = None) -> None:
        self.sorted = sorted_by_name
        self.in_order = sorted_by_name
        self.ended = False
        self.cut = False
        self.error: RegistryError | None = None
        self.invalid = 0
        self.last: str | None = None
        self._budget = budget
        self._read = 0
        self._seen: set[str] = set()
        self._queues: list[asyncio.Queue[list[str] | None]] = []

    def subscribe(self) -> Subscription:
        """The names of the listing for one more target, chunk by chunk, from the start."""
        subscription = Subscription(self)
        self._queues.append(subscription.queue)
        return subscription

    def leave(self, queue: asyncio.Queue[list[str] | None]) -> None:
        """A target that stops reading no longer holds the listing up."""
        if queue in self._queues:
            self._queues.remove(queue)
        while not queue.empty():
            queue.get_nowait()

    async def add(self, page: Sequence[str]) -> bool:
        """Hand a page's new, valid names to every target; False once this call's budget is
        spent (the listing is then `cut`) or no target reads any more. Repeats (a listing read
        again after a retry) are dropped. Yields to the loop after each chunk, so a page of a
        million names does not hold the deadline up."""
        if not self._queues:
            return False
        for start in range(0, len(page), CHUNK_NAMES):
            chunk: list[str] = []
            for name in page[start : start + CHUNK_NAMES]:
                if self._budget is not None and self._read >= self._budget:
                    self.cut = True
                    break
                self._read += 1
                if name in self._seen:
                    continue
                self._seen.add(name)
                if not is_valid_repository(name):
                    self.invalid += 1
                    continue
                if self.last is not None and name <= self.last:
                    self.in_order = False  # a registry that does not sort: resume only when done
                self.last = name
                chunk.append(name)
            for queue in list(self._queues) if chunk else ():
                await queue.put(chunk)
            await asyncio.sleep(0)
            if self.cut:
                return False
        return True

    async def end(self, error: RegistryError | None) -> None:
        """No more pages this call: complete, `cut` at the budget, or cut short by `error`."""
        self.ended = True
        self.error = error
        self._seen.clear()
        for queue in list(self._queues):
            await queue.put(None)


class Subscription:
    """One target's share of a listing: its chunks of names in order, until the listing ends."""

    def __init__(self, listing: Listing) -> None:
        self.listing = listing
        self.queue: asyncio.Queue[list[str] | None] = asyncio.Queue(maxsize=CHUNKS_QUEUED)

    async def __aiter__(self) -> AsyncIterator[list[str]]:
        while (chunk := await self.queue.get()) is not None:
            yield chunk

    def close(self) -> None:
        """Stop reading (the target is done, failed or was cancelled)."""
        self.listing.leave(self.queue)


class RepositoryListings:
    """The listings of one registry in one scan: one per catalog, namespace or owner."""

    def __init__(
        self,
        calls: RegistryCalls,
        distribution: DistributionClient,
        client: httpx.AsyncClient,
        keychain: Keychain,
        clock: Clock,
        targets: Sequence[ScanTarget],
    ) -> None:
        self._calls = calls
        self._distribution = distribution
        self._client = client
        self._keychain = keychain
        self._clock = clock
        self._catalog_start = catalog_start(targets)
        self._started: dict[str, tuple[Listing, asyncio.Task[None]]] = {}

    def subscribe(self, target: ScanTarget) -> Subscription:
        """A wildcard's share of all the repositories it can draw from: Hub namespace, GitHub
        owner, or catalog; each listed once per scan, its pages shared as they arrive."""
        registry = self._calls.registry
        scope = ""
        pages: PageSource = self._catalog_pages
        budget: int | None = self._calls.settings.max_pages * CATALOG_PAGE_SIZE
        if registry in (DOCKER_HUB, GHCR):
            scope = target.repository.split("/", 1)[0]
            pages = self._hub_pages(scope) if registry == DOCKER_HUB else self._ghcr_pages(scope)
            budget = None
        started = self._started.get(scope)
        if started is None:
            listing = Listing(sorted_by_name=not scope, budget=budget)
            started = (listing, asyncio.ensure_future(self._read(pages, listing)))
            self._started[scope] = started
        return started[0].subscribe()

    def tasks(self) -> list[asyncio.Task[None]]:
        """The listings started (to cancel at the deadline)."""
        return [task for _, task in self._started.values()]

    async def _read(self, pages: PageSource, listing: Listing) -> None:
        """Read the pages into `listing`, retried as one call; a failure keeps what was read.

        A catalog stops after `max_pages` pages or its budget of names in one call and
        continues after the last name read in the next (`Listing.cut`), as at the deadline.
        """
        registry = self._calls.registry
        max_pages = self._calls.settings.max_pages

        async def read() -> None:
            read_pages = 0
            async for page in pages(listing.last):
                read_pages += 1
                if not await listing.add(page):
                    return
                if listing.sorted and read_pages >= max_pages:
                    listing.cut = True
                    return

        try:
            await self._calls.call(read, timed=False)
        except RegistryError as error:
            await listing.end(error)
        except Exception as error:
            # The targets waiting on the pages must hear of a bug, not wait for the deadline.
            log.exception("listing the repositories of %s failed", registry)
            await listing.end(
                RegistryError(
                    f"listing the repositories of {registry}: internal error "
                    f"({type(error).__name__})"
                )
            )
        else:
            await listing.end(None)

    def _catalog_pages(self, after: str | None) -> AsyncIterator[list[str]]:
        """`/v2/_catalog` is sorted, so a retry continues after the last name read."""
        return self._distribution.catalog(
            start_after=after or self._catalog_start, page_size=CATALOG_PAGE_SIZE
        )

    def _hub_pages(self, namespace: str) -> PageSource:
        """The Hub API pages by number: a retry reads from the first page again."""
        settings = self._calls.settings
        credential = self._keychain.lookup(DOCKER_HUB)
        username = credential.username if credential else None
        secret = credential.password if credential and credential.password else None
        hub = DockerHubClient(
            self._client,
            settings.dockerhub_api_url,
            username=username if secret else None,
            secret=secret if username else None,
            settings=settings,
            clock=self._clock,
            secrets=self._keychain.secrets,
        )
        return lambda _: hub.repositories(namespace)

    def _ghcr_pages(self, owner: str) -> PageSource:
        """GitHub pages by number too: a retry reads from the first page again."""
        settings = self._calls.settings
        credential = self._keychain.lookup(GHCR)
        github = GitHubPackagesClient(
            self._client,
            settings.github_api_url,
            token=credential.password if credential else None,
            settings=settings,
            clock=self._clock,
        )
        return lambda _: github.packages(owner)


def catalog_start(targets: Sequence[ScanTarget]) -> str | None:
    """Where a registry's catalog listing may begin: after the earliest resume point, when
    every wildcard target on it continues an earlier call."""
    starts = [t.resume_after for t in targets if t.wildcard]
    if not starts or any(start is None for start in starts):
        return None
    return min(start for start in starts if start is not None)
