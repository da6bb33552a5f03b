"""Parsing the AIMClusterModelSource spec (hooks/modelsource/spec.py)."""

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from hooks.modelsource.spec import (
    MAX_PULL_SECRETS,
    FilterSpec,
    SourceSpec,
    SpecError,
    parse_duration,
    parse_spec,
)

CRD = Path(__file__).resolve().parents[2] / "crds" / "aimclustermodelsources.yaml"

MINIMAL = {"filters": [{"image": "amdenterpriseai/aim-*"}]}


def spec_with(**fields: object) -> dict[str, object]:
    return {**MINIMAL, **fields}


def test_minimal_spec_gets_every_default():
    assert parse_spec(MINIMAL) == SourceSpec(
        registry="docker.io",
        filters=(FilterSpec(image="amdenterpriseai/aim-*", exclude=(), versions=None),),
        versions=(),
        sync_interval_seconds=3600.0,
        max_models=100,
        image_pull_secrets=(),
        config_name=None,
    )


def test_null_fields_mean_their_defaults():
    spec = parse_spec(
        spec_with(
            registry=None,
            versions=None,
            syncInterval=None,
            maxModels=None,
            imagePullSecrets=None,
            configName=None,
        )
    )
    assert spec == parse_spec(MINIMAL)


def test_full_spec_is_read_field_by_field():
    spec = parse_spec(
        {
            "registry": "ghcr.io",
            "filters": [
                {"image": "silogen/aim-*", "exclude": ["silogen/aim-base"], "versions": [">=2"]},
                {"image": "silogen/aim-mistral"},
            ],
            "versions": [">=1.0.0", "<2.0.0"],
            "syncInterval": "2h30m",
            "maxModels": 10000,
            "imagePullSecrets": [{"name": "ghcr-secret"}, {"name": "other.secret"}],
            "configName": "production",
        }
    )
    assert spec == SourceSpec(
        registry="ghcr.io",
        filters=(
            FilterSpec("silogen/aim-*", ("silogen/aim-base",), (">=2",)),
            FilterSpec("silogen/aim-mistral", (), None),
        ),
        versions=(">=1.0.0", "<2.0.0"),
        sync_interval_seconds=9000.0,
        max_models=10000,
        image_pull_secrets=("ghcr-secret", "other.secret"),
        config_name="production",
    )


def test_unknown_fields_are_ignored():
    assert parse_spec(spec_with(futureField={"x": 1})) == parse_spec(MINIMAL)


@pytest.mark.parametrize(
    ("registry", "canonical"),
    [
        ("index.docker.io", "docker.io"),
        ("GHCR.IO", "ghcr.io"),
        ("ghcr.io/", "ghcr.io"),
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("", "docker.io"),
    ],
)
def test_registry_is_canonical(registry, canonical):
    assert parse_spec(spec_with(registry=registry)).registry == canonical


def test_filter_with_empty_versions_list_uses_the_global_list_as_in_go():
    spec = parse_spec({"filters": [{"image": "a/b", "versions": []}], "versions": [">=1"]})
    assert spec.filters[0].versions is None


def test_empty_config_name_means_the_default_config():
    assert parse_spec(spec_with(configName="")).config_name is None


