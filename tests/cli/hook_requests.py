"""Hook requests for the CLI tests, built from our sample sync request.

`tests/fixtures/modelsource-sync-request.json` is an AIMClusterModelSource sync request in the
shape Metacontroller sends; the other three hooks' requests are derived from it the way
Metacontroller would build them, so every request has the wire shape the service receives.
"""

import base64
import json
from typing import Any

from tests.hooks.wire import SECRET_GROUP, sample

PULL_SECRET_NAME = "aim-registry-credentials"
PULL_SECRET = f"kaiwo-system/{PULL_SECRET_NAME}"


def dockerconfigjson(registry: str, **credential: str) -> str:
    """A Secret's `.dockerconfigjson` value holding one credential for `registry`."""
    config = {"auths": {registry: credential}}
    return base64.b64encode(json.dumps(config).encode()).decode()


def source_sync(registry: str, credential: dict[str, str] | None = None) -> dict[str, Any]:
    """The fixture's sync request, scanning `registry` with the fixture's filter.

    `credential` (e.g. `{"username": ..., "password": ...}`) replaces the fixture's pull secret.
    """
    doc = sample()
    doc["parent"]["spec"]["registry"] = registry
    if credential is not None:
        secret = doc["related"][SECRET_GROUP][PULL_SECRET]
        secret["data"][".dockerconfigjson"] = dockerconfigjson(registry, **credential)
    return doc


def customize(sync_request: dict[str, Any]) -> dict[str, Any]:
    """The customize request Metacontroller sends for the same parent: controller and parent."""
    return {"controller": sync_request["controller"], "parent": sync_request["parent"]}


def config_sync(registry: str) -> dict[str, Any]:
    """An AIMClusterConfig sync request referencing the fixture's pull secret."""
    doc = source_sync(registry)
    doc["controller"]["metadata"]["name"] = "aim-clusterconfig-controller"
    doc["controller"]["spec"]["parentResource"]["resource"] = "aimclusterconfigs"
    doc["controller"]["spec"]["childResources"] = []
    doc["parent"]["kind"] = "AIMClusterConfig"
    doc["parent"]["metadata"]["name"] = "default"
    doc["parent"]["spec"] = {"imagePullSecrets": [{"name": PULL_SECRET_NAME}]}
    doc["parent"]["status"] = {}
    doc["children"] = {}
    doc["related"] = {SECRET_GROUP: doc["related"][SECRET_GROUP]}
    return doc
