"""The AIMClusterModelSource customize hook: which related objects each sync must be sent.

Metacontroller sends customize the parent only (no children, no related objects), so the answer
depends on the parent alone: its pull secrets and its AIMClusterConfig.
"""

from __future__ import annotations

from collections.abc import Mapping

from hooks.metacontroller import CustomizeRequest, CustomizeResponse, RelatedRule
from hooks.modelsource.pipeline import DEFAULT_CONFIG
from hooks.objects import pull_secret_names


def customize_source(request: CustomizeRequest, operator_namespace: str) -> CustomizeResponse:
    """Ask for the source's pull secrets and its AIMClusterConfig; depends only on the spec."""
    raw = request.parent.spec if isinstance(request.parent.spec, Mapping) else {}
    secrets = pull_secret_names(raw)
    config = raw.get("configName")
    config_name = config if isinstance(config, str) and config else DEFAULT_CONFIG
    rules = [RelatedRule("aim.silogen.ai/v1alpha1", "aimclusterconfigs", (config_name,))]
    if secrets:
        # Always with the namespace: without it a same-named Secret anywhere would match.
        rules.append(RelatedRule("v1", "secrets", secrets, namespace=operator_namespace))
    return CustomizeResponse(rules)
