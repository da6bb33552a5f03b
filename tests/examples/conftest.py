"""The manifest tests' `crds` fixture: the examples are checked against the same CRDs."""

from tests.manifests.conftest import crds

__all__ = ["crds"]
