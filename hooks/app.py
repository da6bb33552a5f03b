"""The Flask application: decode, call the controller, encode. Nothing is decided here.

Status codes follow Metacontroller's contract: 200 for every answer the controller gives (an
invalid spec is a Failed status, not an HTTP error), 400 for a body that is not a hook request,
401 without the configured bearer token, 413 for an oversized body. A 500 would mean a bug of
ours, and the controllers already catch those to keep the children.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from hooks.clusterconfig.controller import customize_config, sync_config
from hooks.metacontroller import RequestError, parse_customize_request, parse_sync_request
from hooks.modelsource.controller import ScanFunction, customize_source, sync_source
from hooks.registry.scanner import scan_registries
from hooks.settings import Settings, settings_from_env

log = logging.getLogger("hooks.app")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock, passed in so tests and replays can use another."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class HookAnswer:
    """A controller's answer plus what the access log says about it."""

    payload: dict[str, Any]
    parent: str
    outcome: str
    scanned: bool = False
    created: int = 0


@dataclass(frozen=True)
class HookCall:
    """One line of the access log: which hook, for which parent, with what result."""

    hook: str
    parent: str
    outcome: str
    scanned: bool
    created: int
    status: int
    seconds: float

    def log(self) -> None:
        """Log the call; parent names and outcomes only, never request content."""
        log.info(
            "hook=%s parent=%s outcome=%s scanned=%s created=%d http=%d duration_ms=%.1f",
            self.hook,
            self.parent,
            self.outcome,
            self.scanned,
            self.created,
            self.status,
            self.seconds * 1000,
        )


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status, mimetype="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


def _request_json() -> Any:
    """The request body as JSON; RequestError (a 400) when it is not JSON."""
    try:
        return json.loads(request.get_data(cache=False))
    except ValueError as exc:
        raise RequestError(f"body is not JSON: {exc}") from None
    except RecursionError:
        # Python's parser recurses per nesting level; no hook request nests this deep.
        raise RequestError("body is not a hook request: JSON nested too deeply") from None


def create_app(
    settings: Settings | None = None,
    *,
    scan: ScanFunction | None = None,
    clock: Clock = utc_now,
) -> Flask:
    """The hook service; `scan` and `clock` are replaceable for tests and replays."""
    settings = settings or settings_from_env(os.environ)
    scan_fn: ScanFunction = scan or partial(scan_registries, settings=settings.registry)
    namespace = settings.operator_namespace
    app = Flask("hooks")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes

    def authorized() -> bool:
        if settings.hook_token is None:
            return True
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), settings.hook_token.encode()
        )

    def hook(name: str, handle: Callable[[Any], HookAnswer]) -> None:
        def view() -> Response:
            started = time.perf_counter()
            parent, outcome, scanned, created = "-", "-", False, 0
            if not authorized():
                response = _error(401, "missing or wrong bearer token")
            else:
                try:
                    answer = handle(_request_json())
                    parent, outcome = answer.parent, answer.outcome
                    scanned, created = answer.scanned, answer.created
                    response = _json(answer.payload)
                except RequestError as exc:
                    outcome = "bad-request"
                    response = _error(400, str(exc))
            HookCall(
                name,
                parent,
                outcome,
                scanned,
                created,
                response.status_code,
                time.perf_counter() - started,
            ).log()
            return response

        app.add_url_rule(f"/{name}", name, view, methods=["POST"], strict_slashes=False)

    def modelsource_sync(doc: Any) -> HookAnswer:
        req = parse_sync_request(doc)
        result = sync_source(req, scan=scan_fn, now=clock(), operator_namespace=namespace)
        return HookAnswer(
            result.response.to_json(),
            req.parent.name,
            result.outcome,
            result.scanned,
            result.created,
        )

    def modelsource_customize(doc: Any) -> HookAnswer:
        req = parse_customize_request(doc)
        return HookAnswer(customize_source(req, namespace).to_json(), req.parent.name, "ok")

    def config_sync(doc: Any) -> HookAnswer:
        req = parse_sync_request(doc)
        response = sync_config(req, now=clock(), operator_namespace=namespace)
        return HookAnswer(response.to_json(), req.parent.name, str(response.status.get("status")))

    def config_customize(doc: Any) -> HookAnswer:
        req = parse_customize_request(doc)
        return HookAnswer(customize_config(req, namespace).to_json(), req.parent.name, "ok")

    hook("sync/modelsource", modelsource_sync)
    hook("customize/modelsource", modelsource_customize)
    hook("sync/config", config_sync)
    hook("customize/config", config_customize)

    @app.get("/healthz")
    def healthz() -> Response:
        return _json({"status": "ok"})

    @app.get("/readyz")
    def readyz() -> Response:
        return _json({"status": "ready"})

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return _error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unexpected error in %s", request.path)
        return _error(500, "internal error; see the hook's logs")

    return app
