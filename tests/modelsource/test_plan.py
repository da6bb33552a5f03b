"""The append-only plan (hooks/modelsource/plan.py, docs/decisions.md §1 order and §4 children)."""

import copy
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hooks.modelsource.naming import collision_free_name, is_valid_model_name, model_name
from hooks.modelsource.plan import (
    ChildTemplate,
    FilterResult,
    kept_child,
    new_child,
    ordered_images,
    plan_models,
)
from hooks.reference import ImageRef

TEMPLATE = ChildTemplate("silogen-models", ("dockerhub-pull-secret",), "production")
BARE = ChildTemplate("silogen-models")
DIGEST = "sha256:" + "ab" * 32
LAST_APPLIED = "metacontroller.k8s.io/last-applied-configuration"
# A Kubernetes label value: at most 63 characters, alphanumeric at both ends.
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def hub(repository: str, tag: str) -> ImageRef:
    return ImageRef("docker.io", repository, tag)


def found(index: int, *images: ImageRef, **kwargs: Any) -> FilterResult:
    return FilterResult(index, f"filter-{index}", images=images, **kwargs)


def names(children: list[dict[str, Any]]) -> list[str]:
    return [child["metadata"]["name"] for child in children]


def child_for(image: ImageRef, template: ChildTemplate = TEMPLATE) -> dict[str, Any]:
    """A child as Metacontroller observes it after creating the model for `image`."""
    name = model_name(image.registry, image.repository, image.digest or image.tag or "")
    child = new_child(name, image, template)
    child["metadata"]["uid"] = f"uid-{name}"
    child["metadata"]["resourceVersion"] = "42"
    child["metadata"]["labels"]["controller-uid"] = "parent-uid"
    return child


