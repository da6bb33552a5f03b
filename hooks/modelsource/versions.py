"""Version constraints on image tags: node-semver ranges with `includePrerelease`, and tag versions.

docs/decisions.md §2 makes the semantics exactly those of node-semver's
`satisfies(version, range, {includePrerelease: true})`. node-semver defines its range grammar by a
pipeline of regular-expression rewrites (hyphen ranges, whitespace trimming, `^`, `~`, x-ranges,
`*`) that turns a range into plain comparators, and many of its edge cases (`> =1.2.3` is
`>=1.2.3`, `1.2.3-rc*` is `1.2.3-rc`, `~>1` is `~1`) exist only as consequences of that
pipeline. The only way to agree with it everywhere is to run the same pipeline, so this module
ports node-semver 7.8's `internal/re.js`, `classes/range.js` and `classes/comparator.js` (strict
mode, `includePrerelease` on) rewrite for rewrite, with the same bounded ("safe") regular
expressions, JavaScript's whitespace and `$` semantics, and the same limits (versions of at most
256 characters, numbers of at most 2^53 - 1). The comparators it produces are then tested with
SemVer 2.0.0 precedence from the `semver` package.

The reference is node-semver 7.8.6 (pinned in `tests/differential/package.json`), not 7.7: the
conformance table of docs/decisions.md §2 carries the 7.8 fixes (`~1.2` admits `1.2.0-rc` like
`1.2.x`; `^0.2.3` no longer admits `0.2.3-rc`), and `test_versions_differential.py` checks the port
against that package itself. 7.8.6 replaced the comparator-trim regex by an equivalent scanner
for speed; the regex is kept here. One difference is deliberate: numeric prerelease identifiers
above 2^53 - 1 (`1.0.0-9007199254740993`) compare exactly here, where node compares them as
rounded doubles and finds `9007199254740993` equal to `9007199254740992`. The grammar has one
extension, a comma as AND (`_parse_alternative`), which node refuses.

Parsing happens once per spec (`parse_constraints`); `Constraints.admits` is the hot path, called
for every tag of every repository a scan lists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import semver

__all__ = [
    "Constraints",
    "InvalidConstraintError",
    "SortKey",
    "newest_first_key",
    "parse_constraints",
    "satisfies",
    "tag_version",
]

# node-semver's limits (internal/constants.js): longer versions and larger numbers are invalid.
MAX_LENGTH: Final = 256
MAX_SAFE_INTEGER: Final = 2**53 - 1
_MAX_SAFE_BUILD_LENGTH: Final = MAX_LENGTH - 6

# JavaScript's `\s` and `String.prototype.trim()` (the same set in Node 20), which is not Python's:
# Python also counts U+001C..U+001F and U+0085 as whitespace and does not count U+FEFF.
_JS_WHITESPACE: Final = (
    "\t\n\v\f\r \u00a0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_JS_SPACE_CLASS_BODY: Final = "".join(f"\\u{ord(char):04x}" for char in _JS_WHITESPACE)
_JS_SPACE_RUN: Final = re.compile(f"[{_JS_SPACE_CLASS_BODY}]+")


def _js_trim(text: str) -> str:
    """`String.prototype.trim()`: node trims ranges and comparators with JavaScript's whitespace."""
    return text.strip(_JS_WHITESPACE)


def _js_split_whitespace(text: str) -> list[str]:
    """`text.split(/\\s+/)`, which (unlike `str.split()`) keeps empty strings at the ends."""
    return _JS_SPACE_RUN.split(text)


# --- node-semver's regular expressions (internal/re.js), strict variants only -------------------
# The sources below are written exactly as in re.js, in JavaScript notation. `_safe` applies
# re.js's `makeSafeRegex` (node matches with these bounded `safeRe` expressions, so a 300-digit
# number is not a number there) and then translates `\s`, `\d` and `$` to their JavaScript
# meaning: Python's `\d` accepts non-ASCII digits and its `$` matches before a final newline.

_LETTERDASHNUMBER: Final = "[a-zA-Z0-9-]"
_SAFE_REPLACEMENTS: Final = (
    (r"\s", 1),
    (r"\d", MAX_LENGTH),
    (_LETTERDASHNUMBER, _MAX_SAFE_BUILD_LENGTH),
)


