"""Differential tests of hooks/modelsource/versions.py against npm's `semver` (docs/decisions.md
§2).

A seeded generator writes a few thousand (version, range) pairs covering every operator form,
partial versions, x-ranges, hyphen ranges, `||`, whitespace variants and malformed ranges; one
node process (tests/differential/satisfies.js) answers them all with
`semver.satisfies(v, r, {includePrerelease: true})` and `semver.validRange(r, ...)`, and our
answers must be identical. The package version is pinned in tests/differential/package.json.

Versions with one leading `v` are part of the sample: node's strict parser accepts exactly that
prefix too, so both sides agree by definition (test_versions.py tests our `v` rule on its own).
Versions with surrounding whitespace are not: node trims them, our tags are never trimmed.
Ranges with a comma are not either: the comma is our one deliberate extension (Go's AND), which
node refuses; test_versions.py checks it against the same range written with spaces.
"""

import json
import random
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from hooks.modelsource.versions import InvalidConstraintError, parse_constraints, satisfies
from tests.shared import require

pytestmark = pytest.mark.node

DIFFERENTIAL = Path(__file__).resolve().parent.parent / "differential"
SEED = 20260723
PAIRS = 4000
LISTS = 400

# Ranges the generator would rarely hit by chance: quirks of node's rewrite pipeline.
TRICKY_RANGES = [
    "",
    " ",
    "||",
    "1.2.3 || ",
    "> =1.2.3",
    "1.2.3-rc*",
    "**",
    "*.1",
    "1.x.2",
    "x.x.x",
    "~>1",
    "~> 1.2",
    "~ >1.2",
    "^ 1.2",
    "^^1",
    "~~1",
    "^",
    "~",
    ">=",
    "<",
    "=",
    "==1.2.3",
    "1.2.3 -",
    "- 1.2.3",
    "1.2.3 - 2.3.4 - 5",
    "1.2.3-2.3.4",
    "1.2.3 -2.3.4",
    "=1.2.3-rc - 2",
    "v1.2.3 - v2.3.4",
    "1.2.3+build - 2.3.4+build",
    "+build",
    "1.2.3++a",
    "1.2.3+a+b",
    ">=1.2.3+a.b.c <2",
    "<*",
    ">x",
    ">=*",
    "<=x",
    "=*",
    "01.2.3",
    "1.02.3",
    "1.2.03",
    "1.2.3-01",
    "1.2.3-0a",
    "1.2.3-",
    "1.2.3.4",
    "v 1.2.3",
    "vv1.2.3",
    "V1.2.3",
    "=v1.2.3",
    "> v1.2.3",
    "1.2.3\n",
    "\t>=1.2.3\t<2\t",
    ">=1.2.3\u00a0<2",
    ">=1.2.3\u3000<2",
    ">=1.2.3\u0085<2",
    ">=1.2.3\u001c<2",
    "!1.2",
    "latest",
    "9007199254740991.0.0",
    "^9007199254740991.0.0",
    "~9007199254740991",
    "<=9007199254740991.x",
    ">9007199254740991",
    "*." + "9" * 300,
    "1." + "1" * 258 + ".0",
    "1.2.3-" + "a" * 260,
    ">=0.0.0",
    ">=0.0.0-0",
    "<0.0.0-0",
    "<0.0.0-0 || 1.2.3",
    "^0.0.0",
    "^0.0",
    "^0",
    "~0.0.1",
    "^0.0.1-alpha",
    "^1.2.x-beta",
    "1.2.x-beta",
]

VERSION_IDS = ["0", "1", "2", "3", "9", "10", "11"]
PRERELEASE_IDS = ["0", "1", "2", "10", "alpha", "beta", "rc", "rc1", "pre", "a", "x", "0a", "-"]
BUILDS = ["build", "001", "sha.5114f85", "a-b"]
NOT_VERSIONS = ["latest", "dev", "1.2", "01.2.3", "1.2.3-01", "=1.2.3", "V1.2.3", "vv1.2.3", ""]
OPERATORS = ["", "", "=", "<", "<=", ">", ">=", "~", "~>", "^"]
NUMBERS = re.compile(r"(?<![0-9.])[0-9]{1,5}(?:\.[0-9]{1,5}){0,2}")
MUTATION_CHARACTERS = "<>=~^-|.*xXv+ \t01"