def existing(*children: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {child["metadata"]["name"]: child for child in children}


# The children: exactly the object docs/decisions.md §4 describes.


def test_new_child_is_exactly_the_decided_object():
    image = hub("amdenterpriseai/aim-llama3", "1.0.0")
    name = model_name("docker.io", "amdenterpriseai/aim-llama3", "1.0.0")

    assert new_child(name, image, TEMPLATE) == {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMClusterModel",
        "metadata": {
            "name": "amdenterpriseai-aim-llama3-1.0.0-7cfae0",
            "labels": {
                "aim.silogen.ai/model-source": "silogen-models",
                "aim.silogen.ai/auto-created": "true",
            },
            "annotations": {
                "aim.eai.amd.com/source-registry": "docker.io",
                "aim.eai.amd.com/source-repository": "amdenterpriseai/aim-llama3",
                "aim.eai.amd.com/source-tag": "1.0.0",
            },
        },
        "spec": {
            "image": "amdenterpriseai/aim-llama3:1.0.0",
            "imagePullSecrets": [{"name": "dockerhub-pull-secret"}],
            "configName": "production",
        },
    }


def test_planned_child_has_no_namespace_status_or_controller_uid():
    plan = plan_models(TEMPLATE, 10, [found(0, hub("silogen/aim-llama", "1.0.0"))], {})

    (child,) = plan.children
    assert set(child) == {"apiVersion", "kind", "metadata", "spec"}
    assert "namespace" not in child["metadata"]
    assert "controller-uid" not in child["metadata"]["labels"]


def test_image_outside_docker_hub_names_its_registry():
    image = ImageRef("ghcr.io", "silogen/aim-gemma", "0.8.1-rc1")
    child = new_child("x", image, BARE)

    assert child["spec"] == {"image": "ghcr.io/silogen/aim-gemma:0.8.1-rc1"}
    assert child["metadata"]["annotations"]["aim.eai.amd.com/source-registry"] == "ghcr.io"


def test_image_on_a_registry_with_a_port_names_host_and_port():
    child = new_child("x", ImageRef("127.0.0.1:5000", "models/llama", "2.0.0"), BARE)

    assert child["spec"]["image"] == "127.0.0.1:5000/models/llama:2.0.0"


def test_pinned_digest_is_the_image_and_the_source_tag():
    image = ImageRef("docker.io", "silogen/aim-llama", "1.0.0", DIGEST)
    plan = plan_models(BARE, 10, [found(0, image)], {})

    (child,) = plan.children
    assert child["spec"]["image"] == f"silogen/aim-llama@{DIGEST}"
    assert child["metadata"]["annotations"]["aim.eai.amd.com/source-tag"] == DIGEST
    assert child["metadata"]["name"] == model_name("docker.io", "silogen/aim-llama", DIGEST)


def test_source_without_pull_secrets_or_config_creates_a_spec_with_only_the_image():
    child = new_child("x", hub("silogen/aim-llama", "1.0.0"), BARE)

    assert child["spec"] == {"image": "silogen/aim-llama:1.0.0"}


def test_pull_secrets_are_copied_in_order():
    template = ChildTemplate("s", ("b-secret", "a-secret"))
    child = new_child("x", hub("silogen/aim-llama", "1.0.0"), template)

    assert child["spec"]["imagePullSecrets"] == [{"name": "b-secret"}, {"name": "a-secret"}]


def test_short_source_name_is_the_label_value():
    child = new_child("x", hub("a/b", "1"), ChildTemplate("x" * 63))

    assert child["metadata"]["labels"]["aim.silogen.ai/model-source"] == "x" * 63


def test_long_source_name_label_stays_a_valid_label_value():
    # An object name may have 253 characters; a cut at 56 here would end on "-" or ".".
    long_name = "a" * 55 + "-." + "b" * 196
    other = "a" * 55 + "-." + "c" * 196
    label = new_child("x", hub("a/b", "1"), ChildTemplate(long_name))["metadata"]["labels"][
        "aim.silogen.ai/model-source"
    ]
    other_label = new_child("x", hub("a/b", "1"), ChildTemplate(other))["metadata"]["labels"][
        "aim.silogen.ai/model-source"
    ]

    assert len(label) <= 63
    assert LABEL_VALUE.fullmatch(label), label
    assert label.startswith("a" * 55)
    assert other_label != label


# Union, de-duplication and order (docs/decisions.md §1).


def test_image_matched_by_several_filters_is_one_model():
    llama = hub("silogen/aim-llama", "1.0.0")
    plan = plan_models(
        TEMPLATE, 10, [found(0, llama), found(1, llama, hub("silogen/aim-qwen", "1.0.0"))], {}
    )

    assert plan.available == 2
    assert sorted(plan.created) == sorted(names(plan.children))
    assert len(plan.children) == 2


def test_same_repository_and_tag_on_two_registries_are_two_models():
    plan = plan_models(
        TEMPLATE,
        10,
        [
            found(
                0,
                hub("silogen/aim-llama", "1.0.0"),
                ImageRef("ghcr.io", "silogen/aim-llama", "1.0.0"),
            )
        ],
        {},
    )

    assert plan.available == 2
    assert len(plan.children) == 2


def test_images_are_ordered_by_filter_then_repository_then_newest_version():
    tags = ["latest", "1.0.0", "v2.0.0", "1.10.0", "1.2.0", "dev", "2.0.0-rc1"]
    outcomes = [
        found(1, hub("silogen/aim-aaa", "9.9.9")),
        found(0, *[hub("silogen/aim-zzz", t) for t in tags], hub("silogen/aim-mmm", "0.1.0")),
    ]

    ordered = [(i.repository, i.tag) for i in ordered_images(outcomes)]

    assert ordered == [
        ("silogen/aim-mmm", "0.1.0"),
        ("silogen/aim-zzz", "v2.0.0"),
        ("silogen/aim-zzz", "2.0.0-rc1"),
        ("silogen/aim-zzz", "1.10.0"),
        ("silogen/aim-zzz", "1.2.0"),
        ("silogen/aim-zzz", "1.0.0"),
        ("silogen/aim-zzz", "dev"),
        ("silogen/aim-zzz", "latest"),
        ("silogen/aim-aaa", "9.9.9"),
    ]


def test_an_image_counts_in_the_first_filter_that_found_it():
    shared = hub("silogen/aim-zzz", "1.0.0")
    outcomes = [
        found(1, hub("silogen/aim-bbb", "1.0.0"), shared),
        found(0, shared, hub("silogen/aim-aaa", "1.0.0")),
    ]

    ordered = [i.repository for i in ordered_images(outcomes)]

    assert ordered == ["silogen/aim-aaa", "silogen/aim-zzz", "silogen/aim-bbb"]


def test_created_lists_the_new_models_in_creation_order():
    outcomes = [found(0, hub("silogen/aim-llama", "1.0.0"), hub("silogen/aim-llama", "2.0.0"))]

    plan = plan_models(TEMPLATE, 10, outcomes, {})

    assert plan.created == [
        model_name("docker.io", "silogen/aim-llama", "2.0.0"),
        model_name("docker.io", "silogen/aim-llama", "1.0.0"),
    ]


def test_children_come_out_sorted_by_name():
    outcomes = [found(0, *(hub(f"silogen/aim-{c}", "1.0.0") for c in "qbza"))]
    old = child_for(hub("silogen/aim-m", "1.0.0"))

    plan = plan_models(TEMPLATE, 10, outcomes, existing(old))

    assert names(plan.children) == sorted(names(plan.children))
    assert len(plan.children) == 5


# maxModels limits creation only (docs/decisions.md §4).


def test_newest_images_are_created_when_the_limit_bites():
    tags = ["1.0.0", "3.0.0", "latest", "2.0.0"]
    plan = plan_models(TEMPLATE, 2, [found(0, *(hub("silogen/aim-llama", t) for t in tags))], {})

    created_tags = [
        c["metadata"]["annotations"]["aim.eai.amd.com/source-tag"] for c in plan.children
    ]
    assert sorted(created_tags) == ["2.0.0", "3.0.0"]
    assert plan.available == 4
    assert plan.not_created == 2
    assert plan.limit_reached


def test_limit_counts_existing_children():
    old = child_for(hub("silogen/aim-old", "1.0.0"))
    new = [hub("silogen/aim-llama", t) for t in ("1.0.0", "2.0.0", "3.0.0")]

    plan = plan_models(TEMPLATE, 2, [found(0, *new)], existing(old))

    assert plan.created == [model_name("docker.io", "silogen/aim-llama", "3.0.0")]
    assert len(plan.children) == 2
    assert plan.not_created == 2


def test_lowered_limit_keeps_every_existing_child_and_creates_nothing():
    olds = [child_for(hub("silogen/aim-old", f"{i}.0.0")) for i in range(5)]
    new = [hub("silogen/aim-new", t) for t in ("1.0.0", "2.0.0", "3.0.0")]

    plan = plan_models(TEMPLATE, 2, [found(0, *new)], existing(*olds))

    assert sorted(names(plan.children)) == sorted(c["metadata"]["name"] for c in olds)
    assert plan.created == []
    assert plan.not_created == 3
    assert plan.available == 3


def test_images_that_already_have_models_are_not_counted_as_not_created():
    a, b, c = (hub("silogen/aim-llama", t) for t in ("3.0.0", "2.0.0", "1.0.0"))

    plan = plan_models(TEMPLATE, 2, [found(0, a, b, c)], existing(child_for(a), child_for(b)))

    assert plan.created == []
    assert plan.available == 3
    assert plan.not_created == 1


def test_limit_is_not_reached_when_every_image_has_a_model():
    images = [hub("silogen/aim-llama", t) for t in ("1.0.0", "2.0.0")]

    plan = plan_models(TEMPLATE, 2, [found(0, *images)], {})

    assert len(plan.created) == 2
    assert plan.not_created == 0
    assert not plan.limit_reached


# Existing children are always kept, unchanged (append-only).


def test_existing_children_are_kept_whatever_the_filters_now_say():
    olds = [child_for(hub("silogen/aim-old", t)) for t in ("1.0.0", "2.0.0")]
    outcomes = [
        FilterResult(0, "silogen/aim-old", error="registry unreachable"),
        found(1, hub("silogen/aim-new", "1.0.0")),
    ]

    plan = plan_models(TEMPLATE, 100, outcomes, existing(*olds))

    for old in olds:
        assert kept_child(old) in plan.children
    assert len(plan.children) == 3


def test_existing_children_are_kept_when_nothing_was_scanned():
    olds = [child_for(hub("silogen/aim-old", t)) for t in ("1.0.0", "2.0.0")]

    plan = plan_models(TEMPLATE, 1, [], existing(*olds))

    assert plan.children == [
        kept_child(c) for c in sorted(olds, key=lambda c: c["metadata"]["name"])
    ]
    assert plan.available == 0


def test_child_recognised_by_its_annotations_is_not_duplicated():
    image = hub("amdenterpriseai/aim-llama3", "1.0.0")
    renamed = child_for(image)
    renamed["metadata"]["name"] = "llama3-made-by-hand"

    plan = plan_models(TEMPLATE, 100, [found(0, image)], existing(renamed))

    assert names(plan.children) == ["llama3-made-by-hand"]
    assert plan.created == []
    assert plan.not_created == 0


def test_child_annotated_with_a_docker_hub_alias_is_not_duplicated():
    image = hub("amdenterpriseai/aim-llama3", "1.0.0")
    legacy = child_for(image)
    legacy["metadata"]["name"] = "legacy"
    legacy["metadata"]["annotations"]["aim.eai.amd.com/source-registry"] = "index.docker.io"

    plan = plan_models(TEMPLATE, 100, [found(0, image)], existing(legacy))

    assert names(plan.children) == ["legacy"]


def test_kept_child_drops_server_owned_metadata_status_and_last_applied():
    observed = {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMClusterModel",
        "metadata": {
            "name": "m",
            "uid": "1234",
            "resourceVersion": "99",
            "generation": 3,
            "creationTimestamp": "2025-01-15T10:30:00Z",
            "managedFields": [{"manager": "metacontroller"}],
            "ownerReferences": [{"kind": "AIMClusterModelSource", "uid": "p"}],
            "labels": {"controller-uid": "p", "team": "ml"},
            "annotations": {LAST_APPLIED: '{"spec": {}}', "note": "hand-written"},
        },
        "spec": {"image": "a/b:1", "custom": {"nested": [1, 2]}},
        "status": {"status": "Ready"},
    }

    assert kept_child(observed) == {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMClusterModel",
        "metadata": {
            "name": "m",
            "labels": {"controller-uid": "p", "team": "ml"},
            "annotations": {"note": "hand-written"},
        },
        "spec": {"image": "a/b:1", "custom": {"nested": [1, 2]}},
    }


def test_go_created_child_comes_back_with_its_spec_unchanged():
    spec = {
        "name": "amdenterpriseai-aim-llama3-1.0.0-7cfae0",
        "image": "docker.io/amdenterpriseai/aim-llama3:1.0.0",
        "imagePullSecrets": [{"name": "dockerhub-pull-secret"}],
        "defaultServiceTemplate": {"runtimeConfigName": "default"},
    }
    go_child = {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMClusterModel",
        "metadata": {
            "name": "amdenterpriseai-aim-llama3-1.0.0-7cfae0",
            "uid": "u",
            "labels": {"aim.silogen.ai/model-source": "silogen-models"},
        },
        "spec": copy.deepcopy(spec),
    }

    plan = plan_models(
        TEMPLATE, 100, [found(0, hub("amdenterpriseai/aim-llama3", "1.0.0"))], existing(go_child)
    )

    (child,) = plan.children
    assert child["spec"] == spec
    assert child["metadata"] == {
        "name": "amdenterpriseai-aim-llama3-1.0.0-7cfae0",
        "labels": {"aim.silogen.ai/model-source": "silogen-models"},
    }


def test_odd_shaped_children_are_kept_with_kind_and_name():
    odd = {
        "bare": {"metadata": {"name": "bare"}},
        "only-last-applied": {
            "kind": "AIMClusterModel",
            "metadata": {"name": "only-last-applied", "annotations": {LAST_APPLIED: "{}"}},
            "spec": {},
        },
        "garbage-metadata": {
            "kind": "AIMClusterModel",
            "metadata": {"name": "garbage-metadata", "labels": "oops", "annotations": ["x"]},
            "extra": {"field": True},
        },
    }

    plan = plan_models(TEMPLATE, 1, [found(0, hub("silogen/aim-new", "1.0.0"))], odd)

    assert plan.children == [
        {
            "apiVersion": "aim.silogen.ai/v1alpha1",
            "kind": "AIMClusterModel",
            "metadata": {"name": "bare"},
        },
        {
            "apiVersion": "aim.silogen.ai/v1alpha1",
            "kind": "AIMClusterModel",
            "metadata": {"name": "garbage-metadata"},
        },
        {
            "apiVersion": "aim.silogen.ai/v1alpha1",
            "kind": "AIMClusterModel",
            "metadata": {"name": "only-last-applied"},
            "spec": {},
        },
    ]
    assert plan.not_created == 1


def test_unfinished_filter_keeps_what_it_found():
    image = hub("silogen/aim-llama", "1.0.0")

    plan = plan_models(TEMPLATE, 10, [found(0, image, finished=False)], {})

    assert plan.created == [model_name("docker.io", "silogen/aim-llama", "1.0.0")]


# Properties over generated children and scans.

REGISTRIES = ["docker.io", "ghcr.io", "127.0.0.1:5000"]
REPOSITORIES = ["silogen/aim-llama", "silogen/aim-qwen", "amdenterpriseai/aim-base", "a/b"]
TAGS = ["1.0.0", "v1.0.0", "1.10.0", "2.0.0-rc1", "0.9.1", "latest", "dev", "1.2"]

images = st.builds(
    ImageRef,
    st.sampled_from(REGISTRIES),
    st.sampled_from(REPOSITORIES),
    st.sampled_from(TAGS),
    st.one_of(st.none(), st.just(DIGEST)),
)
child_names = st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,30}[a-z0-9])?", fullmatch=True)


