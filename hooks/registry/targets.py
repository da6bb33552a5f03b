"""What a scan is asked to find, and what it reports back, as plain data.

The controller turns each valid image filter into a `ScanTarget`; the scanner answers one
`TargetResult` per target. The selection predicates are passed in as functions, so the registry
package needs to know nothing about filters, versions or exclusions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hooks.reference import ImageRef


def _select_all(_: str) -> bool:
    return True


def _no_model(_: ImageRef) -> bool:
    return False


@dataclass(frozen=True)
class ScanTarget:
    """One filter's question to one registry.

    The forms: `digest` (does repository@digest exist?), `tag` (does repository:tag exist?),
    an exact `repository` (which of its tags are selected?), or `wildcard` (which repositories
    are selected, and which of their tags?; with `tag` or `digest`, which of them hold it?).
    """

    key: int
    registry: str
    repository: str
    wildcard: bool = False
    tag: str | None = None
    digest: str | None = None
    selects_repository: Callable[[str], bool] = _select_all
    selects_tag: Callable[[str], bool] = _select_all
    # Wildcard continuation: repositories up to and including this name were done earlier.
    resume_after: str | None = None
    # How long the scan this call continues has been running (0 on its first call).
    continued_seconds: float = 0.0
    # At most this many of the target's images, in creation order (repository, then tag), can
    # still become models; whole repositories past them are counted, not kept (None: keep all).
    keep_images: int | None = None
    # Whether an image already has a model: such an image, counted, is not one left uncreated.
    has_model: Callable[[ImageRef], bool] = _no_model


@dataclass(frozen=True)
class TargetResult:
    """What one target found before the scan ended.

    `finished` is False when the deadline stopped it; `resume_after` then says where the next
    call picks up. `warnings` report truncation (tag or page caps) that is not a failure.
    `images_dropped` counts the images found past `ScanTarget.keep_images`: matching, but never
    to be created in this sync; `new_images_dropped` those of them without a model yet.
    """

    key: int
    images: tuple[ImageRef, ...] = ()
    error: str | None = None
    finished: bool = True
    resume_after: str | None = None
    retry_after: float | None = None
    warnings: tuple[str, ...] = ()
    images_dropped: int = 0
    new_images_dropped: int = 0
