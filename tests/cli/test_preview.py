"""`python -m hooks preview`: a source manifest scanned against a real registry, shown to a person.

End to end as a user runs it (a subprocess against docker-registry on 127.0.0.1); the report and
its rendering are checked on their own with plain data.
"""

import base64
import json
import os
import pty
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from hooks.__main__ import main
from hooks.modelsource.naming import model_name
from hooks.modelsource.plan import FilterResult
from hooks.modelsource.spec import parse_spec
from hooks.preview import (
    SourceManifest,
    SourceReport,
    preview_source,
    read_manifests,
    render,
    render_table,
    report_document,
    secret_object,
)
from hooks.reference import ImageRef
from hooks.registry.credentials import Keychain
from hooks.registry.targets import ScanTarget, TargetResult
from tests.cli.runner import ROOT, HooksCLI, cli_env
from tests.harness.populate import plan_from
from tests.harness.registry import BasicAuth, Registry, RegistryFactory

PLAN = plan_from(
    {
        "demo/aim-llama": ["1.0.0", "1.1.0", "latest"],
        "demo/aim-mistral": ["2.0.0"],
        "demo/aim-base": ["1.0.0"],
        "demo/tools": ["1.0.0"],
    }
)


def source(name: str = "local-models", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMClusterModelSource",
        "metadata": {"name": name},
        "spec": spec,
    }


def pull_secret(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "kaiwo-system"},
        "type": "kubernetes.io/dockerconfigjson",
        **fields,
    }


def docker_config(registry: Registry, username: str, password: str) -> str:
    return json.dumps({"auths": {registry.host: {"username": username, "password": password}}})


def write(path: Path, *documents: Any) -> Path:
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return path


def preview(
    hooks_cli: HooksCLI, registry: Registry, *args: str | Path
) -> subprocess.CompletedProcess[str]:
    return hooks_cli("preview", *args, env=cli_env(AIM_INSECURE_REGISTRIES=registry.host))


