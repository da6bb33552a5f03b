"""A scan that spans several calls: what each call asks the scanner, and what it hands on.

A sync scans for at most `AIM_SCAN_DEADLINE_SECONDS`; a scan that does not finish keeps what it
found and records, per filter, where the next call resumes (`ScanProgress` in `status.scan`).
These pure functions turn that record into this call's scan targets, merge this call's results
with the earlier calls' verdicts, and decide what the next call inherits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from hooks.modelsource.filters import FilterError, ImageFilter
from hooks.modelsource.plan import FilterResult
from hooks.modelsource.schedule import FilterProgress, ScanProgress
from hooks.reference import ImageRef
from hooks.registry.targets import ScanTarget, TargetResult


def scan_target(
    image_filter: ImageFilter, progress: ScanProgress | None, now: datetime | None = None
) -> ScanTarget | None:
    """The scan question for a filter, or None when an earlier call already finished it.
    `now` dates a continued scan (how long it has run bounds it)."""
    resume_after = None
    continued = 0.0
    if progress is not None:
        continued = (now - progress.started).total_seconds() if now is not None else 0.0
        state = progress.filter(image_filter.index)
        if state is not None and state.done:
            return None
        resume_after = state.resume_after if state is not None else None
    return ScanTarget(
        key=image_filter.index,
        registry=image_filter.registry,
        repository=image_filter.repository,
        wildcard=image_filter.is_wildcard,
        tag=image_filter.tag,
        digest=image_filter.digest,
        selects_repository=image_filter.selects_repository,
        selects_tag=image_filter.selects_tag,
        resume_after=resume_after,
        continued_seconds=continued,
    )


def merge_results(
    filters: Sequence[ImageFilter | FilterError],
    progress: ScanProgress | None,
    results: Mapping[int, TargetResult],
) -> list[FilterResult]:
    """One result per filter: a spec error, an earlier call's verdict, or this call's result."""
    filter_results = []
    for f in filters:
        if isinstance(f, FilterError):
            filter_results.append(FilterResult(f.index, f.image, error=f.message))
            continue
        result = results.get(f.index)
        earlier = progress.filter(f.index) if progress else None
        earlier_error = earlier.error if earlier else None
        if result is None:
            filter_results.append(FilterResult(f.index, f.image, error=earlier_error))
            continue
        filter_results.append(
            FilterResult(
                f.index,
                f.image,
                images=result.images,
                error=merged_error(earlier_error, result.error),
                finished=result.finished,
                warnings=result.warnings,
            )
        )
    return filter_results


# A filter's errors over the calls of a continued scan are kept up to this many characters, so
# that a long continuation cannot grow `status.scan` without bound, however short each error.
MAX_MERGED_ERROR = 2000
MORE_ERRORS = "(further errors in later calls of this scan are not listed)"


def merged_error(earlier: str | None, current: str | None) -> str | None:
    """A filter's errors over the calls of a continued scan: they stay until the scan completes.

    An error already listed is not repeated; past MAX_MERGED_ERROR characters later ones are
    summed up by one note, so the text stops growing.
    """
    if not current or (earlier and (current in earlier or earlier.endswith(MORE_ERRORS))):
        return earlier or current or None
    if not earlier:
        return current[:MAX_MERGED_ERROR]
    merged = f"{earlier}; {current}"
    if len(merged) <= MAX_MERGED_ERROR:
        return merged
    return f"{earlier[:MAX_MERGED_ERROR]}; {MORE_ERRORS}"


def next_progress(
    now: datetime,
    current: str,
    progress: ScanProgress | None,
    filter_results: Sequence[FilterResult],
    results: Mapping[int, TargetResult],
    available: int,
    not_created: int,
) -> ScanProgress | None:
    """Where a scan that hit its deadline stands, or None when it is complete.

    A call that found nothing new and moved no cursor would loop forever: its unfinished
    filters are then settled as errors (`settle`) instead.
    """
    unfinished = [o for o in filter_results if not o.finished]
    if not unfinished:
        return None
    advanced = any(o.images for o in filter_results) or any(
        results[o.index].resume_after != _resume_of(progress, o.index) for o in unfinished
    )
    if not advanced and progress is not None:
        return None
    filters = tuple(
        FilterProgress(
            index=o.index,
            done=o.finished,
            resume_after=results[o.index].resume_after if o.index in results else None,
            error=o.error,
        )
        for o in filter_results
    )
    return ScanProgress(
        started=progress.started if progress else now,
        fingerprint=current,
        filters=filters,
        available=available,
        not_created=not_created,
    )


def counted_earlier(
    filters: Sequence[ImageFilter], progress: ScanProgress | None
) -> Callable[[ImageRef], bool]:
    """Which images an earlier call of this continued scan counted already.

    An image found now by one filter was counted before if another filter that matches it had
    covered its repository then: finished without error, or a wildcard whose resume point is
    at or past the repository (each call reports exactly the repositories up to its resume
    point). The counts are totals over the calls; without this an image matched by two filters
    that finished in different calls was counted twice.
    """
    covered: list[tuple[ImageFilter, str | None]] = []
    for image_filter in filters:
        state = progress.filter(image_filter.index) if progress else None
        if state is None:
            continue
        if state.done and state.error is None:
            covered.append((image_filter, None))
        elif not state.done and state.resume_after is not None:
            covered.append((image_filter, state.resume_after))

    def counted(image: ImageRef) -> bool:
        return any(
            (upto is None or image.repository <= upto) and image_filter.matches(image)
            for image_filter, upto in covered
        )

    return counted


def _resume_of(progress: ScanProgress | None, index: int) -> str | None:
    state = progress.filter(index) if progress else None
    return state.resume_after if state else None


NO_PROGRESS = "the scan did not finish within its deadline and made no progress; will retry"


def settle(
    filter_result: FilterResult, result: TargetResult | None, reason: str = NO_PROGRESS
) -> FilterResult:
    """An unfinished filter that cannot continue becomes that filter's error."""
    if filter_result.finished:
        return filter_result
    if result is not None and result.error:
        reason = result.error
    return replace(filter_result, error=reason, finished=True)
