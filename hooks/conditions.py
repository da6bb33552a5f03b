"""metav1.Conditions that never change needlessly.

Metacontroller writes our status back and calls us again; a timestamp that moves on every call
would loop forever. So `lastTransitionTime` is carried over unless the condition's status changed,
and conditions come out in a fixed order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# The API server rejects a longer metav1.Condition message (422), which fails the status write.
MAX_MESSAGE_LENGTH = 32768
# Where a too long message is cut, leaving room for the note that says how much was cut.
TRUNCATED_LENGTH = 32700
# metav1.Time as the CRD's `format: date-time` accepts it.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


@dataclass(frozen=True, slots=True)
class Condition:
    """A metav1.Condition before its timestamps are settled."""

    type: str
    status: str
    reason: str
    message: str


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with whole seconds, the form Kubernetes itself writes."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def carried_time(value: object) -> str | None:
    """A timestamp of the received status, if it is one the CRD accepts (RFC 3339).

    The API server stores nothing else, but a request can carry anything; written back, a bad
    one would make every status write of this parent fail.
    """
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return None
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value


def bounded_message(message: str) -> str:
    """The message, cut deterministically when it is longer than the API server accepts."""
    if len(message) <= MAX_MESSAGE_LENGTH:
        return message
    return f"{message[:TRUNCATED_LENGTH]}… ({len(message) - TRUNCATED_LENGTH} more characters)"


def render_conditions(
    conditions: Sequence[Condition],
    previous: object,
    now: datetime,
    generation: int | None,
    *,
    order: Sequence[str] = ("Ready",),
) -> list[dict[str, Any]]:
    """Full metav1.Conditions in a fixed order, keeping lastTransitionTime when status is unchanged.

    Types named in `order` come first in that order, the rest by type name. A message too long
    for the API server is cut (`bounded_message`).
    """
    before: dict[str, Mapping[str, Any]] = {}
    if isinstance(previous, list):
        for entry in previous:
            if isinstance(entry, Mapping) and isinstance(entry.get("type"), str):
                before[entry["type"]] = entry
    rank = {name: i for i, name in enumerate(order)}
    rendered = []
    for condition in sorted(conditions, key=lambda c: (rank.get(c.type, len(rank)), c.type)):
        old = before.get(condition.type)
        transition = format_time(now)
        if old is not None and old.get("status") == condition.status:
            transition = carried_time(old.get("lastTransitionTime")) or transition
        item: dict[str, Any] = {
            "type": condition.type,
            "status": condition.status,
            "reason": condition.reason,
            "message": bounded_message(condition.message),
            "lastTransitionTime": transition,
        }
        if generation is not None:
            item["observedGeneration"] = generation
        rendered.append(item)
    return rendered
