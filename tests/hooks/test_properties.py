"""Whatever arrives and whatever the registry does, the hook answers 200, 400 or 401, and a 200
never drops a child.

Hypothesis generates sync requests (specs with wrong types anywhere, up to a few hundred existing
children including odd shapes, related pull secrets including broken base64 and JSON, earlier
statuses) and registry faults (a fault proxy answering with error statuses, dropping or
resetting connections, or sending garbage). Metacontroller deletes every child an answer leaves
out, so "0 dropped" is checked on every 200, with the status valid for the CRD. Bounded to a
short scan deadline so that the whole run stays well under a minute.
"""

import base64
import json
import random
import string
from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hooks.settings import Settings
from tests.hooks.conftest import HookEnv
from tests.hooks.emulator import (
    SYNC_SCHEMA,
    HookClient,
    floats_in,
    response_schema,
    status_validator,
)
from tests.hooks.endpoints import EveryHost
from tests.hooks.expected import models
from tests.hooks.wire import (
    MODEL_GROUP,
    NAMESPACE,
    SECRET_GROUP,
    STORAGE_CLASS_GROUP,
    config,
    config_sync_request,
    dockerconfigjson,
    login,
    observed_child,
    related,
    secret,
    source,
    source_related,
    storage_class,
    sync_request,
)
from tests.manifests import crdschema

TOKEN = "property-token"


json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)  # JSON has neither
    | st.text(max_size=12)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)

IMAGES = [
    "amdenterpriseai/aim-*",
    "amdenterpriseai/aim-llama3",
    "amdenterpriseai/aim-llama3:1.0.0",
    "silogen/aim-llama:0.9.*",
    "ghcr.io/silogen/aim-*",
    "ghcr.io/silogen/aim-mistral",
    "registry.test/models/*",
    "localhost:5000/a/b",
    "org/very-broad-pattern-*",
    "library/hello",
    "hello",
    "*",
    "a/*/b:*",
    "silogen/aim-llama@sha256:" + "0" * 64,
    "UPPER/case",
    "bad::ref",
    "",
]
# Mostly references that resolve, sometimes any text in the reference alphabet.
image = st.one_of(
    *[st.sampled_from(IMAGES)] * 4,
    st.text(alphabet=string.ascii_lowercase + "/*:.-@0123456789", max_size=30),
)
constraint_list = st.lists(
    st.sampled_from(
        [">=1.0.0", "<2.0.0", "^1.0.0", "~0.9", "1.x", "*", ">=0.8.1-rc1", "bogus", ""]
    ),
    max_size=3,
)
SECRET_NAMES = ["creds", "ghcr-secret", "hub", "private-registry-creds"]


filter_spec = st.fixed_dictionaries(
    {"image": image},
    optional={
        "exclude": st.lists(
            st.sampled_from(["amdenterpriseai/aim-base", "silogen/*", "x", "UPPER", ""]), max_size=2
        ),
        "versions": constraint_list,
    },
)
SPEC_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "registry": st.sampled_from(["docker.io", "ghcr.io", "registry.test", "quay.io"]),
    "versions": constraint_list,
    "syncInterval": st.sampled_from(["1h", "30m", "2h30m", "0", "-1h", "1d", "1.5h"]),
    "maxModels": st.integers(-2, 10_002),
    "imagePullSecrets": st.lists(
        st.fixed_dictionaries({"name": st.sampled_from(SECRET_NAMES)}), max_size=3
    ),
    "configName": st.sampled_from(["default", "production", "Not A Name"]),
}
valid_spec = st.fixed_dictionaries(
    {"filters": st.lists(filter_spec, min_size=1, max_size=4)}, optional=SPEC_FIELDS
)


@st.composite
def wrong_spec(draw: st.DrawFn) -> Any:
    """A spec with a value of any type at one place: a field, a filter or a filter's field."""
    spec: dict[str, Any] = draw(valid_spec)
    place = draw(st.sampled_from(["filters", "filter", "filter-field", *SPEC_FIELDS]))
    junk = draw(json_value)
    if place == "filter":
        spec["filters"][0] = junk
    elif place == "filter-field":
        spec["filters"][0][draw(st.sampled_from(["image", "exclude", "versions"]))] = junk
    else:
        spec[place] = junk
    return spec


# Mostly specs that scan, so that registry faults are met often.
SPEC_KINDS = {"valid": valid_spec, "wrong": wrong_spec(), "junk": json_value}
source_spec = st.sampled_from(["valid"] * 6 + ["wrong", "junk"]).flatmap(SPEC_KINDS.__getitem__)


