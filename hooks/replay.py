"""`python -m hooks replay`: one hook on a recorded request, answered by the service's own code.

The request goes through the same Flask app the service runs (`create_app`), with the clock fixed
by `--now` and the registry traffic optionally recorded to or answered from a cassette
(hooks/cassette.py, which also explains how a bug report becomes a test). So a replay answers
exactly what the service would have answered, and a request the service would refuse with 400 is
refused here with the same message and exit code 2.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TextIO

import httpx

from hooks import jsonio
from hooks.app import Clock, create_app, utc_now
from hooks.cassette import (
    CassetteError,
    RecordingTransport,
    ReplayTransport,
    load_cassette,
    save_cassette,
)
from hooks.registry.config import RegistrySettings
from hooks.registry.pool import AiohttpTransport
from hooks.registry.scanner import scan_registries
from hooks.settings import Settings, SettingsError, settings_from_env

# Hook name on the command line -> the path the service serves it at: `{controller}-{phase}` is
# served at `/{phase}/{controller}`.
_CONTROLLERS = ("modelsource", "config", "namespaced-modelsource", "namespaceconfig")
HOOKS: dict[str, str] = {
    f"{controller}-{phase}": f"/{phase}/{controller}"
    for controller in _CONTROLLERS
    for phase in ("sync", "customize")
}
_BY_RESOURCE = {
    "aimclustermodelsources": "modelsource",
    "aimclusterconfigs": "config",
    "aimmodelsources": "namespaced-modelsource",
    "aimnamespaceconfigs": "namespaceconfig",
}
_BY_KIND = {
    "AIMClusterModelSource": "modelsource",
    "AIMClusterConfig": "config",
    "AIMModelSource": "namespaced-modelsource",
    "AIMNamespaceConfig": "namespaceconfig",
}
# Only sync requests carry these keys (contract §1 and §3).
_SYNC_KEYS = ("children", "related", "finalizing")

# The years --now may name (a recorded request's time is in them).
NOW_YEARS = (1970, 9000)

EXIT_OK = 0
EXIT_HOOK_FAILED = 1
EXIT_USAGE = 2


class UsageError(ValueError):
    """Input the command cannot use (exit 2); the message says what to change."""


@dataclass(frozen=True)
class HookReply:
    """What the service answers: its HTTP status and JSON body."""

    status: int
    body: Any


def _lookup(doc: object, *path: str) -> object:
    for key in path:
        if not isinstance(doc, Mapping):
            return None
        doc = doc.get(key)
    return doc


def infer_hook(doc: object) -> str | None:
    """The hook a request was sent to, or None when the request does not tell.

    Sync requests carry children, related or finalizing; the controller comes from the
    CompositeController's parent resource, else from the parent's kind.
    """
    if not isinstance(doc, Mapping):
        return None
    resource = _lookup(doc, "controller", "spec", "parentResource", "resource")
    kind = _lookup(doc, "parent", "kind")
    controller = _BY_RESOURCE.get(resource.split(".")[0]) if isinstance(resource, str) else None
    if controller is None and isinstance(kind, str):
        controller = _BY_KIND.get(kind)
    if controller is None:
        return None
    phase = "sync" if any(key in doc for key in _SYNC_KEYS) else "customize"
    return f"{controller}-{phase}"


def hook_for(body: bytes) -> str:
    """`infer_hook` on a raw request body; UsageError when it is not JSON or does not tell."""
    try:
        doc = jsonio.loads(body)
    except ValueError as exc:
        raise UsageError(f"body is not JSON: {exc}") from None
    except RecursionError:
        # The service refuses it too (400), with the same words.
        raise UsageError("body is not a hook request: JSON nested too deeply") from None
    hook = infer_hook(doc)
    if hook is None:
        raise UsageError(
            "cannot tell which hook the request is for (no AIMClusterModelSource, "
            "AIMModelSource, AIMClusterConfig or AIMNamespaceConfig parent); "
            f"pass --hook {'|'.join(HOOKS)}"
        )
    return hook


def parse_now(text: str) -> datetime:
    """An RFC 3339 time with an offset (`2026-08-20T10:00:00Z`), in UTC, within NOW_YEARS.

    The hook adds intervals and backoffs to it and writes the results into the status: a time
    near the end of the calendar would overflow there (an internal error, not an answer).
    """
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--now {text!r} is not an RFC 3339 time") from None
    if when.tzinfo is None:
        raise UsageError(f"--now {text!r} has no UTC offset (add Z or +00:00)")
    first, last = NOW_YEARS
    try:
        utc = when.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not first <= utc.year <= last:
        raise UsageError(f"--now {text!r} is not a time from {first} to {last}")
    return utc


def _fixed(when: datetime) -> Clock:
    return lambda: when


def run_hook(
    body: bytes,
    hook: str,
    *,
    settings: Settings,
    now: datetime | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> HookReply:
    """POST `body` to `hook` on the service's app, in process; registry HTTP via `transport`."""
    clock: Clock = utc_now if now is None else _fixed(now)
    scan = partial(scan_registries, settings=settings.registry, transport=transport)
    # The caller is the user, not Metacontroller: no bearer token to check, from either place.
    unguarded = replace(settings, hook_token=None, hook_token_file=None)
    app = create_app(unguarded, scan=scan, clock=clock)
    headers = {"Content-Type": "application/json"}
    response = app.test_client().post(HOOKS[hook], data=body, headers=headers)
    # jsonio, not Flask's json: an answer keeps a child as deep as the request had it.
    return HookReply(response.status_code, jsonio.loads(response.get_data()))