def table(stdout: str, header: str) -> list[list[str]]:
    """The rows of the table whose header starts with `header`, cells split on the padding."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header + " "))
    rows = []
    for line in lines[start + 1 :]:
        if not line:
            break
        rows.append(re.split(r" {2,}", line))
    return rows


def model(registry: Registry, repository: str, tag: str) -> str:
    return model_name(registry.host, repository, tag)


# --- end to end ------------------------------------------------------------------------------


def test_table_shows_what_each_filter_found_and_a_missing_exact_tag_makes_it_degraded(
    hooks_cli: HooksCLI, registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    registry = registry_factory(plan=PLAN)
    manifest = write(
        tmp_path / "source.yaml",
        source(
            registry=registry.host,
            filters=[
                {"image": "demo/aim-*", "versions": [">=1.0.0"], "exclude": ["demo/aim-base"]},
                {"image": "demo/aim-llama:9.9.9"},
            ],
        ),
    )

    result = preview(hooks_cli, registry, manifest)

    assert (result.returncode, result.stderr) == (0, "")
    host = registry.host
    missing = f"error: image {host}/demo/aim-llama:9.9.9 does not exist"
    assert table(result.stdout, "FILTER") == [
        ["0", "demo/aim-*", host, "3", "ok"],
        ["1", "demo/aim-llama:9.9.9", host, "0", missing],
    ]
    assert table(result.stdout, "MODEL") == [
        [model(registry, repository, tag), f"{host}/{repository}:{tag}", "0", "new"]
        for repository, tag in [
            ("demo/aim-llama", "1.1.0"),
            ("demo/aim-llama", "1.0.0"),
            ("demo/aim-mistral", "2.0.0"),
        ]
    ] + [["-", f"{host}/demo/aim-base:1.0.0", "0", "excluded"]]
    assert "Totals: 3 matched, 3 would be created, 0 over the limit, 1 excluded" in result.stdout
    assert "Status: Degraded (SomeFiltersHadErrors): 1 of 2 filter(s) failed" in result.stdout


def test_json_output_names_each_model_as_the_service_would(
    hooks_cli: HooksCLI, registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    registry = registry_factory(plan=PLAN)
    manifest = write(
        tmp_path / "source.yaml",
        source(filters=[{"image": f"{registry.host}/demo/aim-llama"}]),
    )

    result = preview(hooks_cli, registry, manifest, "--output", "json")

    assert result.returncode == 0
    (report,) = json.loads(result.stdout)["sources"]
    assert [(image["model"], image["mark"]) for image in report["images"]] == [
        (model(registry, "demo/aim-llama", tag), "new") for tag in ("1.1.0", "1.0.0", "latest")
    ]
    assert report["images"][0] == {
        "model": model(registry, "demo/aim-llama", "1.1.0"),
        "image": f"{registry.host}/demo/aim-llama:1.1.0",
        "mark": "new",
        "filter": 0,
        "registry": registry.host,
        "repository": "demo/aim-llama",
        "tag": "1.1.0",
    }
    assert report["totals"] == {"matched": 3, "new": 3, "overLimit": 0, "excluded": 0}
    assert report["status"] == {
        "status": "Ready",
        "reason": "AllFiltersSucceeded",
        "message": "Successfully discovered 3 model(s) from 1 filter(s)",
        "modelsLimitReached": False,
    }
    # The registry defaults to docker.io, as in the service; the filter names its own host.
    assert report["registry"] == "docker.io"
    assert report["filters"][0]["registry"] == registry.host


def test_max_models_marks_the_images_beyond_it_over_limit(
    hooks_cli: HooksCLI, registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    registry = registry_factory(plan=PLAN)
    manifest = write(
        tmp_path / "source.yaml",
        source(registry=registry.host, maxModels=2, filters=[{"image": "demo/aim-llama"}]),
    )

    limited = preview(hooks_cli, registry, manifest, "-o", "json")
    lifted = preview(hooks_cli, registry, manifest, "-o", "json", "--max-models", "3")

    (report,) = json.loads(limited.stdout)["sources"]
    assert [image["mark"] for image in report["images"]] == ["new", "new", "over limit"]
    assert report["images"][2]["tag"] == "latest"  # the newest versions are created first
    assert report["totals"] == {"matched": 3, "new": 2, "overLimit": 1, "excluded": 0}
    assert report["status"]["modelsLimitReached"] is True
    (report,) = json.loads(lifted.stdout)["sources"]
    assert [image["mark"] for image in report["images"]] == ["new", "new", "new"]
    assert report["maxModels"] == 3


def test_a_basic_auth_registry_is_read_with_the_secret_given_with_secret(
    hooks_cli: HooksCLI, registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    registry = registry_factory(plan=PLAN, auth=BasicAuth({"alice": "wonderland"}))
    manifest = write(
        tmp_path / "source.yaml",
        source(
            imagePullSecrets=[{"name": "local-creds"}],
            filters=[{"image": f"{registry.host}/demo/aim-mistral"}],
        ),
    )
    secret = write(
        tmp_path / "secret.yaml",
        pull_secret(
            "local-creds",
            stringData={".dockerconfigjson": docker_config(registry, "alice", "wonderland")},
        ),
    )

    result = preview(hooks_cli, registry, manifest, "--secret", secret, "-o", "json")

    assert (result.returncode, result.stderr) == (0, "")
    (report,) = json.loads(result.stdout)["sources"]
    assert report["filters"][0]["outcome"] == "ok"
    assert [image["image"] for image in report["images"]] == [
        f"{registry.host}/demo/aim-mistral:2.0.0"
    ]
    assert report["notes"] == []


def test_a_secret_in_the_source_file_is_used_too(
    hooks_cli: HooksCLI, registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    registry = registry_factory(plan=PLAN, auth=BasicAuth({"alice": "wonderland"}))
    config = docker_config(registry, "alice", "wonderland")
    manifest = write(
        tmp_path / "source.yaml",
        pull_secret(
            "local-creds",
            data={".dockerconfigjson": base64.b64encode(config.encode()).decode()},
        ),
        source(
            imagePullSecrets=[{"name": "local-creds"}],
            filters=[{"image": f"{registry.host}/demo/aim-mistral"}],
        ),
    )

    result = preview(hooks_cli, registry, manifest, "-o", "json")

    (report,) = json.loads(result.stdout)["sources"]
    assert report["filters"][0]["outcome"] == "ok"


@pytest.mark.parametrize("namespace", ["default", None])
def test_a_secret_outside_the_operator_namespace_is_not_used_as_the_service_would_not(
    hooks_cli: HooksCLI, registry_factory: RegistryFactory, tmp_path: Path, namespace: str | None
) -> None:
    registry = registry_factory(plan=PLAN, auth=BasicAuth({"alice": "wonderland"}))
    misplaced = pull_secret(
        "local-creds",
        stringData={".dockerconfigjson": docker_config(registry, "alice", "wonderland")},
    )
    if namespace is None:
        del misplaced["metadata"]["namespace"]
    else:
        misplaced["metadata"]["namespace"] = namespace
    manifest = write(
        tmp_path / "source.yaml",
        misplaced,
        source(
            imagePullSecrets=[{"name": "local-creds"}],
            filters=[{"image": f"{registry.host}/demo/aim-mistral"}],
        ),
    )

    result = preview(hooks_cli, registry, manifest, "-o", "json")

    assert result.returncode == 1
    (report,) = json.loads(result.stdout)["sources"]
    assert report["filters"][0]["outcome"] == "error"
    (note,) = report["notes"]
    assert f"is in namespace {namespace or '(none)'}, not in the operator namespace" in note


def test_emit_request_prints_the_sync_request_the_service_would_receive(
    hooks_cli: HooksCLI, registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    registry = registry_factory(plan=PLAN)
    elsewhere = pull_secret("other", stringData={".dockerconfigjson": "{}"})
    elsewhere["metadata"]["namespace"] = "default"
    manifest = write(
        tmp_path / "source.yaml",
        pull_secret("local-creds", stringData={".dockerconfigjson": "{}"}),
        elsewhere,
        source(
            imagePullSecrets=[{"name": "local-creds"}, {"name": "other"}],
            filters=[{"image": f"{registry.host}/demo/aim-mistral"}],
        ),
    )

    result = preview(hooks_cli, registry, manifest, "--emit-request")
    request = json.loads(result.stdout)
    replayed = hooks_cli(
        "replay",
        write_json(tmp_path / "request.json", request),
        env=cli_env(AIM_INSECURE_REGISTRIES=registry.host),
    )

    assert result.returncode == 0, result.stderr
    assert sorted(request["related"]["Secret.v1"]) == ["kaiwo-system/local-creds"]
    assert request["related"]["AIMClusterConfig.aim.silogen.ai/v1alpha1"] == {}
    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout)["status"]["discoveredModels"] == 1


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_without_the_secret_the_filter_fails_for_lack_of_credentials_and_exits_1(
    hooks_cli: HooksCLI, registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    registry = registry_factory(plan=PLAN, auth=BasicAuth({"alice": "wonderland"}))
    manifest = write(
        tmp_path / "source.yaml",
        source(
            imagePullSecrets=[{"name": "local-creds"}],
            filters=[{"image": f"{registry.host}/demo/aim-mistral"}],
        ),
    )

    result = preview(hooks_cli, registry, manifest)

    assert result.returncode == 1
    ((_, _, _, matched, outcome),) = table(result.stdout, "FILTER")
    assert matched == "0"
    assert outcome.startswith("error: ")
    assert "requires a username and password" in outcome
    assert 'note: pull secret "local-creds" is in none of the files' in result.stdout
    assert "Status: Failed (AllFiltersFailed)" in result.stdout


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"maxModels": 0, "filters": [{"image": "demo/aim-*"}]}, "spec.maxModels"),
        ({"filters": [{"exclude": ["demo/x"]}]}, "spec.filters[0].image"),
        ({"syncInterval": "1 hour", "filters": [{"image": "demo/aim-*"}]}, "spec.syncInterval"),
    ],
    ids=["maxModels", "image", "syncInterval"],
)
def test_an_invalid_spec_exits_2_naming_the_field(
    hooks_cli: HooksCLI, tmp_path: Path, spec: dict[str, Any], field: str
) -> None:
    manifest = write(tmp_path / "source.yaml", source("broken", **spec))

    result = hooks_cli("preview", manifest)

    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(
        f'preview: {manifest}: AIMClusterModelSource "broken": {field}: '
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("kind: AIMClusterConfig\nmetadata: {name: default}\n", "holds no AIMClusterModelSource"),
        ("filters: [", "is not valid YAML"),
    ],
    ids=["missing", "no-source", "not-yaml"],
)
def test_an_unusable_file_exits_2_saying_why(
    hooks_cli: HooksCLI, tmp_path: Path, content: str | None, message: str
) -> None:
    manifest = tmp_path / "source.yaml"
    if content is not None:
        manifest.write_text(content)

    result = hooks_cli("preview", manifest)

    assert (result.returncode, result.stdout) == (2, "")
    assert message in result.stderr


def test_a_secret_no_source_names_is_pointed_out(
    hooks_cli: HooksCLI, registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    registry = registry_factory(plan=PLAN)
    manifest = write(
        tmp_path / "source.yaml", source(filters=[{"image": f"{registry.host}/demo/tools"}])
    )
    secret = write(
        tmp_path / "secret.yaml",
        pull_secret("forgotten", stringData={".dockerconfigjson": "{}"}),
    )

    result = preview(hooks_cli, registry, manifest, "--secret", secret)

    assert result.returncode == 0
    assert result.stderr == (
        'preview: Secret "forgotten" is not named in spec.imagePullSecrets; not used\n'
    )


def test_progress_is_shown_on_a_terminal_only(
    hooks_cli: HooksCLI, registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    registry = registry_factory(plan=PLAN)
    manifest = write(
        tmp_path / "source.yaml", source(filters=[{"image": f"{registry.host}/demo/tools"}])
    )
    env = cli_env(AIM_INSECURE_REGISTRIES=registry.host)

    piped = hooks_cli("preview", manifest, "-o", "json", env=env)
    controller, terminal = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "hooks", "preview", str(manifest), "-o", "json"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=terminal,
    ) as process:
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # Linux reports the end of a terminal's output as EIO
                break
            if not chunk:
                break
            shown += chunk
        assert process.stdout is not None
        printed = process.stdout.read()
    os.close(controller)

    assert (piped.returncode, piped.stderr) == (0, "")
    assert process.returncode == 0
    assert json.loads(printed) == json.loads(piped.stdout)
    assert b"scanning 1 filter(s) of local-models" in shown
    assert shown.endswith(b"\r\x1b[K")  # the line is erased before the report


# --- the report and its rendering, from plain data --------------------------------------------

HOST = "registry.example.com"


def image(repository: str, tag: str) -> ImageRef:
    return ImageRef(HOST, repository, tag=tag)


def report_for(
    spec: dict[str, Any],
    outcomes: list[FilterResult],
    excluded: list[FilterResult] | None = None,
    notes: tuple[str, ...] = (),
) -> SourceReport:
    """The report of the service's pipeline, given a scan function that finds these images."""
    full = {"registry": HOST, **spec}
    found = {o.index: o for o in outcomes}
    removed = {-1 - o.index: o for o in excluded or []}

    def scan(targets: Sequence[ScanTarget], keychain: Keychain) -> list[TargetResult]:
        answers = []
        for target in targets:
            given = found.get(target.key) or removed.get(target.key)
            if given is not None:
                answers.append(
                    TargetResult(target.key, images=given.images, finished=given.finished)
                )
        return answers

    manifest = SourceManifest("demo", parse_spec(full), source("demo", **full))
    report = preview_source(
        manifest, [], scan=scan, now=datetime(2026, 8, 20, tzinfo=UTC), operator_namespace="ns"
    )
    return replace(report, notes=notes)


