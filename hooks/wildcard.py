"""`*` patterns matched in linear time, whatever text a registry sends.

Filters, tag globs, exclusions and credential keys are patterns where `*` stands for any run of
characters (nothing else is special). The texts they meet are chosen by registries: repository
names and tags of any length. A regular expression such as `.*a.*a.*b` backtracks on them, and
its cost grows with the text's length to the power of the stars (a 2-star pattern never finished
against a 2 MB name; `models/*a*a*a*a*a*a*b` took most of a second per ordinary 60-character name).

Here a pattern is split at its stars into literal segments, and matching is the classic greedy
scan: the first segment must start the text, the last must end it, and each segment in between is
found at its leftmost place after the previous one (`str.find`). Taking the leftmost place is
always right, since a later place leaves less text for the rest and gains nothing. Each character
of the text is passed over once per search, so a match costs O(len(text) × len(pattern)) at most,
and patterns are short: linear in the text, with no backtracking.

This module is a leaf: the domain (filters) and the registry clients (credentials) both use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WILDCARD = "*"


@dataclass(frozen=True, slots=True)
class Wildcard:
    """A pattern where `*` is any run of characters (`/` included) and the rest is literal."""

    pattern: str
    _prefix: str = field(init=False, repr=False, compare=False)
    _middle: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _suffix: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        segments = self.pattern.split(WILDCARD)
        # Without a star there is no suffix: the whole pattern is the prefix and must be the text.
        suffix = segments[-1] if len(segments) > 1 else None
        middle = tuple(segment for segment in segments[1:-1] if segment)
        object.__setattr__(self, "_prefix", segments[0])
        object.__setattr__(self, "_middle", middle)
        object.__setattr__(self, "_suffix", suffix)

    def matches(self, text: str) -> bool:
        """Whether the whole text matches the pattern."""
        if self._suffix is None:
            return text == self._prefix
        start, end = len(self._prefix), len(text) - len(self._suffix)
        if end < start or not text.startswith(self._prefix) or not text.endswith(self._suffix):
            return False
        for segment in self._middle:
            found = text.find(segment, start, end)
            if found < 0:
                return False
            start = found + len(segment)
        return True


def matches_any(patterns: tuple[Wildcard, ...], text: str) -> bool:
    """Whether any of the patterns matches the text."""
    return any(pattern.matches(text) for pattern in patterns)