@st.composite
def observed_children(draw: st.DrawFn) -> dict[str, dict[str, Any]]:
    """Children of any shape Metacontroller might send, some created for pool images."""
    children: dict[str, dict[str, Any]] = {}
    for name in draw(st.lists(child_names, max_size=8, unique=True)):
        child: dict[str, Any] = {"metadata": {"name": name}}
        if draw(st.booleans()):
            child["kind"] = "AIMClusterModel"
            child["apiVersion"] = "aim.silogen.ai/v1alpha1"
        if draw(st.booleans()):
            image = draw(images)
            # Either the model we would create, or the same image under a name of its own.
            made = new_child(name, image, TEMPLATE)
            child["metadata"]["annotations"] = made["metadata"]["annotations"]
            child["spec"] = made["spec"]
        if draw(st.booleans()):
            child["metadata"]["labels"] = draw(
                st.dictionaries(st.sampled_from(["a", "controller-uid"]), st.text(max_size=3))
            )
        if draw(st.booleans()):
            child["metadata"]["uid"] = draw(st.text(max_size=5))
            child["status"] = {"status": draw(st.text(max_size=5))}
        children[name] = child
    return children


@st.composite
def scans(draw: st.DrawFn) -> list[FilterResult]:
    count = draw(st.integers(0, 4))
    return [
        FilterResult(
            index,
            f"filter-{index}",
            images=tuple(draw(st.lists(images, max_size=10))),
            error=draw(st.one_of(st.none(), st.just("boom"))),
            finished=draw(st.booleans()),
        )
        for index in range(count)
    ]


