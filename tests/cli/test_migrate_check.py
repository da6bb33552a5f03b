"""`python -m hooks migrate-check`: the models the Go controller made, which Metacontroller
neither adopts nor releases, found and fixed by the one command it prints.

The cluster is modelled from the hook's own answer (the models a source would create) and
Metacontroller's claim rule (v4.17.2 `claimChildren`, with `generateSelector`): a model whose
controller ownerReference is the source and whose `controller-uid` label matches is kept; one
with no controller ownerReference and the matching label is adopted; nothing else reaches a
sync request. The Go controller's models have a plain ownerReference and no label.
"""

import copy
import json
import shlex
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hooks.__main__ import main
from hooks.metacontroller import parse_sync_request
from hooks.migration import (
    EXIT_NEEDS_FIX,
    EXIT_OK,
    EXIT_USAGE,
    FOREIGN_LABEL,
    NOT_ADOPTED,
    OTHER_CONTROLLER,
    RELEASED,
    SOURCE_MISSING,
)
from hooks.modelsource.controller import sync_source
from hooks.reference import ImageRef
from hooks.registry.credentials import Keychain
from hooks.registry.targets import ScanTarget, TargetResult
from tests.hooks.wire import (
    SOURCE_UID,
    observed_child,
    source,
    source_related,
    sync_request,
)

NOW = datetime(2026, 8, 20, 10, 0, tzinfo=UTC)
REGISTRY = "registry.example"
SPEC = {"registry": REGISTRY, "filters": [{"image": "models/llama"}]}
TAGS = ("1.0.0", "1.1.0", "2.0.0", "2.1.0", "3.0.0")
Object = dict[str, Any]


def scan(targets: Sequence[ScanTarget], _: Keychain) -> list[TargetResult]:
    images = tuple(ImageRef(REGISTRY, "models/llama", tag) for tag in TAGS)
    return [TargetResult(t.key, images=images) for t in targets]


def sync(parent: Object, children: dict[str, Object]) -> tuple[list[str], int]:
    """The hook's answer to a sync with these children: the names it answers, how many new."""
    request = parse_sync_request(sync_request(parent, children, source_related(SPEC)))
    result = sync_source(request, scan=scan, now=NOW, operator_namespace="kaiwo-system")
    return [c["metadata"]["name"] for c in result.response.children], result.created


def go_model(desired: Object, parent: Object, serial: int) -> Object:
    """A model as the Go controller left it: a plain ownerReference to its source, no
    controller-uid label, no Metacontroller bookkeeping."""
    model = observed_child(desired, parent, serial)
    metadata = model["metadata"]
    del metadata["labels"]["controller-uid"]
    del metadata["annotations"]["metacontroller.k8s.io/last-applied-configuration"]
    metadata["ownerReferences"][0]["controller"] = False
    metadata["ownerReferences"][0].pop("blockOwnerDeletion")
    return model


def claimed(models: Sequence[Object], parent: Object) -> dict[str, Object]:
    """The children Metacontroller sends for `parent` (contract: claim with generateSelector)."""
    uid = parent["metadata"]["uid"]
    sent: dict[str, Object] = {}
    for model in models:
        metadata = model["metadata"]
        controllers = [r for r in metadata.get("ownerReferences", []) if r.get("controller")]
        matches = metadata.get("labels", {}).get("controller-uid") == uid
        owned = any(r["uid"] == uid for r in controllers)
        if matches and (owned or not controllers):
            sent[metadata["name"]] = model
    return sent


def apply_label(command: str, models: Sequence[Object]) -> None:
    """What `kubectl label --overwrite aimclustermodels... NAME... key=value` does."""
    words = shlex.split(command)
    assert words[:4] == ["kubectl", "label", "--overwrite", "aimclustermodels.aim.silogen.ai"]
    *names, assignment = words[4:]
    key, value = assignment.split("=")
    by_name = {m["metadata"]["name"]: m for m in models}
    for name in names:
        by_name[name]["metadata"].setdefault("labels", {})[key] = value


def write_list(path: Path, objects: Sequence[Object]) -> Path:
    """What `kubectl get aimclustermodelsources,aimclustermodels -o json` prints."""
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))
    return path


def run(capsys: pytest.CaptureFixture[str], *files: Path) -> tuple[int, str, str]:
    code = main(["migrate-check", *map(str, files)], env={})
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def parent() -> Object:
    return source("llama", SPEC)


@pytest.fixture
def desired(parent: Object) -> list[Object]:
    """The models the hook creates for the source on a first sync."""
    request = parse_sync_request(sync_request(parent, {}, source_related(SPEC)))
    result = sync_source(request, scan=scan, now=NOW, operator_namespace="kaiwo-system")
    assert len(result.response.children) == len(TAGS)
    return result.response.children


