"""The AIMClusterModelSource customize hook: which related objects each sync must be sent.

Metacontroller sends customize the parent only (no children, no related objects), so the answer
depends on the parent alone: its pull secrets and its AIMClusterConfig, and the config's pull
secrets, which the sync (the one hook that sees the config) records by name in
`status.scan.configPullSecrets`. So a config's new pull secret reaches the scan later: one sync
records its name, and the next customize call asks for it. Metacontroller caches a customize
answer per (parent uid, generation) for 20 minutes, so "next" means once that cache expires, or
at once when the source's spec changes. The alternative, every Secret of the operator namespace
in every request, would hand the hook credentials it has no business seeing.
"""

from __future__ import annotations

from collections.abc import Mapping

from hooks.metacontroller import CustomizeRequest, CustomizeResponse, RelatedRule
from hooks.modelsource.pipeline import DEFAULT_CONFIG
from hooks.modelsource.schedule import config_pull_secrets
from hooks.objects import pull_secret_names


def customize_source(request: CustomizeRequest, operator_namespace: str) -> CustomizeResponse:
    """Ask for the source's AIMClusterConfig, and its own and the config's pull secrets."""
    raw = request.parent.spec if isinstance(request.parent.spec, Mapping) else {}
    secrets = pull_secret_names(raw)
    recorded = config_pull_secrets(request.parent.status.get("scan"))
    secrets = tuple(dict.fromkeys((*secrets, *recorded)))
    config = raw.get("configName")
    config_name = config if isinstance(config, str) and config else DEFAULT_CONFIG
    rules = [RelatedRule("aim.silogen.ai/v1alpha1", "aimclusterconfigs", (config_name,))]
    if secrets:
        # Always with the namespace: without it a same-named Secret anywhere would match.
        rules.append(RelatedRule("v1", "secrets", secrets, namespace=operator_namespace))
    return CustomizeResponse(rules)
