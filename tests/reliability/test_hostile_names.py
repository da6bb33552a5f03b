"""Hostile names and tags: what a registry chooses to list can cost no more than reading it.

Issue 13's campaign found registries that list names and tags made to hurt: texts that make a
backtracking `*` glob run for hours, and texts outside the reference grammar that became models.
Each test here fails on the code before the fix (the glob cases never finish: the timeout is a
guard against hanging, not a speed assertion) and prints its figure, measured against a
baseline from the same run, so the CI log shows it.
"""

import gc
import json
import time
import tracemalloc
from collections.abc import Callable

import pytest

from hooks.modelsource.filters import ImageFilter, build_filters
from hooks.modelsource.naming import model_name
from hooks.modelsource.plan import (
    ChildTemplate,
    FilterResult,
    Plan,
    image_key,
    ordered_images,
    plan_models,
)
from hooks.modelsource.spec import FilterSpec, SourceSpec
from hooks.reference import ImageRef
from hooks.registry.credentials import Credential, Keychain
from tests.hooks.expected import condition
from tests.hooks.wire import CONFIG_GROUP, SECRET_GROUP, related, source, sync_request
from tests.reliability.conftest import Figures, Serve, World
from tests.reliability.planted import Planted
from tests.reliability.scenarios import PRIMARY, REGISTRY_SECRET

# Far above what linear matching needs (milliseconds), far below what backtracking needs (hours).
HANG_GUARD_SECONDS = 120


def one_filter(image: str, *exclude: str) -> ImageFilter:
    """The ImageFilter a source with this one filter builds, as the sync hook builds it."""
    [built] = build_filters(
        SourceSpec(registry="registry.test", filters=(FilterSpec(image, exclude=exclude),))
    )
    assert isinstance(built, ImageFilter), built
    return built


def timed(work: Callable[[], object]) -> tuple[float, object]:
    """(seconds, answer) of one call."""
    started = time.perf_counter()
    answer = work()
    return time.perf_counter() - started, answer


def report(figures: Figures, line: str) -> None:
    """One figure for the campaigns' end-of-run summary, under "hostile names"."""
    figures.hostile_names.append(line)


@pytest.mark.timeout(HANG_GUARD_SECONDS)
def test_star_globs_cost_a_pass_over_the_text_whatever_the_registry_lists(
    figures: Figures,
) -> None:
    names = [f"models/{'a' * 53}" for _ in range(10_000)]  # 60 characters, no `b` at the end
    huge_name = ["models/" + "a" * 2_000_000]
    huge_tag = ["a" * 1_000_000]
    valid_tag = ["a" * 128]
    host = ["a" * 60 + ".test"]
    keychain = Keychain([("*a*a*a*a*a*a*b.test", Credential("u", "p"))])
    # (what, the matcher, the texts, how many it must select)
    cases: list[tuple[str, Callable[[str], object], list[str], int]] = [
        (
            "models/*a*a*a*a*a*a*b x 10,000 names of 60 characters",
            one_filter("models/*a*a*a*a*a*a*b").selects_repository,
            names,
            0,
        ),
        (
            "models/*a*a*a*a*a*a*b* x 10,000 names of 60 characters",
            one_filter("models/*a*a*a*a*a*a*b*").selects_repository,
            names,
            0,
        ),
        (
            "models/*a*b against a 2 MB name",
            one_filter("models/*a*b").selects_repository,
            huge_name,
            0,
        ),
        (
            "models/*a*b* against a 2 MB name",
            one_filter("models/*a*b*").selects_repository,
            huge_name,
            0,
        ),
        (
            "models/*aaa…(200 a)…b* (a near miss at every place) against a 2 MB name",
            one_filter("models/*" + "a" * 200 + "b*").selects_repository,
            huge_name,
            0,
        ),
        (
            "exclusion models/*a*a*b* against a 2 MB name",
            one_filter("models/*", "models/*a*a*b*").selects_repository,
            huge_name,
            1,
        ),
        (
            "tag glob *a*a*a*b against a valid 128-character tag",
            one_filter("models/x:*a*a*a*b").selects_tag,
            valid_tag,
            0,
        ),
        (
            "tag glob *a*a*a*b* against a valid 128-character tag",
            one_filter("models/x:*a*a*a*b*").selects_tag,
            valid_tag,
            0,
        ),
        (
            "tag glob *a*b* against a 1 MB tag",
            one_filter("models/x:*a*b*").selects_tag,
            huge_tag,
            0,
        ),
        (
            "credential key *a*a*a*a*a*a*b.test against a 60-character host label",
            keychain.lookup,
            host,
            0,
        ),
    ]
    # Baseline: one pass over the same texts, which any reader of them makes anyway.
    baseline, _ = timed(lambda: [text.count("b") for text in names + huge_name])
    for label, matcher, texts, selected in cases:
        elapsed, answers = timed(lambda matcher=matcher, texts=texts: [matcher(t) for t in texts])
        assert isinstance(answers, list)
        assert sum(bool(answer) for answer in answers) == selected, label
        report(figures, f"{label}: {elapsed * 1000:.2f} ms ({elapsed / baseline:.2f}x one count)")


