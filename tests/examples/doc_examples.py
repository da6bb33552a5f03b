"""The YAML examples of the user documentation: which pages hold them, how to find them in a page,
and what sort each one is (a whole object, a spec fragment, a status, or a kind skipped and why).

tests/examples/test_examples.py reads the docs through this to check that examples/ holds each
of their examples.
"""

import re
from dataclasses import dataclass
from typing import Any

from tests.manifests import crdschema

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