@dataclass(frozen=True)
class Reference:
    """npm semver's answer for one pair."""

    satisfies: bool
    valid_range: str | None


def random_version(rng: random.Random, near: str = "") -> str:
    """A version tag, mostly valid SemVer, sometimes with `v`, a prerelease or build metadata.

    Half of them are close to a version written in `near` (a range), so that the bounds the
    rewrites produce (`<2.0.0-0`, `>=1.2.0-0`, prereleases of the bound itself) are probed.
    """
    if rng.random() < 0.04:
        return rng.choice(NOT_VERSIONS)
    written = NUMBERS.findall(near)
    if written and rng.random() < 0.5:
        numbers = [int(part) for part in rng.choice(written).split(".")]
        numbers += [0] * (3 - len(numbers))
        position = rng.randrange(3)
        numbers[position] = max(0, numbers[position] + rng.choice([-1, 0, 0, 1]))
        text = ".".join(map(str, numbers))
    else:
        text = ".".join(rng.choice(VERSION_IDS) for _ in range(3))
    if rng.random() < 0.45:
        count = rng.randint(1, 3)
        text += "-" + ".".join(rng.choice(PRERELEASE_IDS) for _ in range(count))
    if rng.random() < 0.1:
        text += "+" + rng.choice(BUILDS)
    if rng.random() < 0.1:
        text = "v" + text
    return text


