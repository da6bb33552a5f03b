"""Hostile sync requests: everything Metacontroller never sends, and the extremes it might.

A case starts from a well-formed request (a source spec with up to 100 filters, up to 10,000
existing models, some of odd shapes, children of kinds the controller does not own, pull secrets
holding the planted credentials that are valid, broken base64, broken JSON, of the wrong type or
without data, an earlier status or junk in its place) and then breaks it at up to three random
places: a field deleted, or replaced by a value of another JSON type, by random JSON, or (rarely)
by a string of a megabyte.

Hypothesis draws the few decisions that shape a case (a seed, the mutations); the rest comes
from a `random.Random` seeded by them, so that 10,000 cases take seconds of generation, and a
case of 10,000 children costs one draw, not 10,000.
"""

import base64
import json
import random
import string
from dataclasses import dataclass
from functools import cache
from typing import Any

from hypothesis import strategies as st

from tests.hooks.wire import (
    CONFIG_GROUP,
    MODEL_GROUP,
    SECRET_GROUP,
    config,
    observed_child,
    source,
    sync_request,
)
from tests.reliability.planted import Planted

HUGE = 1_000_000  # characters in a huge string
HUGE_CHANCE = 0.004  # of a mutation writing a huge string
MANY_CHILDREN_CHANCE = 0.0005  # of a case with 10,000 existing children
SOME_CHILDREN_CHANCE = 0.005  # of a case with 300
MANY_FILTERS_CHANCE = 0.01  # of a case with 100 filters
IMAGES = [
    "amdenterpriseai/aim-*",
    "amdenterpriseai/aim-llama3",
    "amdenterpriseai/aim-llama3:1.0.0",
    "silogen/aim-llama:0.9.*",
    "ghcr.io/silogen/aim-*",
    "registry.test/models/*",
    "localhost:5000/a/b",
    "hello",
    "*",
    "a/*/b:*",
    "repo@sha256:" + "0" * 64,
    "UPPER/case",
    "bad::ref",
    "",
]
CONSTRAINTS = [">=1.0.0", "<2.0.0", "^1.0.0", "~0.9", "1.x", "*", "bogus", "", ">=0.8.1-rc1"]
SECRET_NAMES = ["creds", "hub", "ghcr", "private"]
ODD_CHILDREN = [
    "no-metadata",
    "metadata-not-object",
    "name-mismatch",
    "no-spec",
    "labels-not-strings",
    "foreign-controller",
    "annotations-junk",
    "with-status",
    "bare",
]
FOREIGN_GROUPS = ["Pod.v1", "AIMClusterModel.aim.silogen.ai/v1beta1", "ConfigMap.v1"]
SECRET_KINDS = ["valid", "not-base64", "not-json", "no-auths", "wrong-type", "no-data", "junk"]
MUTATIONS = ["delete", "retype", "junk"]
# Metacontroller always sends these as objects (contract §1); breaking them may earn a 400.
ENVELOPE = {("parent",), ("parent", "metadata"), ("parent", "metadata", "name")}
MODEL_TEMPLATE = {
    "apiVersion": "aim.silogen.ai/v1alpha1",
    "kind": "AIMClusterModel",
    "metadata": {
        "name": "",
        "labels": {"aim.silogen.ai/model-source": "models", "aim.silogen.ai/auto-created": "true"},
        "annotations": {
            "aim.eai.amd.com/source-registry": "docker.io",
            "aim.eai.amd.com/source-repository": "amdenterpriseai/aim-llama3",
            "aim.eai.amd.com/source-tag": "1.0.0",
        },
    },
    "spec": {"image": "amdenterpriseai/aim-llama3:1.0.0"},
}


@dataclass(frozen=True)
class HostileCase:
    """A request document and what the hook owes its sender."""

    request: Any  # after mutation it may not even be an object
    observed: tuple[str, ...]  # the AIMClusterModel children sent, by key
    may_be_refused: bool  # the envelope itself is broken: a 400 is a fair answer

    def body(self) -> bytes:
        """The request as bytes (plain JSON: Go's HTML escaping is tested elsewhere)."""
        return json.dumps(self.request, separators=(",", ":")).encode()


@cache
def _skeleton() -> str:
    """A sync request with nothing in it, as JSON: the starting point of every case."""
    return json.dumps(sync_request(source("models", {}), {}, {}))


@cache
def _observed_model() -> str:
    parent = json.loads(_skeleton())["parent"]
    return json.dumps(observed_child(MODEL_TEMPLATE, parent, 1))


def _word(rng: random.Random, size: int = 8) -> str:
    return "".join(rng.choices(string.ascii_lowercase + string.digits, k=size))


