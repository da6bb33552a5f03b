"""Command line: `python -m hooks serve` runs the service, `replay` one hook call, `preview` a
dry run of a source manifest, `migrate-check` the models a move from the Go controller leaves
unmanaged.

`serve` replaces this process with gunicorn from the same interpreter and configuration as the
container image (hooks/gunicorn_config.py), after checking the settings so that a bad variable
stops it with a message instead of a worker that fails to boot. `replay` is hooks/replay.py,
`preview` hooks/preview.py, `migrate-check` hooks/migration.py.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from hooks.logs import StderrHandler
from hooks.migration import migrate_check
from hooks.modelsource.spec import MAX_MODELS_LIMIT
from hooks.preview import OUTPUTS, preview
from hooks.replay import EXIT_USAGE, HOOKS, replay
from hooks.settings import SettingsError, settings_from_env

GUNICORN_CONFIG = "python:hooks.gunicorn_config"
APP = "hooks.app:create_app()"


def parser() -> argparse.ArgumentParser:
    """The `python -m hooks` command line."""
    root = argparse.ArgumentParser(
        prog="python -m hooks",
        description="Metacontroller hooks that create AIMClusterModels from container registries.",
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the hook service with gunicorn")
    serve.add_argument(
        "--bind",
        metavar="HOST:PORT",
        help="address to listen on (default: AIM_BIND or 0.0.0.0:8080)",
    )

    run = commands.add_parser(
        "replay",
        help="run one hook on a recorded request and print its response",
        description="Run one hook on a recorded request and print the response JSON. Settings "
        "come from the environment, as for the service. Exit 0 on an answer, 2 when the input "
        "is unusable (the service would answer 400), 1 when the hook fails.",
    )
    run.add_argument("request", type=Path, metavar="REQUEST.json", help="the request body")
    run.add_argument(
        "--hook",
        choices=list(HOOKS),
        metavar="HOOK",
        help=f"{'|'.join(HOOKS)} (default: inferred from the request)",
    )
    run.add_argument(
        "--now", metavar="RFC3339", help="the time the hook sees (default: the real time)"
    )
    tape = run.add_mutually_exclusive_group()
    tape.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="write every registry exchange to FILE, credentials redacted",
    )
    tape.add_argument(
        "--cassette",
        type=Path,
        metavar="FILE",
        help="answer registry requests from FILE (recorded with --record), offline",
    )

    dry = commands.add_parser(
        "preview",
        help="show which models a source manifest would create, without a cluster",
        description="Scan the registries for the AIMClusterModelSource(s) in SOURCE.yaml and "
        "show, per filter, what it found or why it failed; per image, the model that would be "
        "created; and the status the source would get. The cluster is taken to be empty. Pull "
        "secrets are the kubernetes.io/dockerconfigjson Secrets in SOURCE.yaml or in --secret "
        "files that spec.imagePullSecrets names. Settings come from the environment, as for the "
        "service (AIM_REGISTRY_ENDPOINTS, AIM_INSECURE_REGISTRIES, AIM_SCAN_DEADLINE_SECONDS, "
        "...). Exit 0 with a report, 1 when every filter of a source failed, 2 when the input "
        "is unusable (unreadable file, no source, invalid spec).",
    )
    dry.add_argument("source", type=Path, metavar="SOURCE.yaml", help="the source manifest")
    dry.add_argument(
        "--secret",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a manifest with pull Secrets (data or stringData) and AIMClusterConfigs; may be "
        "repeated",
    )
    dry.add_argument(
        "--output",
        "-o",
        choices=OUTPUTS,
        default="table",
        help="table (default) for people, json or yaml for scripts",
    )
    dry.add_argument(
        "--max-models",
        type=_max_models,
        metavar="N",
        help=f"use N (1-{MAX_MODELS_LIMIT}) instead of spec.maxModels",
    )
    dry.add_argument(
        "--emit-request",
        action="store_true",
        help="print the sync request the service would receive (one JSON line per source), "
        "for `python -m hooks replay`, instead of scanning",
    )

    migrate = commands.add_parser(
        "migrate-check",
        help="list models Metacontroller would not manage, and the command that fixes them",
        description="Check the AIMClusterModels of a cluster before (or after) moving from the "
        "Go controller: list each source's model that Metacontroller would not adopt (no "
        "controller-uid label) or would release, and print one `kubectl label` command per "
        "source that fixes them. Input: `kubectl get aimclustermodelsources,aimclustermodels "
        "-o yaml` (YAML or JSON, one or more files). Exit 0 when every model is managed, 1 "
        "when some need the fix, 2 when the input is unusable.",
    )
    migrate.add_argument(
        "files", type=Path, nargs="+", metavar="OBJECTS.yaml", help="models and their sources"
    )
    return root


def _max_models(text: str) -> int:
    """--max-models: an integer in maxModels' range, else argparse's usage error (exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 1 <= value <= MAX_MODELS_LIMIT:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_MODELS_LIMIT}, got {value}")
    return value


def serve(bind: str | None, env: Mapping[str, str]) -> int:
    """exec gunicorn with the service's configuration; returns only when the settings are bad."""
    try:
        settings_from_env(env)
    except SettingsError as exc:
        print(f"serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    argv = [sys.executable, "-m", "gunicorn", "--config", GUNICORN_CONFIG]
    if bind is not None:
        argv += ["--bind", bind]
    # The same interpreter, so the same virtual environment; no shell involved.
    os.execve(sys.executable, [*argv, APP], dict(env))  # noqa: S606


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] = os.environ) -> int:
    """Run one command; the exit code."""
    args = parser().parse_args(argv)
    if args.command == "serve":
        return serve(args.bind, env)
    # The hook's own log lines go to stderr, so stdout holds nothing but the response.
    logging.getLogger().addHandler(StderrHandler())
    if args.command == "migrate-check":
        return migrate_check(args.files, out=sys.stdout, err=sys.stderr)
    if args.command == "preview":
        return preview(
            args.source,
            secret_files=args.secret,
            output=args.output,
            max_models=args.max_models,
            emit_request=args.emit_request,
            env=env,
            out=sys.stdout,
            err=sys.stderr,
        )
    return replay(
        args.request,
        hook=args.hook,
        now=args.now,
        record=args.record,
        cassette=args.cassette,
        env=env,
        out=sys.stdout,
        err=sys.stderr,
    )


if __name__ == "__main__":
    sys.exit(main())