@settings(max_examples=200, deadline=None)
@given(
    children=observed_children(), outcomes=scans(), max_models=st.integers(1, 12), data=st.data()
)
def test_plan_never_loses_a_child_and_is_deterministic(children, outcomes, max_models, data):
    before = copy.deepcopy(children)

    plan = plan_models(TEMPLATE, max_models, outcomes, children)

    result = names(plan.children)
    assert len(result) >= len(children)
    assert set(children) <= set(result)
    assert len(result) == len(set(result))
    assert len(result) <= max(len(children), max_models)
    assert result == sorted(result)
    assert children == before
    for name, child in children.items():
        assert plan.children[result.index(name)] == kept_child(child)
    assert plan.available == len(ordered_images(outcomes))
    assert plan.available >= len(plan.created) + plan.not_created
    assert plan_models(TEMPLATE, max_models, outcomes, children) == plan
    shuffled = [
        FilterResult(
            o.index,
            o.image,
            images=tuple(data.draw(st.permutations(o.images))),
            error=o.error,
            finished=o.finished,
        )
        for o in outcomes
    ]
    assert plan_models(TEMPLATE, max_models, shuffled, children) == plan


def test_images_counted_by_an_earlier_call_are_created_but_not_counted_again():
    """A continued scan sums its calls' counts: an image another filter found in an earlier call
    is still a model (created if missing, within the limit) but not a second available image."""
    earlier = hub("silogen/aim-llama", "1.0.0")
    fresh = [hub("silogen/aim-llama", t) for t in ("2.0.0", "3.0.0")]

    plan = plan_models(
        TEMPLATE, 2, [found(0, earlier, *fresh)], {}, counted_before=lambda i: i == earlier
    )

    assert plan.available == 2
    assert plan.not_created == 0  # the image left out is the one counted before
    assert names(plan.children) == sorted(
        model_name("docker.io", "silogen/aim-llama", t) for t in ("2.0.0", "3.0.0")
    )


