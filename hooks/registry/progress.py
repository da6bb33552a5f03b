"""What one target of a scan has found so far, by repository, and its answer at any moment.

The scanner fills a `TargetProgress` as tag lists and lookups complete; at the end of the scan,
or at its deadline, `result` turns it into the target's `TargetResult`. An unfinished wildcard
reports only the repositories up to its resume point, so the next call reports none twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hooks.reference import ImageRef
from hooks.registry.errors import RateLimitedError, RegistryError
from hooks.registry.listings import Listing
from hooks.registry.targets import ScanTarget, TargetResult

# A wildcard that loses many repositories names the first few; the rest are counted.
FAILURES_SHOWN = 10


@dataclass
class TargetProgress:
    """What one target found so far, by repository; read at the deadline too.

    A wildcard records each name it takes from its listing (`take`): `listed_upto` is the last
    one, and each selected repository not yet done remembers the name taken just before it, so
    the resume point needs neither the names read nor a scan of them.
    """

    target: ScanTarget
    errors: list[str] = field(default_factory=list)
    found: dict[str, list[ImageRef]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, str] = field(default_factory=dict)
    selected: list[str] = field(default_factory=list)
    listing: Listing | None = None
    retry_after: float | None = None
    listed_upto: str | None = None
    pending: dict[str, str | None] = field(default_factory=dict)
    dropped: dict[str, tuple[int, int]] = field(default_factory=dict)
    _kept: int = 0
    _cut_after: str | None = None

    def add(self, repository: str, images: list[ImageRef]) -> None:
        """A repository's images; past the target's `keep_images`, counted instead of kept.

        Images become models in repository order, so once the repositories before one hold
        `keep_images` images, it and every later one can only be counted. Trimming waits until
        twice the bound is held, so that it costs little however many repositories arrive.
        """
        bound = self.target.keep_images
        if bound is None:
            self.found[repository] = images
            return
        if self._cut_after is not None and repository > self._cut_after:
            self._drop(repository, images)
            return
        self.found[repository] = images
        self._kept += len(images)
        if self._kept > 2 * bound:
            self._trim(bound)

    def _trim(self, bound: int) -> None:
        held = 0
        for repository in sorted(self.found):
            if held >= bound:
                self._drop(repository, self.found.pop(repository))
            else:
                held += len(self.found[repository])
                self._cut_after = repository
        self._kept = held

    def _drop(self, repository: str, images: list[ImageRef]) -> None:
        has_model = self.target.has_model
        self.dropped[repository] = (len(images), sum(not has_model(i) for i in images))

    def fail(self, repository: str | None, error: RegistryError) -> None:
        """Record a failure of the whole target (`repository` None) or of one repository."""
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            self.retry_after = max(self.retry_after or 0.0, error.retry_after)
        if repository is None:
            self.errors.append(str(error))
        else:
            self.failed[repository] = str(error)

    def done(self, repository: str) -> bool:
        return repository in self.found or repository in self.failed or repository in self.dropped

    def take(self, name: str, selected: bool) -> None:
        """A name taken from the listing, and whether the target will list its tags."""
        if selected:
            self.selected.append(name)
            self.pending[name] = self.listed_upto
        self.listed_upto = name

    def settle(self, repository: str) -> None:
        """A selected repository is done (found or failed)."""
        self.pending.pop(repository, None)

    def resume_after(self) -> str | None:
        """Where the next call starts: after the longest prefix, by name, of the repositories
        this call has dealt with. With a sorted listing that is every name taken up to the first
        selected one not yet done, so pages without a match count as progress too; otherwise,
        once the listing has ended, the done prefix of the selected names."""
        last = self.target.resume_after
        listing = self.listing
        if listing is None:
            return last
        if listing.in_order:
            if self.pending:
                return self.pending[min(self.pending)] or last
            return self.listed_upto or last
        if not listing.ended:
            return last
        for repository in sorted(self.selected):
            if not self.done(repository):
                break
            last = repository
        return last

    def result(self, finished: bool) -> TargetResult:
        """The target's answer. An unfinished one reports only the repositories up to its
        `resume_after`: the next call starts after it, so nothing is reported twice. A target
        whose listing stopped at this call's budget is unfinished too, as at the deadline."""
        finished = finished and not (self.listing is not None and self.listing.cut)
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
                f"{len(failed)} of {len(self.selected) or len(failed)} repositories could not be "
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
            images_dropped=sum(n for r, (n, _) in self.dropped.items() if reported(r)),
            new_images_dropped=sum(n for r, (_, n) in self.dropped.items() if reported(r)),
            warnings=(
                *(self.warnings[r] for r in sorted(self.warnings) if reported(r)),
                *self._listing_warnings(),
            ),
        )

    def _listing_warnings(self) -> tuple[str, ...]:
        listing = self.listing
        if listing is None or not listing.invalid:
            return ()
        return (
            f"{listing.invalid} repository name(s) listed by {self.target.registry} are not "
            "valid repository names and were skipped",
        )
