"""Plain-object helpers shared by the controllers (hooks/objects.py)."""

import pytest

from hooks.objects import pull_secret_names


def test_pull_secret_names_are_distinct_non_empty_strings_in_order():
    spec = {
        "imagePullSecrets": [
            {"name": "b"},
            {"name": "a"},
            {"name": "b"},
            {"name": ""},
            {"name": 3},
            "a",
            {},
            {"name": "c"},
        ]
    }
    assert pull_secret_names(spec) == ("b", "a", "c")


def test_pull_secret_names_of_a_spec_without_a_list_are_none():
    assert pull_secret_names({"imagePullSecrets": "a"}) == ()
    assert pull_secret_names(None) == ()


@pytest.mark.timeout(120)  # a guard against the quadratic scan it replaced, not a speed test
def test_a_huge_list_of_names_is_deduplicated_whole():
    # The customize hook reads the list before the spec is validated (and before any bound).
    spec = {"imagePullSecrets": [{"name": f"s{i % 50_000}"} for i in range(100_000)]}
    assert pull_secret_names(spec) == tuple(f"s{i}" for i in range(50_000))