@st.composite
def pull_secret(draw: st.DrawFn) -> dict[str, Any]:
    """A Secret from the operator namespace: valid, or broken in one of the ways secrets break."""
    name = draw(st.sampled_from(SECRET_NAMES))
    content = draw(
        st.sampled_from(["valid", "not-base64", "not-json", "no-auths", "odd-entry", "random"])
    )
    value: Any
    match content:
        case "valid":
            value = dockerconfigjson(
                login(draw(st.sampled_from(["docker.io", "ghcr.io"])), "u", "p")
            )
        case "not-base64":
            value = "%%%"
        case "not-json":
            value = base64.b64encode(b"{not json").decode()
        case "no-auths":
            value = base64.b64encode(b'{"other": {}}').decode()
        case "odd-entry":
            value = base64.b64encode(json.dumps({"auths": draw(json_value)}).encode()).decode()
        case _:
            value = draw(json_value)
    kind = draw(
        st.sampled_from(["kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg", "Opaque"])
    )
    made = secret(name, data={".dockerconfigjson": value}, type=kind)
    if draw(st.booleans()):
        made["data"] = draw(json_value)
    return made


ODD_SHAPES = [
    "no-spec",
    "no-labels",
    "foreign-annotations",
    "docker-alias",
    "with-status",
    "no-metadata-name",
    "bare",
]


