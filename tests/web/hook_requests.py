"""Model source sync requests as Metacontroller sends them (built with tests/hooks/wire.py)."""

from collections.abc import Sequence
from typing import Any

from tests.hooks.wire import source, source_related, sync_request

Object = dict[str, Any]


def source_sync(
    name: str, registry: str, images: Sequence[str], secrets: Sequence[Object] = ()
) -> Object:
    """A first sync of source `name`: one filter per image, `secrets` as its pull secrets."""
    spec: Object = {"registry": registry, "filters": [{"image": image} for image in images]}
    if secrets:
        spec["imagePullSecrets"] = [{"name": s["metadata"]["name"]} for s in secrets]
    return sync_request(source(name, spec), {}, source_related(spec, secrets))
