"""Version constraints and tag versions (hooks/modelsource/versions.py, docs/decisions.md §1 and
§2)."""

import dataclasses
import json
import random

import pytest
import semver
from hypothesis import given
from hypothesis import strategies as st

from hooks.modelsource.versions import (
    Constraints,
    InvalidConstraintError,
    newest_first_key,
    parse_constraints,
    satisfies,
    tag_version,
)
from tests.shared import shared_path

# node-semver's own range tests, restricted to includePrerelease semantics (../shared).
CONFORMANCE = "conformance/node-semver-ranges.json"
CONFORMANCE_CASES = 168


@pytest.fixture(scope="module")
def conformance_table() -> list[dict[str, object]]:
    table: list[dict[str, object]] = json.loads(shared_path(CONFORMANCE).read_text())
    return table


def test_conformance_table_has_every_case_parametrized(conformance_table):
    # The cases below are parametrized by index; a table that grew or shrank must fail here
    # instead of leaving cases untested.
    assert len(conformance_table) == CONFORMANCE_CASES
    assert all(set(case) == {"constraints", "tag", "expected"} for case in conformance_table)


@pytest.mark.parametrize("index", range(CONFORMANCE_CASES))
def test_conformance_case(conformance_table, index):
    case = conformance_table[index]
    assert satisfies(case["tag"], case["constraints"]) is case["expected"], case


# --- The examples of the user documentation (model-sources.md, "Version Constraints") ------------


@pytest.mark.parametrize(
    ("tag", "admitted"),
    [("1.0.0", True), ("1.5.3", True), ("1.9.9-rc1", True), ("0.9.9", False), ("2.0.0", False)],
)
def test_global_constraints_are_anded(tag, admitted):
    assert satisfies(tag, [">=1.0.0", "<2.0.0"]) is admitted


@pytest.mark.parametrize(
    ("constraint", "tag", "admitted"),
    [
        (">=1.0.0", "1.0.0", True),
        (">=1.0.0", "3.1.0", True),
        (">=1.0.0", "0.9.9", False),
        ("<2.0.0", "1.99.0", True),
        ("<2.0.0", "2.0.0", False),
        ("~1.2.0", "1.2.0", True),
        ("~1.2.0", "1.2.9", True),
        ("~1.2.0", "1.3.0", False),
        ("^1.0.0", "1.9.3", True),
        ("^1.0.0", "2.0.0", False),
        ("^1.0.0", "0.9.0", False),
    ],
)
def test_documented_constraint_syntax(constraint, tag, admitted):
    assert satisfies(tag, [constraint]) is admitted


@pytest.mark.parametrize(
    ("tag", "admitted"),
    [
        ("0.8.1-rc1", True),
        ("0.8.1-rc2", True),
        ("0.8.1", True),
        ("0.9.0-alpha", True),
        ("0.8.1-rc0", False),
        ("0.8.0", False),
    ],
)
def test_prerelease_lower_bound_includes_later_prereleases(tag, admitted):
    assert satisfies(tag, [">=0.8.1-rc1"]) is admitted


def test_prerelease_satisfies_a_plain_lower_bound():
    assert satisfies("0.8.1-rc1", [">=0.8.0"])


def test_caret_upper_bound_excludes_next_major_prereleases():
    assert not satisfies("2.0.0-rc1", ["^1.0.0"])
    assert satisfies("1.1.0-rc1", ["^1.0.0"])


@pytest.mark.parametrize("tag", ["latest", "dev", "main", "1.2", "01.2.3", "V1.2.3", ""])
@pytest.mark.parametrize("constraint", ["*", "", ">=0.0.0-0", "<99.0.0"])
def test_non_version_tags_never_satisfy(tag, constraint):
    assert not satisfies(tag, [constraint])