@st.composite
def existing_children(draw: st.DrawFn, parent: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Observed children: up to a few hundred regular ones and a few of odd shapes."""
    count = draw(st.integers(0, 300))
    rng = random.Random(draw(st.integers(0, 2**32)))
    images = [
        (
            rng.choice(["docker.io", "ghcr.io"]),
            rng.choice(["amdenterpriseai/aim-llama3", "silogen/aim-llama", "x/y"]),
            f"{n}.{rng.randint(0, 9)}.0",
        )
        for n in range(count)
    ]
    children = {
        child["metadata"]["name"]: observed_child(child, parent, serial)
        for serial, child in enumerate(models(parent["metadata"]["name"], images), 1)
    }
    for index, shape in enumerate(draw(st.lists(st.sampled_from(ODD_SHAPES), max_size=4))):
        name = f"odd-{index}-{shape}"
        child = observed_child(
            models("other", [("docker.io", "amdenterpriseai/aim-llama3", "1.0.0")])[0], parent, 9000
        )
        child["metadata"]["name"] = name
        metadata = child["metadata"]
        match shape:
            case "no-spec":
                del child["spec"]
            case "no-labels":
                del metadata["labels"]
            case "foreign-annotations":
                metadata["annotations"] = {"example.com/note": "kept"}
            case "docker-alias":
                metadata["annotations"]["aim.eai.amd.com/source-registry"] = "index.docker.io"
            case "with-status":
                child["status"] = {"status": "Ready", "conditions": []}
            case "no-metadata-name":
                del metadata["name"]
            case _:
                child = {
                    "apiVersion": child["apiVersion"],
                    "kind": child["kind"],
                    "metadata": {"name": name},
                }
        children[name] = child
    return children


status_strategy = st.one_of(
    st.none(),
    st.just({}),
    st.fixed_dictionaries(
        {"status": st.sampled_from(["Pending", "Progressing", "Ready", "Degraded", "Failed"])},
        optional={
            "discoveredModels": st.integers(0, 500),
            "availableModels": st.integers(0, 500),
            "modelsLimitReached": st.booleans(),
            "lastSyncTime": st.just("2026-08-20T09:00:00Z"),
            "observedGeneration": st.integers(0, 3),
            "scan": st.fixed_dictionaries(
                {},
                optional={
                    "fingerprint": st.sampled_from(["0123456789abcdef", ""]),
                    "failureCount": st.integers(0, 40),
                    "nextScanTime": st.sampled_from(
                        ["2026-08-20T09:30:00Z", "2026-08-20T12:00:00Z"]
                    ),
                    "lastAttemptTime": st.just("2026-08-20T09:00:00Z"),
                    "progress": st.fixed_dictionaries(
                        {
                            "startedTime": st.just("2026-08-20T09:59:00Z"),
                            "fingerprint": st.just("0123456789abcdef"),
                            "filters": st.lists(
                                st.fixed_dictionaries(
                                    {"index": st.integers(0, 4), "done": st.booleans()},
                                    optional={
                                        "resumeAfter": st.sampled_from(["a/b", "models/aim-1"])
                                    },
                                ),
                                max_size=3,
                            ),
                        }
                    ),
                },
            ),
        },
    ),
)

fault_rule = st.fixed_dictionaries(
    {
        "match": st.sampled_from(["tags/list", "_catalog", "manifests", "/v2/"]),
        "action": st.sampled_from(["status", "drop", "reset", "garbage"]),
        "status": st.sampled_from([401, 403, 404, 429, 500, 502, 503]),
        "prob": st.floats(0.2, 1.0),
    },
    optional={"retry_after": st.sampled_from([0, 1, 3600])},
)


@st.composite
def sync_case(draw: st.DrawFn) -> dict[str, Any]:
    """A request, a fault plan, and the Authorization header to send (maybe wrong or absent)."""
    spec = draw(source_spec)
    parent = source("models", spec, status=draw(status_strategy))
    secrets = draw(st.lists(pull_secret(), max_size=3, unique_by=lambda s: s["metadata"]["name"]))
    configs = draw(st.lists(st.sampled_from(["default", "production"]), max_size=2, unique=True))
    related = source_related(spec, [*secrets, *(config(name, {}) for name in configs)])
    if draw(st.booleans()):
        related.setdefault(SECRET_GROUP, {})
    return {
        "request": sync_request(parent, draw(existing_children(parent)), related),
        "faults": draw(st.lists(fault_rule, min_size=draw(st.sampled_from([0, 1, 1])), max_size=3)),
        "authorization": draw(st.sampled_from([f"Bearer {TOKEN}"] * 8 + ["", "Bearer nope"])),
    }


def test_any_request_and_any_registry_fault_never_drops_a_child(hooks_env: HookEnv) -> None:
    hook = hooks_env.serve(
        Settings(
            registry=hooks_env.registry_settings(
                endpoints=EveryHost(hooks_env.proxy.url),
                insecure_registries=frozenset({hooks_env.github.host}),
                scan_deadline=0.25,
                request_timeout=0.25,
                concurrency=4,
            ),
            hook_token=TOKEN,
        )
    )
    answered: dict[int, int] = {}

    @settings(
        max_examples=200,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(sync_case())
    def check(case: dict[str, Any]) -> None:
        hooks_env.proxy.set_rules(case["faults"])
        headers = {"Authorization": case["authorization"]} if case["authorization"] else {}
        request = case["request"]
        response = hook.post("/sync/modelsource", request, headers)
        answered[response.status_code] = answered.get(response.status_code, 0) + 1
        assert response.status_code in (200, 400, 401), response.text
        if case["authorization"] != f"Bearer {TOKEN}":
            assert response.status_code == 401
            return
        assert response.status_code == 200, response.text
        reply = response.json()
        check_reply(request, reply)

    check()
    assert answered.get(200, 0) > 100


def check_reply(request: Mapping[str, Any], reply: Mapping[str, Any]) -> None:
    """0 dropped; a status the CRD accepts; the strict schema whenever the children allow it."""
    observed = request["children"][MODEL_GROUP]
    names = [(c.get("metadata") or {}).get("name") for c in reply["children"]]
    missing = sorted(set(observed) - set(names))
    assert not missing, f"children dropped: {missing}"
    assert len(names) == len(set(names))
    status = reply["status"]
    assert not floats_in(status)
    assert not crdschema.errors(status_validator("AIMClusterModelSource"), status)
    errors = [e.message for e in response_schema(SYNC_SCHEMA).iter_errors(reply)]
    assert not errors, errors


def test_customize_answers_every_parent(hook: HookClient) -> None:
    @settings(max_examples=100, deadline=None)
    @given(source_spec)
    def check(spec: Any) -> None:
        parent = source("models", spec)
        reply = hook.customize({"controller": {}, "parent": parent}, "/customize/modelsource")
        secrets = [r for r in reply["relatedResources"] if r["resource"] == "secrets"]
        assert all(r["namespace"] == NAMESPACE for r in secrets)

    check()


config_spec = st.one_of(
    json_value,
    st.fixed_dictionaries(
        {},
        optional={
            "imagePullSecrets": st.lists(
                st.fixed_dictionaries({"name": st.sampled_from(SECRET_NAMES) | st.text(min_size=1)})
                | json_value,
                max_size=4,
            )
            | json_value,
            "caching": st.fixed_dictionaries(
                {},
                optional={"storageClassName": st.sampled_from(["standard", "fast"]) | json_value},
            )
            | json_value,
        },
    ),
)


def test_any_config_sync_is_answered_with_a_status_the_crd_accepts(hook: HookClient) -> None:
    @settings(max_examples=150, deadline=None)
    @given(config_spec, st.lists(pull_secret(), max_size=3), st.booleans())
    def check(spec: Any, secrets: list[dict[str, Any]], with_storage: bool) -> None:
        objects = [*secrets, *([storage_class("standard")] if with_storage else [])]
        request = config_sync_request(
            config("default", spec), related([SECRET_GROUP, STORAGE_CLASS_GROUP], objects)
        )
        reply = hook.sync_config(request)
        assert reply["status"]["status"] in ("Ready", "Degraded")

    check()
