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
        listings = RepositoryListings(
            calls, self.distribution, client, keychain, calls.clock, targets
        )
        self.listings = listings
        # Subscribed before any listing reads its first page, so each target sees every name.
        self._subscriptions = {t.key: listings.subscribe(t) for t in targets if t.wildcard}
        self._tags: dict[str, tuple[asyncio.Task[TagList], int]] = {}
        self._running: set[asyncio.Task[TagList]] = set()

    def shared_tasks(self) -> list[asyncio.Task[Any]]:
        """The tag and repository listings started for targets (to cancel at the deadline)."""
        return [*self._running, *self.listings.tasks()]

    async def tags(self, repository: str) -> TagList:
        """The tags of a repository that any target may select, listed once per scan whoever
        asks; each target still applies its own selection to them.

        The listing is kept only until every target that may ask has asked: a finished
        listing, and above all a failed one, must not stay in memory until the scan ends.
        """
        shared = self._tags.get(repository)
        if shared is None:
            keep = self._wanted_tags(repository)
            task = asyncio.ensure_future(self._list_tags(repository, keep))
            self._running.add(task)
            task.add_done_callback(self._forget)
            shared = (task, self._askers(repository))
        task, askers = shared
        if askers > 1:
            self._tags[repository] = (task, askers - 1)
        else:
            self._tags.pop(repository, None)
        return await asyncio.shield(task)

    def _forget(self, task: asyncio.Task[TagList]) -> None:
        """A finished tag listing is no longer the scan's to cancel; its failure counts as
        retrieved, for the asker may be gone (cancelled at the deadline)."""
        self._running.discard(task)
        if not task.cancelled():
            task.exception()

    async def _list_tags(self, repository: str, keep: Callable[[str], bool]) -> TagList:
        """One shared tag listing; its failure keeps no traceback (whose frames hold what was
        read) and no chained cause, only the error and its message."""
        try:
            return await self.calls.call(lambda: self.distribution.tags(repository, keep=keep))
        except RegistryError as error:
            error.__context__ = error.__cause__ = None
            raise error.with_traceback(None) from None

    def _askers(self, repository: str) -> int:
        """How many targets of the scan may ask for the tags of `repository`."""
        return sum(
            1
            for t in self.targets
            if t.tag is None
            and t.digest is None
            and (t.wildcard or t.repository == repository)
            and (t.resume_after is None or repository > t.resume_after)
            and t.selects_repository(repository)
        )

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
        limit = self.settings.max_continuation_seconds
        if target.resume_after is not None and target.continued_seconds > limit:
            self._subscriptions[target.key].close()
            progress.fail(
                None,
                RegistryError(
                    f"listing the repositories of {self.registry} did not end within "
                    f"{limit:.0f}s of continued scans (read up to {target.resume_after}); "
                    "the next scheduled scan lists it again from the start"
                ),
            )
            return
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
        progress.add(repository, [image] if digest is not None else [])
        return digest is not None

    async def _repository(self, progress: TargetProgress, repository: str) -> None:
        target = progress.target
        listing = await self.tags(repository)
        if listing.truncated:
            progress.warnings[repository] = (
                f"tags of {repository} truncated at {self.settings.max_tags_per_repository}"
            )
        progress.add(
            repository,
            [
                ImageRef(self.registry, repository, tag=tag)
                for tag in listing.tags
                if target.selects_tag(tag)
            ],
        )

    async def _wildcard(self, progress: TargetProgress) -> None:
        """Hand each selected repository to the workers as soon as its listing chunk arrives.

        The listing waits while the workers are busy, so what is read stays in step with what
        is done, however large a catalog page.
        """
        target = progress.target
        subscription = self._subscriptions[target.key]
        progress.listing = subscription.listing
        work: asyncio.Queue[str | None] = asyncio.Queue(maxsize=self.settings.concurrency)
        try:
            async with asyncio.TaskGroup() as group:
                workers = [
                    group.create_task(self._worker(progress, work))
                    for _ in range(max(1, self.settings.concurrency))
                ]
                start = target.resume_after
                async for names in subscription:
                    for name in names:
                        if start is not None and name <= start:
                            continue
                        selected = target.selects_repository(name)
                        progress.take(name, selected)
                        if selected:
                            await work.put(name)
                for _ in workers:
                    await work.put(None)
        finally:
            subscription.close()
        if subscription.listing.error is not None:
            progress.fail(None, subscription.listing.error)

    async def _worker(self, progress: TargetProgress, work: asyncio.Queue[str | None]) -> None:
        """Look up or list the repositories a wildcard selected, one at a time, until told to
        stop: a bounded set of these, not a task per name, does a wildcard's work.

        A wildcard with an exact tag or digest looks that image up in each selected repository
        (docs/decisions.md §1): a repository without it found nothing, which is no error.
        """
        target = progress.target
        pinned = target.tag is not None or target.digest is not None
        while (name := await work.get()) is not None:
            job = self._pinned(progress, name) if pinned else self._repository(progress, name)
            await self._guarded(progress, name, job)
            progress.settle(name)