def test_a_renamed_image_is_shown_under_the_name_the_service_gives_it() -> None:
    # Both tags' compatible names are one 24-bit name on docker.io; the second gets a longer one.
    tags = ("n---_____-1", "n___--__-1")
    found = tuple(ImageRef("docker.io", "models/nightly", tag) for tag in tags)
    report = report_for(
        {"registry": "docker.io", "filters": [{"image": "models/nightly"}]},
        [FilterResult(0, "models/nightly", images=found)],
    )

    shared = model_name("docker.io", "models/nightly", tags[0])
    assert shared == model_name("docker.io", "models/nightly", tags[1])
    models = [row.model for row in report.images]
    assert models[0] == shared
    assert models[1] is not None and models[1] != shared
    assert [row.mark for row in report.images] == ["new", "new"]


def test_an_image_another_filter_matches_is_not_shown_as_excluded() -> None:
    report = report_for(
        {"filters": [{"image": "a/*", "exclude": ["a/base"]}, {"image": "a/base"}]},
        [
            FilterResult(0, "a/*", images=(image("a/x", "1.0.0"),)),
            FilterResult(1, "a/base", images=(image("a/base", "1.0.0"),)),
        ],
        [FilterResult(0, "a/*", images=(image("a/base", "1.0.0"), image("a/base", "0.1.0")))],
    )

    assert [(row.image, row.mark, row.filter) for row in report.images] == [
        (f"{HOST}/a/x:1.0.0", "new", 0),
        (f"{HOST}/a/base:1.0.0", "new", 1),
        (f"{HOST}/a/base:0.1.0", "excluded", 0),
    ]
    assert (report.totals.matched, report.totals.excluded) == (2, 1)


