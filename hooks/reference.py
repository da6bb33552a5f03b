"""Docker image references: the grammar Docker parses, with Docker's normalisation.

A reference is `[host[:port]/]path[:tag][@algorithm:hex]`, as docker/distribution's `reference`
package reads it through `ParseNormalizedNamed`: the first path component is a registry host when
it contains `.` or `:` or is `localhost`; otherwise the default registry applies, and a
one-component Docker Hub repository means `library/NAME`.

Two deliberate differences from Docker, both to give users a clear error instead of a surprise:

- Docker also treats an upper-case first component (`MyOrg/model`) as a registry host. Here it is
  a repository component, and so an error saying that repositories are lower-case.
- `*` is allowed in the repository (any run of characters, `/` included) and in the tag (a glob),
  because image filters are patterns. A reference without `*` is an ordinary Docker reference.

This module is a leaf: the domain (filters) and the registry clients both import it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})

# docker/distribution reference grammar (reference/regexp.go).
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = re.compile(rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\]", re.ASCII)
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*", re.ASCII)
_TAG = re.compile(r"[\w][\w.-]*", re.ASCII)
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]+", re.ASCII)
# go-digest's registered algorithms and the length of their lower-case hex encoding.
_DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_MAX_NAME_LENGTH = 255
_MAX_TAG_LENGTH = 128
_MAX_PORT = 65535
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# `*` stands for "some characters" in patterns; checking the grammar with one letter in its place
# accepts exactly the patterns that can match some valid name.
_WILDCARD_RUN = re.compile(r"\*+")


class InvalidReferenceError(ValueError):
    """A reference (or registry host) that does not follow Docker's grammar.

    The message names the part that is wrong and why, without repeating the whole reference, so
    that callers can say `filter "{image}": {message}`.
    """

    def __init__(self, reference: str, message: str) -> None:
        super().__init__(message)
        self.reference = reference


@dataclass(frozen=True, slots=True)
class ImageRef:
    """One concrete image; its identity is `registry/repository:tag`, or `...@digest` if pinned."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    def spec_image(self) -> str:
        """The image as an AIMClusterModel's `spec.image` names it (docs/decisions.md §4).

        Docker Hub images are written without the registry (`repo:tag`), others with it
        (`registry/repo:tag`). A digest is the identity of a pinned image, so it replaces the tag
        (`repo@sha256:…`), which is also what Docker pulls for `repo:tag@digest`. Without tag and
        digest the bare repository is returned.
        """
        name = (
            self.repository if self.registry == DOCKER_HUB else f"{self.registry}/{self.repository}"
        )
        if self.digest is not None:
            return f"{name}@{self.digest}"
        if self.tag is not None:
            return f"{name}:{self.tag}"
        return name


@dataclass(frozen=True, slots=True)
class ParsedReference:
    """A reference or image filter split into its parts, normalised as Docker normalises it.

    `registry` is canonical, `repository` has `library/` for one-component Docker Hub names and
    may contain `*`, `tag` may contain `*` (a glob), `digest` is `algorithm:hex`.
    """

    registry: str
    repository: str
    tag: str | None
    digest: str | None


def is_valid_repository(name: str) -> bool:
    r"""Whether a repository name read from a registry follows the OCI distribution grammar.

    `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` per `/`-separated component, at most 255 characters
    (Docker's bound on a name). Registries choose the names they list; one outside the grammar
    (`models/../../etc`, a newline, a NUL, 70,000 characters) must never become a model, whose
    `spec.image` would not be a reference. The length is checked first, so that the cost is
    bounded whatever the registry sends.
    """
    return 0 < len(name) <= _MAX_NAME_LENGTH and all(
        _PATH_COMPONENT.fullmatch(component) for component in name.split("/")
    )


def is_valid_tag(tag: str) -> bool:
    """Whether a tag read from a registry follows the OCI grammar `[A-Za-z0-9_][A-Za-z0-9._-]*`.

    At most 128 characters. A tag with a newline, a `/`, a `:` or an `@` (a smuggled digest),
    an empty tag or a longer one is refused; the length is checked first, so that the cost is
    bounded.
    """
    return 0 < len(tag) <= _MAX_TAG_LENGTH and _TAG.fullmatch(tag) is not None


def canonical_registry(host: str) -> str:
    """The canonical form of a registry host: lower-case, Docker Hub's aliases as `docker.io`.

    A scheme (`https://`) and anything after the host (a trailing `/`, the `/v1/` of Docker's
    legacy config keys) are dropped, so that configuration keys and filter hosts compare equal.
    The port is kept: `host:443` and `host` are different registries.
    """
    text = _SCHEME.sub("", host.strip()).split("/", 1)[0].lower()
    return DOCKER_HUB if text in _DOCKER_HUB_ALIASES else text


def parse_registry(text: str) -> str:
    """Validate a registry written as `host[:port]` and return its canonical form.

    A trailing `/` is forgiven; a scheme or a path is an error that says what to write instead.
    """
    host = text[:-1] if text.endswith("/") else text
    if _SCHEME.match(host):
        bare = _SCHEME.sub("", host).rstrip("/")
        raise InvalidReferenceError(
            text, f'registry "{text}" must be a host without a scheme: write "{bare}"'
        )
    if "/" in host:
        first, rest = host.split("/", 1)
        raise InvalidReferenceError(
            text,
            f'registry "{text}" must be a host[:port] without a path: use registry "{first}" '
            f'and put "{rest}/" in front of the filters\' images',
        )
    _check_host(text, host)
    return canonical_registry(host)


