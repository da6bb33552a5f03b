"""GET /metrics: what the hooks answered and how the registries answered, with bounded labels.

A real registry behind a fault proxy answers the scans; the proxy's rules make it rate-limit and
fail once, which the scanner retries, so one sync exercises every registry family.
"""

from collections.abc import Callable

import httpx
import pytest

from hooks.metrics import code_label
from hooks.registry.config import RegistrySettings
from hooks.settings import Settings
from tests.harness.faultproxy import FaultProxy
from tests.harness.populate import plan_from
from tests.harness.registry import RegistryFactory
from tests.hooks.emulator import HookClient, metacontroller_loop
from tests.web.conftest import Serve
from tests.web.hook_requests import source_sync
from tests.web.prometheus import increase, scrape

pytestmark = pytest.mark.registry

REGISTRY = "models.test"
SOURCE = "label-source-7c1e"
IMAGES = {
    "catalogue/model-alpha-5d2f": ["1.0.0-alphatag", "2.0.0-alphatag"],
    "catalogue/model-beta-9a4b": ["3.1.4-betatag"],
}
FAMILIES = {
    "aim_hooks_hook_calls": "counter",
    "aim_hooks_hook_duration_seconds": "histogram",
    "aim_hooks_scans": "counter",
    "aim_hooks_registry_requests": "counter",
    "aim_hooks_registry_rate_limited": "counter",
    "aim_hooks_models_created": "counter",
    "aim_hooks_scan_deadline_hits": "counter",
}
FAULTS = [
    {"match": "model-alpha-5d2f/tags/list", "action": "status", "status": 429, "retry_after": 0}
    | {"times": 1},
    {"match": "model-beta-9a4b/tags/list", "action": "status", "status": 503, "times": 1},
]

Proxies = Callable[..., FaultProxy]


@pytest.fixture
def proxy(registry_factory: RegistryFactory, fault_proxy_factory: Proxies) -> FaultProxy:
    """A registry holding IMAGES, behind a fault proxy of the test's own."""
    registry = registry_factory(plan=plan_from(IMAGES))
    return fault_proxy_factory("127.0.0.1", registry.port)


def serve_with_faults(serve: Serve, proxy: FaultProxy) -> httpx.Client:
    """The service scanning REGISTRY through `proxy`, which rate-limits one tag list and fails
    another once (FAULTS): one sync then counts in every registry family."""
    proxy.set_rules(FAULTS)
    return serve(Settings(registry=RegistrySettings(endpoints={REGISTRY: proxy.url})))


def test_every_family_is_exposed_and_counts_a_sync(serve: Serve, proxy: FaultProxy) -> None:
    http = serve_with_faults(serve, proxy)
    before = scrape(http)

    # Metacontroller's loop: a scanning sync, then one with nothing due.
    controller = metacontroller_loop(
        HookClient(http), source_sync(SOURCE, REGISTRY, sorted(IMAGES))
    )

    after = scrape(http)
    assert controller.status["status"] == "Ready"
    assert len(controller.replies) == 2
    assert {name: after.families.get(name) for name in FAMILIES} == FAMILIES
    hook = "sync/modelsource"
    assert increase(before, after, "aim_hooks_hook_calls_total", hook=hook, outcome="Ready") == 1
    assert increase(before, after, "aim_hooks_hook_calls_total", hook=hook, outcome="not-due") == 1
    assert increase(before, after, "aim_hooks_hook_duration_seconds_count", hook=hook) == 2
    assert increase(before, after, "aim_hooks_scans_total", result="run") == 1
    assert increase(before, after, "aim_hooks_scans_total", result="skipped") == 1
    assert increase(before, after, "aim_hooks_models_created_total") == 3
    host = REGISTRY  # an AIM_REGISTRY_ENDPOINTS registry is labelled by its name
    requests = "aim_hooks_registry_requests_total"
    assert increase(before, after, requests, registry=host, code="429") == 1
    assert increase(before, after, requests, registry=host, code="5xx") == 1
    assert increase(before, after, requests, registry=host, code="200") == len(proxy.requests) - 2
    rate_limited = "aim_hooks_registry_rate_limited_total"
    assert increase(before, after, rate_limited, registry=host) == 1


def test_no_label_names_a_repository_a_tag_or_the_source(serve: Serve, proxy: FaultProxy) -> None:
    http = serve_with_faults(serve, proxy)
    missing = "catalogue/model-gamma-0e8d"

    metacontroller_loop(HookClient(http), source_sync(SOURCE, REGISTRY, [*IMAGES, missing]))

    after = scrape(http)
    values = after.label_values()
    words = [SOURCE, missing, *IMAGES, *(tag for tags in IMAGES.values() for tag in tags)]
    words += [part for name in [missing, *IMAGES] for part in name.split("/")]
    assert not [(w, v) for w in words for v in values if w in v]
    requests = after.labels_of("aim_hooks_registry_requests_total")
    codes = {labels["code"] for labels in requests if labels["registry"] == REGISTRY}
    assert codes == {"200", "404", "429", "5xx"}


def test_a_scan_stopped_by_its_deadline_is_counted(serve: Serve, proxy: FaultProxy) -> None:
    proxy.set_rules([{"match": "model-beta-9a4b/tags/list", "action": "stall", "ms": 3000}])
    settings = RegistrySettings(endpoints={REGISTRY: proxy.url}, scan_deadline=0.5)
    http = serve(Settings(registry=settings))
    before = scrape(http)

    reply = HookClient(http).sync(source_sync(SOURCE, REGISTRY, sorted(IMAGES)))

    after = scrape(http)
    assert reply["status"]["status"] == "Progressing"
    assert increase(before, after, "aim_hooks_scan_deadline_hits_total") == 1
    assert increase(before, after, "aim_hooks_models_created_total") == 2


def test_a_registry_that_cannot_be_reached_is_counted_as_error(
    serve: Serve, registry_factory: RegistryFactory
) -> None:
    registry = registry_factory(plan=plan_from(IMAGES))
    registry.stop()
    http = serve(Settings(registry=RegistrySettings(endpoints={REGISTRY: registry.url})))
    before = scrape(http)

    reply = HookClient(http).sync(source_sync(SOURCE, REGISTRY, sorted(IMAGES)))

    after = scrape(http)
    assert reply["status"]["status"] == "Failed"
    requests = "aim_hooks_registry_requests_total"
    # Each of the two filters' listings: the first try and two retries.
    assert increase(before, after, requests, registry=REGISTRY, code="error") == 6


@pytest.mark.parametrize(
    ("status", "label"),
    [(200, "200"), (401, "401"), (429, "429"), (418, "4xx"), (503, "5xx"), (None, "error")],
)
def test_status_codes_are_counted_by_a_bounded_label(status: int | None, label: str) -> None:
    assert code_label(status) == label
