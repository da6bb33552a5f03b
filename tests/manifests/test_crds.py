"""The CRDs in crds/: structural, documented, defaulted, and strict about what they accept."""

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.manifests import crdschema
from tests.manifests.conftest import kustomization_resources

GROUP = "aim.silogen.ai"
KINDS = {
    "AIMClusterModelSource": ("aimclustermodelsources", "aimclsrc"),
    "AIMClusterModel": ("aimclustermodels", "aimclmdl"),
    "AIMClusterConfig": ("aimclusterconfigs", "aimccfg"),
    "AIMModelSource": ("aimmodelsources", "aimsrc"),
    "AIMModel": ("aimmodels", "aimmdl"),
    "AIMNamespaceConfig": ("aimnamespaceconfigs", "aimnscfg"),
}
# Each namespaced kind and its cluster-scoped twin (docs/decisions.md §8).
TWINS = {
    "AIMModelSource": "AIMClusterModelSource",
    "AIMModel": "AIMClusterModel",
    "AIMNamespaceConfig": "AIMClusterConfig",
}
# Free-form on purpose: their shape belongs to the AIM operator (and corev1).
FREE_FORM = {
    "AIMClusterModel": {".spec.defaultServiceTemplate", ".spec.resources"},
    "AIMModel": {".spec.defaultServiceTemplate", ".spec.resources"},
}
PRINTER_COLUMNS = {
    "AIMClusterModelSource": [
        ("STATUS", "string", ".status.status"),
        ("MODELS", "integer", ".status.discoveredModels"),
        ("LASTSYNC", "string", ".status.lastSyncTime"),
        ("AGE", "date", ".metadata.creationTimestamp"),
    ],
    "AIMClusterModel": [
        ("STATUS", "string", ".status.status"),
        ("IMAGE", "string", ".spec.image"),
        ("AGE", "date", ".metadata.creationTimestamp"),
    ],
    "AIMClusterConfig": [
        ("STATUS", "string", ".status.status"),
        ("AGE", "date", ".metadata.creationTimestamp"),
    ],
}
PRINTER_COLUMNS.update({kind: PRINTER_COLUMNS[twin] for kind, twin in TWINS.items()})

VALID_SOURCE: dict[str, Any] = {
    "apiVersion": f"{GROUP}/v1alpha1",
    "kind": "AIMClusterModelSource",
    "metadata": {"name": "silogen-models"},
    "spec": {"filters": [{"image": "amdenterpriseai/aim-*"}]},
}
TIME = "2025-01-15T10:30:00Z"


def condition(type_: str, status: str, reason: str, message: str = "") -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "observedGeneration": 3,
        "lastTransitionTime": TIME,
        "reason": reason,
        "message": message,
    }