def live_transport(settings: RegistrySettings) -> AiohttpTransport:
    """The transport the scanner's clients would build themselves, to wrap for recording."""
    return AiohttpTransport(settings.concurrency, settings.ssl_context())


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def replay(
    request: Path,
    *,
    hook: str | None,
    now: str | None,
    record: Path | None,
    cassette: Path | None,
    env: Mapping[str, str],
    out: TextIO,
    err: TextIO,
) -> int:
    """The `replay` command: print the hook's response as sorted, indented JSON; the exit code."""
    recorder: RecordingTransport | None = None
    player: ReplayTransport | None = None
    try:
        settings = settings_from_env(env)
        fixed_now = parse_now(now) if now is not None else None
        body = _read(request)
        chosen = hook or hook_for(body)
        if cassette is not None:
            player = ReplayTransport(load_cassette(cassette))
            # No request leaves the process: no name is resolved (a replay runs offline).
            offline = replace(settings.registry, check_addresses=False)
            settings = replace(settings, registry=offline)
        elif record is not None:
            recorder = RecordingTransport(
                live_transport(settings.registry), settings.registry.max_response_bytes
            )
    except (UsageError, SettingsError, CassetteError) as exc:
        print(f"replay: {exc}", file=err)
        return EXIT_USAGE
    logging.getLogger("hooks").setLevel(settings.log_level)
    reply = run_hook(body, chosen, settings=settings, now=fixed_now, transport=recorder or player)
    if recorder is not None and record is not None:
        try:
            save_cassette(record, recorder.exchanges)
        except OSError as exc:
            print(f"replay: cannot write {record}: {exc.strerror}", file=err)
            return EXIT_USAGE
    # The scanner retries a failed request, so one miss may appear several times.
    for miss in dict.fromkeys(player.misses if player is not None else ()):
        print(f"replay: not in the cassette, answered as unreachable: {miss}", file=err)
    if reply.status != 200:
        error = reply.body.get("error") if isinstance(reply.body, dict) else None
        print(f"replay: the service answers {reply.status}: {error}", file=err)
        return EXIT_USAGE if reply.status < 500 else EXIT_HOOK_FAILED
    out.write(_printable(reply.body, err) + "\n")
    return EXIT_OK


def _printable(body: Any, err: TextIO) -> str:
    """The answer as sorted, indented JSON; compact, as the service sent it, when it nests
    deeper than the json module can indent (a model nested ~1,000 levels, kept as it is)."""
    try:
        return json.dumps(body, indent=2, sort_keys=True)
    except RecursionError:
        print("replay: the answer nests too deeply to indent; printed as sent", file=err)
        return jsonio.dumps(body).decode()