def _safe(source: str) -> str:
    """re.js's `makeSafeRegex`, which bounds every repetition of a digit, space or name."""
    for token, most in _SAFE_REPLACEMENTS:
        source = source.replace(f"{token}*", f"{token}{{0,{most}}}")
        source = source.replace(f"{token}+", f"{token}{{1,{most}}}")
    return _python(source)


def _python(source: str) -> str:
    """JavaScript's `\\s`, `\\d` and `$` spelled for Python's `re`."""
    return (
        source.replace(r"[v=\s]", f"[v={_JS_SPACE_CLASS_BODY}]")
        .replace(r"\s", f"[{_JS_SPACE_CLASS_BODY}]")
        .replace(r"\d", "[0-9]")
        .replace("$", r"\Z")
    )


_NUMERICIDENTIFIER: Final = r"0|[1-9]\d*"
_NUMERICIDENTIFIERLOOSE: Final = r"\d+"
_NONNUMERICIDENTIFIER: Final = rf"\d*[a-zA-Z-]{_LETTERDASHNUMBER}*"
_MAINVERSION: Final = rf"({_NUMERICIDENTIFIER})\.({_NUMERICIDENTIFIER})\.({_NUMERICIDENTIFIER})"
_MAINVERSIONLOOSE: Final = (
    rf"({_NUMERICIDENTIFIERLOOSE})\.({_NUMERICIDENTIFIERLOOSE})\.({_NUMERICIDENTIFIERLOOSE})"
)
_PRERELEASEIDENTIFIER: Final = rf"(?:{_NONNUMERICIDENTIFIER}|{_NUMERICIDENTIFIER})"
_PRERELEASEIDENTIFIERLOOSE: Final = rf"(?:{_NONNUMERICIDENTIFIER}|{_NUMERICIDENTIFIERLOOSE})"
_PRERELEASE: Final = rf"(?:-({_PRERELEASEIDENTIFIER}(?:\.{_PRERELEASEIDENTIFIER})*))"
_PRERELEASELOOSE: Final = (
    rf"(?:-?({_PRERELEASEIDENTIFIERLOOSE}(?:\.{_PRERELEASEIDENTIFIERLOOSE})*))"
)
_BUILDIDENTIFIER: Final = rf"{_LETTERDASHNUMBER}+"
_BUILD: Final = rf"(?:\+({_BUILDIDENTIFIER}(?:\.{_BUILDIDENTIFIER})*))"
_FULLPLAIN: Final = rf"v?{_MAINVERSION}{_PRERELEASE}?{_BUILD}?"
_LOOSEPLAIN: Final = rf"[v=\s]*{_MAINVERSIONLOOSE}{_PRERELEASELOOSE}?{_BUILD}?"
_GTLT: Final = r"((?:<|>)?=?)"
_XRANGEIDENTIFIER: Final = rf"{_NUMERICIDENTIFIER}|x|X|\*"
_XRANGEPLAIN: Final = (
    rf"[v=\s]*({_XRANGEIDENTIFIER})"
    rf"(?:\.({_XRANGEIDENTIFIER})"
    rf"(?:\.({_XRANGEIDENTIFIER})"
    rf"(?:{_PRERELEASE})?{_BUILD}?"
    r")?)?"
)
_LONETILDE: Final = r"(?:~>?)"
_LONECARET: Final = r"(?:\^)"

# A tag is node's strict `FULL` version without the optional `v`, which `tag_version` strips itself.
_TAG_VERSION: Final = re.compile(_safe(rf"^{_MAINVERSION}{_PRERELEASE}?{_BUILD}?$"))
_BUILD_STRIP: Final = re.compile(_python(_BUILD))  # range.js's BUILDSTRIPRE is not bounded
_XRANGE: Final = re.compile(_safe(rf"^{_GTLT}\s*{_XRANGEPLAIN}$"))
_TILDETRIM: Final = re.compile(_safe(rf"(\s*){_LONETILDE}\s+"))
_TILDE: Final = re.compile(_safe(rf"^{_LONETILDE}{_XRANGEPLAIN}$"))
_CARETTRIM: Final = re.compile(_safe(rf"(\s*){_LONECARET}\s+"))
_CARET: Final = re.compile(_safe(rf"^{_LONECARET}{_XRANGEPLAIN}$"))
_COMPARATOR: Final = re.compile(_safe(rf"^{_GTLT}\s*({_FULLPLAIN})$|^$"))
_COMPARATORTRIM: Final = re.compile(_safe(rf"(\s*){_GTLT}\s*({_LOOSEPLAIN}|{_XRANGEPLAIN})"))
_HYPHENRANGE: Final = re.compile(_safe(rf"^\s*({_XRANGEPLAIN})\s+-\s+({_XRANGEPLAIN})\s*$"))
_STAR: Final = re.compile(_safe(r"(<|>)?=?\s*\*"))