def random_partial(rng: random.Random) -> str:
    """A full or partial version, with wildcards, prefixes, prereleases and builds."""
    parts = [rng.choice([*VERSION_IDS, "x", "X", "*"]) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.85:
        # Wildcards usually come last, as people write them; the rest exercise invalid orders.
        numbers = [part for part in parts if part[0].isdigit()]
        wildcards = [part for part in parts if not part[0].isdigit()]
        parts = numbers + wildcards
    text = ".".join(parts)
    if len(parts) == 3 and rng.random() < 0.3:
        text += "-" + ".".join(rng.choice(PRERELEASE_IDS) for _ in range(rng.randint(1, 2)))
    if rng.random() < 0.05:
        text += "+" + rng.choice(BUILDS)
    if rng.random() < 0.08:
        text = rng.choice(["v", "=", "=v", "v="]) + text
    return text


def random_comparator(rng: random.Random) -> str:
    """One operator form or a hyphen range, with node's whitespace tolerance exercised."""
    if rng.random() < 0.15:
        return f"{random_partial(rng)} - {random_partial(rng)}"
    space = rng.choice(["", "", "", " "])
    return f"{rng.choice(OPERATORS)}{space}{random_partial(rng)}"


def mutate(rng: random.Random, text: str) -> str:
    """Insert, delete or replace one character: malformed ranges must be judged alike too."""
    position = rng.randint(0, len(text))
    character = rng.choice(MUTATION_CHARACTERS)
    action = rng.choice(["insert", "delete", "replace"])
    if action == "insert":
        return text[:position] + character + text[position:]
    if action == "delete":
        return text[:position] + text[position + 1 :]
    return text[:position] + character + text[position + 1 :]


def random_range(rng: random.Random) -> str:
    """An OR of ANDs of comparators, sometimes with extra whitespace or a mutation."""
    if rng.random() < 0.05:
        return rng.choice(TRICKY_RANGES)
    alternatives = []
    for _ in range(rng.choices([1, 2, 3], weights=[6, 3, 1])[0]):
        count = rng.choices([1, 2, 3], weights=[5, 4, 1])[0]
        alternatives.append(
            rng.choice([" ", " ", "  ", "\t"]).join(random_comparator(rng) for _ in range(count))
        )
    text = rng.choice([" || ", "||", " ||", "  ||  "]).join(alternatives)
    for _ in range(rng.choices([0, 1, 2], weights=[12, 2, 1])[0]):
        text = mutate(rng, text)
    return text


def generate_pairs() -> list[tuple[str, str]]:
    """Every tricky range against a few versions, then the seeded random pairs."""
    rng = random.Random(SEED)
    ranges = [text for text in TRICKY_RANGES for _ in range(3)]
    ranges += [random_range(rng) for _ in range(PAIRS)]
    return [(random_version(rng, near=text), text) for text in ranges]


def generate_lists(pairs: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """Constraint lists (AND-ed) made of ranges already asked of node with the same version."""
    rng = random.Random(SEED + 1)
    by_version: dict[str, list[str]] = {}
    for version, text in pairs:
        by_version.setdefault(version, []).append(text)
    versions = sorted(version for version, texts in by_version.items() if len(texts) > 1)
    lists = []
    for _ in range(LISTS):
        version = rng.choice(versions)
        texts = by_version[version]
        lists.append((version, rng.sample(texts, min(len(texts), rng.randint(2, 3)))))
    return lists


def ask_node(pairs: list[tuple[str, str]]) -> list[Reference]:
    """Answers from npm's semver for all pairs, from one node process."""
    node = shutil.which("node")
    if node is None:
        require("node", "install Node.js (bash dev.sh test installs it when run as root)")
    if not (DIFFERENTIAL / "node_modules" / "semver").is_dir():
        require("tests/differential/node_modules/semver", "run `npm ci` in tests/differential")
    lines = "".join(json.dumps(pair) + "\n" for pair in pairs)
    completed = subprocess.run(
        [str(node), "satisfies.js"],
        cwd=DIFFERENTIAL,
        input=lines,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answers = [json.loads(line) for line in completed.stdout.splitlines()]
    assert len(answers) == len(pairs)
    return [Reference(satisfied, valid) for satisfied, valid in answers]


def ours(version: str, text: str) -> tuple[bool, bool]:
    """(satisfies, valid) from hooks.modelsource.versions."""
    try:
        constraints = parse_constraints([text])
    except InvalidConstraintError:
        return False, False
    return constraints.admits(version), True


@pytest.fixture(scope="module")
def pairs() -> list[tuple[str, str]]:
    return generate_pairs()


@pytest.fixture(scope="module")
def references(pairs: list[tuple[str, str]]) -> dict[tuple[str, str], Reference]:
    return dict(zip(pairs, ask_node(pairs), strict=True))


@pytest.fixture(scope="module")
def answers(pairs: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[bool, bool]]:
    return {pair: ours(*pair) for pair in pairs}


def describe(mismatches: list[str]) -> str:
    return f"{len(mismatches)} mismatches, first ones:\n" + "\n".join(mismatches[:25])


def test_generated_pairs_cover_every_form(pairs):
    # The generator must keep exercising what the differential is for; a change to it that
    # silently stopped producing some form would make the comparison below hollow.
    ranges = [text for _, text in pairs]
    for form in ["~", "~>", "^", " - ", "||", "x", "X", "*", ">=", "<=", "<", ">", "=", "v"]:
        assert sum(form in text for text in ranges) > 50, form
    versions = [version for version, _ in pairs]
    assert sum("-" in version for version in versions) > len(pairs) // 4
    assert len(pairs) > PAIRS


def test_validity_is_identical_to_node_semver(references, answers):
    mismatches = [
        f"{text!r}: node validRange={reference.valid_range!r}, ours valid={valid}"
        for (version, text), reference in references.items()
        if (valid := answers[(version, text)][1]) != (reference.valid_range is not None)
    ]
    assert not mismatches, describe(mismatches)
    # Both valid and invalid ranges must be in the sample for this to mean anything.
    invalid = sum(reference.valid_range is None for reference in references.values())
    assert 200 < invalid < len(references) - 1000


def test_satisfies_is_identical_to_node_semver(references, answers):
    mismatches = [
        f"{version!r} in {text!r}: node={reference.satisfies} ({reference.valid_range!r}), "
        f"ours={satisfied}"
        for (version, text), reference in references.items()
        if (satisfied := answers[(version, text)][0]) != reference.satisfies
    ]
    assert not mismatches, describe(mismatches)
    admitted = sum(reference.satisfies for reference in references.values())
    assert 500 < admitted < len(references) - 500


def test_constraint_lists_are_the_and_of_node_answers(pairs, references):
    mismatches = []
    for version, texts in generate_lists(pairs):
        expected = all(references[(version, text)].satisfies for text in texts)
        try:
            actual = satisfies(version, texts)
        except InvalidConstraintError:
            actual = False
        if actual != expected:
            mismatches.append(f"{version!r} in {texts!r}: node AND={expected}, ours={actual}")
    assert not mismatches, describe(mismatches)
