"""Every YAML example in the user documentation is accepted by our CRDs.

The examples are read from ../shared/spec at test time, so a changed document is checked as it
stands. Each document of each ```yaml block is one of: a complete object of the kind the page is
about; a fragment of its spec (`spec:` or a bare spec field such as `versions:`), completed with
the required fields it leaves out; the `status:` example, checked against the status schema; or an
object of another kind, skipped for the reason in `doc_examples.SKIPPED_KINDS`. Anything else
fails, and so does a change in how many examples of each sort a page holds, so no block is
skipped silently.
"""

from collections import Counter
from typing import Any

import pytest

from tests.manifests import crdschema
from tests.manifests.doc_examples import PAGES, Page, classify, examples, wrap
from tests.shared import shared_path


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
    """`doc_examples.CONDITION_COMPLETION` hides nothing but the two abbreviated fields."""
    page = PAGES[0]
    text = shared_path(page.path).read_text(encoding="utf-8")
    (status,) = [e.document for e in examples(text) if set(e.document) == {"status"}]
    check = crdschema.crd_validator(crds[page.kind])
    found = crdschema.errors(check, wrap(page.kind, spec=page.spec_base, **status))
    assert found == [
        "$.status.conditions[0]: 'lastTransitionTime' is a required property",
        "$.status.conditions[0]: 'reason' is a required property",
    ]