# --- What a registry lists outside the grammar never becomes a model (issue: hostile world) ---

HOSTILE = [
    ("models/../../etc", "1.0.0"),
    ("models/x", "1.0.0\n"),
    ("models/x", "1.0.0\x00"),
    ("models/x", "../1.0.0"),
    ("models/x", "1.0.0; rm -rf /"),
    ("models/x", "1.0.0@sha256:" + "a" * 64),
    ("models/x", ""),
    ("models/x", "a" * 70_000),
    ("m" * 70_000, "1.0.0"),
]


def test_images_outside_the_reference_grammar_are_dropped_and_reported():
    good = ImageRef("registry.test", "models/x", "1.0.0")
    hostile = [ImageRef("registry.test", repository, tag) for repository, tag in HOSTILE]

    plan = plan_models(BARE, 100, [found(0, *hostile, good)], {})

    assert [c["spec"]["image"] for c in plan.children] == ["registry.test/models/x:1.0.0"]
    assert plan.available == 1
    [note] = plan.notes
    assert note.startswith(
        f"{len(HOSTILE)} image(s) listed outside the reference grammar, dropped: "
    )
    assert note.endswith(", …")
    assert '"models/../../etc:1.0.0"' in note
    assert '"models/x:1.0.0\\n"' in note  # control characters escaped, never written raw
    assert "\n" not in note and "\x00" not in note
    assert len(note) < 400  # a sample, whatever the registry sends


