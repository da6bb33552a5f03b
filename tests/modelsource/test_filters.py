"""Image filters: what each filter form selects (hooks/modelsource/filters.py, docs/decisions.md
§1)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hooks.modelsource.filters import FilterError, ImageFilter, build_filters
from hooks.modelsource.spec import FilterSpec, SourceSpec, parse_spec
from hooks.reference import ImageRef

SHA256 = "sha256:" + "ab" * 32
TAGS = ["latest", "dev", "0.8.0", "0.8.1-rc1", "0.8.4", "0.9", "1.0.0", "v1.1.0", "1.2.0", "2.0.0"]


def build(spec: dict[str, object]) -> list[ImageFilter | FilterError]:
    return build_filters(parse_spec(spec))


def only_filter(image: str, **fields: object) -> ImageFilter:
    """The single filter of a spec with one filter `image` and the given spec fields."""
    filter_fields = {key: fields.pop(key) for key in ("exclude", "versions") if key in fields}
    (result,) = build({"filters": [{"image": image, **filter_fields}], **fields})
    assert isinstance(result, ImageFilter), result
    return result


def only_error(image: str, **fields: object) -> FilterError:
    filter_fields = {key: fields.pop(key) for key in ("exclude", "versions") if key in fields}
    (result,) = build({"filters": [{"image": image, **filter_fields}], **fields})
    assert isinstance(result, FilterError), result
    return result


def selected_tags(image_filter: ImageFilter) -> list[str]:
    return [tag for tag in TAGS if image_filter.selects_tag(tag)]


# --- Repository patterns --------------------------------------------------------------------


def test_wildcard_selects_every_matching_repository():
    f = only_filter("amdenterpriseai/aim-*")
    assert f.is_wildcard
    assert f.selects_repository("amdenterpriseai/aim-llama3")
    assert f.selects_repository("amdenterpriseai/aim-")
    assert not f.selects_repository("amdenterpriseai/other")
    assert not f.selects_repository("silogen/aim-llama3")


def test_wildcard_matches_across_slashes():
    f = only_filter("silogen/*")
    assert f.selects_repository("silogen/team/deep/model")


def test_wildcard_is_anchored_at_both_ends():
    f = only_filter("org/aim-*-instruct")
    assert f.selects_repository("org/aim-llama-instruct")
    assert not f.selects_repository("org/aim-llama-instruct-v2")
    assert not f.selects_repository("xorg/aim-llama-instruct")


def test_regex_characters_in_a_pattern_are_literal():
    f = only_filter("org/aim.model-*")
    assert f.selects_repository("org/aim.model-x")
    assert not f.selects_repository("org/aimXmodel-x")


def test_exact_repository_selects_only_itself_and_is_not_listed():
    f = only_filter("silogen/aim-llama")
    assert not f.is_wildcard
    assert f.selects_repository("silogen/aim-llama")
    assert not f.selects_repository("silogen/aim-llama-2")


def test_wildcard_in_the_docker_hub_namespace_is_a_valid_filter():
    f = only_filter("amd*/aim-*")
    assert (f.registry, f.repository) == ("docker.io", "amd*/aim-*")


# --- Registries -------------------------------------------------------------------------------


def test_filter_without_host_uses_spec_registry():
    assert only_filter("silogen/aim-*", registry="ghcr.io").registry == "ghcr.io"


def test_default_registry_is_docker_hub():
    assert only_filter("silogen/aim-*").registry == "docker.io"


@pytest.mark.parametrize(
    ("image", "repository", "tag", "tag_pattern", "digest"),
    [
        ("ghcr.io/silogen/aim-*", "silogen/aim-*", None, None, None),
        ("ghcr.io/silogen/aim-llama", "silogen/aim-llama", None, None, None),
        ("ghcr.io/silogen/aim-llama:1.0.0", "silogen/aim-llama", "1.0.0", None, None),
        ("ghcr.io/silogen/aim-llama:1.*", "silogen/aim-llama", None, "1.*", None),
        (f"ghcr.io/silogen/aim-llama@{SHA256}", "silogen/aim-llama", None, None, SHA256),
    ],
)
def test_registry_override_works_for_every_filter_form(image, repository, tag, tag_pattern, digest):
    f = only_filter(image, registry="docker.io")
    assert (f.registry, f.repository, f.tag, f.tag_pattern, f.digest) == (
        "ghcr.io",
        repository,
        tag,
        tag_pattern,
        digest,
    )


@pytest.mark.parametrize("host", ["docker.io", "index.docker.io", "registry-1.docker.io"])
def test_docker_hub_aliases_are_one_registry(host):
    assert only_filter(f"{host}/org/model", registry="ghcr.io").registry == "docker.io"


def test_one_component_docker_hub_name_means_library():
    f = only_filter("nginx")
    assert f.repository == "library/nginx"
    assert f.selects_repository("library/nginx")
    assert not f.selects_repository("nginx")


def test_one_component_name_on_another_registry_stays_as_written():
    assert only_filter("model", registry="registry.example.com").repository == "model"


# --- Tags, digests and versions -------------------------------------------------------------


def test_filter_without_tag_or_versions_selects_every_tag():
    assert selected_tags(only_filter("org/model")) == TAGS


def test_exact_tag_selects_only_that_tag():
    assert selected_tags(only_filter("org/model:1.0.0")) == ["1.0.0"]


def test_exact_tag_overrides_global_and_filter_versions():
    f = only_filter("org/model:0.8.4", versions=[">=2.0.0"])
    assert (f.tag, f.constraints) == ("0.8.4", None)
    assert selected_tags(f) == ["0.8.4"]
    g = only_filter("org/model:0.8.4", versions=None)
    (h,) = build({"filters": [{"image": "org/model:0.8.4"}], "versions": [">=2.0.0"]})
    assert isinstance(h, ImageFilter)
    assert selected_tags(g) == selected_tags(h) == ["0.8.4"]


def test_exact_tag_ignores_an_invalid_global_constraint():
    (result,) = build({"filters": [{"image": "org/model:latest"}], "versions": ["not a range"]})
    assert isinstance(result, ImageFilter)
    assert selected_tags(result) == ["latest"]


def test_tag_glob_selects_matching_tags():
    assert selected_tags(only_filter("org/model:0.8.*")) == ["0.8.0", "0.8.1-rc1", "0.8.4"]


def test_tag_glob_and_version_constraints_must_both_agree():
    assert selected_tags(only_filter("org/model:0.*")) == ["0.8.0", "0.8.1-rc1", "0.8.4", "0.9"]
    f = only_filter("org/model:0.*", versions=[">=0.8.1"])
    assert selected_tags(f) == ["0.8.4"]


def test_digest_pins_one_image_and_selects_no_tag():
    f = only_filter(f"org/model@{SHA256}", versions=[">=1.0.0"])
    assert (f.digest, f.tag, f.tag_pattern, f.constraints) == (SHA256, None, None, None)
    assert selected_tags(f) == []


def test_tag_beside_a_digest_is_ignored_as_docker_ignores_it():
    f = only_filter(f"org/model:1.0.0@{SHA256}")
    assert (f.digest, f.tag) == (SHA256, None)


def test_global_versions_apply_to_filters_without_their_own():
    (f,) = build({"filters": [{"image": "org/model"}], "versions": [">=1.0.0", "<2.0.0"]})
    assert isinstance(f, ImageFilter)
    assert selected_tags(f) == ["1.0.0", "v1.1.0", "1.2.0"]


def test_filter_versions_replace_the_global_list():
    results = build(
        {
            "filters": [{"image": "org/a", "versions": [">=2.0.0"]}, {"image": "org/b"}],
            "versions": ["<1.0.0"],
        }
    )
    assert [selected_tags(f) for f in results if isinstance(f, ImageFilter)] == [
        ["2.0.0"],
        ["0.8.0", "0.8.1-rc1", "0.8.4"],
    ]


def test_empty_filter_versions_fall_back_to_the_global_list():
    (f,) = build({"filters": [{"image": "org/a", "versions": []}], "versions": [">=2.0.0"]})
    assert isinstance(f, ImageFilter)
    assert selected_tags(f) == ["2.0.0"]


def test_version_constraints_skip_tags_that_are_not_versions():
    assert "latest" not in selected_tags(only_filter("org/model", versions=[">=0.0.0"]))


def test_invalid_filter_constraint_is_that_filters_error_quoting_it():
    error = only_error("org/model", versions=[">=1.0.0", ">=banana"])
    assert error.message.startswith('versions: invalid version constraint ">=banana"')


def test_invalid_global_constraint_is_the_error_of_every_filter_using_it():
    results = build(
        {
            "filters": [
                {"image": "org/a"},
                {"image": "org/b", "versions": [">=1"]},
                {"image": "org/c:1.0.0"},
            ],
            "versions": ["~>>1"],
        }
    )
    assert isinstance(results[0], FilterError)
    assert results[0].message.startswith('spec.versions: invalid version constraint "~>>1"')
    assert isinstance(results[1], ImageFilter)
    assert isinstance(results[2], ImageFilter)


# --- Exclusions ----------------------------------------------------------------------------


def test_excluded_repository_is_never_selected():
    f = only_filter("amdenterpriseai/aim-*", exclude=["amdenterpriseai/aim-base"])
    assert not f.selects_repository("amdenterpriseai/aim-base")
    assert f.selects_repository("amdenterpriseai/aim-base-2")
    assert f.selects_repository("amdenterpriseai/aim-llama3")


def test_exclusion_with_wildcard_excludes_every_match():
    f = only_filter("org/aim-*", exclude=["org/aim-*-experimental", "org/aim-test*"])
    assert not f.selects_repository("org/aim-llama-experimental")
    assert not f.selects_repository("org/aim-test")
    assert not f.selects_repository("org/aim-tests/nested")
    assert f.selects_repository("org/aim-llama")


def test_exclusion_applies_to_an_exact_tag_filter():
    f = only_filter("org/aim-base:1.0.0", exclude=["org/aim-base"])
    assert not f.selects_repository("org/aim-base")


def test_exclusion_written_with_the_filters_registry_is_the_same_exclusion():
    f = only_filter("ghcr.io/org/aim-*", exclude=["ghcr.io/org/aim-base", "org/aim-old"])
    assert f.exclude == ("org/aim-base", "org/aim-old")
    assert not f.selects_repository("org/aim-base")


def test_exclusion_on_docker_hub_is_normalised_like_a_repository():
    f = only_filter("*", exclude=["nginx", "index.docker.io/library/redis"])
    assert f.exclude == ("library/nginx", "library/redis")
    assert not f.selects_repository("library/nginx")
    assert f.selects_repository("library/postgres")


@pytest.mark.parametrize(
    ("exclusion", "fragment"),
    [
        ("ghcr.io/org/aim-base", "names registry ghcr.io, but this filter lists docker.io"),
        ("org/aim-base:1.0.0", "names a tag or digest"),
        (f"org/aim-base@{SHA256}", "names a tag or digest"),
        ("Org/Aim-Base", 'exclusion "Org/Aim-Base": repository "Org/Aim-Base" must be lower-case'),
        ("", 'exclusion "": the image reference is empty'),
    ],
)
def test_exclusion_that_cannot_match_as_meant_is_the_filters_error(exclusion, fragment):
    error = only_error("org/aim-*", exclude=[exclusion])
    assert fragment in error.message


# --- Malformed filters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "fragment"),
    [
        ("Org/Model", "must be lower-case"),
        ("org/model:", "followed by a tag"),
        ("org/model@sha256:abc", "64 hex digits"),
        ("https://ghcr.io/org/model", "no scheme"),
        ("ghcr.io:99999/org/model", "port"),
        ("org/model with spaces", "whitespace"),
        ("org/model:a+b", "tag"),
    ],
)
def test_malformed_filter_is_a_filter_error_naming_the_filter(image, fragment):
    results = build({"filters": [{"image": "org/good"}, {"image": image}, {"image": "org/ok"}]})
    assert [type(r).__name__ for r in results] == ["ImageFilter", "FilterError", "ImageFilter"]
    error = results[1]
    assert isinstance(error, FilterError)
    assert (error.index, error.image) == (1, image)
    assert fragment in error.message


def test_results_keep_filter_order_and_index():
    results = build({"filters": [{"image": f"org/m{i}"} for i in range(5)]})
    assert [(r.index, r.image) for r in results] == [(i, f"org/m{i}") for i in range(5)]


@given(
    st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=4),
    st.lists(st.text(max_size=20), max_size=3),
    st.lists(st.text(max_size=20), max_size=2),
)
def test_build_filters_never_raises(images, exclude, versions):
    spec = SourceSpec(
        registry="docker.io",
        filters=tuple(FilterSpec(image, tuple(exclude)) for image in images),
        versions=tuple(versions),
    )
    results = build_filters(spec)
    assert [r.index for r in results] == list(range(len(images)))
    for result in results:
        if isinstance(result, ImageFilter):
            result.selects_repository("org/model")
            result.selects_tag("1.0.0")


# --- Matching one found image ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "found", "matches"),
    [
        ("org/aim-*", ImageRef("docker.io", "org/aim-llama", tag="1.0.0"), True),
        ("org/aim-*", ImageRef("ghcr.io", "org/aim-llama", tag="1.0.0"), False),
        ("org/aim-*", ImageRef("docker.io", "org/base", tag="1.0.0"), False),
        ("org/aim-llama", ImageRef("docker.io", "org/aim-llama", tag="latest"), True),
        ("org/aim-llama:1.0.0", ImageRef("docker.io", "org/aim-llama", tag="1.0.0"), True),
        ("org/aim-llama:1.0.0", ImageRef("docker.io", "org/aim-llama", tag="2.0.0"), False),
        (
            f"org/aim-llama@{'sha256:' + 'ab' * 32}",
            ImageRef("docker.io", "org/aim-llama", digest="sha256:" + "ab" * 32),
            True,
        ),
        (
            f"org/aim-llama@{'sha256:' + 'ab' * 32}",
            ImageRef("docker.io", "org/aim-llama", tag="1.0.0"),
            False,
        ),
        ("org/aim-llama", ImageRef("docker.io", "org/aim-llama"), False),
    ],
)
def test_a_filter_matches_exactly_the_images_its_scan_would_find(
    image: str, found: ImageRef, matches: bool
) -> None:
    assert only_filter(image).matches(found) is matches


def test_matching_applies_exclusions_and_versions() -> None:
    image_filter = only_filter("org/aim-*", exclude=["org/aim-old"], versions=[">=2.0.0"])

    assert image_filter.matches(ImageRef("docker.io", "org/aim-new", tag="2.1.0"))
    assert not image_filter.matches(ImageRef("docker.io", "org/aim-new", tag="1.9.0"))
    assert not image_filter.matches(ImageRef("docker.io", "org/aim-old", tag="2.1.0"))
