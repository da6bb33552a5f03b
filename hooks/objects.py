"""Lenient readers for fields of Kubernetes objects as Metacontroller hands them to us.

The customize hooks must answer for any parent, even one whose spec the sync will reject, so
they read only what is well formed and skip the rest instead of failing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeGuard

# Metacontroller's copy of what it last applied to a child, which it keeps in the child's
# annotations; an answer never carries it back (it would only echo its previous value).
LAST_APPLIED = "metacontroller.k8s.io/last-applied-configuration"

# A Secret's name is a DNS subdomain (RFC 1123).
_SECRET_NAME = re.compile(
    r"(?=.{1,253}$)[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*", re.ASCII
)


def is_secret_name(name: str) -> bool:
    """Whether a Secret can have this name (a DNS subdomain)."""
    return _SECRET_NAME.fullmatch(name) is not None


def is_object(value: object) -> TypeGuard[Mapping[str, Any]]:
    """A JSON object. Parsed ones are dicts, and checking `dict` first is several times cheaper
    than the `Mapping` ABC alone: it runs for every child of a sync, 10,000 in a large one."""
    return isinstance(value, (dict, Mapping))


def pull_secret_names(spec: object) -> tuple[str, ...]:
    """The distinct, non-empty `imagePullSecrets[].name` values of a spec, in order."""
    raw = spec.get("imagePullSecrets") if isinstance(spec, Mapping) else None
    if not isinstance(raw, list):
        return ()
    # A dict keeps the first of each name in order, in linear time whatever the list's length.
    names = (ref.get("name") if isinstance(ref, Mapping) else None for ref in raw)
    return tuple(dict.fromkeys(name for name in names if isinstance(name, str) and name))
