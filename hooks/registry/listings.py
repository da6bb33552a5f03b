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


class Listing:
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

    def of(self, target: ScanTarget) -> Listing:
        """All repositories a wildcard can draw from: Hub namespace, GitHub owner, or catalog;
        listed once per scan, its pages shared as they arrive."""
        registry = self._calls.registry
        scope = ""
        pages: PageSource = self._catalog_pages
        if registry in (DOCKER_HUB, GHCR):
            scope = target.repository.split("/", 1)[0]
            pages = self._hub_pages(scope) if registry == DOCKER_HUB else self._ghcr_pages(scope)
        started = self._started.get(scope)
        if started is not None:
            return started[0]
        listing = Listing(sorted_by_name=not scope)
        self._started[scope] = (listing, asyncio.ensure_future(self._read(pages, listing)))
        return listing

    def tasks(self) -> list[asyncio.Task[None]]:
        """The listings started (to cancel at the deadline)."""
        return [task for _, task in self._started.values()]

    async def _read(self, pages: PageSource, listing: Listing) -> None:
        """Read every page into `listing`, retried as one call; a failure keeps what was read."""
        registry = self._calls.registry

        async def read() -> None:
            async for page in pages(listing.names[-1] if listing.names else None):
                listing.add(page)

        try:
            await self._calls.call(read, timed=False)
        except RegistryError as error:
            listing.end(error)
        except Exception as error:
            # The targets waiting on the pages must hear of a bug, not wait for the deadline.
            log.exception("listing the repositories of %s failed", registry)
            listing.end(
                RegistryError(
                    f"listing the repositories of {registry}: internal error "
                    f"({type(error).__name__})"
                )
            )
        else:
            listing.end(None)

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
