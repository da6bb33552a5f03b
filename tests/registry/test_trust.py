"""The registry trust (hooks/registry/config.py): built once, rebuilt when the CA bundle changes.

Loading the system roots costs ~20 ms per context, so scans share one; an operator who rotates
the CA bundle (a remounted Secret) must not have to restart the service for it to be trusted.
"""

import shutil
from pathlib import Path

import pytest

from hooks.registry.config import RegistrySettings
from hooks.registry.credentials import Keychain
from hooks.registry.scanner import scan_registries
from hooks.registry.targets import ScanTarget
from tests.harness.populate import plan_from
from tests.harness.registry import RegistryFactory
from tests.harness.tls import TestCA

PLAN = plan_from({"org/model": ["1.0.0", "1.1.0"]})


def test_scans_share_one_context_per_bundle(test_ca: TestCA) -> None:
    bundle = RegistrySettings(ca_bundle=str(test_ca.ca_file))

    assert RegistrySettings().ssl_context() is RegistrySettings().ssl_context()
    assert bundle.ssl_context() is RegistrySettings(ca_bundle=str(test_ca.ca_file)).ssl_context()
    assert bundle.ssl_context() is not RegistrySettings().ssl_context()


@pytest.mark.registry
def test_a_rotated_ca_bundle_is_trusted_without_a_restart(
    registry_factory: RegistryFactory, test_ca: TestCA, tmp_path: Path
) -> None:
    registry = registry_factory(PLAN, tls=test_ca)
    bundle = tmp_path / "ca.pem"
    shutil.copyfile(TestCA(tmp_path / "other", name="other-ca").ca_file, bundle)
    settings = RegistrySettings(ca_bundle=str(bundle), endpoints={registry.host: registry.url})
    target = ScanTarget(key=0, registry=registry.host, repository="org/model")

    [untrusted] = scan_registries([target], Keychain(), settings=settings)
    shutil.copyfile(test_ca.ca_file, bundle)
    [trusted] = scan_registries([target], Keychain(), settings=settings)

    assert untrusted.error is not None and "TLS" in untrusted.error
    assert trusted.error is None
    assert {image.tag for image in trusted.images} == {"1.0.0", "1.1.0"}