@pytest.mark.parametrize(
    ("raw", "field", "fragment"),
    [
        (None, "spec", "must be an object, got null"),
        ([], "spec", "must be an object, got a list"),
        ("spec", "spec", 'must be an object, got "spec"'),
        ({}, "spec.filters", "is required"),
        ({"filters": None}, "spec.filters", "is required"),
        ({"filters": {"image": "a/b"}}, "spec.filters", "must be a list of filters, got an object"),
        ({"filters": []}, "spec.filters", "must have 1 to 100 filters, got 0"),
        ({"filters": [{"image": "a/b"}] * 101}, "spec.filters", "got 101"),
        ({"filters": ["a/b"]}, "spec.filters[0]", 'must be an object with an image, got "a/b"'),
        ({"filters": [{"image": "a"}, {}]}, "spec.filters[1].image", "is required"),
        ({"filters": [{"image": 7}]}, "spec.filters[0].image", "must be a string, got 7"),
        ({"filters": [{"image": ""}]}, "spec.filters[0].image", "1 to 512 characters long, got 0"),
        ({"filters": [{"image": "a" * 513}]}, "spec.filters[0].image", "got 513"),
        (
            {"filters": [{"image": "a/b", "exclude": "a/c"}]},
            "spec.filters[0].exclude",
            'must be a list of strings, got "a/c"',
        ),
        (
            {"filters": [{"image": "a/b", "exclude": ["a/c", None]}]},
            "spec.filters[0].exclude[1]",
            "must be a string, got null",
        ),
        (
            {"filters": [{"image": "a/b", "versions": ">=1"}]},
            "spec.filters[0].versions",
            "must be a list of strings",
        ),
        (
            {"filters": [{"image": "a/b", "versions": [1]}]},
            "spec.filters[0].versions[0]",
            "must be a string, got 1",
        ),
        (spec_with(versions=">=1.0.0"), "spec.versions", "must be a list of strings"),
        (spec_with(versions=[">=1", {"a": 1}]), "spec.versions[1]", "got an object"),
        (spec_with(registry=5), "spec.registry", "must be a host such as ghcr.io, got 5"),
        (spec_with(registry="https://ghcr.io"), "spec.registry", 'scheme: write "ghcr.io"'),
        (spec_with(registry="ghcr.io/silogen"), "spec.registry", "without a path"),
        (spec_with(registry="ghcr.io:99999"), "spec.registry", "port must be a number"),
        (spec_with(registry="bad host"), "spec.registry", "is invalid"),
        (spec_with(syncInterval=3600), "spec.syncInterval", "such as 1h or 30m, got 3600"),
        (spec_with(syncInterval="1 hour"), "spec.syncInterval", 'unknown unit " hour"'),
        (spec_with(syncInterval="1d"), "spec.syncInterval", 'unknown unit "d"'),
        (spec_with(syncInterval=""), "spec.syncInterval", 'invalid duration ""'),
        (spec_with(syncInterval="0s"), "spec.syncInterval", 'longer than zero, got "0s"'),
        (spec_with(syncInterval="-1h"), "spec.syncInterval", "longer than zero"),
        (spec_with(maxModels=0), "spec.maxModels", "integer from 1 to 10000, got 0"),
        (spec_with(maxModels=10001), "spec.maxModels", "got 10001"),
        (spec_with(maxModels=-5), "spec.maxModels", "got -5"),
        (spec_with(maxModels=True), "spec.maxModels", "got true"),
        (spec_with(maxModels=50.0), "spec.maxModels", "got 50.0"),
        (spec_with(maxModels="100"), "spec.maxModels", 'got "100"'),
        (spec_with(maxModels=10**100), "spec.maxModels", "far out of range"),
        (spec_with(imagePullSecrets="s"), "spec.imagePullSecrets", "must be a list"),
        (
            spec_with(imagePullSecrets=["s"]),
            "spec.imagePullSecrets[0]",
            'object {name: ...}, got "s"',
        ),
        (spec_with(imagePullSecrets=[{}]), "spec.imagePullSecrets[0].name", "is required"),
        (
            spec_with(imagePullSecrets=[{"name": ""}]),
            "spec.imagePullSecrets[0].name",
            "is required",
        ),
        (
            spec_with(imagePullSecrets=[{"name": "ok"}, {"name": 3}]),
            "spec.imagePullSecrets[1].name",
            "must be a Secret name (a string), got 3",
        ),
        (
            spec_with(imagePullSecrets=[{"name": "Bad_Name"}]),
            "spec.imagePullSecrets[0].name",
            "lower-case letters, digits, '-' and '.'",
        ),
        (
            spec_with(imagePullSecrets=[{"name": f"s{i}"} for i in range(65)]),
            "spec.imagePullSecrets",
            "must have at most 64 Secrets, got 65",
        ),
        (
            spec_with(imagePullSecrets=[{"name": "s"}] * 10_000),
            "spec.imagePullSecrets",
            "got 10000",
        ),
        (spec_with(configName=["x"]), "spec.configName", "got a list"),
        (spec_with(configName="Prod"), "spec.configName", "AIMClusterConfig name: lower-case"),
        (spec_with(configName="a" * 254), "spec.configName", "at most 253 characters"),
    ],
)
def test_every_invalid_field_is_named_with_what_was_found(raw, field, fragment):
    with pytest.raises(SpecError) as caught:
        parse_spec(raw)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert fragment in str(caught.value)


