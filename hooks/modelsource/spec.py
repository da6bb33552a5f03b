"""The AIMClusterModelSource spec, parsed once from the JSON Metacontroller sends.

The API server may or may not have validated the spec against a schema (the CRD may be older,
or looser, than this code), so anything may be missing or of the wrong type. Parsing never
crashes: every problem is one `SpecError` naming the field (`spec.filters[2].image`), what was
found and what is expected. Unknown fields are ignored, so that newer CRDs keep working.

Whether an image filter is well formed is not checked here: a malformed filter is that filter's
error (see `filters.py`), so that the other filters keep working.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from hooks.reference import DOCKER_HUB, InvalidReferenceError, parse_registry

DEFAULT_SYNC_INTERVAL_SECONDS = 3600.0
DEFAULT_MAX_MODELS = 100
MAX_MODELS_LIMIT = 10000
MAX_FILTERS = 100
MAX_IMAGE_LENGTH = 512
# Every created model carries the list: 10,000 names made a 130 MB sync answer (issue 13).
MAX_PULL_SECRETS = 64
_MAX_DNS_SUBDOMAIN = 253
_DNS_SUBDOMAIN = re.compile(
    r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*", re.ASCII
)

# Go's time.ParseDuration units, in nanoseconds (both micro signs are accepted, as in Go).
_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION_TERM = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]+)")
_MAX_DURATION_NS = 2**63 - 1


class SpecError(ValueError):
    """The source's spec is invalid; `field` is its path, e.g. `spec.filters[2].image`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class FilterSpec:
    """One entry of `spec.filters`, as written.

    `versions` is None when the filter has no list of its own (absent or empty, as in the Go
    implementation): the global list applies.
    """

    image: str
    exclude: tuple[str, ...] = ()
    versions: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A valid AIMClusterModelSource spec, defaults applied; `registry` is canonical."""

    registry: str
    filters: tuple[FilterSpec, ...]
    versions: tuple[str, ...] = ()
    sync_interval_seconds: float = DEFAULT_SYNC_INTERVAL_SECONDS
    max_models: int = DEFAULT_MAX_MODELS
    image_pull_secrets: tuple[str, ...] = ()
    config_name: str | None = None


def parse_spec(raw: object) -> SourceSpec:
    """Parse and validate `spec`; raise SpecError for the first problem, in field order."""
    if not isinstance(raw, dict):
        raise SpecError("spec", f"must be an object, got {_describe(raw)}")
    return SourceSpec(
        registry=_parse_registry(raw.get("registry")),
        filters=_parse_filters(raw.get("filters")),
        versions=_string_list(raw.get("versions"), "spec.versions"),
        sync_interval_seconds=_parse_sync_interval(raw.get("syncInterval")),
        max_models=_parse_max_models(raw.get("maxModels")),
        image_pull_secrets=_parse_pull_secrets(raw.get("imagePullSecrets")),
        config_name=_parse_config_name(raw.get("configName")),
    )


@lru_cache(maxsize=256)
def parse_duration(text: str) -> float:
    """A Go duration (`time.ParseDuration`: `1h`, `2h30m`, `1.5h`, `-5m`, `0`) in seconds.

    Raises ValueError on anything Go would reject, including durations beyond Go's range
    (about 292 years). Exact arithmetic makes it cost a few Fractions a call, and every sync
    reads its source's interval: the last 256 distinct durations are remembered (a rejected
    one is not, it raises).
    """
    body = text
    negative = body[:1] == "-"
    if body[:1] in ("-", "+"):
        body = body[1:]
    if body == "0":
        return 0.0
    if not body:
        raise ValueError(f'invalid duration "{text}"')
    nanoseconds = Fraction(0)
    position = 0
    while position < len(body):
        term = _DURATION_TERM.match(body, position)
        if term is None or not (term.group(1) or term.group(2)):
            raise ValueError(f'invalid duration "{text}"')
        whole, fraction, unit_name = term.groups()
        unit = _DURATION_UNITS.get(unit_name)
        if unit is None:
            raise ValueError(f'unknown unit "{unit_name}" in duration "{text}"')
        value = Fraction(int(whole or "0"))
        if fraction:
            value += Fraction(int(fraction), 10 ** len(fraction))
        nanoseconds += int(value * unit)
        position = term.end()
    if nanoseconds > _MAX_DURATION_NS + (1 if negative else 0):
        raise ValueError(f'invalid duration "{text}": out of range')
    seconds = float(nanoseconds / 1_000_000_000)
    return -seconds if negative else seconds


def _parse_registry(value: object) -> str:
    if value is None or value == "":
        return DOCKER_HUB
    if not isinstance(value, str):
        raise SpecError("spec.registry", f"must be a host such as ghcr.io, got {_describe(value)}")
    try:
        return parse_registry(value)
    except InvalidReferenceError as error:
        raise SpecError("spec.registry", str(error)) from None


def _parse_filters(value: object) -> tuple[FilterSpec, ...]:
    field = "spec.filters"
    if value is None:
        raise SpecError(field, "is required: list at least one filter, e.g. - image: org/aim-*")
    if not isinstance(value, list):
        raise SpecError(field, f"must be a list of filters, got {_describe(value)}")
    if not 1 <= len(value) <= MAX_FILTERS:
        raise SpecError(field, f"must have 1 to {MAX_FILTERS} filters, got {len(value)}")
    return tuple(_parse_filter(item, f"{field}[{index}]") for index, item in enumerate(value))


def _parse_filter(value: object, field: str) -> FilterSpec:
    if not isinstance(value, dict):
        raise SpecError(field, f"must be an object with an image, got {_describe(value)}")
    image = value.get("image")
    if image is None:
        raise SpecError(f"{field}.image", "is required: the image or pattern to match")
    if not isinstance(image, str):
        raise SpecError(f"{field}.image", f"must be a string, got {_describe(image)}")
    if not 1 <= len(image) <= MAX_IMAGE_LENGTH:
        raise SpecError(
            f"{field}.image",
            f"must be 1 to {MAX_IMAGE_LENGTH} characters long, got {len(image)}",
        )
    versions = _string_list(value.get("versions"), f"{field}.versions")
    return FilterSpec(
        image=image,
        exclude=_string_list(value.get("exclude"), f"{field}.exclude"),
        versions=versions or None,
    )


def _parse_sync_interval(value: object) -> float:
    field = "spec.syncInterval"
    if value is None:
        return DEFAULT_SYNC_INTERVAL_SECONDS
    if not isinstance(value, str):
        raise SpecError(field, f"must be a duration such as 1h or 30m, got {_describe(value)}")
    try:
        seconds = parse_duration(value)
    except ValueError as error:
        raise SpecError(field, f"{error}; write a duration such as 1h, 30m or 2h30m") from None
    if seconds <= 0:
        raise SpecError(field, f'must be longer than zero, got "{value}"')
    return seconds


def _parse_max_models(value: object) -> int:
    if value is None:
        return DEFAULT_MAX_MODELS
    # bool is an int in Python, never in the spec.
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_MODELS_LIMIT:
        raise SpecError(
            "spec.maxModels",
            f"must be an integer from 1 to {MAX_MODELS_LIMIT}, got {_describe(value)}",
        )
    return value


def _parse_pull_secrets(value: object) -> tuple[str, ...]:
    field = "spec.imagePullSecrets"
    if value is None:
        return ()
    if not isinstance(value, list):
        raise SpecError(field, f"must be a list of {{name: ...}}, got {_describe(value)}")
    if len(value) > MAX_PULL_SECRETS:
        raise SpecError(
            field,
            f"must have at most {MAX_PULL_SECRETS} Secrets, got {len(value)}: the list is copied "
            "into every model; put the credentials of several registries into one Secret",
        )
    names = []
    for index, item in enumerate(value):
        item_field = f"{field}[{index}]"
        if not isinstance(item, dict):
            raise SpecError(item_field, f"must be an object {{name: ...}}, got {_describe(item)}")
        names.append(_dns_subdomain(item.get("name"), f"{item_field}.name", "a Secret name"))
    return tuple(names)


def _parse_config_name(value: object) -> str | None:
    if value is None or value == "":
        return None
    return _dns_subdomain(value, "spec.configName", "an AIMClusterConfig name")


def _dns_subdomain(value: object, field: str, what: str) -> str:
    """A Kubernetes object name: lower-case DNS subdomain, at most 253 characters."""
    if value is None or value == "":
        raise SpecError(field, f"is required: {what}")
    if not isinstance(value, str):
        raise SpecError(field, f"must be {what} (a string), got {_describe(value)}")
    if len(value) > _MAX_DNS_SUBDOMAIN or not _DNS_SUBDOMAIN.fullmatch(value):
        raise SpecError(
            field,
            f"must be {what}: lower-case letters, digits, '-' and '.', starting and ending "
            f"with a letter or digit, at most {_MAX_DNS_SUBDOMAIN} characters; "
            f"got {_describe(value)}",
        )
    return value


def _string_list(value: object, field: str) -> tuple[str, ...]:
    """An optional list of strings; absent or null is empty."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise SpecError(field, f"must be a list of strings, got {_describe(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise SpecError(f"{field}[{index}]", f"must be a string, got {_describe(item)}")
    return tuple(value)


def _describe(value: object) -> str:
    """How a found value is shown in a message: short, in the user's (YAML/JSON) terms."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and value.bit_length() > 64:
        return "a number far out of range"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return json.dumps(shown, ensure_ascii=False)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"