# --- Errors and parsed constraints ------------------------------------------------------------


class InvalidConstraintError(ValueError):
    """A version constraint that node-semver would reject (`validRange` returns null).

    docs/decisions.md §2 makes it that filter's error, with the constraint quoted, instead of
    silently matching everything as the Go implementation does.
    """

    def __init__(self, constraint: str, reason: str) -> None:
        super().__init__(
            f"invalid version constraint {json.dumps(constraint, ensure_ascii=False)}: {reason}"
        )
        self.constraint = constraint
        self.reason = reason


class _InvalidRange(Exception):
    """Raised inside the port where node-semver throws; `_parse_range` adds the constraint."""


# `Version.compare` returns -1, 0 or 1; a comparator admits the results its operator allows.
_ACCEPTED_ORDERS: Final[dict[str, frozenset[int]]] = {
    "": frozenset({0}),
    "<": frozenset({-1}),
    "<=": frozenset({-1, 0}),
    ">": frozenset({1}),
    ">=": frozenset({0, 1}),
}


@dataclass(frozen=True, slots=True)
class _Comparator:
    """One of node-semver's primitive comparators, such as `>=1.2.0-0` (`=` is spelled "").

    A version passes when `version.compare(bound)`, SemVer 2.0.0 precedence (which ignores build
    metadata, as node's `cmp` does), is one of `accepted_orders`.
    """

    operator: str
    bound: semver.Version
    accepted_orders: frozenset[int]


# One range string: an OR of AND-ed comparator sets (node's `Range.set`).
_Range = tuple[tuple[_Comparator, ...], ...]


@dataclass(frozen=True, slots=True)
class Constraints:
    """A parsed list of version constraints, AND-ed, ready to test any number of tags.

    An empty list admits every tag that is a version: a non-version tag is never admitted
    (docs/decisions.md §2), so `admits(tag)` always implies `tag_version(tag) is not None`.
    """

    constraints: tuple[str, ...]
    ranges: tuple[_Range, ...]

    def admits(self, tag: str) -> bool:
        """Whether the tag is a version that satisfies every constraint."""
        version = tag_version(tag)
        if version is None:
            return False
        # Plain loops: this is the scan's hot path, and generator expressions were several
        # times slower (bench/README.md).
        for alternatives in self.ranges:
            for conjunction in alternatives:
                if _passes_all(conjunction, version):
                    break
            else:
                return False
        return True


def _passes_all(conjunction: tuple[_Comparator, ...], version: semver.Version) -> bool:
    """Whether the version passes every comparator of one `||` alternative."""
    for comparator in conjunction:
        if version.compare(comparator.bound) not in comparator.accepted_orders:
            return False
    return True


def parse_constraints(constraints: Sequence[str]) -> Constraints:
    """Parse every constraint up front, so that an invalid one is reported before any scan.

    Raises `InvalidConstraintError` for the first invalid string.
    """
    if isinstance(constraints, str):
        # A bare string is a Sequence[str] too; iterating its characters would be a silent bug.
        raise TypeError("constraints must be a list of strings, not a string")
    return Constraints(tuple(constraints), tuple(_parse_range(text) for text in constraints))


def satisfies(tag: str, constraints: list[str]) -> bool:
    """Whether the tag satisfies all constraints; for one-off checks (parses them every call)."""
    return parse_constraints(constraints).admits(tag)