def source_with(spec: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    """The valid source with its spec fields replaced (None deletes one) and top-level additions."""
    source = {**VALID_SOURCE, "spec": dict(VALID_SOURCE["spec"]), **top}
    for name, value in (spec or {}).items():
        if value is None:
            del source["spec"][name]
        else:
            source["spec"][name] = value
    return source


def all_nodes(crd: dict[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    return list(crdschema.iter_nodes(crdschema.openapi_schema(crd)))


def test_kustomization_installs_one_file_per_crd(project: Path) -> None:
    files = kustomization_resources(project / "crds")
    assert all(path.is_file() for path in files), files
    for path in files:
        (crd,) = crdschema.load_file(path)
        assert crd["kind"] == "CustomResourceDefinition"
        assert path.name == f"{crd['spec']['names']['plural']}.yaml"
    assert len(files) == len(KINDS)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_crd_is_v1alpha1_in_its_scope_with_status_subresource(
    crds: dict[str, dict[str, Any]], kind: str
) -> None:
    crd = crds[kind]
    plural, short_name = KINDS[kind]
    names = crd["spec"]["names"]
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["metadata"]["name"] == f"{plural}.{GROUP}"
    assert crd["spec"]["group"] == GROUP
    assert crd["spec"]["scope"] == ("Namespaced" if kind in TWINS else "Cluster")
    assert (names["plural"], names["singular"], names["listKind"]) == (
        plural,
        kind.lower(),
        f"{kind}List",
    )
    assert names["shortNames"] == [short_name]
    assert names["categories"] == ["aim", "all"]
    (version,) = crd["spec"]["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    # Metacontroller ignores a parent without it; the status is written through it.
    assert version["subresources"] == {"status": {}}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_schema_node_is_typed_and_described(
    crds: dict[str, dict[str, Any]], kind: str
) -> None:
    untyped = [path for path, node in all_nodes(crds[kind]) if not node.get("type")]
    # The root metadata is the one node that may not carry a description.
    undescribed = [
        path
        for path, node in all_nodes(crds[kind])
        if path != ".metadata" and len(node.get("description", "")) < 10
    ]
    assert untyped == []
    assert undescribed == []


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_unknown_fields_are_kept_only_where_the_shape_is_free_form(
    crds: dict[str, dict[str, Any]], kind: str
) -> None:
    preserved = {
        path for path, node in all_nodes(crds[kind]) if node.get(crdschema.PRESERVE_UNKNOWN)
    }
    assert preserved == FREE_FORM.get(kind, set())
    for path, node in all_nodes(crds[kind]):
        if path in preserved:
            assert node["type"] == "object" and "properties" not in node, path


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_schema_obeys_the_structural_rules_of_the_api_server(
    crds: dict[str, dict[str, Any]], kind: str
) -> None:
    schema = crdschema.openapi_schema(crds[kind])
    # The root metadata may restrict name and generateName only; anything else, a description
    # included, makes the API server reject the CRD.
    assert schema["properties"]["metadata"] == {"type": "object"}
    for path, node in all_nodes(crds[kind]):
        assert not ("properties" in node and "additionalProperties" in node), path
        assert set(node.get("required", [])) <= set(node.get("properties", {})), path
        if node.get("x-kubernetes-list-type") == "map":
            keys = node["x-kubernetes-list-map-keys"]
            assert set(keys) <= set(node["items"].get("required", [])), path
        if "pattern" in node:
            re.compile(node["pattern"])
        if "default" in node:
            # The API server rejects a CRD whose defaults do not validate against their field.
            assert crdschema.errors(crdschema.validator(node), node["default"]) == [], path


def test_condition_schemas_are_one_and_the_same(crds: dict[str, dict[str, Any]]) -> None:
    """The metav1.Condition schema is written out in each CRD; a drift would go unnoticed."""
    schemas = [
        crdschema.node_at(crdschema.openapi_schema(crd), ".status.conditions")
        for crd in crds.values()
    ]
    items = [schema["items"] if schema else None for schema in schemas]
    assert items[0] is not None
    assert all(item == items[0] for item in items)
    assert items[0]["required"] == ["type", "status", "lastTransitionTime", "reason", "message"]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_printer_columns_show_what_the_docs_show(
    crds: dict[str, dict[str, Any]], kind: str
) -> None:
    (version,) = crds[kind]["spec"]["versions"]
    columns = version["additionalPrinterColumns"]
    # kubectl prints column names upper-cased.
    assert [(c["name"].upper(), c["type"], c["jsonPath"]) for c in columns] == PRINTER_COLUMNS[kind]
    schema = crdschema.openapi_schema(crds[kind])
    for column in columns:
        if column["jsonPath"].startswith(".metadata."):
            continue
        node = crdschema.node_at(schema, column["jsonPath"])
        assert node is not None, column
        assert node["type"] == column["type"], column


def test_source_defaults_fill_registry_interval_and_limit(
    crds: dict[str, dict[str, Any]],
) -> None:
    schema = crdschema.openapi_schema(crds["AIMClusterModelSource"])
    defaulted = crdschema.apply_defaults(schema, VALID_SOURCE)
    assert defaulted["spec"] == {
        "registry": "docker.io",
        "filters": [{"image": "amdenterpriseai/aim-*"}],
        "syncInterval": "1h",
        "maxModels": 100,
    }
    assert crdschema.errors(crdschema.validator(schema), defaulted) == []


def test_source_defaults_never_override_what_the_user_wrote(
    crds: dict[str, dict[str, Any]],
) -> None:
    schema = crdschema.openapi_schema(crds["AIMClusterModelSource"])
    written = {"registry": "ghcr.io", "syncInterval": "30m", "maxModels": 5}
    defaulted = crdschema.apply_defaults(schema, source_with(written))
    assert {name: defaulted["spec"][name] for name in written} == written


def test_config_routing_creates_routes_unless_told_otherwise(
    crds: dict[str, dict[str, Any]],
) -> None:
    schema = crdschema.openapi_schema(crds["AIMClusterConfig"])
    config = {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "AIMClusterConfig",
        "metadata": {"name": "default"},
        "spec": {"routing": {"gateway": {"name": "kaiwo-gateway"}}},
    }
    defaulted = crdschema.apply_defaults(schema, config)
    assert defaulted["spec"]["routing"] == {
        "autoCreateRoute": True,
        "gateway": {
            "name": "kaiwo-gateway",
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
        },
    }
    off = {**config, "spec": {"routing": {"autoCreateRoute": False}}}
    assert crdschema.apply_defaults(schema, off)["spec"]["routing"] == {"autoCreateRoute": False}
    # Nothing is defaulted inside a parent the user left out, as on the API server.
    assert crdschema.apply_defaults(schema, {**config, "spec": {}})["spec"] == {}


@pytest.mark.parametrize(
    "spec",
    [
        {"maxModels": 1},
        {"maxModels": 10000},
        {"syncInterval": "15m"},
        {"syncInterval": "2h30m"},
        {"syncInterval": "1.5h"},
        {"syncInterval": "500ms"},
        {"filters": [{"image": "a" * 512}]},
        {"filters": [{"image": "x/y"}] * 100},
        {"registry": "127.0.0.1:5000", "imagePullSecrets": [{"name": "ghcr-secret"}]},
        {"configName": "production", "versions": [">=1.0.0", "<2.0.0"]},
        {"filters": [{"image": "silogen/aim-*", "exclude": ["silogen/aim-base"], "versions": []}]},
    ],
)
def test_source_accepts_values_at_the_edges_of_the_rules(
    crds: dict[str, dict[str, Any]], spec: dict[str, Any]
) -> None:
    check = crdschema.crd_validator(crds["AIMClusterModelSource"])
    assert crdschema.errors(check, source_with(spec)) == []


INVALID_SOURCES = [
    ("no spec", {k: v for k, v in VALID_SOURCE.items() if k != "spec"}, "'spec' is a required"),
    ("no filters", source_with({"filters": None}), "'filters' is a required property"),
    ("empty filters", source_with({"filters": []}), "should be non-empty"),
    ("101 filters", source_with({"filters": [{"image": "x/y"}] * 101}), "is too long"),
    ("maxModels 0", source_with({"maxModels": 0}), "less than the minimum of 1"),
    ("maxModels 10001", source_with({"maxModels": 10001}), "greater than the maximum"),
    ("maxModels as text", source_with({"maxModels": "100"}), "is not of type 'integer'"),
    ("interval in words", source_with({"syncInterval": "1 hour"}), "does not match"),
    ("interval in days", source_with({"syncInterval": "1d"}), "does not match"),
    ("filter without image", source_with({"filters": [{"exclude": ["a/b"]}]}), "'image'"),
    ("empty image", source_with({"filters": [{"image": ""}]}), "should be non-empty"),
    ("image over 512", source_with({"filters": [{"image": "a" * 513}]}), "is too long"),
    ("versions as text", source_with({"versions": ">=1.0.0"}), "is not of type 'array'"),
    ("secret as a string", source_with({"imagePullSecrets": ["s"]}), "is not of type"),
    ("misspelt field", source_with({"syncinterval": "1h"}), "'syncinterval' was unexpected"),
    ("status not in enum", source_with(status={"status": "Running"}), "is not one of"),
    (
        "condition without reason",
        source_with(
            status={
                "conditions": [
                    {k: v for k, v in condition("Ready", "True", "X").items() if k != "reason"}
                ]
            }
        ),
        "'reason' is a required property",
    ),
    (
        "condition status lower-case",
        source_with(status={"conditions": [condition("Ready", "true", "AllFiltersSucceeded")]}),
        "is not one of",
    ),
    ("time without zone", source_with(status={"lastSyncTime": "2025-01-15T10:30:00"}), "date"),
    (
        "duplicate condition type",
        source_with(status={"conditions": [condition("Ready", "True", "A")] * 2}),
        "duplicate entry for type='Ready'",
    ),
    ("negative count", source_with(status={"discoveredModels": -1}), "less than the minimum"),
    ("unknown scan field", source_with(status={"scan": {"cursor": "x"}}), "was unexpected"),
]


@pytest.mark.parametrize(
    ("case", "source", "error"), INVALID_SOURCES, ids=[case for case, _, _ in INVALID_SOURCES]
)
def test_source_rejects_invalid_objects(
    crds: dict[str, dict[str, Any]], case: str, source: dict[str, Any], error: str
) -> None:
    check = crdschema.crd_validator(crds["AIMClusterModelSource"])
    found = crdschema.errors(check, source)
    assert any(error in message for message in found), (case, found)


def test_source_status_the_hook_writes_is_accepted(crds: dict[str, dict[str, Any]]) -> None:
    """A full status, bookkeeping included, as docs/decisions.md §5 and §6 describe it."""
    status = {
        "status": "Progressing",
        "discoveredModels": 100,
        "availableModels": 250,
        "modelsLimitReached": True,
        "lastSyncTime": TIME,
        "observedGeneration": 3,
        "conditions": [
            condition("Ready", "False", "SomeFiltersHadErrors", 'filter "x/*": unauthorized'),
            condition("Degraded", "True", "SomeFiltersHadErrors"),
            condition("MaxModelsLimitReached", "True", "LimitReached"),
            condition("ConfigResolved", "False", "DefaultConfigNotFound"),
        ],
        "scan": {
            "fingerprint": "sha256:0f3a",
            "lastAttemptTime": TIME,
            "failureCount": 2,
            "nextScanTime": "2025-01-15T11:30:00+00:00",
            "progress": {
                "startedTime": TIME,
                "fingerprint": "sha256:0f3a",
                "filters": [
                    {"index": 0, "done": True, "available": 200},
                    {"index": 1, "done": False, "resumeAfter": "silogen/aim-m", "available": 50},
                    {"index": 2, "done": True, "error": "unauthorized: authentication required"},
                ],
                "available": 250,
                "notCreated": 150,
            },
        },
    }
    check = crdschema.crd_validator(crds["AIMClusterModelSource"])
    assert crdschema.errors(check, source_with(status=status)) == []


def test_model_accepts_what_the_hook_creates_and_what_older_controllers_left(
    crds: dict[str, dict[str, Any]],
) -> None:
    model = {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "AIMClusterModel",
        "metadata": {"name": "amdenterpriseai-aim-llama3-1.0.0-7cfae0"},
        "spec": {
            "image": "amdenterpriseai/aim-llama3:1.0.0",
            "name": "meta/llama-3-8b:1.0.0",
            "imagePullSecrets": [{"name": "dockerhub-pull-secret"}],
            "configName": "production",
            "discovery": {"enabled": True, "autoCreateTemplates": True},
            "defaultServiceTemplate": {"anything": {"the": ["operator", "decides"]}},
            "serviceAccountName": "aim",
            "resources": {"limits": {"amd.com/gpu": 1}, "requests": {"memory": "64Gi"}},
        },
        "status": {"status": "Ready", "conditions": [condition("Ready", "True", "Ready")]},
    }
    check = crdschema.crd_validator(crds["AIMClusterModel"])
    assert crdschema.errors(check, model) == []
    assert crdschema.errors(check, {**model, "spec": {"name": "no image"}}) != []


@pytest.mark.parametrize(
    ("spec", "status", "error"),
    [
        ({"routing": {"gateway": {"namespace": "kaiwo-system"}}}, {}, "'name' is a required"),
        ({"routing": {"gateway": {"name": "gw", "port": 0}}}, {}, "less than the minimum"),
        ({"routing": {"gateway": {"name": "gw", "port": 65536}}}, {}, "greater than the maximum"),
        ({"routing": {"gateway": {"name": "gw", "namespace": "Kaiwo"}}}, {}, "does not match"),
        ({"caching": {"storageClass": "fast-ssd"}}, {}, "'storageClass' was unexpected"),
        ({"imagePullSecrets": [{}]}, {}, "'name' is a required"),
        ({}, {"status": "Failed"}, "is not one of"),
    ],
)
def test_config_rejects_invalid_objects(
    crds: dict[str, dict[str, Any]], spec: dict[str, Any], status: dict[str, Any], error: str
) -> None:
    config = {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "AIMClusterConfig",
        "metadata": {"name": "default"},
        "spec": spec,
        "status": status,
    }
    found = crdschema.errors(crdschema.crd_validator(crds["AIMClusterConfig"]), config)
    assert any(error in message for message in found), found


def _without_descriptions(node: object) -> object:
    """A schema with its documentation removed: what the API server validates and stores."""
    if isinstance(node, dict):
        return {k: _without_descriptions(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [_without_descriptions(item) for item in node]
    return node


@pytest.mark.parametrize("kind", sorted(TWINS))
def test_namespaced_kind_has_exactly_the_schema_of_its_cluster_twin(
    crds: dict[str, dict[str, Any]], kind: str
) -> None:
    """Same spec and status (docs/decisions.md §8); only the documentation may differ."""
    schema = crdschema.openapi_schema(crds[kind])
    twin = crdschema.openapi_schema(crds[TWINS[kind]])
    assert _without_descriptions(schema) == _without_descriptions(twin)
    (version,) = crds[kind]["spec"]["versions"]
    (twin_version,) = crds[TWINS[kind]]["spec"]["versions"]
    assert version["additionalPrinterColumns"] == [
        {**column, "description": column["description"].replace("AIMClusterModels", "AIMModels")}
        for column in twin_version["additionalPrinterColumns"]
    ]


@pytest.mark.parametrize("kind", sorted(TWINS))
def test_namespaced_kind_never_sends_a_reader_to_the_operator_namespace(
    crds: dict[str, dict[str, Any]], kind: str
) -> None:
    """Its Secrets live in its own namespace: no description may say otherwise."""
    words = [
        word for _, node in all_nodes(crds[kind]) for word in node.get("description", "").split()
    ]
    text = " ".join(words)
    assert "operator namespace" not in text
    assert "kaiwo-system" not in text


def test_namespaced_source_accepts_what_a_team_writes(crds: dict[str, dict[str, Any]]) -> None:
    source = {
        **source_with({"imagePullSecrets": [{"name": "team-registry"}], "configName": "team"}),
        "kind": "AIMModelSource",
        "metadata": {"name": "team-models", "namespace": "team-a"},
    }
    check = crdschema.crd_validator(crds["AIMModelSource"])
    assert crdschema.errors(check, source) == []
    assert crdschema.errors(check, {**source, "spec": {"filters": []}}) != []
