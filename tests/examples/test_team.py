"""examples/team/: the walkthrough of a team that runs its own catalog (docs/decisions.md §8).

The admin's part grants rights in the team's namespace only and caps its models with a quota;
the team's part keeps every object, and every Secret its source and config name, in that
namespace.
"""

import re
from typing import Any

from hooks.objects import pull_secret_names
from tests.cli.runner import ROOT
from tests.manifests import crdschema

TEAM = ROOT / "examples" / "team"
NAMESPACE = "team-a"
QUOTA_KEY = "count/aimmodels.aim.silogen.ai"


def by_kind(name: str) -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in crdschema.load_file(TEAM / name)}


def test_admin_creates_the_namespace_and_grants_rights_in_it_only() -> None:
    admin = by_kind("admin.yaml")
    assert sorted(admin) == ["Namespace", "ResourceQuota", "Role", "RoleBinding"]
    assert admin["Namespace"]["metadata"]["name"] == NAMESPACE
    for kind in ("ResourceQuota", "Role", "RoleBinding"):
        assert admin[kind]["metadata"]["namespace"] == NAMESPACE, kind

    rules = admin["Role"]["rules"]
    granted = {
        (resource, verb)
        for rule in rules
        for resource in rule["resources"]
        for verb in rule["verbs"]
        if rule["apiGroups"] == ["aim.silogen.ai"]
    }
    manage = {"get", "list", "watch", "create", "update", "patch", "delete"}
    for resource in ("aimmodelsources", "aimnamespaceconfigs"):
        assert {verb for r, verb in granted if r == resource} == manage
    # Models only ever come from sources; the status is the hooks' to write.
    assert {verb for r, verb in granted if r == "aimmodels"} == {"get", "list", "watch"}
    assert all("/" not in resource for resource, _ in granted)
    assert all(rule["apiGroups"] == ["aim.silogen.ai"] for rule in rules)

    binding = admin["RoleBinding"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": admin["Role"]["metadata"]["name"],
    }


def test_quota_counts_the_models_of_the_namespace() -> None:
    hard = by_kind("admin.yaml")["ResourceQuota"]["spec"]["hard"]
    assert list(hard) == [QUOTA_KEY]
    assert int(hard[QUOTA_KEY]) >= by_kind("catalog.yaml")["AIMModelSource"]["spec"]["maxModels"]


def test_the_team_s_objects_and_their_secrets_stay_in_its_namespace() -> None:
    catalog = by_kind("catalog.yaml")
    assert sorted(catalog) == ["AIMModelSource", "AIMNamespaceConfig"]
    (secret,) = crdschema.load_file(TEAM / "secret.yaml")
    assert {doc["metadata"]["namespace"] for doc in [*catalog.values(), secret]} == {NAMESPACE}
    secrets = {secret["metadata"]["name"]}
    for kind in ("AIMModelSource", "AIMNamespaceConfig"):
        assert set(pull_secret_names(catalog[kind]["spec"])) == secrets, kind
    # The source names no config: it resolves the namespace's `default`.
    assert "configName" not in catalog["AIMModelSource"]["spec"]
    assert catalog["AIMNamespaceConfig"]["metadata"]["name"] == "default"


def test_the_readme_shows_the_role_and_quota_of_the_example() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Teams: namespaced sources", 1)[1].split("\n## ", 1)[0]
    shown = [
        doc
        for block in re.findall(r"```yaml\n(.*?)```", section, re.S)
        for doc in crdschema.load_documents(block)
    ]
    admin = by_kind("admin.yaml")
    assert {doc["kind"]: doc for doc in shown} == {
        "Role": admin["Role"],
        "ResourceQuota": admin["ResourceQuota"],
    }