def test_the_go_controllers_models_are_found_fixed_by_the_printed_command_and_never_duplicated(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, parent: Object, desired: list[Object]
) -> None:
    models = [go_model(d, parent, n) for n, d in enumerate(desired)]
    names = sorted(m["metadata"]["name"] for m in models)

    # Before: Metacontroller sends none of them, and the hook proposes every one again.
    assert claimed(models, parent) == {}
    answered, created = sync(parent, claimed(models, parent))
    assert (sorted(answered), created) == (names, len(TAGS))

    code, out, _ = run(capsys, write_list(tmp_path / "cluster.json", [parent, *models]))
    assert code == EXIT_NEEDS_FIX
    assert f"{len(TAGS)} model(s) of sources: 0 managed by Metacontroller, {len(TAGS)} not" in out
    assert all(f"{name}  (source llama): {NOT_ADOPTED}" in out for name in names)
    (command,) = [line for line in out.splitlines() if line.startswith("kubectl ")]
    label = f"controller-uid={SOURCE_UID}"
    kubectl = ["kubectl", "label", "--overwrite", "aimclustermodels.aim.silogen.ai"]
    assert command == shlex.join([*kubectl, *names, label])

    # After the command: every model adopted, each answered once, none created again.
    apply_label(command, models)
    assert sorted(claimed(models, parent)) == names
    answered, created = sync(parent, claimed(models, parent))
    assert (sorted(answered), created) == (names, 0)
    code, out, _ = run(capsys, write_list(tmp_path / "after.json", [parent, *models]))
    assert code == EXIT_OK
    assert f"{len(TAGS)} managed by Metacontroller, 0 not" in out


def test_every_kind_of_model_is_told_apart(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, parent: Object, desired: list[Object]
) -> None:
    managed = observed_child(desired[0], parent, 0)
    released = observed_child(desired[1], parent, 1)
    del released["metadata"]["labels"]["controller-uid"]
    foreign = go_model(desired[2], parent, 2)
    foreign["metadata"]["labels"]["controller-uid"] = "another-source-uid"
    cached = go_model(desired[3], parent, 3)
    cached["metadata"]["ownerReferences"].append(
        {"apiVersion": "x/v1", "kind": "ModelCache", "name": "c", "uid": "u", "controller": True}
    )
    orphaned = go_model(desired[4], parent, 4)
    orphaned["metadata"]["ownerReferences"][0]["uid"] = "deleted-source-uid"
    by_hand = copy.deepcopy(managed)
    by_hand["metadata"] = {"name": "made-by-hand"}
    objects = [parent, managed, released, foreign, cached, orphaned, by_hand]

    code, out, _ = run(capsys, write_list(tmp_path / "cluster.json", objects))

    assert code == EXIT_NEEDS_FIX
    assert "5 model(s) of sources: 1 managed by Metacontroller, 4 not" in out

    def problem(model: Object) -> str:
        start = f"  {model['metadata']['name']}  "
        (line,) = [line for line in out.splitlines() if line.startswith(start)]
        return line.split(": ", 1)[1]

    assert problem(released) == RELEASED
    assert problem(foreign) == FOREIGN_LABEL
    assert problem(cached) == f"{OTHER_CONTROLLER} (ModelCache/c)"
    assert problem(orphaned) == f"{SOURCE_MISSING} (uid deleted-source-uid)"
    (command,) = [line for line in out.splitlines() if line.startswith("kubectl ")]
    fixed = sorted([released["metadata"]["name"], foreign["metadata"]["name"]])
    assert shlex.split(command)[4:-1] == fixed
    assert "2 model(s) cannot be fixed by a label" in out


def test_the_source_label_names_the_source_when_a_model_has_no_owner_reference(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, parent: Object, desired: list[Object]
) -> None:
    model = go_model(desired[0], parent, 0)
    del model["metadata"]["ownerReferences"]
    code, out, _ = run(capsys, write_list(tmp_path / "cluster.json", [parent, model]))
    assert code == EXIT_NEEDS_FIX
    assert out.splitlines()[-1].endswith(f"controller-uid={SOURCE_UID}")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"kind": "List", "items": []}', "no AIMClusterModel of a source"),
        ("a: [b\n", "not valid YAML"),
        ("a: " + "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
    ids=["empty", "not yaml", "deep"],
)
def test_unusable_input_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(content)
    code, out, err = run(capsys, path)
    assert (code, out) == (EXIT_USAGE, "")
    assert message in err


def test_a_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, tmp_path / "absent.yaml")
    assert code == EXIT_USAGE
    assert "cannot read" in err