# --- Tags as versions ---------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def tag_version(tag: str) -> semver.Version | None:
    """The SemVer 2.0.0 version a tag names, or None when it names none (docs/decisions.md §2).

    One lowercase leading `v` is allowed (`v1.2.3` is 1.2.3), exactly as node-semver's strict
    parser allows it; `latest`, `1.2`, `01.2.3`, `V1.2.3` and `vv1.2.3` are not versions. Like
    node-semver, versions longer than 256 characters or with a number above 2^53 - 1 are not
    versions either, so that `satisfies` never disagrees with node. Tags are not trimmed: a tag
    cannot contain whitespace. Cached because a scan tests the same tags against several filters
    and sorts them, and tags change little between syncs.
    """
    if len(tag) > MAX_LENGTH:
        return None
    match = _TAG_VERSION.match(tag[1:] if tag.startswith("v") else tag)
    if match is None:
        return None
    major, minor, patch, prerelease, build = match.groups()
    numbers = (int(major), int(minor), int(patch))
    if max(numbers) > MAX_SAFE_INTEGER:
        return None
    return semver.Version(*numbers, prerelease=prerelease, build=build)


# A sort key made of plain ints and tuples, so that sorting tens of thousands of tags runs at
# C speed (a key object calling `Version.compare` from Python made a 20,000-tag sort take a second).
SortKey = tuple[int, tuple[object, ...], str]

_RELEASE: Final = (0,)  # sorts before every prerelease of the same version: it is newer
_END_OF_PRERELEASE: Final = 2  # after every identifier key: a longer prerelease is newer


def newest_first_key(tag: str) -> SortKey:
    """Sort key for docs/decisions.md §1's tag order: versions newest first, then other tags by
    name.

    Tags of equal precedence (`v1.0.0` and `1.0.0`, or builds `1.0.0+a` and `1.0.0+b`) are
    ordered by the tag string, so the order is total and the same on every sync.
    """
    version = tag_version(tag)
    if version is None:
        return (1, (), tag)
    return (0, _descending_precedence(version), tag)


def _descending_precedence(version: semver.Version) -> tuple[object, ...]:
    """A key that sorts versions by SemVer 2.0.0 precedence, highest first.

    Precedence compares major, minor and patch as numbers; a release outranks its prereleases;
    prerelease identifiers compare one by one, numbers by value and below names, names in ASCII
    order, and a longer list outranks its own prefix. Every part is negated, so that an
    ascending sort puts the highest version first.
    """
    if not version.prerelease:
        prerelease: tuple[object, ...] = _RELEASE
    else:
        identifiers = tuple(
            (1, -int(identifier)) if identifier.isdigit() else (0, _descending_text(identifier))
            for identifier in version.prerelease.split(".")
        )
        prerelease = (1, *identifiers, (_END_OF_PRERELEASE,))
    return (-version.major, -version.minor, -version.patch, prerelease)


def _descending_text(text: str) -> tuple[int, ...]:
    """Sorts strings in descending ASCII order, a string before its own prefixes."""
    return (*(-ord(character) for character in text), 1)


# --- The port of node-semver's Range and Comparator ---------------------------------------------


def _parse_range(text: str) -> _Range:
    """node's `new Range(text, {includePrerelease: true}).set`, or InvalidConstraintError."""
    # Range's constructor: trim, collapse whitespace runs to one space, split on `||`.
    raw = _JS_SPACE_RUN.sub(" ", _js_trim(text))
    try:
        conjunctions = tuple(_parse_alternative(_js_trim(part)) for part in raw.split("||"))
    except _InvalidRange as error:
        raise InvalidConstraintError(text, str(error)) from None
    # node drops unsatisfiable sets and collapses the range to `*` when one set is `*`; only
    # comparators' results matter here, so leaving the sets as they are gives the same answers.
    return conjunctions


def _parse_alternative(text: str) -> tuple[_Comparator, ...]:
    """One `||` alternative: node's AND of comparators, or several of them joined by commas.

    The comma is the one extension to node's grammar (docs/decisions.md §2): the Go semver
    library reads `>=1.0.0, <2.0.0` as an AND, and the Go controller's users wrote their ranges
    for it. Each comma-separated part is a complete node range of its own (so the hyphen range
    of `1.0.0 - 2.0.0, <1.5.0` still reads as one), and without a comma nothing changes.
    """
    if "," not in text:
        return _parse_conjunction(text)
    parts = [_js_trim(part) for part in text.split(",")]
    if not all(parts):
        raise _InvalidRange('a "," must stand between two ranges (e.g. ">=1.0.0, <2.0.0")')
    return tuple(comparator for part in parts for comparator in _parse_conjunction(part))


