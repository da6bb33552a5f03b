"""A model source's sync reads its body shaped (`read_model_source_sync`): of each observed
child, only the fields an answer carries back, without Metacontroller's last-applied copy.
Every answer must be the one the full reading gives, byte for byte: children as the API server
holds them, hand-made ones, malformed ones (which the shape refuses, so they take the full
reading), due and gated syncs, cluster and namespaced sources.
"""

import copy
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from hooks import jsonio
from hooks.metacontroller import (
    MODEL_SOURCE_SYNC_BODY,
    parse_namespaced_sync_request,
    parse_sync_request,
    read_model_source_sync,
)
from hooks.modelsource.controller import CLUSTER_SOURCE, SourceKind, sync_source
from hooks.namespaced.source import NAMESPACED_SOURCE
from hooks.reference import ImageRef
from hooks.registry.credentials import Keychain
from hooks.registry.targets import ScanTarget, TargetResult
from tests.hooks.conftest import START
from tests.hooks.wire import (
    children_by_name,
    encode,
    model_group,
    observed_child,
    source,
    source_related,
    sync_request,
)

SPEC = {"registry": "docker.io", "filters": [{"image": "org/model-*"}], "syncInterval": "1h"}
LAST_APPLIED = "metacontroller.k8s.io/last-applied-configuration"
IMAGES = tuple(ImageRef("docker.io", f"org/model-{n % 3}", tag=f"1.{n}.0") for n in range(7))


def scan(targets: Sequence[ScanTarget], _: Keychain) -> list[TargetResult]:
    return [TargetResult(t.key, images=IMAGES) for t in targets]


def answer(body: bytes, decode: Any, kind: SourceKind) -> bytes:
    parse = parse_namespaced_sync_request if kind is NAMESPACED_SOURCE else parse_sync_request
    result = sync_source(
        parse(decode(body)),
        scan=scan,
        now=START + timedelta(minutes=5),
        operator_namespace="kaiwo-system",
        kind=kind,
    )
    return jsonio.dumps(result.response.to_json())


def assert_same_answers(request: dict[str, Any], kind: SourceKind = CLUSTER_SOURCE) -> None:
    # A lone surrogate only exists in JSON as an escape, which Go's encoder can write.
    body = encode(request).replace(b"LONE-SURROGATE", b"\\ud800")
    full = answer(body, jsonio.loads, kind)
    shaped = answer(body, read_model_source_sync, kind)
    assert shaped == full


def scanned_request(*, due: bool, namespace: str | None = None) -> dict[str, Any]:
    """A request whose children are what a first scan created, as the API server holds them."""
    parent = source("models", SPEC)
    if namespace:
        parent["metadata"]["namespace"] = namespace
    first = sync_source(
        (parse_namespaced_sync_request if namespace else parse_sync_request)(
            sync_request(parent, {}, source_related(SPEC))
        ),
        scan=lambda targets, _: [TargetResult(t.key, images=IMAGES[:4]) for t in targets],
        now=START,
        operator_namespace="kaiwo-system",
        kind=NAMESPACED_SOURCE if namespace else CLUSTER_SOURCE,
    )
    status = dict(first.response.status)
    if due:
        status["lastSyncTime"] = "2020-01-01T00:00:00Z"
        status.pop("scan", None)
    parent = copy.deepcopy(parent)
    parent["status"] = status
    observed = {
        c["metadata"]["name"]: observed_child(c, parent, serial)
        for serial, c in enumerate(first.response.children)
    }
    return sync_request(parent, observed, source_related(SPEC))


def children(request: dict[str, Any]) -> dict[str, Any]:
    return request["children"][model_group(request["parent"])]


def test_the_shape_reads_only_what_an_answer_carries() -> None:
    request = scanned_request(due=False)
    shaped = read_model_source_sync(encode(request))
    child = next(iter(children(shaped).values()))
    assert set(child) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(child["metadata"]) == {"name", "labels", "annotations"}
    assert LAST_APPLIED in children(request)[child["metadata"]["name"]]["metadata"]["annotations"]
    assert LAST_APPLIED not in child["metadata"]["annotations"]
    assert "aim.eai.amd.com/source-tag" in child["metadata"]["annotations"]
    assert shaped["parent"] == request["parent"]
    assert shaped["related"] == request["related"]


@pytest.mark.parametrize("due", [False, True], ids=["gated", "scanning"])
@pytest.mark.parametrize("namespace", [None, "team-a"], ids=["cluster", "namespaced"])
def test_observed_children_give_the_same_answer(due: bool, namespace: str | None) -> None:
    kind = NAMESPACED_SOURCE if namespace else CLUSTER_SOURCE
    assert_same_answers(scanned_request(due=due, namespace=namespace), kind)


def test_hand_made_children_with_server_fields_give_the_same_answer() -> None:
    request = scanned_request(due=True)
    observed = children(request)
    observed["by-hand"] = {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMClusterModel",
        "metadata": {
            "name": "by-hand",
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
            "finalizers": ["x"],
        },
        "spec": {"image": "docker.io/org/model-1:1.1.0", "nested": [[[{"a": None}]]]},
        "status": {"status": "Ready"},
    }
    observed["no-spec"] = {"metadata": {"name": "no-spec", "labels": {}, "annotations": {}}}
    assert_same_answers(request)


@pytest.mark.parametrize(
    "malformed",
    [
        {"metadata": "not an object"},
        {"metadata": None, "spec": {}},
        {"metadata": {"name": "bad", "labels": ["not", "a", "map"]}},
        {"metadata": {"name": "bad", "annotations": {"a": "LONE-SURROGATE"}}},
    ],
    ids=["metadata a string", "metadata null", "labels a list", "lone surrogate"],
)
def test_malformed_children_give_the_same_answer(malformed: dict[str, Any]) -> None:
    request = scanned_request(due=False)
    children(request)["bad"] = malformed
    assert_same_answers(request)


def test_a_body_the_shape_refuses_is_read_in_full() -> None:
    request = scanned_request(due=False)
    children(request)["bad"] = {"metadata": "not an object", "status": {"kept": True}}
    shaped = jsonio.loads_shaped(encode(request), MODEL_SOURCE_SYNC_BODY)
    assert shaped == jsonio.loads(encode(request))
    assert children_by_name(shaped)["bad"]["status"] == {"kept": True}
    # Read in full, the well-formed children still lose the last-applied copy, the bad one
    # is left as it is for the request parser to judge.
    read = read_model_source_sync(encode(request))
    assert children_by_name(read)["bad"] == {"metadata": "not an object", "status": {"kept": True}}
    assert all(
        LAST_APPLIED not in c["metadata"]["annotations"]
        for name, c in children_by_name(read).items()
        if name != "bad"
    )


def test_a_body_that_is_not_json_fails_as_the_full_reading_does() -> None:
    for body in (b"", b"{", b'{"parent": NaN}', b'{"a": 1} trailing'):
        with pytest.raises(ValueError) as shaped:
            read_model_source_sync(body)
        with pytest.raises(ValueError) as full:
            jsonio.loads(body)
        assert str(shaped.value) == str(full.value)


def test_an_integer_beyond_64_bits_is_kept_exactly() -> None:
    # Metacontroller cannot send one (Go re-encodes int64 and float64 values); orjson would
    # read it as a float, the shape reads it as it is.
    body = b'{"parent": {}, "children": {"g": {"m": {"metadata": {}, "spec": {"n": %d}}}}}' % (
        2**70
    )
    shaped = jsonio.loads_shaped(body, MODEL_SOURCE_SYNC_BODY)
    assert shaped["children"]["g"]["m"]["spec"]["n"] == 2**70
