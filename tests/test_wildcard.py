"""`*` patterns (hooks/wildcard.py): fnmatch's meaning of `*`, in linear time."""

import fnmatch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hooks.wildcard import Wildcard, matches_any

# Small alphabets make matches and near misses frequent; `/` and `.` are ordinary characters.
patterns = st.text(alphabet="ab/.*", max_size=8)
texts = st.text(alphabet="ab/.", max_size=12)


@given(patterns, texts)
def test_wildcard_agrees_with_fnmatch_on_star_patterns(pattern, text):
    # fnmatchcase gives `*` the same meaning (any run, `/` included) when no `?` or `[` is used.
    assert Wildcard(pattern).matches(text) is fnmatch.fnmatchcase(text, pattern)


@given(st.lists(patterns, max_size=3), texts)
def test_matches_any_is_the_or_of_its_patterns(pattern_list, text):
    wildcards = tuple(Wildcard(pattern) for pattern in pattern_list)
    expected = any(fnmatch.fnmatchcase(text, pattern) for pattern in pattern_list)
    assert matches_any(wildcards, text) is expected


@pytest.mark.parametrize(
    ("pattern", "text", "matched"),
    [
        ("amdenterpriseai/aim-*", "amdenterpriseai/aim-llama", True),
        ("amdenterpriseai/aim-*", "amdenterpriseai/aim-", True),
        ("amdenterpriseai/aim-*", "amdenterpriseai/aim", False),
        ("*", "", True),
        ("", "", True),
        ("", "a", False),
        ("models/*", "models/deep/er", True),  # `/` is an ordinary character
        ("a*a", "a", False),  # prefix and suffix may not overlap
        ("a*a", "aa", True),
        ("0.8.*", "0.8.1-rc1", True),
        ("0.8.*", "0.9.0", False),
        ("*-rc*", "1.0.0-rc1", True),
        ("ab*ba*ab", "ababab", False),
        ("ab*ba*ab", "abbaxab", True),
        ("nginx", "nginx", True),
        ("nginx", "nginx2", False),
        ("**", "x", True),
    ],
)
def test_wildcard_examples(pattern, text, matched):
    assert Wildcard(pattern).matches(text) is matched


def test_wildcards_compare_by_pattern():
    assert Wildcard("a*") == Wildcard("a*")
    assert Wildcard("a*") != Wildcard("a**")