def _parse_conjunction(text: str) -> tuple[_Comparator, ...]:
    """`Range.parseRange`: desugar one `||` alternative into AND-ed primitive comparators."""
    text = _BUILD_STRIP.sub("", text)  # build metadata never takes part in a range
    text = _HYPHENRANGE.sub(_hyphen_replace, text, count=1)
    text = _COMPARATORTRIM.sub(r"\1\2\3", text)  # `> 1.2.3` -> `>1.2.3`
    text = _TILDETRIM.sub(r"\1~", text)  # `~ 1.2.3` -> `~1.2.3`
    text = _CARETTRIM.sub(r"\1^", text)  # `^ 1.2.3` -> `^1.2.3`
    desugared = " ".join(_desugar(token) for token in text.split(" "))
    # Every comparator is parsed (node throws on any invalid one), then the `*`s are dropped:
    # an empty comparator admits everything, so it changes no AND it is part of.
    comparators = [_comparator(token) for token in _js_split_whitespace(desugared)]
    return tuple(comparator for comparator in comparators if comparator is not None)


def _desugar(token: str) -> str:
    """`parseComparator`: `^`, `~`, x-ranges and `*` to plain comparators.

    node's own first step, removing build metadata once more, finds nothing left to remove after
    `_parse_conjunction` stripped it, so it is not repeated here.
    """
    token = _each_word(_js_trim(token), _replace_caret)
    token = _each_word(_js_trim(token), _replace_tilde)
    token = _each_word(token, _replace_xrange)
    return _STAR.sub("", _js_trim(token), count=1)


def _each_word(text: str, replace: Callable[[str], str]) -> str:
    """`text.split(/\\s+/).map(replace).join(' ')`, the shape of each of node's replace steps."""
    return " ".join(replace(word) for word in _js_split_whitespace(text))


def _is_x(identifier: str | None) -> bool:
    """node's `isX`: a missing part, `x`, `X` or `*` is a wildcard."""
    return not identifier or identifier.lower() == "x" or identifier == "*"


def _inc(number: str) -> int:
    """JavaScript's `+number + 1` on a numeric identifier (exact here; see `_comparator`)."""
    return int(number) + 1


def _replace_caret(word: str) -> str:
    """`replaceCaret` with includePrerelease: `^1.2.3` -> `>=1.2.3 <2.0.0-0`, and so on."""

    def caret(match: re.Match[str]) -> str:
        major, minor, patch, prerelease = match.group(1, 2, 3, 4)
        if _is_x(major):
            return ""
        if _is_x(minor):
            return f">={major}.0.0-0 <{_inc(major)}.0.0-0"
        if _is_x(patch):
            if major == "0":
                return f">={major}.{minor}.0-0 <{major}.{_inc(minor)}.0-0"
            return f">={major}.{minor}.0-0 <{_inc(major)}.0.0-0"
        # A full version is its own lower bound: `^1.2.3` does not admit `1.2.3-rc`.
        lower = f"{major}.{minor}.{patch}" + (f"-{prerelease}" if prerelease else "")
        if major != "0":
            return f">={lower} <{_inc(major)}.0.0-0"
        if minor != "0":
            return f">={lower} <{major}.{_inc(minor)}.0-0"
        return f">={lower} <{major}.{minor}.{_inc(patch)}-0"

    return _CARET.sub(caret, word, count=1)


def _replace_tilde(word: str) -> str:
    """`replaceTilde`: `~1.2.3` (also `~>1.2.3`) -> `>=1.2.3 <1.3.0-0`, and so on."""

    def tilde(match: re.Match[str]) -> str:
        major, minor, patch, prerelease = match.group(1, 2, 3, 4)
        if _is_x(major):
            return ""
        if _is_x(minor):
            return f">={major}.0.0-0 <{_inc(major)}.0.0-0"
        if _is_x(patch):
            return f">={major}.{minor}.0-0 <{major}.{_inc(minor)}.0-0"
        lower = f"{major}.{minor}.{patch}" + (f"-{prerelease}" if prerelease else "")
        return f">={lower} <{major}.{_inc(minor)}.0-0"

    return _TILDE.sub(tilde, word, count=1)


