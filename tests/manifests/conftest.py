"""Fixtures for the manifest tests: the project's CRDs and Metacontroller install, loaded once."""

from pathlib import Path
from typing import Any

import pytest

from tests.manifests import crdschema

PROJECT = Path(__file__).resolve().parents[2]


def kustomization_resources(directory: Path) -> list[Path]:
    """The files a kustomization.yaml lists under `resources`, in order."""
    (kustomization,) = crdschema.load_file(directory / "kustomization.yaml")
    return [directory / name for name in kustomization["resources"]]


@pytest.fixture(scope="session")
def project() -> Path:
    """The project's root directory."""
    return PROJECT


@pytest.fixture(scope="session")
def crds() -> dict[str, dict[str, Any]]:
    """The CRDs that `kubectl apply -k crds/` installs, by kind."""
    loaded = [
        doc
        for path in kustomization_resources(PROJECT / "crds")
        for doc in crdschema.load_file(path)
    ]
    return {crd["spec"]["names"]["kind"]: crd for crd in loaded}


@pytest.fixture(scope="session")
def install() -> dict[tuple[str, str], dict[str, Any]]:
    """The objects that `kubectl apply -k metacontroller/` creates, by (kind, name)."""
    loaded = [
        doc
        for path in kustomization_resources(PROJECT / "metacontroller")
        for doc in crdschema.load_file(path)
    ]
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in loaded}