# --- Tags as versions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "version"),
    [
        ("1.2.3", semver.Version(1, 2, 3)),
        ("v1.2.3", semver.Version(1, 2, 3)),
        ("0.8.1-rc1", semver.Version(0, 8, 1, "rc1")),
        ("v1.0.0-alpha.1+build.5", semver.Version(1, 0, 0, "alpha.1", "build.5")),
        ("1.0.0+001", semver.Version(1, 0, 0, None, "001")),
        ("9007199254740991.0.0", semver.Version(2**53 - 1, 0, 0)),
    ],
)
def test_tag_version_reads_semver_after_one_lowercase_v(tag, version):
    parsed = tag_version(tag)
    assert parsed is not None
    assert parsed.to_tuple() == version.to_tuple()


@pytest.mark.parametrize(
    "tag",
    [
        "latest",
        "dev",
        "1.2",
        "1",
        "01.2.3",
        "1.02.3",
        "1.2.3-01",
        "1.2.3-",
        "1.2.3+",
        "1.2.3.4",
        "V1.2.3",
        "vv1.2.3",
        "=1.2.3",
        " 1.2.3",
        "1.2.3 ",
        "v",
        "",
        "١.2.3",  # non-ASCII digits: Python's \d would accept them, SemVer does not
        "9007199254740992.0.0",  # above node-semver's largest safe integer
        "1.0.0-" + "a" * 251,  # longer than node-semver's 256 characters
    ],
)
def test_tag_version_is_none_for_tags_that_are_not_full_semver(tag):
    assert tag_version(tag) is None


def test_v_prefixed_tags_satisfy_like_their_version():
    assert satisfies("v1.2.3", ["1.2.3"])
    assert satisfies("v0.8.1-rc1", [">=0.8.0", "<0.9.0"])
    assert not satisfies("v2.0.0-rc1", ["^1.0.0"])


def test_build_metadata_takes_no_part_in_precedence():
    assert satisfies("1.2.3+build.7", ["1.2.3"])
    assert satisfies("1.2.3+build.7", ["<=1.2.3"])
    assert not satisfies("1.2.3+build.7", [">1.2.3"])
    # ... and in a range it is ignored too.
    assert satisfies("1.2.3", ["1.2.3+other"])


# --- Parsing: node-semver's grammar, invalid constraints as errors --------------------------------


@pytest.mark.parametrize(
    ("constraint", "admitted", "rejected"),
    [
        ("1.x", ["1.0.0-0", "1.9.9"], ["2.0.0-0", "0.9.9"]),
        ("1.2.*", ["1.2.0-rc", "1.2.7"], ["1.3.0-0"]),
        ("1.X", ["1.4.0"], ["2.0.0"]),
        ("*", ["0.0.0-0", "99.0.0-rc"], []),
        ("x", ["1.0.0"], []),
        ("", ["0.1.0-alpha", "5.0.0"], []),
        ("   ", ["5.0.0"], []),
        ("||", ["5.0.0"], []),
        (">=0.9", ["0.9.0-rc", "1.0.0"], ["0.8.9"]),
        ("<=1.2", ["1.2.99"], ["1.3.0-0"]),
        (">1.2", ["1.3.0-0"], ["1.2.99"]),
        ("~1.2", ["1.2.0-rc", "1.2.5"], ["1.3.0-0", "1.1.9"]),
        ("~>1.2", ["1.2.5"], ["1.3.0"]),
        ("~> 1.2", ["1.2.5"], ["1.3.0"]),
        ("^0.2.3", ["0.2.3", "0.2.9"], ["0.2.3-rc", "0.3.0-0"]),
        ("^0.0.3", ["0.0.3"], ["0.0.3-alpha", "0.0.4-0"]),
        ("1.0.0 - 2.0.0", ["1.0.0-0", "2.0.0"], ["2.0.1-0"]),
        ("1.2 - 2", ["1.2.0-0", "2.9.9"], ["3.0.0-0", "1.1.9"]),
        ("1.0.0 - 2.0.0-rc.1", ["2.0.0-rc.1"], ["2.0.0-rc.2", "2.0.0"]),
        (">= 1.2.3", ["1.2.3"], ["1.2.2"]),
        ("> =1.2.3", ["1.2.3"], ["1.2.2"]),
        ("=1.2.3", ["1.2.3"], ["1.2.4"]),
        ("v1.2.3", ["1.2.3"], ["1.2.4"]),
        ("=v1.2.3", ["1.2.3"], ["1.2.4"]),
        ("1.2.3 || >=2.0.0 <2.1.0", ["1.2.3", "2.0.5"], ["1.2.4", "2.1.0"]),
        ("\t>=1.0.0\t<2.0.0\n", ["1.5.0"], ["2.0.0"]),
        (">=1.0.0\u00a0<2.0.0", ["1.5.0"], ["2.0.0"]),  # JavaScript whitespace
        ("<*", [], ["0.0.0-0", "1.0.0"]),
    ],
)
def test_node_semver_range_grammar(constraint, admitted, rejected):
    constraints = parse_constraints([constraint])
    assert [tag for tag in admitted if not constraints.admits(tag)] == []
    assert [tag for tag in rejected if constraints.admits(tag)] == []


