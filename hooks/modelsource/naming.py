"""Names of the AIMClusterModels a source creates (docs/decisions.md §4).

The name must be the one the Go implementation gives the same image, so that a cluster can move
to these hooks without duplicating its models: `{repository}-{tag}-{hash}`, each part cleaned
(lower-case, runs outside `[a-z0-9.-]` become `-`, `-` and `.` trimmed at both ends, runs of
`[-.]{2,}` become `-`, cut to 63, empty becomes `part`), the hash the first 6 hex digits of
SHA-256 over `"registry"|"repository"|"tag"` (each JSON-quoted as Go's encoding/json quotes it),
and while the name is longer than 63 the longer part (the repository on a tie) loses its last
character and any trailing `-`.

The Go algorithm can leave a `.` at the end of a cut part (`...3.-hash`), which Kubernetes
rejects. Here the result is always a valid name: at most 63 characters of `[a-z0-9.-]`, starting
and ending with a letter or digit, and every dot-separated segment a DNS-1123 label (so no `.-`,
`-.` or `..`). That is a DNS-1123 subdomain, which is what Kubernetes requires of custom
resource names, within the 63 characters of a label. The Go name is kept whenever it is valid;
otherwise cutting also trims a trailing `.`.

For a digest-pinned image, the caller passes the digest as `tag`.

Six hex digits collide: 10,000 tags of one repository gave 3 pairs. The image that comes second
gets `collision_free_name`, the same name with 16 hex digits of the hash, which no compatible
name can equal (there the seventh character from the end is always `-`, here a hex digit).
"""

from __future__ import annotations

import hashlib
import re

MAX_NAME_LENGTH = 63
_HASH_LENGTH = 6
_LONG_HASH_LENGTH = 16
_GO_TRIM = "-"
_FIXED_TRIM = "-."

_OUTSIDE_NAME_CHARS = re.compile(r"[^a-z0-9.-]+")
_SEPARATOR_RUN = re.compile(r"[-.]{2,}")
_VALID_NAME = re.compile(
    r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*", re.ASCII
)
_SURROGATE = re.compile("[\ud800-\udfff]")
# What Go's encoding/json escapes (Go >= 1.22, HTML escaping on as in json.Marshal).
_GO_JSON_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_GO_JSON_ESCAPED = re.compile('["\\\\<>&\u2028\u2029\x00-\x1f]')
# A string Go's encoding/json writes as it is (between quotes): nothing above, no surrogate.
_GO_JSON_PLAIN = re.compile('[^"\\\\<>&\u2028\u2029\x00-\x1f\ud800-\udfff]*')
# A part `_clean` only has to turn each `/` and `_` into `-`: lower-case letters and digits
# with single separators between them (as most repositories and tags are).
_SIMPLE_PART = re.compile(r"[a-z0-9]+(?:[-./_][a-z0-9]+)*")
_TO_DASH = str.maketrans("/_", "--")


def model_name(registry: str, repository: str, tag: str) -> str:
    """The AIMClusterModel name for an image: deterministic, valid, at most 63 characters."""
    digest = _name_hash(registry, repository, tag)[:_HASH_LENGTH]
    name = _derive_name(repository, tag, digest, _GO_TRIM)
    if is_valid_model_name(name):
        return name
    return _derive_name(repository, tag, digest, _FIXED_TRIM)


def collision_free_name(registry: str, repository: str, tag: str) -> str:
    """The name for an image whose compatible name (`model_name`) another image holds.

    The same parts with 16 hex digits of the same hash: never equal to any compatible name, and
    two of them collide only when 64 bits of SHA-256 do.
    """
    digest = _name_hash(registry, repository, tag)[:_LONG_HASH_LENGTH]
    return _derive_name(repository, tag, digest, _FIXED_TRIM)


def is_valid_model_name(name: str) -> bool:
    """Whether a name is a DNS-1123 subdomain of at most 63 characters."""
    return len(name) <= MAX_NAME_LENGTH and _VALID_NAME.fullmatch(name) is not None


def _derive_name(repository: str, tag: str, digest: str, trim: str) -> str:
    """Go's GenerateDerivedName; `trim` is what is trimmed from the end of a cut part."""
    parts = [_clean(repository, trim), _clean(tag, trim)]
    budget = MAX_NAME_LENGTH - len(digest) - len(parts)
    # A cleaned part starts with a letter or digit, and the longer part has at least 23
    # characters while the name is too long (16 hex digits), so cutting never empties a part.
    while len(parts[0]) + len(parts[1]) > budget:
        longer = 0 if len(parts[0]) >= len(parts[1]) else 1
        parts[longer] = parts[longer][:-1].rstrip(trim)
    return f"{parts[0]}-{parts[1]}-{digest}"


def _clean(part: str, trim: str) -> str:
    """One name part: Go's MakeRFC1123Compliant, then `part` when nothing is left."""
    if len(part) <= MAX_NAME_LENGTH and _SIMPLE_PART.fullmatch(part):
        return part.translate(_TO_DASH)  # one pass instead of three: the usual part
    text = _go_lower(part)
    text = _OUTSIDE_NAME_CHARS.sub("-", text).strip("-.")
    text = _SEPARATOR_RUN.sub("-", text)
    return text[:MAX_NAME_LENGTH].rstrip(trim) or "part"


def _go_lower(text: str) -> str:
    """Go's strings.ToLower: Unicode simple case mapping, one character to one.

    Python's str.lower uses the full mapping, which differs only where it turns `İ` into two
    characters (Go: `i`) and where it lower-cases a final `Σ` to `ς` (both outside the name's
    alphabet either way).
    """
    return text.replace("\u0130", "i").lower()


def _name_hash(registry: str, repository: str, tag: str) -> str:
    """SHA-256 in hex over the Go-JSON-quoted inputs joined by `|`; names use its first digits."""
    joined = f"{_go_json_string(registry)}|{_go_json_string(repository)}|{_go_json_string(tag)}"
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def _go_json_string(value: str) -> str:
    """A string as Go's json.Marshal writes it: `<`, `>`, `&` escaped, non-ASCII kept as UTF-8.

    A lone surrogate can only come from a JSON `\\ud800` escape, which Go decodes to U+FFFD.
    """
    if _GO_JSON_PLAIN.fullmatch(value):
        return f'"{value}"'  # the usual image reference: one pass instead of two substitutions
    text = _SURROGATE.sub("\ufffd", value)
    escaped = _GO_JSON_ESCAPED.sub(
        lambda match: _GO_JSON_ESCAPES.get(match.group(), f"\\u{ord(match.group()):04x}"), text
    )
    return f'"{escaped}"'
