"""A CRD's openAPIV3Schema, applied in tests the way the API server applies it.

There is no API server here, so tests convert the structural schema of a CustomResourceDefinition
into a JSON Schema that `jsonschema` can apply, and fill in defaults with a small walker that
follows the API server's rules. Two deliberate differences from the server:

- unknown fields are *rejected* (`additionalProperties: false` on every object that lists its
  properties), where the server would silently prune them: in a test, a misspelt field must fail;
- keywords it does not know, such as `x-kubernetes-validations` (CEL), are refused rather than
  half-checked.

Other test modules may use it too, e.g. to check that the hooks' status output fits the CRD.
"""

import copy
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from jsonschema.protocols import Validator

PRESERVE_UNKNOWN = "x-kubernetes-preserve-unknown-fields"

# OpenAPI keywords that mean the same in JSON Schema and are copied as they are.
_SAME_KEYWORDS = frozenset(
    {
        "type",
        "enum",
        "pattern",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "required",
        "format",
    }
)
# Keywords that carry no validation here (documentation, defaulting, merge semantics); a list's
# type is checked through x-kubernetes-list-map-keys, which only `map` lists have.
_IGNORED_KEYWORDS = frozenset(
    {"description", "default", "x-kubernetes-list-type", "x-kubernetes-map-type"}
)
LIST_MAP_KEYS = "x-kubernetes-list-map-keys"

_GO_DURATION = re.compile(r"(?:(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))")
_GO_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


class KubernetesYamlLoader(yaml.SafeLoader):
    """YAML as kubectl reads it: an unquoted `2025-01-15T10:30:00Z` stays a string.

    PyYAML would turn it into a `datetime`, which no `type: string` schema accepts.
    """


KubernetesYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_documents(text: str) -> list[Any]:
    """Every non-empty document of a (multi-document) YAML text."""
    return [doc for doc in yaml.load_all(text, Loader=KubernetesYamlLoader) if doc is not None]


def load_file(path: Path) -> list[Any]:
    """Every non-empty document of a YAML file."""
    return load_documents(path.read_text(encoding="utf-8"))


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string (`1h`, `2h30m`, `1.5s`, `0`), as time.ParseDuration reads it.

    Raises ValueError for anything Go would reject, such as `1 hour` or `1d`.
    """
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    if not body or _GO_DURATION.sub("", body) != "":
        raise ValueError(f"not a Go duration: {text!r}")
    seconds = sum(
        float(number) * _GO_DURATION_UNITS[unit] for number, unit in _GO_DURATION.findall(body)
    )
    return -seconds if text.startswith("-") else seconds


FORMAT_CHECKER = jsonschema.FormatChecker(formats=())


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    """RFC 3339 with a time zone, as metav1.Time is written."""
    if not isinstance(value, str):
        return True
    if not _RFC3339.fullmatch(value):
        raise ValueError(f"not an RFC 3339 date-time: {value!r}")
    datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    return True


@FORMAT_CHECKER.checks("duration", raises=ValueError)
def _is_duration(value: object) -> bool:
    if isinstance(value, str):
        parse_go_duration(value)
    return True


def _int_range(bits: int) -> range:
    return range(-(2 ** (bits - 1)), 2 ** (bits - 1))


@FORMAT_CHECKER.checks("int32")
def _is_int32(value: object) -> bool:
    return not isinstance(value, int) or value in _int_range(32)


@FORMAT_CHECKER.checks("int64")
def _is_int64(value: object) -> bool:
    return not isinstance(value, int) or value in _int_range(64)


def openapi_schema(crd: Mapping[str, Any], version: str = "v1alpha1") -> dict[str, Any]:
    """The openAPIV3Schema of one served version of a CustomResourceDefinition."""
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            schema: dict[str, Any] = entry["schema"]["openAPIV3Schema"]
            return schema
    raise KeyError(f"{crd['metadata']['name']} has no version {version}")


def to_json_schema(node: Mapping[str, Any]) -> dict[str, Any]:
    """Convert one OpenAPI v3 structural schema node (and everything below it) to JSON Schema.

    Only the keywords our CRDs and Metacontroller's use are converted; any other keyword raises,
    so that a schema is never checked halfway.
    """
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _SAME_KEYWORDS:
            out[key] = copy.deepcopy(value)
        elif key == "properties":
            out[key] = {name: to_json_schema(prop) for name, prop in value.items()}
        elif key == "items":
            out[key] = to_json_schema(value)
        elif key == "additionalProperties":
            out[key] = value if isinstance(value, bool) else to_json_schema(value)
        elif key == LIST_MAP_KEYS:
            out[key] = list(value)
        elif key not in _IGNORED_KEYWORDS and key != PRESERVE_UNKNOWN:
            raise ValueError(f"schema keyword {key!r} cannot be checked offline")
    # The API server prunes unknown fields; a test rejects them (unless the node keeps them).
    if (
        "properties" in node
        and "additionalProperties" not in node
        and not node.get(PRESERVE_UNKNOWN)
    ):
        out["additionalProperties"] = False
    return out


def _unique_map_keys(
    check: Any, keys: list[str], instance: object, schema: Mapping[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    """A `map` list holds at most one entry per key, as the API server enforces."""
    if not isinstance(instance, list):
        return
    seen = set()
    for item in instance:
        if isinstance(item, dict):
            key = tuple(repr(item.get(name)) for name in keys)
            if key in seen:
                shown = ", ".join(f"{name}={item.get(name)!r}" for name in keys)
                yield jsonschema.ValidationError(f"duplicate entry for {shown}")
            seen.add(key)


_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, {LIST_MAP_KEYS: _unique_map_keys}
)


def validator(schema: Mapping[str, Any]) -> Validator:
    """A validator for objects against an OpenAPI schema node, formats included."""
    return _Validator(to_json_schema(schema), format_checker=FORMAT_CHECKER)


def crd_validator(crd: Mapping[str, Any], version: str = "v1alpha1") -> Validator:
    """A validator for whole custom resources of a CRD's version."""
    return validator(openapi_schema(crd, version))


