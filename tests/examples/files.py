"""The user documentation's examples as `examples/` holds them, for every test that runs one.

Each example is written once, in its file; tests load it from there (and tests/examples/ checks
that the files are the documentation's examples), so a changed example is tested as it stands.
"""

from pathlib import Path
from typing import Any

import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example_documents(relative: str) -> list[dict[str, Any]]:
    """The YAML documents of one example file, e.g. `model-sources/exclusions.yaml`."""
    text = (EXAMPLES / relative).read_text(encoding="utf-8")
    return [document for document in yaml.safe_load_all(text) if document is not None]


def example_source(relative: str) -> dict[str, Any]:
    """The one AIMClusterModelSource of an example file (beside its Secrets, if any)."""
    (source,) = [
        document
        for document in example_documents(relative)
        if document["kind"] == "AIMClusterModelSource"
    ]
    return source


def source_example_names() -> list[str]:
    """The stems of the model-sources examples (`exclusions`, `max-models-limit-status`, ...)."""
    return sorted(path.stem for path in (EXAMPLES / "model-sources").glob("*.yaml"))
