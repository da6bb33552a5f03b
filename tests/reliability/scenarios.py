"""The sources the campaigns sync, the registry contents they scan, and the faults they meet.

A scenario is a source spec (its filters, each of a kind a fault may or may not break, with the
images it finds when nothing breaks) and a number of models the source already owns. A fault is
what the fault proxy, the token server or the TLS setup does to one registry, the filter kinds
it breaks, and the words the status must use to say why.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hooks.modelsource.naming import model_name
from tests.harness.tokenserver import FailMode
from tests.hooks.expected import models
from tests.hooks.wire import (
    CONFIG_GROUP,
    SECRET_GROUP,
    observed_child,
    related,
    source,
    sync_request,
)

PRIMARY = "registry.test"  # token auth, behind the fault proxy
OTHER = "other.test"  # anonymous, behind a recording proxy; no fault ever touches it
SECURE = "secure.test"  # HTTPS with a certificate the hook does not trust
REGISTRY_SECRET = "registry-creds"
OTHER_SECRET = "other-creds"
SYNC_INTERVAL_SECONDS = 3600
BACKOFF_SECONDS = 30  # the first failed scan's backoff (docs/decisions.md §6)
EARLIER = "2026-08-20T08:00:00Z"

IMAGES: dict[str, list[str]] = {
    "models/aim-llama": ["0.9.0", "1.0.0", "1.1.0", "2.0.0-rc1", "latest"],
    "models/aim-mistral": ["1.0.0", "1.5.0"],
    "models/aim-base": ["0.1.0"],
    "tools/cli": ["1.0.0", "1.2.0"],
    # Its tag list (about 2 KB, 150 tags) is what the size, tag and page caps are tested on.
    "bulk/many-tags": [f"1.{minor}.0" for minor in range(150)],
}

Found = tuple[tuple[str, str], ...]  # (repository, tag) pairs


@dataclass(frozen=True)
class Filter:
    """One image filter: how it is written, the kind of registry call it needs, what it finds."""

    image: str
    kind: str  # "wildcard", "repository", "tag", or "other" (on OTHER, which faults spare)
    finds: Found
    options: Mapping[str, Any] = field(default_factory=dict)

    def spec(self) -> dict[str, Any]:
        """The filter as the source spec writes it."""
        return {"image": self.image, **self.options}

    def registry(self, primary: str) -> str:
        """The registry this filter reads."""
        return OTHER if self.kind == "other" else primary


@dataclass(frozen=True)
class Scenario:
    """A source spec over the primary registry (and OTHER for the `other` kind)."""

    name: str
    filters: tuple[Filter, ...]
    versions: tuple[str, ...] = ()

    def spec(self, primary: str) -> dict[str, Any]:
        """The spec with `primary` as `spec.registry`."""
        spec: dict[str, Any] = {
            "registry": primary,
            "filters": [f.spec() for f in self.filters],
            "syncInterval": "1h",
            "maxModels": 1000,
            "imagePullSecrets": [{"name": REGISTRY_SECRET}, {"name": OTHER_SECRET}],
        }
        if self.versions:
            spec["versions"] = list(self.versions)
        return spec

    def model_names(self, primary: str, filters: tuple[Filter, ...]) -> set[str]:
        """The models `filters` create when they succeed."""
        return {
            model_name(f.registry(primary), repository, tag)
            for f in filters
            for repository, tag in f.finds
        }


LLAMA_1X = (("models/aim-llama", "1.0.0"), ("models/aim-llama", "1.1.0"))
SCENARIOS = (
    Scenario(
        "wildcard",
        (
            Filter(
                "models/aim-*",
                "wildcard",
                (
                    ("models/aim-llama", "0.9.0"),
                    *LLAMA_1X,
                    ("models/aim-llama", "2.0.0-rc1"),
                    ("models/aim-mistral", "1.0.0"),
                    ("models/aim-mistral", "1.5.0"),
                ),
                {"exclude": ["models/aim-base"], "versions": [">=0.9.0"]},
            ),
        ),
    ),
    Scenario(
        "repositories",
        (
            Filter(
                "models/aim-llama", "repository", (*LLAMA_1X, ("models/aim-llama", "2.0.0-rc1"))
            ),
            Filter(
                "models/aim-mistral",
                "repository",
                (("models/aim-mistral", "1.0.0"), ("models/aim-mistral", "1.5.0")),
            ),
        ),
        versions=(">=1.0.0",),
    ),
    Scenario("tag", (Filter("models/aim-llama:1.0.0", "tag", (("models/aim-llama", "1.0.0"),)),)),
    Scenario(
        "mixed",
        (
            Filter(
                "models/aim-*",
                "wildcard",
                (*LLAMA_1X, ("models/aim-mistral", "1.0.0"), ("models/aim-mistral", "1.5.0")),
                {"versions": ["^1.0.0"]},
            ),
            Filter("tools/cli", "repository", (("tools/cli", "1.0.0"), ("tools/cli", "1.2.0"))),
            Filter("models/aim-mistral:1.5.0", "tag", (("models/aim-mistral", "1.5.0"),)),
            Filter(
                f"{OTHER}/models/aim-llama",
                "other",
                (*LLAMA_1X, ("models/aim-llama", "2.0.0-rc1")),
                {"versions": [">=1.0.0"]},
            ),
        ),
    ),
)
# Models the sources already own: none (a first sync), a few (some of which the scan finds
# again, one whose image is gone), many (a source that has been running for a long time).
CHILD_COUNTS = {"none": 0, "some": 3, "many": 400}


def existing_images(primary: str, count: int) -> list[tuple[str, str, str]]:
    """`count` images the source created earlier: two still in the registry, the rest gone."""
    still_there = [(primary, "models/aim-llama", "1.0.0"), (primary, "tools/cli", "1.0.0")]
    gone = [(primary, f"models/retired-{n:04d}", "1.0.0") for n in range(count)]
    return (still_there + gone)[:count]


def sync_case(
    scenario: Scenario,
    children: str,
    primary: str,
    secrets: list[dict[str, Any]],
) -> dict[str, Any]:
    """The sync request of one case: the source, the models it owns, its pull secrets.

    A source that owns models has scanned before, for another spec: the scan is due now.
    """
    name = f"{scenario.name}-{children}"
    spec = scenario.spec(primary)
    count = CHILD_COUNTS[children]
    status = None
    if count:
        status = {
            "status": "Ready",
            "discoveredModels": count,
            "availableModels": count,
            "modelsLimitReached": False,
            "lastSyncTime": EARLIER,
            "scan": {"fingerprint": "0123456789abcdef", "failureCount": 0},
        }
    parent = source(name, spec, status=status)
    owned = {
        child["metadata"]["name"]: observed_child(child, parent, serial)
        for serial, child in enumerate(models(name, existing_images(primary, count)), 1)
    }
    return sync_request(parent, owned, related([CONFIG_GROUP, SECRET_GROUP], secrets))


@dataclass(frozen=True)
class Fault:
    """One thing going wrong, and what the status must then say about which filters."""

    name: str
    cause: str  # a regex the failing filter's error must match
    affects: frozenset[str]  # the filter kinds it breaks
    rules: tuple[Mapping[str, Any], ...] = ()  # for the primary registry's fault proxy
    token_fail: FailMode | None = None  # the token server's fail_mode
    primary: str = PRIMARY
    slow: bool = False  # served with a scan deadline shorter than the injected latency
    retry_after: int | None = None

    def expected_resync(self) -> int:
        """The first failed scan backs off 30 s, longer when the registry said Retry-After."""
        return max(BACKOFF_SECONDS, self.retry_after or 0)

    def matches_cause(self, text: str) -> bool:
        """Whether an error text gives this fault's cause."""
        return re.search(self.cause, text) is not None