def errors(check: Validator, instance: object) -> list[str]:
    """Every validation error as `path: message`, sorted, empty when the instance is valid."""
    return sorted(f"{error.json_path}: {error.message}" for error in check.iter_errors(instance))


def apply_defaults(schema: Mapping[str, Any], value: Any) -> Any:
    """A copy of `value` with the schema's defaults filled in, as the API server does.

    A default applies to a field that is absent from an object that is present; the default
    value is itself defaulted further down. Nothing is defaulted inside a missing parent.
    """
    if isinstance(value, dict) and schema.get("type") == "object":
        result = dict(value)
        properties: Mapping[str, Any] = schema.get("properties", {})
        for name, prop in properties.items():
            if name not in result and "default" in prop:
                result[name] = copy.deepcopy(prop["default"])
            if name in result:
                result[name] = apply_defaults(prop, result[name])
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            for name in result.keys() - properties.keys():
                result[name] = apply_defaults(extra, result[name])
        return result
    if isinstance(value, list) and "items" in schema:
        return [apply_defaults(schema["items"], item) for item in value]
    return value


def iter_nodes(node: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every schema node below (and including) `node`, with its path (`.spec.filters[*].image`)."""
    yield path, node
    for name, prop in node.get("properties", {}).items():
        yield from iter_nodes(prop, f"{path}.{name}")
    if isinstance(node.get("items"), Mapping):
        yield from iter_nodes(node["items"], f"{path}[*]")
    if isinstance(node.get("additionalProperties"), Mapping):
        yield from iter_nodes(node["additionalProperties"], f"{path}.*")


def node_at(schema: Mapping[str, Any], json_path: str) -> Mapping[str, Any] | None:
    """The schema node a simple JSONPath (`.status.lastSyncTime`) points at, if any."""
    node: Mapping[str, Any] | None = schema
    for name in json_path.strip(".").split("."):
        if node is None:
            return None
        node = node.get("properties", {}).get(name)
    return node