def test_a_scan_cut_by_its_deadline_shows_the_filter_unfinished_and_the_source_progressing() -> (
    None
):
    report = report_for(
        {"filters": [{"image": "a/*"}]},
        [FilterResult(0, "a/*", images=(image("a/x", "1.0.0"),), finished=False)],
    )

    assert report.filters[0].outcome == "unfinished"
    assert report.status == "Progressing"
    assert [row.mark for row in report.images] == ["new"]
    assert "unfinished: the scan deadline passed" in render_table([report])


def test_a_filter_that_cannot_run_shows_its_error_without_a_registry() -> None:
    report = report_for(
        {"filters": [{"image": "a/*", "versions": [">=banana"]}, {"image": "a/y"}]},
        [
            FilterResult(0, "a/*", error='versions: invalid constraint ">=banana"'),
            FilterResult(1, "a/y"),
        ],
    )

    first, second = table(render_table([report]), "FILTER")
    assert first[:4] == ["0", "a/*", "-", "0"]
    assert first[4].startswith('error: versions: invalid version constraint ">=banana"')
    assert second == ["1", "a/y", HOST, "0", "ok"]
    assert "No images matched." in render_table([report])
    assert report.status == "Degraded"


def test_table_columns_line_up_whatever_the_cell_widths() -> None:
    images = (image("a/x", "1.0.0"), image("a/much-longer", "10.20.30"))
    report = report_for(
        {"filters": [{"image": "a/*"}]}, [FilterResult(0, "a/*", images=images)], notes=("a note",)
    )

    lines = render_table([report]).splitlines()
    start = lines.index(next(line for line in lines if line.startswith("MODEL ")))
    header, *rows = lines[start : start + 3]
    columns = [match.start() for match in re.finditer(r"(?<=  )\S", header)]
    for row in rows:
        assert [row[column - 2 : column] for column in columns] == ["  "] * len(columns)
    # Each column is as wide as its widest cell: two spaces after it, no more.
    starts = [0, *columns]
    widths = [
        max(len(line[start:end].rstrip()) for line in (header, *rows))
        for start, end in zip(starts, columns, strict=False)
    ]
    assert [start + width + 2 for start, width in zip(starts, widths, strict=False)] == columns
    assert all(line == line.rstrip() for line in lines)
    assert "  note: a note" in lines


