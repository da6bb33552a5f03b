"""Every example file of the user documentation (examples/) is accepted by our CRDs.

tests/examples/ checks that the files are the documentation's examples (complete objects as
written, spec fragments completed into objects, the status example under a spec); here each file
is validated against the CRD of its kind, and Secrets must hold a `.dockerconfigjson` that parses.
"""

import copy
from pathlib import Path
from typing import Any

import pytest

from hooks.registry.credentials import keychain_from_secrets
from tests.examples.files import EXAMPLES, example_documents
from tests.manifests import crdschema

# Kubernetes' own kinds in the team walkthrough (examples/team/): the API server validates them.
BUILT_IN = {"Namespace", "ResourceQuota", "Role", "RoleBinding"}


def example_files() -> list[Path]:
    return sorted(EXAMPLES.rglob("*.yaml"))


@pytest.mark.parametrize(
    "path", example_files(), ids=[str(p.relative_to(EXAMPLES)) for p in example_files()]
)
def test_every_example_file_is_accepted_by_the_crds(
    crds: dict[str, dict[str, Any]], path: Path
) -> None:
    documents = crdschema.load_file(path)

    assert documents
    for document in documents:
        if document["kind"] == "Secret":
            name = document["metadata"]["name"]
            assert keychain_from_secrets([(name, document)])[1] == []
        elif document["kind"] not in BUILT_IN:
            check = crdschema.crd_validator(crds[document["kind"]])
            assert crdschema.errors(check, document) == []


def test_status_example_needs_only_the_fields_the_documentation_leaves_out(
    crds: dict[str, dict[str, Any]],
) -> None:
    """The docs abbreviate their status example; the file adds `reason` and `lastTransitionTime`.

    metav1.Condition requires both and the hook always writes them; without them the API server
    would reject the status. Everything else of the example is valid as the docs write it.
    """
    (document,) = example_documents("model-sources/max-models-limit-status.yaml")
    abbreviated = copy.deepcopy(document)
    for condition in abbreviated["status"]["conditions"]:
        del condition["reason"], condition["lastTransitionTime"]
    check = crdschema.crd_validator(crds["AIMClusterModelSource"])

    assert crdschema.errors(check, document) == []
    assert crdschema.errors(check, abbreviated) == [
        "$.status.conditions[0]: 'lastTransitionTime' is a required property",
        "$.status.conditions[0]: 'reason' is a required property",
    ]