def test_every_note_stays_short_whatever_the_registry_lists():
    hostile = [ImageRef("registry.test", "models/x", f"{i}\n" + "a" * 70_000) for i in range(1000)]

    plan = plan_models(BARE, 100, [found(0, *hostile)], {})

    assert plan.children == []
    assert plan.notes[0].startswith("1000 image(s)")
    assert len(plan.notes[0]) < 400


# --- Model-name collisions: never silent, the second image gets a name that cannot collide -----

# Two tags of one repository whose compatible names are equal: both clean to `n-1`, and the six
# hex digits of their hashes collide (found by enumerating `n[_-]+1`).
FIRST = ImageRef("docker.io", "models/nightly", "n---_____-1")
SECOND = ImageRef("docker.io", "models/nightly", "n___--__-1")
SHARED_NAME = "models-nightly-n-1-b91f64"


def test_the_constructed_collision_is_one():
    assert model_name(FIRST.registry, FIRST.repository, FIRST.tag) == SHARED_NAME
    assert model_name(SECOND.registry, SECOND.repository, SECOND.tag) == SHARED_NAME


def test_two_images_with_one_name_both_get_a_model_and_it_is_reported():
    plan = plan_models(BARE, 10, [found(0, FIRST, SECOND)], {})

    by_image = {
        c["metadata"]["annotations"]["aim.eai.amd.com/source-tag"]: c for c in plan.children
    }
    assert set(by_image) == {FIRST.tag, SECOND.tag}
    # Creation order decides: `n---_____-1` sorts first by name, so it keeps the compatible name.
    assert by_image[FIRST.tag]["metadata"]["name"] == SHARED_NAME
    longer = by_image[SECOND.tag]["metadata"]["name"]
    assert longer == collision_free_name(SECOND.registry, SECOND.repository, SECOND.tag)
    assert longer != SHARED_NAME and len(longer) <= 63
    assert plan.created == [SHARED_NAME, longer]
    assert plan.notes == (
        f'1 image(s) got a longer name, their model name being taken: "{SECOND.repository}:'
        f'{SECOND.tag}" is {longer}',
    )


def test_an_existing_model_keeps_its_name_and_the_newcomer_gets_the_longer_one():
    # The first image's model exists (a previous sync); the second image appears later.
    plan = plan_models(BARE, 10, [found(0, SECOND, FIRST)], existing(child_for(FIRST, BARE)))

    assert plan.created == [collision_free_name(SECOND.registry, SECOND.repository, SECOND.tag)]
    assert len(plan.children) == 2
    assert "got a longer name" in plan.notes[0]


def test_a_renamed_model_is_recognised_on_the_next_sync():
    first = plan_models(BARE, 10, [found(0, FIRST, SECOND)], {})
    observed = existing(*first.children)

    again = plan_models(BARE, 10, [found(0, FIRST, SECOND)], observed)

    assert again.created == []
    assert again.notes == ()
    assert names(again.children) == names(first.children)


@given(st.text(alphabet="abc-._/0123456789", min_size=1, max_size=80), st.text(max_size=140))
def test_a_collision_free_name_is_valid_and_never_a_compatible_name(repository, tag):
    name = collision_free_name("docker.io", repository, tag)
    assert is_valid_model_name(name)
    # In every compatible name the seventh character from the end is `-`; here a hex digit.
    assert name[-7] != "-" and model_name("docker.io", repository, tag)[-7] == "-"
