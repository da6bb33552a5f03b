"""Every YAML example in the user documentation is accepted by our CRDs.

The examples are read from ../shared/spec at test time, so a changed document is checked as it
stands. Each document of each ```yaml block is one of: a complete object of the kind the page is
about; a fragment of its spec (`spec:` or a bare spec field such as `versions:`), completed with
the required fields it leaves out; the `status:` example, checked against the status schema; or an
object of another kind, skipped for the reason listed in SKIPPED_KINDS. Anything else fails, and
so does a change in how many examples of each sort a page holds, so no block is skipped silently.
"""

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from tests.manifests import crdschema
from tests.shared import shared_path

SKIPPED_KINDS = {
    "Secret": "a core Kubernetes Secret, validated by the API server itself",
    "AIMServiceTemplate": "the AIM operator's own type; this project does not define it",
}


@dataclass(frozen=True, slots=True)
class Page:
    """One user document and what it holds, counted by reading it."""

    path: str
    kind: str
    # Required spec fields a fragment may leave out, filled in before validation.
    spec_base: dict[str, Any]
    expected: dict[str, int]


PAGES = [
    Page(
        path="spec/model-sources.md",
        kind="AIMClusterModelSource",
        spec_base={"filters": [{"image": "amdenterpriseai/aim-*"}]},
        # 7 sources, 10 `spec:` fragments + 1 `versions:` fragment, the MaxModels status example,
        # and the 2 Secrets of the private-registry examples.
        expected={"object": 7, "spec fragment": 11, "status": 1, "skipped Secret": 2},
    ),
    Page(
        path="spec/cluster-config.md",
        kind="AIMClusterConfig",
        spec_base={},
        # 8 configs, the caching and routing fragments, and 2 AIMServiceTemplates.
        expected={"object": 8, "spec fragment": 2, "skipped AIMServiceTemplate": 2},
    ),
]

# The docs abbreviate their status example: its condition has no `reason` and no
# `lastTransitionTime`, which metav1.Condition requires and the hook always writes (the API server
# would reject the status without them). These values complete it; everything else is checked.
CONDITION_COMPLETION = {"reason": "LimitReached", "lastTransitionTime": "2025-01-15T10:30:00Z"}


@dataclass(frozen=True, slots=True)
class Example:
    """One YAML document of a ```yaml block, with where it was found."""

    block: int
    heading: str
    document: Any


def examples(text: str) -> list[Example]:
    """Every document of every ```yaml block, numbered by block, with the heading above it.

    Fences of other languages are matched too, so that a `# comment` inside them is not taken
    for a heading.
    """
    found = []
    heading = ""
    block = 0
    fence_or_heading = re.compile(r"^(#{1,6} [^\n]*)$|^```(\w*)\n(.*?)^```$", re.M | re.S)
    for match in fence_or_heading.finditer(text):
        if match.group(1):
            heading = match.group(1)
        elif match.group(2) == "yaml":
            block += 1
            documents = crdschema.load_documents(match.group(3))
            found += [Example(block, heading, document) for document in documents]
    return found


def wrap(kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": kind,
        "metadata": {"name": "doc-example"},
        **fields,
    }


def classify(page: Page, document: Any, spec_fields: set[str]) -> tuple[str, dict[str, Any] | None]:
    """The sort of one example and the complete object to validate (None when skipped)."""
    if not isinstance(document, dict):
        return "not an object", None
    if "kind" in document:
        if document["kind"] == page.kind:
            return "object", document
        if document["kind"] in SKIPPED_KINDS:
            return f"skipped {document['kind']}", None
        return f"unexpected kind {document['kind']}", None
    if set(document) == {"spec"}:
        return "spec fragment", wrap(page.kind, spec={**page.spec_base, **document["spec"]})
    if document and set(document) <= spec_fields:
        return "spec fragment", wrap(page.kind, spec={**page.spec_base, **document})
    if set(document) == {"status"}:
        status = dict(document["status"])
        status["conditions"] = [
            {**CONDITION_COMPLETION, **entry} for entry in status.get("conditions", [])
        ]
        return "status", wrap(page.kind, spec=page.spec_base, status=status)
    return f"unrecognised fragment with keys {sorted(document)}", None


@pytest.mark.parametrize("page", PAGES, ids=[page.path for page in PAGES])
def test_every_yaml_example_of_the_user_docs_is_accepted(
    crds: dict[str, dict[str, Any]], page: Page
) -> None:
    text = shared_path(page.path).read_text(encoding="utf-8")
    crd = crds[page.kind]
    check = crdschema.crd_validator(crd)
    spec_fields = set(crdschema.openapi_schema(crd)["properties"]["spec"]["properties"])
    sorts: Counter[str] = Counter()
    failures = []
    for example in examples(text):
        sort, instance = classify(page, example.document, spec_fields)
        sorts[sort] += 1
        problems = [] if instance is None else crdschema.errors(check, instance)
        if problems:
            failures.append((example.block, example.heading, problems))
    assert failures == []
    assert dict(sorts) == page.expected


def test_doc_status_example_is_rejected_without_its_completion(
    crds: dict[str, dict[str, Any]],
) -> None:
    """The completion above hides nothing but the two abbreviated fields."""
    page = PAGES[0]
    text = shared_path(page.path).read_text(encoding="utf-8")
    (status,) = [e.document for e in examples(text) if set(e.document) == {"status"}]
    check = crdschema.crd_validator(crds[page.kind])
    found = crdschema.errors(check, wrap(page.kind, spec=page.spec_base, **status))
    assert found == [
        "$.status.conditions[0]: 'lastTransitionTime' is a required property",
        "$.status.conditions[0]: 'reason' is a required property",
    ]
