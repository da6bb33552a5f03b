"""JSON in and out of the hook service: orjson, compact, with the standard library as a fallback.

A sync request with 10,000 children is about 13 MB of JSON, its answer about 5 MB; orjson parses
and writes such bodies faster than the `json` module (bench/README.md). Where orjson refuses what
the `json` module accepts, the `json` module does the work, so nothing the service
read or wrote before is refused now:

- `dumps`: dict keys that are not strings, integers beyond 64 bits, nesting beyond 254 levels
  (and beyond the `json` module's recursion limit, ~1,000 levels: `_write_iteratively`);
- `loads`: lone surrogates, numbers beyond the float range, and every body that is not JSON at
  all, which therefore fails with the `json` module's message and exception, as before (a
  ValueError, or a RecursionError for absurd nesting). That second parse happens only for a bad
  body. `NaN` and `Infinity` are not JSON (RFC 8259) and no Kubernetes client writes them: both
  parsers refuse them, with a ValueError that names the token.

orjson reads an integer beyond 64 bits as a float; Metacontroller never sends one (Go re-encodes
every object it forwards from int64 and float64 values).

`loads_shaped` reads a body through a msgspec shape that names the members a hook needs, so
the others are skipped without being built (a model source's sync: hooks/metacontroller.py).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import orjson

from hooks.collector import collector


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"{token} is not a JSON value")


PARSED_VALUE_BYTES = 80
"""The most memory one JSON value takes once parsed, beyond its characters: an empty object
(`{}`, 72 bytes from 3 of JSON) is the worst, a short string or a number less."""
PARSED_CHAR_BYTES = 4
"""The most memory one character of a string takes once parsed (one emoji makes a whole string
4 bytes per character)."""
# Every byte but the four that can precede a value, for `bytes.translate` to delete.
_NOT_BEFORE_A_VALUE = bytes(b for b in range(256) if b not in b"{[,:")


def parsed_size_bound(data: bytes) -> int:
    """An upper bound on the memory `loads(data)` takes, found without parsing.

    A real request takes 2.3 times its size once parsed (31 MB for the 13.6 MB request of a
    source with 10,000 models), but a body of nothing but empty objects takes 24 times: the
    size limit alone does not bound the memory. Every value but the document itself follows a
    `{`, `[`, `,` or `:` (a `{` precedes the first key, a `:` its value), so one more than
    their count bounds the number of values; those inside strings only raise the bound. One
    pass over the body in C, a small share of the parse (bench/README.md).
    """
    values = len(data.translate(None, _NOT_BEFORE_A_VALUE)) + 1
    return PARSED_CHAR_BYTES * len(data) + PARSED_VALUE_BYTES * values


def loads(data: bytes) -> Any:
    """Parse a JSON document; ValueError (or RecursionError) as `json.loads` when it is not one."""
    try:
        # A 10,000-child request becomes ~450,000 new objects, none in a reference cycle, that
        # the collector would walk again and again while they are built (hooks/collector.py).
        with collector.paused():
            return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data, parse_constant=_refuse_constant)


def loads_shaped(data: bytes, shape: msgspec.json.Decoder[Any]) -> Any:
    """`loads`, keeping only the object members `shape` declares (msgspec skips the others
    without building them), or `loads` itself for any body `shape` does not fit.

    A model source's sync carries every child as the API server holds it (status, owner
    references, uid, Metacontroller's last-applied copy), and the answer needs a few of its
    fields: reading only those is about half the parse of a 10,000-child request
    (bench/README.md). A body the shape refuses (not JSON, a field of another type, a lone
    surrogate, nesting Python's recursion limit refuses) takes the full parse, so it fails, or
    is read, exactly as before. Two differences are left, both for bodies Metacontroller cannot
    send (it re-encodes every value from Go's int64 and float64): a member the shape skips is
    read as JSON syntax only (a number of 5,000 digits there, which Python will not convert, is
    skipped rather than refused), and an integer beyond 64 bits is read exactly, where orjson
    reads a float.
    """
    try:
        with collector.paused():
            return shape.decode(data)
    except (msgspec.MsgspecError, RecursionError):
        return loads(data)


def dumps(obj: Any) -> bytes:
    """`obj` as compact UTF-8 JSON, without whitespace.

    orjson writes non-ASCII characters as they are; the fallback escapes them (`\\u00e9`), which
    is the same JSON value and also covers strings no UTF-8 can hold (lone surrogates).
    """
    try:
        return orjson.dumps(obj)
    except orjson.JSONEncodeError:
        pass
    try:
        # Non-string keys or a huge integer (or nesting deeper than orjson's 254 levels): the
        # json module writes them, keys as strings, in the same compact form. A cycle or an
        # unknown type fails there too, with its own ValueError or TypeError; so does NaN,
        # which only orjson writes (as null), rather than invalid JSON.
        return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()
    except RecursionError:
        # `loads` reads up to 1,024 levels (orjson's limit) and a child that deep is kept in
        # the answer, one level deeper than the request had it: an answer we cannot write
        # would be a 500 on every sync of its source for as long as the child exists.
        return _write_iteratively(obj)


class _Written(str):
    """Text already in its JSON form (a separator, a key and its colon), not a value to encode."""

    __slots__ = ()


class _Close(_Written):
    """A container's closing bracket; writing it takes the container off the current path."""

    __slots__ = ("container",)

    def __new__(cls, text: str, container: object) -> _Close:
        close = super().__new__(cls, text)
        close.container = container
        return close

    container: object


def _key(key: object) -> str:
    """A dict key as the json module writes it: strings as they are, scalars as their JSON."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key, allow_nan=False)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _write_iteratively(obj: Any) -> bytes:
    """`obj` as `json.dumps` writes it (compact, no NaN), with a stack of our own instead of
    Python's, so any depth is written; a cycle is a ValueError, as in the json module.

    Only an answer nested deeper than the json module's recursion limit comes here, rarely, so
    plain Python's speed is enough.
    """
    out: list[str] = []
    on_path: set[int] = set()
    work: list[object] = [obj]
    while work:
        item = work.pop()
        if isinstance(item, _Written):
            out.append(item)
            if isinstance(item, _Close):
                on_path.discard(id(item.container))
        elif isinstance(item, dict | list | tuple):
            if id(item) in on_path:
                raise ValueError("Circular reference detected")
            on_path.add(id(item))
            pending: list[object] = []
            if isinstance(item, dict):
                out.append("{")
                for index, (key, value) in enumerate(item.items()):
                    comma = "," if index else ""
                    pending += [_Written(comma + json.dumps(_key(key)) + ":"), value]
                pending.append(_Close("}", item))
            else:
                out.append("[")
                for index, value in enumerate(item):
                    pending += [_Written(","), value] if index else [value]
                pending.append(_Close("]", item))
            work.extend(reversed(pending))
        else:
            out.append(json.dumps(item, allow_nan=False))
    return "".join(out).encode()