@pytest.mark.parametrize(
    "constraint",
    [
        ">=",
        "<",
        "1.2.3 -",
        "- 1.2.3",
        ">=abc",
        "^^1",
        "~~1",
        "^",
        "~",
        "==1.2.3",
        ">=1.0.0 <",
        "1.2.3.4",
        "01.2.3",
        "1.2.3-01",
        "*.1",
        "1.x.2",
        ">=1.0.0,",  # a comma is an AND between two ranges, never at an end
        ",<2.0.0",
        ">=1.0.0,,<2.0.0",
        ">=1.0.0, <",
        "!1.2",
        "latest",
        "v 1.2.3",
        "1.2.3 - 2.3.4 - 5",
        ">=1.2.3\u0085<2",  # whitespace for Python, not for JavaScript
        ">=١.0.0",
        "^9007199254740991.0.0",  # its upper bound is beyond node's largest safe integer
    ],
)
def test_invalid_constraint_raises_an_error_quoting_it(constraint):
    with pytest.raises(InvalidConstraintError) as raised:
        parse_constraints([constraint])
    assert raised.value.constraint == constraint
    assert str(raised.value).startswith(
        f"invalid version constraint {json.dumps(constraint, ensure_ascii=False)}: "
    )


# --- The comma: Go's AND, the one extension to node's grammar (docs/decisions.md §2) ---------


@pytest.mark.parametrize(
    ("constraint", "spaced"),
    [
        (">=1.0.0, <2.0.0", ">=1.0.0 <2.0.0"),
        (">=1.0.0,<2.0.0", ">=1.0.0 <2.0.0"),
        (">= 1.0, < 2", ">=1.0 <2"),
        ("^1.0.0, !=x", None),
        ("~1.2, >=1.2.3 || 3.x", ">=1.2.3 <1.3.0-0 || 3.x"),
        ("1.0.0 - 2.0.0, <1.5.0", ">=1.0.0-0 <1.5.0"),
    ],
)
def test_a_comma_is_and_exactly_like_a_space(constraint, spaced):
    if spaced is None:
        with pytest.raises(InvalidConstraintError):
            parse_constraints([constraint])
        return
    tags = [
        f"{major}.{minor}.{patch}{pre}"
        for major in range(4)
        for minor in range(4)
        for patch in range(4)
        for pre in ("", "-rc1")
    ]
    comma, space = parse_constraints([constraint]), parse_constraints([spaced])
    assert [tag for tag in tags if comma.admits(tag)] == [tag for tag in tags if space.admits(tag)]
    assert any(comma.admits(tag) for tag in tags)


def test_the_go_style_range_of_the_issue_is_accepted():
    constraints = parse_constraints([">=1.0.0, <2.0.0"])
    assert [tag for tag in ["0.9.9", "1.0.0", "1.9.9-rc1", "2.0.0"] if constraints.admits(tag)] == [
        "1.0.0",
        "1.9.9-rc1",
    ]


def test_invalid_constraint_error_says_what_is_wrong():
    with pytest.raises(InvalidConstraintError) as raised:
        parse_constraints([">=1.0.0 <"])
    assert str(raised.value) == (
        'invalid version constraint ">=1.0.0 <": "<" is not a version range'
        ' (expected e.g. ">=1.2.3", "<2.0.0", "~1.2", "^1.0.0", "1.x" or "1.0.0 - 2.0.0")'
    )
    assert isinstance(raised.value, ValueError)