def test_long_found_value_is_shortened_in_the_message():
    with pytest.raises(SpecError) as caught:
        parse_spec(spec_with(maxModels="9" * 500))
    assert len(str(caught.value)) < 200


def test_filter_grammar_is_not_a_spec_error_so_other_filters_keep_working():
    spec = parse_spec({"filters": [{"image": "Not A Reference"}, {"image": "a/b"}]})
    assert [f.image for f in spec.filters] == ["Not A Reference", "a/b"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("+0", 0.0),
        ("-0", 0.0),
        ("1h", 3600.0),
        ("30m", 1800.0),
        ("2h30m", 9000.0),
        ("1h1h", 7200.0),
        ("1.5h", 5400.0),
        (".5s", 0.5),
        ("1.s", 1.0),
        ("300ms", 0.3),
        ("1500us", 0.0015),
        ("1500µs", 0.0015),
        ("1500μs", 0.0015),
        ("10ns", 1e-8),
        ("-1m30s", -90.0),
        ("+15m", 900.0),
        ("1h0m0s", 3600.0),
        ("2562047h47m16.854775807s", 9223372036.854775807),
    ],
)
def test_go_durations_parse_to_seconds(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "-",
        "+",
        "h",
        "1",
        "1h5",
        ".",
        ".s",
        "1..5s",
        "1.5.5s",
        "1hour",
        "1 h",
        "1H",
        "1d",
        "-1h-5m",
        "0x10s",
        "2562047h47m16.854775808s",
        "9223372036854775808ns",
    ],
)
def test_what_go_rejects_is_not_a_duration(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
SPEC_KEYS = st.sampled_from(
    [
        "registry",
        "filters",
        "versions",
        "syncInterval",
        "maxModels",
        "imagePullSecrets",
        "configName",
    ]
)
FILTER_ITEMS = st.lists(
    st.dictionaries(st.sampled_from(["image", "exclude", "versions"]), JSON_VALUES, max_size=3)
    | JSON_VALUES,
    max_size=3,
)


@given(JSON_VALUES)
def test_any_json_value_gives_a_spec_or_a_spec_error(raw):
    try:
        spec = parse_spec(raw)
    except SpecError as error:
        assert error.field.startswith("spec")
        return
    assert isinstance(spec, SourceSpec)


@given(st.dictionaries(SPEC_KEYS, JSON_VALUES), FILTER_ITEMS)
def test_hostile_values_in_known_fields_give_a_spec_or_a_spec_error(raw, filters):
    try:
        spec = parse_spec({**raw, "filters": filters} if filters else raw)
    except SpecError as error:
        assert error.field.startswith("spec")
        return
    assert 1 <= len(spec.filters) <= 100
    assert 1 <= spec.max_models <= 10000
    assert spec.sync_interval_seconds > 0


def test_the_most_pull_secrets_a_source_may_name_are_accepted():
    spec = parse_spec(spec_with(imagePullSecrets=[{"name": f"s{i}"} for i in range(64)]))
    assert len(spec.image_pull_secrets) == 64


def test_the_crd_bounds_pull_secrets_as_the_parser_does():
    schema = yaml.safe_load(CRD.read_text())
    spec = schema["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    secrets = spec["properties"]["imagePullSecrets"]
    assert secrets["maxItems"] == MAX_PULL_SECRETS
    assert secrets["items"]["properties"]["name"]["maxLength"] == 253