ALL = frozenset({"wildcard", "repository", "tag"})
LISTS = frozenset({"wildcard", "repository"})
EVERY_REQUEST = "/v2/"
GETS = r"^GET /v2/"
LIST_CALLS = r"^GET /v2/(.*/tags/list|_catalog)"
# A catalog past the page cap continues in the next call (test_hostile_catalogs.py); tag lists
# past it are cut.
TAG_LISTS = r"^GET /v2/.*/tags/list"

NO_FAULT = Fault("no-fault-baseline", r"^$", frozenset())
FAULTS = (
    NO_FAULT,
    Fault(
        "latency-beyond-the-deadline",
        r"did not finish within its deadline",
        ALL,
        ({"match": EVERY_REQUEST, "action": "delay", "ms": 2500},),
        slow=True,
    ),
    Fault(
        "stall-beyond-the-request-timeout",
        r"did not answer in time",
        ALL,
        ({"match": EVERY_REQUEST, "action": "stall", "ms": 8000},),
    ),
    Fault(
        "429-with-retry-after",
        r"rate limited by .*\(429\); retry after 120s",
        ALL,
        ({"match": EVERY_REQUEST, "action": "status", "status": 429, "retry_after": 120},),
        retry_after=120,
    ),
    Fault(
        "429-without-retry-after",
        r"rate limited by [^;]*\(429\)(?!; retry after)",
        ALL,
        ({"match": EVERY_REQUEST, "action": "status", "status": 429},),
    ),
    *(
        Fault(
            f"{status}",
            rf"failed with {status}",
            ALL,
            ({"match": EVERY_REQUEST, "action": "status", "status": status},),
        )
        for status in (500, 502, 503)
    ),
    Fault("reset", r"was dropped", ALL, ({"match": EVERY_REQUEST, "action": "reset"},)),
    Fault("drop", r"was dropped", ALL, ({"match": EVERY_REQUEST, "action": "drop"},)),
    # A HEAD has no body to cut or to garble: these break the listing calls.
    Fault("truncate", r"was dropped", LISTS, ({"match": GETS, "action": "truncate"},)),
    Fault("non-json-body", r"not JSON", LISTS, ({"match": GETS, "action": "garbage"},)),
    Fault(
        "link-loop",
        r"loop back to a page already read",
        LISTS,
        ({"match": LIST_CALLS, "action": "link_loop"},),
    ),
    Fault(
        "endless-pages",
        r"more than \d+ pages",
        LISTS,
        ({"match": TAG_LISTS, "action": "endless_pages"},),
    ),
    Fault("token-endpoint-fails", r"token service at .* failed with 500", ALL, token_fail="error"),
    Fault("token-endpoint-garbage", r"token service at .*not JSON", ALL, token_fail="garbage"),
    Fault("tls-wrong-ca", r"TLS handshake with .* failed", ALL, primary=SECURE),
)