def _replace_xrange(word: str) -> str:
    """`replaceXRange` with includePrerelease: `1.2.x` -> `>=1.2.0-0 <1.3.0-0`, and so on.

    `<=1.x` becomes `<2.0.0-0`, since every 1.x version passes it. Partial versions with an
    operator are x-ranges too: `>=0.9` is `>=0.9.0-0`.
    """

    def xrange(match: re.Match[str]) -> str:
        operator, major, minor, patch = match.group(1, 2, 3, 4)
        if (_is_x(major) and not _is_x(minor)) or (_is_x(minor) and patch and not _is_x(patch)):
            return match.group(0)  # `*.1` and `1.x.2` stay as they are, and so are invalid
        x_major = _is_x(major)
        x_minor = x_major or _is_x(minor)
        any_x = x_minor or _is_x(patch)
        if not any_x:
            return match.group(0)
        if operator == "=":
            operator = ""
        if x_major:
            return "<0.0.0-0" if operator in {">", "<"} else "*"
        if operator:
            # A partial version with an operator: fill in zeros, and move `>` and `<=` to the
            # next line up, since every version of the named line passes `>=` and `<` there.
            low_major, low_minor = int(major), 0 if x_minor else int(minor)
            if operator == ">":
                operator = ">="
                if x_minor:
                    low_major, low_minor = low_major + 1, 0
                else:
                    low_minor += 1
            elif operator == "<=":
                operator = "<"
                if x_minor:
                    low_major += 1
                else:
                    low_minor += 1
            return f"{operator}{low_major}.{low_minor}.0-0"
        if x_minor:
            return f">={major}.0.0-0 <{_inc(major)}.0.0-0"
        return f">={major}.{minor}.0-0 <{major}.{_inc(minor)}.0-0"

    return _XRANGE.sub(xrange, _js_trim(word), count=1)


def _hyphen_replace(match: re.Match[str]) -> str:
    """`hyphenReplace` with includePrerelease: `1.2 - 3.4.5` -> `>=1.2.0-0 <3.4.6-0`.

    As in node, a full lower bound is used as written (with its `v` or `=`, which the comparator
    accepts or rejects), and the upper bound of a full version becomes `<next patch-0`.
    """
    start, start_major, start_minor, start_patch, start_pre = match.group(1, 2, 3, 4, 5)
    end_major, end_minor, end_patch, end_pre = match.group(8, 9, 10, 11)
    if _is_x(start_major):
        low = ""
    elif _is_x(start_minor):
        low = f">={start_major}.0.0-0"
    elif _is_x(start_patch):
        low = f">={start_major}.{start_minor}.0-0"
    elif start_pre:
        low = f">={start}"
    else:
        low = f">={start}-0"
    if _is_x(end_major):
        high = ""
    elif _is_x(end_minor):
        high = f"<{_inc(end_major)}.0.0-0"
    elif _is_x(end_patch):
        high = f"<{end_major}.{_inc(end_minor)}.0-0"
    elif end_pre:
        high = f"<={end_major}.{end_minor}.{end_patch}-{end_pre}"
    else:
        high = f"<{end_major}.{end_minor}.{_inc(end_patch)}-0"
    return _js_trim(f"{low} {high}")


def _comparator(token: str) -> _Comparator | None:
    """node's `new Comparator(token)`: None for the empty comparator (`*`), which admits all.

    node computes `+major + 1` with doubles and then rejects any number above 2^53 - 1; exact
    integers and the same limit give the same verdicts, since no double above that limit
    rounds back below it.
    """
    match = _COMPARATOR.match(token)
    if match is None:
        raise _InvalidRange(
            f"{json.dumps(token, ensure_ascii=False)} is not a version range"
            ' (expected e.g. ">=1.2.3", "<2.0.0", "~1.2", "^1.0.0", "1.x" or "1.0.0 - 2.0.0")'
        )
    operator, version = match.group(1, 2)
    if not version:
        return None
    if len(version) > MAX_LENGTH:
        raise _InvalidRange(f"version is longer than {MAX_LENGTH} characters")
    major, minor, patch, prerelease = match.group(3, 4, 5, 6)
    numbers = (int(major), int(minor), int(patch))
    if max(numbers) > MAX_SAFE_INTEGER:
        raise _InvalidRange(f"{version} has a number larger than {MAX_SAFE_INTEGER}")
    operator = "" if operator == "=" else operator
    bound = semver.Version(*numbers, prerelease=prerelease)
    return _Comparator(operator, bound, _ACCEPTED_ORDERS[operator])