def test_every_constraint_is_validated_up_front():
    with pytest.raises(InvalidConstraintError) as raised:
        parse_constraints([">=1.0.0", "<2.0.0", "~>", "also bad"])
    assert raised.value.constraint == "~>"


def test_satisfies_raises_for_an_invalid_constraint_instead_of_matching_everything():
    with pytest.raises(InvalidConstraintError):
        satisfies("1.0.0", [">=1.0.0", ">=abc"])


def test_a_bare_string_is_not_a_list_of_constraints():
    with pytest.raises(TypeError):
        parse_constraints(">=1.0.0")


# --- Constraints ----------------------------------------------------------------------------


def test_constraints_parse_once_and_test_many_tags():
    constraints = parse_constraints(["^1.0.0", ">=1.2.0"])
    tags = ["1.1.0", "1.2.0", "1.9.0-rc.1", "2.0.0-rc.1", "latest", "v1.3.0"]
    assert [tag for tag in tags if constraints.admits(tag)] == ["1.2.0", "1.9.0-rc.1", "v1.3.0"]
    assert constraints.constraints == ("^1.0.0", ">=1.2.0")


def test_constraints_are_frozen_and_comparable():
    constraints = parse_constraints([">=1.0.0"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        constraints.constraints = ()
    assert constraints == parse_constraints([">=1.0.0"])
    assert constraints != parse_constraints([">=1.0.1"])


def test_empty_constraint_list_admits_every_version_and_nothing_else():
    constraints = parse_constraints([])
    assert isinstance(constraints, Constraints)
    assert constraints.admits("0.0.1-alpha")
    assert constraints.admits("v3.0.0")
    assert not constraints.admits("latest")


# --- Newest first (docs/decisions.md §1)
# ------------------------------------------------------------

NEWEST_FIRST = [
    "10.0.0",
    "2.0.0",
    "1.10.0",
    "1.2.0",
    "v1.2.0",  # same version as 1.2.0: the tag string breaks the tie
    "1.0.0",
    "1.0.0+build.1",
    "1.0.0+build.2",
    "1.0.0-rc.1",
    "1.0.0-beta.11",
    "1.0.0-beta.2",
    "1.0.0-beta",
    "1.0.0-alpha.beta",
    "1.0.0-alpha.1",
    "1.0.0-alpha",
    "0.0.0-0",
    "1.2",  # not SemVer: after every version, by name
    "dev",
    "latest",
    "main",
    "v",
]


def test_newest_first_orders_versions_by_precedence_then_other_tags_by_name():
    for seed in range(20):
        tags = NEWEST_FIRST.copy()
        random.Random(seed).shuffle(tags)
        assert sorted(tags, key=newest_first_key) == NEWEST_FIRST


identifiers = st.one_of(
    st.integers(min_value=0, max_value=30).map(str),
    st.text(alphabet="abrc-0123456789", min_size=1, max_size=4).filter(
        lambda text: not text.isdigit()
    ),
)
versions = st.builds(
    lambda numbers, prerelease: (
        ".".join(map(str, numbers)) + (f"-{'.'.join(prerelease)}" if prerelease else "")
    ),
    st.tuples(*[st.integers(min_value=0, max_value=3)] * 3),
    st.lists(identifiers, max_size=3),
)


@given(versions, versions)
def test_newest_first_agrees_with_semver_precedence(first, second):
    precedence = semver.Version.parse(first).compare(semver.Version.parse(second))
    first_key, second_key = newest_first_key(first), newest_first_key(second)
    # Newest first: the higher version has the lower key.
    assert (first_key > second_key) - (first_key < second_key) == -precedence


@given(
    st.lists(
        st.sampled_from([">=1.0.0", "<2.0.0", "^1.2", "~0.3", "1.x", ">0.0.1-rc", "*"]),
        min_size=2,
        max_size=4,
    ),
    versions,
)
def test_a_comma_joined_range_is_the_and_of_its_parts(parts, version):
    assert satisfies(version, [", ".join(parts)]) is satisfies(version, parts)
