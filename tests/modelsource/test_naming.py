"""AIMClusterModel names (hooks/modelsource/naming.py, docs/decisions.md §4)."""

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hooks.modelsource.naming import is_valid_model_name, model_name

# A DNS-1123 subdomain (what Kubernetes requires of a custom resource's name) of <= 63 chars.
VALID_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def assert_valid(name: str) -> None:
    assert len(name) <= 63, name
    assert VALID_NAME.fullmatch(name), name
    assert ".-" not in name and "-." not in name and ".." not in name, name


def go_hash(joined: str) -> str:
    return hashlib.sha256(joined.encode()).hexdigest()[:6]


@pytest.mark.parametrize(
    ("registry", "repository", "tag", "name"),
    [
        (
            "docker.io",
            "amdenterpriseai/aim-llama3",
            "1.0.0",
            "amdenterpriseai-aim-llama3-1.0.0-7cfae0",
        ),
        (
            "docker.io",
            "amdenterpriseai/aim-meta-llama-llama-3-3-70b-instruct",
            "0.8.4-preview",
            "amdenterpriseai-aim-meta-llama-llama-3-3-7-0.8.4-preview-e8b316",
        ),
    ],
)
def test_names_match_the_go_implementation(registry, repository, tag, name):
    assert model_name(registry, repository, tag) == name


def test_hash_covers_registry_repository_and_tag_json_quoted():
    name = model_name("docker.io", "amdenterpriseai/aim-llama3", "1.0.0")
    assert name.endswith(go_hash('"docker.io"|"amdenterpriseai/aim-llama3"|"1.0.0"'))


@pytest.mark.parametrize(
    ("tag", "quoted"),
    [
        ("a<b>&c", '"a\\u003cb\\u003e\\u0026c"'),
        ('q"b\\s', '"q\\"b\\\\s"'),
        ("tab\there\nnl\r\b\f", '"tab\\there\\nnl\\r\\b\\f"'),
        ("\x00\x1f\x7f", '"\\u0000\\u001f\x7f"'),
        ("é中", '"é中"'),
        ("\u2028\u2029", '"\\u2028\\u2029"'),
        ("\ud800", '"\ufffd"'),
    ],
)
def test_hash_quotes_strings_as_go_encoding_json_does(tag, quoted):
    name = model_name("docker.io", "org/model", tag)
    assert name.endswith("-" + go_hash(f'"docker.io"|"org/model"|{quoted}'))


def test_registry_is_part_of_the_identity():
    assert model_name("docker.io", "org/model", "1.0") != model_name("ghcr.io", "org/model", "1.0")
    assert (
        model_name("docker.io", "org/model", "1.0")[:-6]
        == model_name("ghcr.io", "org/model", "1.0")[:-6]
    )


def test_same_inputs_give_the_same_name():
    names = {model_name("ghcr.io", "silogen/aim-llama", "1.0.0") for _ in range(3)}
    assert len(names) == 1


def test_parts_are_cleaned_like_go():
    assert model_name("ghcr.io", "ORG/Model_Name+x", "V1.0+build") == (
        "org-model-name-x-v1.0-build-fd5e6c"
    )


@pytest.mark.parametrize(
    ("repository", "tag", "parts"),
    [
        ("org_x/model_y", "1_0", "org-x-model-y-1-0"),
        ("org__x//y", "1.0", "org-x-y-1.0"),
        ("org/_x", "1..0", "org-x-1-0"),
        ("org/x-", "-1.0.", "org-x-1.0"),
    ],
    ids=["single-separators", "doubled", "mixed-run", "at-the-ends"],
)
def test_separators_become_single_dashes_as_in_go(repository, tag, parts):
    """Parts with single `/`, `_`, `.`, `-` between letters and digits take a shorter path than
    the others (hooks/modelsource/naming.py `_clean`): both give Go's name."""
    joined = f'"docker.io"|"{repository}"|"{tag}"'
    assert model_name("docker.io", repository, tag) == f"{parts}-{go_hash(joined)}"


def test_longer_part_is_shortened_first_and_the_repository_on_a_tie():
    assert model_name("docker.io", "a" * 30, "b" * 30) == (
        "aaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbbbbbbbbbbbbbb-fe7804"
    )


def test_shortening_never_leaves_a_dot_before_a_dash():
    # Go cuts this repository to "...aaa." and produces the invalid "...aaa.-1.0.0-ecf049".
    name = model_name("docker.io", "org/" + "a" * 45 + ".bcdefgh", "1.0.0")
    assert name == "org-" + "a" * 45 + "-1.0.0-ecf049"
    assert_valid(name)


def test_digest_as_tag_gives_a_valid_name():
    name = model_name("docker.io", "org/model", "sha256:" + "ab" * 32)
    assert name.startswith("org-model-sha256-abab")
    assert_valid(name)


@pytest.mark.parametrize(
    ("repository", "tag"),
    [
        ("", ""),
        ("+++", "___"),
        ("...", "---"),
        ("-.-.-", ".-."),
        ("a" * 300, "b" * 300),
        ("a." * 100, "1." * 100),
        ("a-" * 100, "-" * 100),
        ("org/" + "x" * 62 + ".", "y" * 62 + "."),
        ("org/model", "v1.0.0+build.5"),
        ("Org/Model", "LATEST"),
        ("org/ünïcödé-名前", "版本-1"),
        ("org/İstanbul", "Σίσυφος"),
        ("org/emoji-🚀", "🚀"),
        ("org/a_b__c", "_tag_"),
        ("org/x", "\x00\n\t"),
    ],
)
def test_hostile_inputs_still_give_a_valid_name(repository, tag):
    name = model_name("docker.io", repository, tag)
    assert_valid(name)
    assert is_valid_model_name(name)
    assert re.fullmatch(r".+-[0-9a-f]{6}", name)


def test_empty_parts_become_part():
    assert model_name("docker.io", "", "+++").startswith("part-part-")


def test_turkish_dotted_capital_i_lowercases_as_in_go():
    assert model_name("docker.io", "org/İx", "1").startswith("org-ix-1-")


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("a", True),
        ("a.b-c", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("a.-b", False),
        ("a-.b", False),
        ("a..b", False),
        ("-a", False),
        ("a.", False),
        ("A", False),
        ("", False),
    ],
)
def test_valid_names_are_dns_subdomains_of_at_most_63_characters(name, valid):
    assert is_valid_model_name(name) is valid


@given(st.text(max_size=30), st.text(max_size=120), st.text(max_size=150))
def test_any_image_gets_a_valid_name(registry, repository, tag):
    name = model_name(registry, repository, tag)
    assert_valid(name)
    assert name == model_name(registry, repository, tag)


@given(
    st.from_regex(
        r"\A[a-z0-9]+(?:[._-][a-z0-9]+){0,3}(?:/[a-z0-9]+(?:[._-][a-z0-9]+){0,3}){0,3}\Z"
    ),
    st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z"),
)
def test_any_docker_image_gets_a_valid_name(repository, tag):
    assert_valid(model_name("docker.io", repository, tag))
