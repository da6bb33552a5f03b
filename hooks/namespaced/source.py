"""The AIMModelSource kind of the one pipeline: where a namespaced source's config and pull
secrets come from (docs/decisions.md §8). Everything else is the cluster source's pipeline.

The source's own pull secrets are read from its namespace only, by their exact `namespace/name`
key. The resolved config's come from the config's namespace: the source's own for an
AIMNamespaceConfig, the operator namespace for an AIMClusterConfig, and only the secrets that
config really names. The names recorded in `status.scan` only tell the customize hook what to ask
for; they never choose what a scan uses, so a forged status gains nothing.
"""

from __future__ import annotations

from hooks.metacontroller import SyncRequest
from hooks.modelsource.pipeline import (
    Related,
    SourceKind,
    config_secret_names,
    load_secrets,
    related_identity,
)
from hooks.modelsource.schedule import ScanRecord, fingerprint
from hooks.modelsource.spec import SourceSpec
from hooks.namespaced.resolution import resolve_namespaced_config
from hooks.namespaced.tenancy import (
    MODEL_GROUP,
    SECRET_GROUP,
    ConfigSecrets,
    SecretRef,
    namespaced_object,
)

KIND = "AIMModelSource"
CHILD_KIND = "AIMModel"


def resolve_namespaced_related(
    request: SyncRequest, spec: SourceSpec, operator_namespace: str, record: ScanRecord
) -> Related:
    """The namespaced source's config (its namespace's, else the cluster's) and pull secrets.

    The fingerprint names the resolved config by kind: an AIMNamespaceConfig appearing over an
    AIMClusterConfig of the same name changes it, and so scans again.
    """
    namespace = request.parent.namespace
    resolved = resolve_namespaced_config(
        request.related,
        namespace=namespace,
        explicit_name=spec.config_name,
        operator_namespace=operator_namespace,
    )
    own = [SecretRef(namespace, name) for name in spec.image_pull_secrets]
    config = resolved.secrets or ConfigSecrets(namespace, ())
    config_secrets = config_secret_names(config.names, own, config.namespace)
    # Asked for only if the last sync recorded them for a config of this very kind.
    requested = record.config_pull_secrets if record.config_kind == resolved.kind else ()
    secrets = load_secrets(
        lambda ref: namespaced_object(request.related, SECRET_GROUP, ref.namespace, ref.name),
        own,
        [SecretRef(config.namespace, name) for name in config_secrets],
        f'{resolved.kind} "{resolved.name}"',
        requested,
    )
    identities: dict[str, object] = {
        f"secret/{ref.namespace}/{ref.name}": identity
        for ref, identity in secrets.identities.items()
    }
    identities[f"config/{resolved.kind}/{resolved.name}"] = related_identity(
        resolved.config, "generation"
    )
    return Related(
        keychain=secrets.keychain,
        secret_count=secrets.count,
        secret_problems=secrets.problems,
        config_conditions=[] if resolved.missing else [resolved.condition],
        config_missing=resolved.missing,
        fingerprint=fingerprint(request.parent.spec, identities),
        config_secrets=config_secrets,
        config_kind=resolved.kind,
    )


NAMESPACED_SOURCE = SourceKind(KIND, MODEL_GROUP, CHILD_KIND, resolve_namespaced_related)