# --- Many found images: only those that can still be created are named and sorted -------------


def naming_everything(outcomes: list[FilterResult]) -> int:
    """What planning cost before: every image sorted and named, whatever maxModels allowed."""
    return len({model_name(*image_key(image)) for image in ordered_images(outcomes)})


def traced(work: Callable[[], object]) -> tuple[object, int]:
    """(answer, peak bytes allocated) of one call."""
    gc.collect()
    tracemalloc.start()
    try:
        answer = work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return answer, peak


def test_planning_many_found_images_costs_a_pass_over_them(figures: Figures) -> None:
    # Issue 13: 300 repositories x 10,000 tags with maxModels 10,000 took 24.5 s and 1.3 GiB.
    # A twentieth of it here (150,000 images), with 5,000 models to create.
    tags = [f"1.{i // 100}.{i % 100}" for i in range(1_000)]
    images = tuple(
        ImageRef("registry.test", f"models/repo-{r}", tag=t) for r in range(150) for t in tags
    )
    outcomes = [FilterResult(0, "models/*", images=images)]
    template = ChildTemplate("many")

    def plan() -> Plan:
        return plan_models(template, 5_000, outcomes, {})

    before_seconds, _ = timed(lambda: naming_everything(outcomes))
    after_seconds, result = timed(plan)
    _, peak = traced(plan)

    assert isinstance(result, Plan)
    assert len(result.created) == 5_000
    assert result.not_created == len(images) - 5_000
    assert result.available == len(images)
    # Memory, not time, is asserted: the plan holds the models it creates and a reference per
    # found image, not a name and a sort key per found image (before: about 270 bytes each).
    assert peak < 120 * len(images)
    report(
        figures,
        f"plan of {len(images):,} found images, maxModels 5,000: {after_seconds:.2f} s, "
        f"peak {peak / 2**20:.0f} MiB ({peak / len(images):.0f} B per image); naming and "
        f"sorting every image as before: {before_seconds:.2f} s "
        f"({before_seconds / after_seconds:.1f}x the time)",
    )


# --- Through the service: a registry that lists tags outside the grammar -----------------------

HOSTILE_TAGS = [
    "1.0.0\n",
    "1.0.0\x00",
    "../../etc",
    "1.0.0; rm -rf /",
    "1.0.0@sha256:" + "a" * 64,
    "",
    "a" * 70_000,
]


def test_tags_outside_the_grammar_never_become_models_and_are_reported(
    calm_world: World, serve: Serve, planted: Planted, figures: Figures
) -> None:
    world = calm_world
    hook = serve(world.settings())
    body = json.dumps({"name": "bulk/many-tags", "tags": ["1.0.0", *HOSTILE_TAGS, "2.0.0"]})
    world.proxy.set_rules(
        [{"match": r"GET /v2/bulk/many-tags/tags/list", "action": "garbage", "body": body}]
    )
    spec = {
        "registry": PRIMARY,
        "filters": [{"image": "bulk/many-tags"}],
        "imagePullSecrets": [{"name": REGISTRY_SECRET}],
    }
    secrets = [planted.login_secret(REGISTRY_SECRET, PRIMARY)]

    reply = hook.sync(
        sync_request(source("hostile", spec), {}, related([CONFIG_GROUP, SECRET_GROUP], secrets))
    )

    images = sorted(child["spec"]["image"] for child in reply["children"])
    assert images == [f"{PRIMARY}/bulk/many-tags:1.0.0", f"{PRIMARY}/bulk/many-tags:2.0.0"]
    ready = condition(reply["status"], "Ready")
    assert reply["status"]["status"] == "Ready"
    assert (
        f"{len(HOSTILE_TAGS)} image(s) listed outside the reference grammar, dropped"
        in (ready["message"])
    )
    size = len(json.dumps(reply["status"]))
    assert size < 8_000
    report(
        figures,
        f"{len(HOSTILE_TAGS)} hostile tags (70,000 characters the longest): 0 models, "
        f"reported in a status of {size:,} bytes",
    )