def junk(rng: random.Random, depth: int = 0) -> Any:
    """Any JSON value (no NaN or Infinity), integers as wide as int64 and beyond."""
    kind = rng.randrange(8 if depth < 2 else 6)
    match kind:
        case 0:
            return None
        case 1:
            return rng.random() < 0.5
        case 2:
            return rng.choice([0, -1, 1, 2**31, 2**63, -(2**70), rng.randint(-1000, 1000)])
        case 3:
            return rng.choice([0.5, -1e308, 1e-9, rng.uniform(-1e6, 1e6)])
        case 4:
            return rng.choice(["", "x", "\u00e9\u4e2d\U0001f600", "<&>", _word(rng, 20), "\x00\n"])
        case 5:
            return rng.choice(["true", "1", "null", "{}", "1h", "docker.io/a/b:1"])
        case 6:
            return [junk(rng, depth + 1) for _ in range(rng.randint(0, 3))]
        case _:
            return {_word(rng, 4): junk(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def _spec(rng: random.Random) -> dict[str, Any]:
    count = 100 if rng.random() < MANY_FILTERS_CHANCE else rng.randint(0, 4)
    filters: list[dict[str, Any]] = []
    for _ in range(count):
        item: dict[str, Any] = {"image": rng.choice(IMAGES)}
        if rng.random() < 0.3:
            item["exclude"] = [rng.choice(["amdenterpriseai/aim-base", "x/*", "", "UPPER"])]
        if rng.random() < 0.3:
            item["versions"] = rng.sample(CONSTRAINTS, rng.randint(0, 2))
        filters.append(item)
    spec: dict[str, Any] = {"filters": filters}
    optional: dict[str, Any] = {
        "imagePullSecrets": [{"name": n} for n in rng.sample(SECRET_NAMES, 2)],
        "registry": rng.choice(["docker.io", "ghcr.io", "registry.test", "Bad Host"]),
        "versions": rng.sample(CONSTRAINTS, rng.randint(0, 3)),
        "syncInterval": rng.choice(["1h", "0", "-5m", "99999h", "soon"]),
        "maxModels": rng.choice([0, 1, 100, 10_000, 10_001, -1, 2**63]),
        "configName": rng.choice(["default", "production", "Not A Name"]),
    }
    spec.update({key: value for key, value in optional.items() if rng.random() < 0.5})
    return spec


def _odd(child: dict[str, Any], shape: str, rng: random.Random) -> dict[str, Any]:
    """A child broken in one of the ways an object can be (none reaches us from a real API)."""
    metadata = child["metadata"]
    match shape:
        case "no-metadata":
            del child["metadata"]
        case "metadata-not-object":
            child["metadata"] = rng.choice([None, "x", 7, []])
        case "name-mismatch":
            metadata["name"] = _word(rng)
        case "no-spec":
            del child["spec"]
        case "labels-not-strings":
            metadata["labels"] = {"a": 1, "b": None, "c": ["x"]}
        case "foreign-controller":
            metadata["labels"]["controller-uid"] = "someone-else"
        case "annotations-junk":
            metadata["annotations"] = rng.choice([None, "x", {"k": {"nested": True}}])
        case "with-status":
            child["status"] = {"status": "Ready"}
        case _:
            child = {"metadata": {"name": metadata["name"]}}
    return child


def _children(rng: random.Random) -> dict[str, Any]:
    draw = rng.random()
    count = 10_000 if draw < MANY_CHILDREN_CHANCE else 300 if draw < SOME_CHILDREN_CHANCE else 0
    count = count or rng.randint(0, 6)
    template = _observed_model()
    children: dict[str, Any] = {}
    for n in range(count):
        child = json.loads(template)
        name = f"m-{n:05d}-{_word(rng, 6)}"
        child["metadata"]["name"] = name
        child["metadata"]["annotations"]["aim.eai.amd.com/source-tag"] = f"{n}.0.0"
        children[name] = child
    for index in range(rng.choice([0, 0, 0, 1, 2, 3])):
        shape = rng.choice(ODD_CHILDREN)
        name = f"odd-{index}-{shape}"
        child = json.loads(template)
        child["metadata"]["name"] = name
        children[name] = _odd(child, shape, rng)
    return children


def _pull_secret(rng: random.Random, planted: Planted, name: str) -> dict[str, Any]:
    made = planted.login_secret(name, "docker.io", "ghcr.io", "registry.test")
    data = made["data"]
    match rng.choice(SECRET_KINDS):
        case "not-base64":
            data[".dockerconfigjson"] = "%%% not base64 %%%"
        case "not-json":
            data[".dockerconfigjson"] = base64.b64encode(b'{"auths": {').decode()
        case "no-auths":
            data[".dockerconfigjson"] = base64.b64encode(b'{"other": 1}').decode()
        case "wrong-type":
            made["type"] = "Opaque"
        case "no-data":
            del made["data"]
        case "junk":
            made["data"] = junk(rng)
    return made


def _status(rng: random.Random) -> Any:
    earlier = {
        "status": "Ready",
        "discoveredModels": 3,
        "lastSyncTime": "2026-08-20T09:00:00Z",
        "scan": {"fingerprint": "x", "nextScanTime": "2026-08-20T09:30:00Z"},
        "conditions": [{"type": "Ready", "status": "True"}],
    }
    return rng.choice([None, earlier, junk(rng)])


def _walk(doc: Any, rng: random.Random) -> list[Any]:
    """A random path into `doc`, mostly into the parts the hook reads, mostly down to a leaf
    (the envelope, three levels deep, is broken now and then, not at every other case)."""
    path: list[Any] = []
    node = doc
    while (
        isinstance(node, dict | list)
        and node
        and (not path or rng.random() < (0.95 if len(path) < 3 else 0.8))
    ):
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not path and rng.random() < 0.9:
            keys = [k for k in keys if k in ("parent", "children", "related")] or keys
        key = rng.choice(keys)
        path.append(key)
        node = node[key]
    return path


def _retyped(value: Any, rng: random.Random) -> Any:
    """A value of another JSON type than `value`."""
    options: list[Any] = [None, True, 0, -1, 1.5, "", "x", [], [1], {}, {"k": "v"}]
    return rng.choice([o for o in options if type(o) is not type(value)])


def _mutate(doc: Any, kind: str, rng: random.Random) -> tuple[Any, tuple[Any, ...]]:
    """`doc` changed at one random place; and where."""
    path = _walk(doc, rng)
    if not path:
        return (junk(rng) if kind == "junk" else _retyped(doc, rng)), ()
    *parents, last = path
    container = doc
    for key in parents:
        container = container[key]
    if rng.random() < HUGE_CHANCE:
        container[last] = rng.choice(string.printable) * HUGE
    elif kind == "delete":
        del container[last]
    elif kind == "retype":
        container[last] = _retyped(container[last], rng)
    else:
        container[last] = junk(rng)
    return doc, tuple(path)


def _breaks_envelope(path: tuple[Any, ...]) -> bool:
    """Whether a change at `path` may break what the parser must refuse (a 400 then is fair)."""
    if not path or path[:3] in ENVELOPE:
        return True
    return path[0] in ("children", "related") and len(path) <= 3


def _observed(doc: Any) -> tuple[str, ...]:
    children = doc.get("children") if isinstance(doc, dict) else None
    group = children.get(MODEL_GROUP) if isinstance(children, dict) else None
    return tuple(group) if isinstance(group, dict) else ()


def hostile_request(rng: random.Random, planted: Planted, mutations: list[str]) -> HostileCase:
    """One hostile case from a seeded generator and the mutations to apply."""
    doc: Any = json.loads(_skeleton())
    parent = doc["parent"]
    parent["metadata"]["name"] = _word(rng)
    parent["spec"] = _spec(rng)
    status = _status(rng)
    if status is not None:
        parent["status"] = status
    groups: dict[str, Any] = {MODEL_GROUP: _children(rng)}
    for group in rng.sample(FOREIGN_GROUPS, rng.choice([0, 0, 1, 2])):
        groups[group] = {"x": {"apiVersion": "v1", "kind": group.split(".")[0]}}
    doc["children"] = groups
    secrets = [_pull_secret(rng, planted, n) for n in SECRET_NAMES[: rng.randint(0, 3)]]
    related: dict[str, Any] = {
        SECRET_GROUP: {f"kaiwo-system/{s['metadata']['name']}": s for s in secrets},
        CONFIG_GROUP: {},
    }
    if rng.random() < 0.5:
        related[CONFIG_GROUP]["default"] = config("default", junk(rng))
    doc["related"] = related
    broken = False
    for kind in mutations:
        doc, path = _mutate(doc, kind, rng)
        broken = broken or _breaks_envelope(path)
    return HostileCase(doc, _observed(doc), broken)


def hostile_cases(planted: Planted) -> st.SearchStrategy[HostileCase]:
    """Hostile sync requests whose pull secrets hold `planted` credentials."""
    # Hypothesis repeats a seed with other mutation lists: both seed the generator, so that a
    # repeated seed is not a repeated case (nor a repeated 10,000-children case).
    return st.builds(
        lambda seed, mutations: hostile_request(
            random.Random(f"{seed}:{mutations}"), planted, mutations
        ),
        st.integers(0, 2**64 - 1),
        st.lists(st.sampled_from(MUTATIONS), max_size=3),
    )
