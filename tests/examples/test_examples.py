"""examples/: each file is accepted by the CRDs, each user-doc example has its file, and the
local-registry recipe of examples/README.md works as written.

A documentation example's file is named after the heading above it (`### Docker Hub with
Wildcards` -> `docker-hub-with-wildcards.yaml`; the status example gets `-status`) and holds the
example's documents in order: complete objects as written, spec fragments completed into objects
(the fragment's fields must all be there, as written), the status example under a spec, and
Secrets with a placeholder `.dockerconfigjson` that parses. The AIM operator's AIMServiceTemplate
objects are left out: this project does not install that type.
"""

import re
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from hooks.registry.credentials import keychain_from_secrets
from tests.cli.runner import ROOT, cli_env
from tests.harness.loopback import free_port
from tests.manifests import crdschema
from tests.manifests.doc_examples import PAGES, Page, classify, examples
from tests.shared import shared_path

EXAMPLES = ROOT / "examples"
DIRECTORY = {"spec/model-sources.md": "model-sources", "spec/cluster-config.md": "cluster-config"}
# One file per heading with examples, plus the status example of "Max Models Limit".
FILE_COUNT = {"model-sources": 19, "cluster-config": 8}
OMITTED = {"skipped AIMServiceTemplate"}
# Kubernetes' own kinds of the team walkthrough, checked by test_team.py.
BUILT_IN = {"Namespace", "ResourceQuota", "Role", "RoleBinding"}
README_COMMAND = re.compile(
    r"^(AIM_INSECURE_REGISTRIES=[^\n]* -m hooks preview [^\n]*)\n```\n\n```\n(.*?)^```$",
    re.M | re.S,
)


def slug(heading: str) -> str:
    """`### Docker Hub with Wildcards` -> `docker-hub-with-wildcards`."""
    return re.sub(r"[^a-z0-9]+", "-", heading.lstrip("#").lower()).strip("-")


def contains(actual: Any, written: Any) -> bool:
    """Whether `actual` holds everything `written` says (objects may have more fields)."""
    if isinstance(written, dict):
        return isinstance(actual, dict) and all(
            key in actual and contains(actual[key], value) for key, value in written.items()
        )
    if isinstance(written, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(written)
            and all(contains(a, w) for a, w in zip(actual, written, strict=True))
        )
    return bool(actual == written)


def matches(page: Page, sort: str, written: Any, actual: Any) -> bool:
    """Whether an example file's document is the documentation's example of that sort."""
    if sort == "object":
        return bool(actual == written)
    if sort == "skipped Secret":
        fields = ("apiVersion", "kind", "metadata", "type")
        return all(actual.get(f) == written.get(f) for f in fields) and "data" in actual
    if sort == "spec fragment":
        fragment = written["spec"] if set(written) == {"spec"} else written
        return actual.get("kind") == page.kind and contains(actual.get("spec"), fragment)
    if sort == "status":
        return actual.get("kind") == page.kind and contains(actual.get("status"), written["status"])
    return False


def expected_files(page: Page, crd: dict[str, Any]) -> dict[str, list[tuple[str, Any]]]:
    """File stem -> the (sort, document) pairs of the documentation it must hold, in order."""
    spec_fields = set(crdschema.openapi_schema(crd)["properties"]["spec"]["properties"])
    text = shared_path(page.path).read_text(encoding="utf-8")
    expected: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for example in examples(text):
        sort, _ = classify(page, example.document, spec_fields)
        if sort not in OMITTED:
            stem = slug(example.heading) + ("-status" if sort == "status" else "")
            expected[stem].append((sort, example.document))
    return expected


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


@pytest.mark.parametrize("page", PAGES, ids=[page.path for page in PAGES])
def test_every_example_of_the_user_docs_has_its_file(
    crds: dict[str, dict[str, Any]], page: Page
) -> None:
    expected = expected_files(page, crds[page.kind])
    directory = EXAMPLES / DIRECTORY[page.path]
    found = {path.stem: crdschema.load_file(path) for path in directory.glob("*.yaml")}

    assert sorted(found) == sorted(expected)
    assert len(found) == FILE_COUNT[directory.name]
    wrong = [
        stem
        for stem, wanted in expected.items()
        if len(found[stem]) != len(wanted)
        or not all(
            matches(page, sort, written, actual)
            for (sort, written), actual in zip(wanted, found[stem], strict=True)
        )
    ]
    assert wrong == []


def preview_output(command: str, **variables: str) -> str:
    """Run a command line as a user types it in the project root; its stdout (exit 0 asserted)."""
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        env=cli_env(**variables),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")
    return result.stdout


def test_the_local_registry_recipe_of_the_readme_works_as_written(
    registry_binary: Path, tmp_path: Path
) -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    recipe = README_COMMAND.search(readme)
    assert recipe is not None, "examples/README.md lost its preview command and output"
    command, shown_output = recipe.groups()
    port = free_port()
    script = subprocess.Popen(
        ["bash", "examples/local-registry.sh"],
        cwd=ROOT,
        env=cli_env(
            PORT=str(port),
            REGISTRY=str(registry_binary),
            PYTHON=sys.executable,
            TMPDIR=str(tmp_path),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert script.stdout is not None
        printed = next((ln for ln in iter(script.stdout.readline, "") if "hooks preview" in ln), "")
        assert printed, script.stderr.read() if script.stderr else ""

        # The command the script prints for its port, and the README's (for port 5000), with
        # 127.0.0.1:5000 served from the test's port, as the script's command does.
        assert preview_output(printed.strip()) == shown_output
        mirror = f"127.0.0.1:5000=http://127.0.0.1:{port}"
        assert preview_output(command, AIM_REGISTRY_ENDPOINTS=mirror) == shown_output
    finally:
        script.send_signal(signal.SIGTERM)
        script.wait(timeout=10)
    assert list(tmp_path.iterdir()) == []
