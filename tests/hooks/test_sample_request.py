"""Our sample sync request (`tests/fixtures/modelsource-sync-request.json`) is one Metacontroller
could send: every hook request the tests build starts from it (`wire.py`), so a wrong shape here
would make every hook test check the service against requests it never receives.

Metacontroller's side (the envelope, the typed `controller`, the Kubernetes metadata of every
object) is compared with the sync request recorded from Metacontroller v4.17.2 that the reference
data beside the repository holds; our side (the `spec` and `status` of the parent and children)
is checked against our own CRDs.
"""

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.hooks.wire import SAMPLE_REQUEST, sorted_keys
from tests.manifests import crdschema
from tests.shared import shared_path

PROJECT = Path(__file__).resolve().parents[2]
# Maps whose keys are names (of groups, objects, hooks, labels...), not fields: any key goes.
NAMED = re.compile(
    r"\.(children|related)(\.\*)?|\.controller\.spec\.hooks|.*\.metadata\.(labels|annotations)"
    r"|\.related\.\*\.\*\.data"
)
# Compared as a JSON type only: a server-side-apply field set, and what our CRDs define.
OPAQUE = re.compile(r".*\.fieldsV1|\.parent\.(spec|status)|\.children\.\*\.\*\.(spec|status)")
CRDS = {
    "AIMClusterModelSource": "crds/aimclustermodelsources.yaml",
    "AIMClusterModel": "crds/aimclustermodels.yaml",
}


def sample_request() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(SAMPLE_REQUEST.read_text())
    return doc


def shape(value: Any, path: str = "") -> set[str]:
    """Every `path: JSON type` in `value`, list items as `[]`, the keys of named maps as `*`
    (so a path stands for the union of a list's items, or of a named map's entries)."""
    if isinstance(value, Mapping):
        found = {f"{path}: object"}
        if OPAQUE.fullmatch(path):
            return found
        for key, item in value.items():
            found |= shape(item, f"{path}.{'*' if NAMED.fullmatch(path) else key}")
        return found
    if isinstance(value, list):
        return {f"{path}: array"}.union(*(shape(item, f"{path}[]") for item in value))
    return {f"{path}: {type(value).__name__}"}


def test_the_sample_request_has_the_shape_of_a_recorded_metacontroller_request() -> None:
    recorded = json.loads(shared_path("metacontroller/fixture-sample.json").read_text())
    ours, theirs = shape(sample_request()), shape(recorded)

    assert sorted(ours - theirs) == [], "in our sample only"
    assert sorted(theirs - ours) == [], "in the recorded request only"


def test_the_sample_request_is_ordered_and_valid_as_the_api_server_holds_it() -> None:
    doc = sample_request()
    assert list(doc) == ["controller", "parent", "children", "related", "finalizing"]
    assert list(doc["controller"]) == ["kind", "apiVersion", "metadata", "spec", "status"]
    unstructured = [doc["parent"], doc["children"], doc["related"]]
    assert json.dumps(unstructured) == json.dumps(sorted_keys(unstructured)), "keys not sorted"

    objects = [doc["parent"], *(o for group in doc["children"].values() for o in group.values())]
    for obj in objects:
        (crd,) = crdschema.load_file(PROJECT / CRDS[obj["kind"]])
        assert crdschema.errors(crdschema.crd_validator(crd), obj) == [], obj["metadata"]["name"]
