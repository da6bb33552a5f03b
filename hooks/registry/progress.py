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
    """What one target found so far, by repository; read at the deadline too."""

    target: ScanTarget
    errors: list[str] = field(default_factory=list)
    found: dict[str, list[ImageRef]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, str] = field(default_factory=dict)
    selected: list[str] | None = None
    listing: Listing | None = None
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
