"""Image filters: which repositories and tags a source selects (docs/decisions.md §1).

`build_filters` turns each `spec.filters` entry into an `ImageFilter` (what to list and how to
match it) or a `FilterError` (why that filter cannot run). It never raises: one malformed filter
must not stop the others.

How a filter's `image` reads:

- `[host/]repository[:tag][@digest]`, Docker's reference grammar (`hooks.reference`). The host,
  when written, overrides `spec.registry` for that filter, wildcards included. Docker Hub's
  aliases are one registry, and a one-component Docker Hub name means `library/NAME`.
- `*` in the repository matches any run of characters, `/` included (`amdenterpriseai/aim-*`).
- An exact tag (`repo:1.0.0`) selects that tag only; version constraints do not apply to it.
  Beside a wildcard (`org/aim-*:1.0.0`, `org/aim-*@sha256:…`) it is that image in every matching
  repository that has it.
- A tag with `*` (`repo:0.8.*`) is a glob over tags; version constraints apply as well.
- A digest (`repo@sha256:…`) pins one image; a tag written beside it is ignored, as Docker
  ignores it when pulling. Version constraints do not apply.
- Otherwise every tag is a candidate, narrowed by the filter's own `versions`, or the global
  `versions` when the filter has none.

Exclusions are repository names or `*` patterns, without registry. They are read with the same
grammar and normalisation as the filter's repository, so `docker.io/org/name` and `org/name` are
the same exclusion, and on Docker Hub `nginx` means `library/nginx`. An exclusion that is
malformed, names a tag or digest, or names another registry is the filter's error: silently
ignoring it would create models the user meant to exclude, and models are never deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from hooks.modelsource.spec import FilterSpec, SourceSpec
from hooks.modelsource.versions import Constraints, InvalidConstraintError, parse_constraints
from hooks.reference import ImageRef, InvalidReferenceError, ParsedReference, parse_reference
from hooks.wildcard import Wildcard, matches_any


@dataclass(frozen=True, slots=True)
class FilterError:
    """A filter that cannot run; shown as `filter "{image}": {message}`."""

    index: int
    image: str
    message: str


@dataclass(frozen=True, slots=True)
class ImageFilter:
    """One runnable filter: where to look and which repositories and tags it selects.

    `repository` may contain `*`; `tag` is an exact tag, `tag_pattern` a tag glob, `digest` a
    pinned digest (at most one of the three is set); `exclude` holds normalised repository names
    or patterns; `constraints` is None when no version constraints apply.
    """

    index: int
    image: str
    registry: str
    repository: str
    tag: str | None = None
    tag_pattern: str | None = None
    digest: str | None = None
    exclude: tuple[str, ...] = ()
    constraints: Constraints | None = None
    # Split once here: matching runs for thousands of repositories and tags per scan, on names
    # and tags the registry chooses, so it must be linear in them (hooks.wildcard).
    _repository_glob: Wildcard = field(init=False, repr=False, compare=False)
    _excluded_names: frozenset[str] = field(init=False, repr=False, compare=False)
    _excluded_globs: tuple[Wildcard, ...] = field(init=False, repr=False, compare=False)
    _tag_glob: Wildcard | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        globs = tuple(Wildcard(pattern) for pattern in self.exclude if "*" in pattern)
        names = frozenset(pattern for pattern in self.exclude if "*" not in pattern)
        tag_glob = Wildcard(self.tag_pattern) if self.tag_pattern is not None else None
        object.__setattr__(self, "_repository_glob", Wildcard(self.repository))
        object.__setattr__(self, "_excluded_names", names)
        object.__setattr__(self, "_excluded_globs", globs)
        object.__setattr__(self, "_tag_glob", tag_glob)

    @property
    def is_wildcard(self) -> bool:
        """Whether the repository is a pattern, so that repositories must be listed."""
        return "*" in self.repository

    def selects_repository(self, repository: str) -> bool:
        """Whether a repository (path without registry) matches and is not excluded."""
        if not self._repository_glob.matches(repository):
            return False
        if repository in self._excluded_names:
            return False
        return not matches_any(self._excluded_globs, repository)

    def selects_tag(self, tag: str) -> bool:
        """Whether a tag of a selected repository is selected.

        An exact tag selects itself only; a glob and the version constraints must both agree;
        without either every tag is selected. A digest-pinned filter selects by digest, never
        by tag.
        """
        if self.digest is not None:
            return False
        if self.tag is not None:
            return tag == self.tag
        if self._tag_glob is not None and not self._tag_glob.matches(tag):
            return False
        return self.constraints is None or self.constraints.admits(tag)

    def matches(self, image: ImageRef) -> bool:
        """Whether this filter selects `image`: a scan's question, asked of one found image."""
        if image.registry != self.registry or not self.selects_repository(image.repository):
            return False
        if self.digest is not None:
            return image.digest == self.digest
        return image.tag is not None and self.selects_tag(image.tag)


def build_filters(spec: SourceSpec) -> list[ImageFilter | FilterError]:
    """One ImageFilter or FilterError per `spec.filters` entry, in filter order (`index`)."""
    global_constraints = _parse_versions(spec.versions)
    return [
        _build_filter(index, filter_spec, spec.registry, global_constraints)
        for index, filter_spec in enumerate(spec.filters)
    ]


def _build_filter(
    index: int,
    filter_spec: FilterSpec,
    default_registry: str,
    global_constraints: Constraints | InvalidConstraintError | None,
) -> ImageFilter | FilterError:
    image = filter_spec.image
    try:
        parsed = parse_reference(image, default_registry)
        exclude = tuple(_exclusion(entry, parsed) for entry in filter_spec.exclude)
    except InvalidReferenceError as error:
        return FilterError(index, image, str(error))
    tag = tag_pattern = digest = None
    constraints: Constraints | None = None
    if parsed.digest is not None:
        digest = parsed.digest
    elif parsed.tag is not None and "*" not in parsed.tag:
        tag = parsed.tag
    else:
        tag_pattern = parsed.tag
        if filter_spec.versions is None:
            versions, origin = global_constraints, "spec.versions"
        else:
            versions, origin = _parse_versions(filter_spec.versions), "versions"
        if isinstance(versions, InvalidConstraintError):
            return FilterError(index, image, f"{origin}: {versions}")
        constraints = versions
    return ImageFilter(
        index=index,
        image=image,
        registry=parsed.registry,
        repository=parsed.repository,
        tag=tag,
        tag_pattern=tag_pattern,
        digest=digest,
        exclude=exclude,
        constraints=constraints,
    )


def _parse_versions(versions: Sequence[str]) -> Constraints | InvalidConstraintError | None:
    """Parsed constraints, the error as a value (it belongs to every filter using the list)."""
    if not versions:
        return None
    try:
        return parse_constraints(versions)
    except InvalidConstraintError as error:
        return error


def _exclusion(entry: str, parsed: ParsedReference) -> str:
    """An exclusion as a repository name or pattern on the filter's registry."""
    try:
        excluded = parse_reference(entry, parsed.registry)
    except InvalidReferenceError as error:
        raise InvalidReferenceError(entry, f'exclusion "{entry}": {error}') from None
    if excluded.tag is not None or excluded.digest is not None:
        raise InvalidReferenceError(
            entry,
            f'exclusion "{entry}" names a tag or digest: exclusions name whole repositories',
        )
    if excluded.registry != parsed.registry:
        raise InvalidReferenceError(
            entry,
            f'exclusion "{entry}" names registry {excluded.registry}, but this filter lists '
            f"{parsed.registry}",
        )
    return excluded.repository
