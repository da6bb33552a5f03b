"""Docker image reference grammar and normalisation (hooks/reference.py)."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hooks.reference import (
    DOCKER_HUB,
    ImageRef,
    InvalidReferenceError,
    ParsedReference,
    canonical_registry,
    is_valid_repository,
    is_valid_tag,
    parse_reference,
    parse_registry,
)

SHA256 = "sha256:" + "0123456789abcdef" * 4
SHA512 = "sha512:" + "0123456789abcdef" * 8


@pytest.mark.parametrize(
    ("host", "canonical"),
    [
        ("docker.io", "docker.io"),
        ("index.docker.io", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("Index.Docker.IO", "docker.io"),
        ("https://index.docker.io/v1/", "docker.io"),
        ("docker.io/", "docker.io"),
        ("GHCR.io", "ghcr.io"),
        ("http://127.0.0.1:5000", "127.0.0.1:5000"),
        ("localhost:5000/", "localhost:5000"),
    ],
)
def test_canonical_registry_lowercases_and_merges_docker_hub_aliases(host, canonical):
    assert canonical_registry(host) == canonical


def test_canonical_registry_keeps_the_port_because_it_is_another_registry():
    assert canonical_registry("docker.io:443") == "docker.io:443"


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("amdenterpriseai/aim-llama3", ("docker.io", "amdenterpriseai/aim-llama3", None, None)),
        ("nginx", ("docker.io", "library/nginx", None, None)),
        ("nginx:1.25", ("docker.io", "library/nginx", "1.25", None)),
        ("docker.io/nginx", ("docker.io", "library/nginx", None, None)),
        ("index.docker.io/org/model", ("docker.io", "org/model", None, None)),
        ("registry-1.docker.io/org/model:v1", ("docker.io", "org/model", "v1", None)),
        ("ghcr.io/silogen/aim-llama:1.0.0", ("ghcr.io", "silogen/aim-llama", "1.0.0", None)),
        ("ghcr.io/nginx", ("ghcr.io", "nginx", None, None)),
        ("localhost/model", ("localhost", "model", None, None)),
        ("localhost:5000/a/b/c:tag", ("localhost:5000", "a/b/c", "tag", None)),
        ("127.0.0.1:5000/model", ("127.0.0.1:5000", "model", None, None)),
        ("[::1]:5000/model", ("[::1]:5000", "model", None, None)),
        ("My.Registry.io/org/model", ("my.registry.io", "org/model", None, None)),
        (f"org/model@{SHA256}", ("docker.io", "org/model", None, SHA256)),
        (f"org/model:1.0@{SHA512}", ("docker.io", "org/model", "1.0", SHA512)),
        ("org/a__b.c-d---e_f", ("docker.io", "org/a__b.c-d---e_f", None, None)),
        ("org/model:_Tag.With-Caps_", ("docker.io", "org/model", "_Tag.With-Caps_", None)),
    ],
)
def test_reference_parts_follow_docker(text, parsed):
    assert parse_reference(text) == ParsedReference(*parsed)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("amdenterpriseai/aim-*", ("docker.io", "amdenterpriseai/aim-*", None, None)),
        ("amd*/aim-*", ("docker.io", "amd*/aim-*", None, None)),
        ("*", ("docker.io", "library/*", None, None)),
        ("ghcr.io/silogen/*", ("ghcr.io", "silogen/*", None, None)),
        ("silogen/aim-llama:0.8.*", ("docker.io", "silogen/aim-llama", "0.8.*", None)),
        ("silogen/aim-*:*-rc*", ("docker.io", "silogen/aim-*", "*-rc*", None)),
    ],
)
def test_wildcards_are_allowed_in_repository_and_tag(text, parsed):
    assert parse_reference(text) == ParsedReference(*parsed)


def test_reference_without_host_uses_the_default_registry():
    assert parse_reference("silogen/aim-*", "ghcr.io").registry == "ghcr.io"


def test_explicit_host_overrides_the_default_registry():
    assert parse_reference("quay.io/org/model", "ghcr.io").registry == "quay.io"


def test_default_registry_alias_of_docker_hub_still_means_library():
    parsed = parse_reference("nginx", "https://index.docker.io/v1/")
    assert (parsed.registry, parsed.repository) == (DOCKER_HUB, "library/nginx")


def test_one_component_repository_on_another_registry_keeps_its_name():
    assert parse_reference("model", "registry.example.com").repository == "model"


def test_first_component_without_dot_colon_or_localhost_is_a_namespace():
    parsed = parse_reference("myregistry/model")
    assert (parsed.registry, parsed.repository) == (DOCKER_HUB, "myregistry/model")


def test_bare_localhost_with_port_is_a_docker_hub_repository_with_a_tag_as_in_docker():
    assert parse_reference("localhost:5000") == ParsedReference(
        DOCKER_HUB, "library/localhost", "5000", None
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("org/model ", "whitespace"),
        ("org/ model", "whitespace"),
        ("org/mo\tdel", "whitespace"),
        ("https://ghcr.io/org/model", 'no scheme: write "ghcr.io/org/model"'),
        ("Org/model", 'repository "Org/model" must be lower-case'),
        ("ghcr.io/Org/Model", "must be lower-case"),
        ("org/model:", '":" must be followed by a tag'),
        ("org/model@", '"@" must be followed by a digest'),
        (f"org/model@{SHA256}@{SHA256}", 'more than one "@"'),
        ("org/model@sha256:abc", "sha256 needs exactly 64 hex digits, got 3"),
        ("org/model@sha256:" + "A" * 64, "must be lower-case"),
        ("org/model@sha512:" + "a" * 64, "sha512 needs exactly 128 hex digits, got 64"),
        ("org/model@md5:" + "a" * 32, 'algorithm "md5" is not supported'),
        ("org/model@sha256", "expected algorithm:hex"),
        ("org/model@latest", "expected algorithm:hex"),
        ("org/model:" + "a" * 129, "129 characters long; at most 128"),
        ("org/model:-tag", 'tag "-tag" is invalid'),
        ("org/model:.tag", 'tag ".tag" is invalid'),
        ("org/model:ta+g", 'tag "ta+g" is invalid'),
        ("org/model:tág", 'tag "tág" is invalid'),
        ("org//model", 'component "" is invalid'),
        ("org/model/", 'component "" is invalid'),
        ("/org/model", 'component "" is invalid'),
        ("org/-model", 'component "-model" is invalid'),
        ("org/model-", 'component "model-" is invalid'),
        ("org/mo..del", 'component "mo..del" is invalid'),
        ("org/mo___del", 'component "mo___del" is invalid'),
        ("org/mo+del", 'component "mo+del" is invalid'),
        ("org/aim-*-", 'component "aim-*-" is invalid'),
        ("ghcr.io/", "repository name is missing after registry"),
        ("ghcr.io:99999/org/model", "port must be a number from 1 to 65535"),
        ("ghcr.io:0/org/model", "port must be a number from 1 to 65535"),
        ("ghcr.io:/org/model", "port must be a number"),
        ("ghcr.io:80:80/org/model", "port must be a number"),
        ("-ghcr.io/org/model", 'registry host "-ghcr.io" is invalid'),
        ("gh_cr.io/org/model", 'registry host "gh_cr.io" is invalid'),
        ("*.io/org/model", 'registry "*.io" cannot contain "*"'),
        ("ghcr.io/" + "a" * 250, "258 characters long; at most 255"),
        (f"org/model:1.*@{SHA256}", 'tag pattern "1.*" cannot go with it'),
    ],
)
def test_malformed_reference_says_which_part_is_wrong(text, fragment):
    with pytest.raises(InvalidReferenceError) as caught:
        parse_reference(text)
    assert fragment in str(caught.value)
    assert caught.value.reference == text


def test_name_of_exactly_255_characters_is_accepted():
    text = "ghcr.io/" + "a" * 247
    assert parse_reference(text).repository == "a" * 247


def test_tag_of_exactly_128_characters_is_accepted():
    assert parse_reference("org/model:" + "a" * 128).tag == "a" * 128


@given(st.text(max_size=80))
def test_parsing_any_text_either_succeeds_or_raises_invalid_reference_error(text):
    try:
        parsed = parse_reference(text)
    except InvalidReferenceError:
        return
    assert parsed.repository == parsed.repository.lower()
    assert not any(char.isspace() for char in text)


_COMPONENT = st.from_regex(r"\A[a-z0-9]{1,5}(?:[._-][a-z0-9]{1,5}){0,2}\Z")
# Without a host, a first component with a "." would be read as one (Docker's rule).
_NAMESPACE = st.from_regex(r"\A[a-z0-9]{1,5}(?:[_-][a-z0-9]{1,5}){0,2}\Z")
_TAG_TEXT = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}\Z")


@given(
    host=st.sampled_from(["", "ghcr.io/", "localhost:5000/", "registry.example.com/"]),
    first=_NAMESPACE,
    rest=st.lists(_COMPONENT, max_size=3),
    tag=st.none() | _TAG_TEXT,
)
def test_any_well_formed_reference_parses_into_its_parts(host, first, rest, tag):
    components = [first, *rest]
    path = "/".join(components)
    text = host + path + (f":{tag}" if tag is not None else "")
    parsed = parse_reference(text)
    expected_registry = host.rstrip("/") or DOCKER_HUB
    expected_path = f"library/{path}" if not host and len(components) == 1 else path
    assert parsed == ParsedReference(expected_registry, expected_path, tag, None)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("ghcr.io", "ghcr.io"),
        ("ghcr.io/", "ghcr.io"),
        ("index.docker.io", "docker.io"),
        ("Registry.Example.COM:5000", "registry.example.com:5000"),
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("[::1]:5000", "[::1]:5000"),
        ("localhost", "localhost"),
    ],
)
def test_registry_host_is_validated_and_canonicalised(text, canonical):
    assert parse_registry(text) == canonical


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("https://ghcr.io", 'without a scheme: write "ghcr.io"'),
        ("https://ghcr.io/", 'without a scheme: write "ghcr.io"'),
        ("ghcr.io/silogen", 'use registry "ghcr.io" and put "silogen/" in front'),
        ("ghcr.io:http", "port must be a number"),
        ("ghcr.io:70000", "port must be a number from 1 to 65535"),
        ("", "registry host is empty"),
        ("/", "registry host is empty"),
        ("ghcr io", "is invalid"),
        ("*.example.com", "cannot contain"),
    ],
)
def test_bad_registry_host_says_what_to_write_instead(text, fragment):
    with pytest.raises(InvalidReferenceError) as caught:
        parse_registry(text)
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("ref", "image"),
    [
        (
            ImageRef("docker.io", "amdenterpriseai/aim-llama3", "1.0.0"),
            "amdenterpriseai/aim-llama3:1.0.0",
        ),
        (ImageRef("docker.io", "library/nginx", "latest"), "library/nginx:latest"),
        (ImageRef("ghcr.io", "silogen/aim-llama", "1.0.0"), "ghcr.io/silogen/aim-llama:1.0.0"),
        (ImageRef("127.0.0.1:5000", "a/b", "v1"), "127.0.0.1:5000/a/b:v1"),
        (ImageRef("ghcr.io", "org/model", digest=SHA256), f"ghcr.io/org/model@{SHA256}"),
        (ImageRef("docker.io", "org/model", "1.0", SHA256), f"org/model@{SHA256}"),
        (ImageRef("ghcr.io", "org/model"), "ghcr.io/org/model"),
    ],
)
def test_spec_image_omits_docker_hub_and_uses_the_digest_when_pinned(ref, image):
    assert ref.spec_image() == image


def test_spec_image_parses_back_to_the_same_image():
    for ref in (
        ImageRef("docker.io", "org/model", "1.0"),
        ImageRef("ghcr.io", "org/model", "1.0"),
        ImageRef("localhost:5000", "model", digest=SHA256),
    ):
        parsed = parse_reference(ref.spec_image())
        assert ImageRef(parsed.registry, parsed.repository, parsed.tag, parsed.digest) == ref


# --- What a registry lists: names and tags validated before they can become models ----------

HOSTILE_NAMES = [
    "",
    "models/../../etc",
    "models/..",
    "../etc",
    "models//x",
    "/models",
    "models/",
    "Models/x",
    "models/x\n",
    "models/x\x00y",
    "models/x; rm -rf /",
    "models/x@sha256:" + "a" * 64,
    "models/x:tag",
    "models/a___b",
    "models/-x",
    "a" * 256,
    "a" * 70_000,
    "models/" + "a-" * 1_000_000,
]
HOSTILE_TAGS = [
    "",
    "1.0.0\n",
    "1.0.0\x00",
    "../1.0.0",
    "..",
    "x/../y",
    "1.0.0; rm -rf /",
    "1.0.0@sha256:" + "a" * 64,
    "sha256:" + "a" * 64,
    ".hidden",
    "-rc",
    "a b",
    "é",
    "a" * 129,
    "a" * 70_000,
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda name: repr(name[:30]))
def test_a_repository_name_outside_the_oci_grammar_is_invalid(name):
    assert not is_valid_repository(name)


@pytest.mark.parametrize("tag", HOSTILE_TAGS, ids=lambda tag: repr(tag[:30]))
def test_a_tag_outside_the_oci_grammar_is_invalid(tag):
    assert not is_valid_tag(tag)


@pytest.mark.parametrize(
    "name",
    ["nginx", "library/nginx", "amdenterpriseai/aim-llama3", "a.b_c__d---e/f0", "a" * 255],
)
def test_ordinary_repository_names_are_valid(name):
    assert is_valid_repository(name)


@pytest.mark.parametrize("tag", ["1.0.0", "v1.2.3-rc.1", "latest", "_x", "A.b-C_d", "a" * 128])
def test_ordinary_tags_are_valid(tag):
    assert is_valid_tag(tag)


@given(st.text(alphabet="az09._-/:@\n", max_size=30))
def test_repository_validity_is_the_oci_regular_expression(text):
    oci = re.compile(r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*")
    assert is_valid_repository(text) is (oci.fullmatch(text) is not None)


@given(st.text(alphabet="aZ09._-/:@\n ", max_size=140))
def test_tag_validity_is_the_oci_regular_expression(text):
    oci = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
    assert is_valid_tag(text) is (oci.fullmatch(text) is not None)
