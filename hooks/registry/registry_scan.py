"""Everything one scan does against one registry: the targets' tag lists, lookups and listings.

Each repository's tags are listed at most once per scan however many targets need them, and
only the tags some target may select are kept. A wildcard's tag lists start as the pages of its
repository listing arrive. Failures become the target's (or the repository's) error; nothing
escapes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

from hooks.reference import ImageRef
from hooks.registry.auth import RegistryAuth
from hooks.registry.calls import RegistryCalls, log
from hooks.registry.config import RegistrySettings
from hooks.registry.credentials import Keychain
from hooks.registry.distribution import DistributionClient, TagList
from hooks.registry.errors import NotFoundError, RegistryError
from hooks.registry.listings import RepositoryListings
from hooks.registry.progress import TargetProgress
from hooks.registry.targets import ScanTarget


class RegistryScan:
    """Everything one scan does against one registry, sharing one connection pool."""

    def __init__(
        self,
        registry: str,
        client: httpx.AsyncClient,
        keychain: Keychain,
        settings: RegistrySettings,
        calls: RegistryCalls,
        targets: Sequence[ScanTarget],
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.targets = targets
        self.calls = calls
        base_url = settings.base_url(registry)
        auth = RegistryAuth(
            registry,
            keychain,
            base_url=base_url,
            client=client,
            settings=settings,
            clock=calls.clock,
        )
        self.distribution = DistributionClient(
            registry, base_url, client, auth, settings, calls.clock
        )
        self.listings = RepositoryListings(
            calls, self.distribution, client, keychain, calls.clock, targets
        )
        self._tags: dict[str, asyncio.Task[TagList]] = {}

    def shared_tasks(self) -> list[asyncio.Task[Any]]:
        """The tag and repository listings started for targets (to cancel at the deadline)."""
        return [*self._tags.values(), *self.listings.tasks()]

    def tags(self, repository: str) -> asyncio.Future[TagList]:
        """The tags of a repository that any target may select, listed once per scan whoever
        asks; each target still applies its own selection to them."""
        task = self._tags.get(repository)
        if task is None:
            keep = self._wanted_tags(repository)
            task = asyncio.ensure_future(
                self.calls.call(lambda: self.distribution.tags(repository, keep=keep))
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

    async def scan(self, progress: TargetProgress) -> None:
        """Fill `progress` for one target; errors are recorded, never raised."""
        target = progress.target
        if target.wildcard:
            work: Awaitable[None] = self._wildcard(progress)
        elif target.digest is not None or target.tag is not None:
            work = self._exact(progress)
        elif target.selects_repository(target.repository):
            work = self._repository(progress, target.repository)
        else:
            return  # an exact repository its own filter excludes: nothing to list
        await self._guarded(progress, None, work)

    async def _guarded(
        self, progress: TargetProgress, repository: str | None, work: Awaitable[object]
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

    async def _exact(self, progress: TargetProgress) -> None:
        """An exact repository's tag or digest: a missing one is the target's error."""
        target = progress.target
        if not target.selects_repository(target.repository):
            return
        if not await self._pinned(progress, target.repository):
            sep = "@" if target.digest else ":"
            reference = target.digest or target.tag
            raise NotFoundError(
                f"image {self.registry}/{target.repository}{sep}{reference} does not exist"
            )

    async def _pinned(self, progress: TargetProgress, repository: str) -> bool:
        """Whether `repository` has the target's tag or digest (one HEAD, never a tag list);
        the image is recorded as found when it does, the repository as done either way."""
        target = progress.target
        reference = target.digest or target.tag or ""
        digest = await self.calls.call(
            lambda: self.distribution.manifest_exists(repository, reference)
        )
        image = ImageRef(self.registry, repository, tag=target.tag, digest=target.digest)
        progress.found[repository] = [image] if digest is not None else []
        return digest is not None

    async def _repository(self, progress: TargetProgress, repository: str) -> None:
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

    async def _wildcard(self, progress: TargetProgress) -> None:
        """List the tags of each selected repository as soon as its listing page arrives.

        A wildcard with an exact tag or digest looks that image up in each selected repository
        instead (docs/decisions.md §1): a repository without it found nothing, which is no error.
        """
        target = progress.target
        pinned = target.tag is not None or target.digest is not None
        listing = self.listings.of(target)
        progress.listing = listing
        selected: list[str] = []
        progress.selected = selected
        start = target.resume_after
        async with asyncio.TaskGroup() as group:
            async for names in listing.batches():
                for name in names:
                    if (start is None or name > start) and target.selects_repository(name):
                        selected.append(name)
                        work = (
                            self._pinned(progress, name)
                            if pinned
                            else self._repository(progress, name)
                        )
                        group.create_task(self._guarded(progress, name, work))
            if listing.error is not None:
                progress.fail(None, listing.error)