def test_json_and_yaml_hold_the_same_document_with_keys_in_a_fixed_order() -> None:
    report = report_for(
        {"maxModels": 1, "filters": [{"image": "a/*"}]},
        [FilterResult(0, "a/*", images=(image("a/x", "1.0.0"), image("a/x", "2.0.0")))],
    )

    document = report_document([report])
    as_json, as_yaml = render([report], "json"), render([report], "yaml")

    assert json.loads(as_json) == yaml.safe_load(as_yaml) == document
    (source,) = json.loads(as_json)["sources"]
    assert list(source) == [
        "name", "registry", "maxModels", "status", "totals", "filters", "images", "notes"
    ]  # fmt: skip
    assert [row["mark"] for row in source["images"]] == ["new", "over limit"]
    assert source["status"]["modelsLimitReached"] is True


def test_string_data_of_a_secret_manifest_is_stored_as_data_and_wins() -> None:
    secret = secret_object(
        {
            "kind": "Secret",
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": "b2xk", "other": "eA=="},
            "stringData": {".dockerconfigjson": '{"auths": {}}'},
        }
    )

    assert secret == {
        "kind": "Secret",
        "type": "kubernetes.io/dockerconfigjson",
        "data": {
            ".dockerconfigjson": base64.b64encode(b'{"auths": {}}').decode(),
            "other": "eA==",
        },
    }


def test_sources_and_secrets_are_read_from_kubectl_lists_too(tmp_path: Path) -> None:
    secret = pull_secret("creds", stringData={".dockerconfigjson": "{}"})
    listed = {"apiVersion": "v1", "kind": "List", "items": [source("a", filters=[{"image": "x"}])]}
    manifest = write(tmp_path / "sources.yaml", listed, source("b", filters=[{"image": "y"}]))
    secrets = write(tmp_path / "secrets.yaml", {"kind": "List", "items": [secret]}, ["not", "a"])

    manifests = read_manifests(manifest, [secrets])

    assert [s.name for s in manifests.sources] == ["a", "b"]
    assert [d["metadata"]["name"] for d in manifests.related] == ["creds"]


@pytest.mark.parametrize("value", ["0", "10001", "many"])
def test_max_models_outside_its_range_is_a_usage_error(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["preview", "source.yaml", "--max-models", value])

    assert exited.value.code == 2
    assert "argument --max-models" in capsys.readouterr().err


def test_the_example_sync_request_is_what_emit_request_prints_for_the_example_source(
    capsys: pytest.CaptureFixture[str],
) -> None:
    example = ROOT / "examples" / "local-registry-sync.json"

    code = main(
        ["preview", str(ROOT / "examples" / "local-registry-source.yaml"), "--emit-request"]
    )

    assert code == 0
    assert json.loads(capsys.readouterr().out) == json.loads(example.read_text())