def parse_reference(text: str, default_registry: str = DOCKER_HUB) -> ParsedReference:
    """Parse an image reference or image filter pattern; raise InvalidReferenceError if malformed.

    `default_registry` applies when the reference names no registry host.
    """
    if not text:
        raise InvalidReferenceError(text, "the image reference is empty")
    if any(char.isspace() for char in text):
        raise InvalidReferenceError(text, "the image reference must not contain whitespace")
    if _SCHEME.match(text):
        bare = _SCHEME.sub("", text)
        raise InvalidReferenceError(text, f'an image reference has no scheme: write "{bare}"')
    name, tag, digest = _split_tag_and_digest(text)
    explicit_host, path = _split_host(name)
    if explicit_host is not None:
        _check_host(text, explicit_host)
        registry = canonical_registry(explicit_host)
    else:
        registry = canonical_registry(default_registry)
    _check_path(text, path, explicit_host)
    if len(name) > _MAX_NAME_LENGTH:
        raise InvalidReferenceError(
            text,
            f"the name is {len(name)} characters long; at most {_MAX_NAME_LENGTH} are allowed",
        )
    if tag is not None:
        _check_tag(text, tag)
    if digest is not None:
        _check_digest(text, digest)
        if tag is not None and "*" in tag:
            raise InvalidReferenceError(
                text, f'a digest pins one image: tag pattern "{tag}" cannot go with it'
            )
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return ParsedReference(registry=registry, repository=path, tag=tag, digest=digest)


def _split_tag_and_digest(text: str) -> tuple[str, str | None, str | None]:
    """Split `name[:tag][@digest]`; the tag's `:` is the last one after the last `/`."""
    name, at, digest = text.partition("@")
    if at:
        if "@" in digest:
            raise InvalidReferenceError(text, 'more than one "@": a reference has one digest')
        if not digest:
            raise InvalidReferenceError(text, '"@" must be followed by a digest (sha256:…)')
    colon = name.rfind(":")
    if colon <= name.rfind("/"):
        return name, None, digest or None
    tag = name[colon + 1 :]
    if not tag:
        raise InvalidReferenceError(text, '":" must be followed by a tag')
    return name[:colon], tag, digest or None


def _split_host(name: str) -> tuple[str | None, str]:
    """Docker's rule: the first component is a host if it has `.` or `:` or is `localhost`."""
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return None, name


def _check_host(text: str, host: str) -> None:
    """A registry host: domain name or `[IPv6]`, with an optional port from 1 to 65535."""
    if not host:
        raise InvalidReferenceError(text, "the registry host is empty")
    if "*" in host:
        raise InvalidReferenceError(
            text,
            f'registry "{host}" cannot contain "*": wildcards are allowed in the repository '
            "and the tag only",
        )
    if host.startswith("["):
        end = host.find("]") + 1
        name, rest = (host[:end], host[end:]) if end else (host, "")
    else:
        name, colon, port = host.partition(":")
        rest = colon + port
    if not _HOST.fullmatch(name) or (rest and not rest.startswith(":")):
        raise InvalidReferenceError(
            text,
            f'registry host "{host}" is invalid: use letters, digits, "-" and "." '
            "(or [IPv6]), optionally followed by :port",
        )
    port = rest[1:]
    if rest and not (port.isascii() and port.isdigit() and 1 <= int(port) <= _MAX_PORT):
        raise InvalidReferenceError(
            text, f'registry "{host}": the port must be a number from 1 to {_MAX_PORT}'
        )


def _check_path(text: str, path: str, host: str | None) -> None:
    """Each `/`-separated component: lower-case letters and digits joined by `.`, `_`, `__`, `-`."""
    if not path:
        where = f' after registry "{host}"' if host is not None else ""
        raise InvalidReferenceError(text, f"the repository name is missing{where}")
    if path != path.lower():
        raise InvalidReferenceError(text, f'repository "{path}" must be lower-case')
    for component in path.split("/"):
        if not _PATH_COMPONENT.fullmatch(_WILDCARD_RUN.sub("a", component)):
            raise InvalidReferenceError(
                text,
                f'repository "{path}": component "{component}" is invalid: use lower-case '
                'letters and digits, separated by one ".", "_", "__" or any number of "-" '
                "(and no separator at either end)",
            )


def _check_tag(text: str, tag: str) -> None:
    """A tag: up to 128 of `[A-Za-z0-9_.-]`, not starting with `.` or `-`; `*` globs allowed."""
    if len(tag) > _MAX_TAG_LENGTH:
        raise InvalidReferenceError(
            text,
            f'tag "{tag[:20]}…" is {len(tag)} characters long; at most {_MAX_TAG_LENGTH} '
            "are allowed",
        )
    if not _TAG.fullmatch(_WILDCARD_RUN.sub("a", tag)):
        raise InvalidReferenceError(
            text,
            f'tag "{tag}" is invalid: use letters, digits, "_", "." and "-", not starting '
            'with "." or "-"',
        )


def _check_digest(text: str, digest: str) -> None:
    """`algorithm:hex` with a registered algorithm and the exact lower-case hex length."""
    if not _DIGEST.fullmatch(digest):
        raise InvalidReferenceError(
            text, f'digest "{digest}" is invalid: expected algorithm:hex, e.g. sha256:<64 hex>'
        )
    algorithm, _, hex_digits = digest.partition(":")
    expected = _DIGEST_HEX_LENGTHS.get(algorithm)
    if expected is None:
        supported = ", ".join(_DIGEST_HEX_LENGTHS)
        raise InvalidReferenceError(
            text, f'digest algorithm "{algorithm}" is not supported (use {supported})'
        )
    if hex_digits != hex_digits.lower():
        raise InvalidReferenceError(text, f'digest "{digest}": the hex digits must be lower-case')
    if len(hex_digits) != expected:
        raise InvalidReferenceError(
            text,
            f'digest "{digest}": {algorithm} needs exactly {expected} hex digits, '
            f"got {len(hex_digits)}",
        )
