"""The Flask application: decode, call the controller, encode. Nothing is decided here.

Status codes follow Metacontroller's contract: 200 for every answer the controller gives (an
invalid spec is a Failed status, not an HTTP error), 400 for a body that is not a hook request,
401 without the configured bearer token, 413 for an oversized body. A 500 would mean a bug of
ours, and the controllers already catch those to keep the children.

Every request to a hook, or to no route at all, gets one access log line and is counted in the
metrics, whatever status it ended with; probes and /metrics do not.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Generic, TypeVar

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from hooks import jsonio, metrics
from hooks.clusterconfig.controller import (
    customize_config,
    customize_namespace_config,
    sync_config,
    sync_namespace_config,
)
from hooks.collector import Pause, collector
from hooks.logs import FIELDS, configure_logging, log_fields, parent_name
from hooks.metacontroller import (
    CustomizeRequest,
    RequestError,
    SyncRequest,
    parse_customize_request,
    parse_namespaced_customize_request,
    parse_namespaced_sync_request,
    parse_sync_request,
    read_model_source_sync,
)
from hooks.modelsource.controller import CLUSTER_SOURCE, ScanFunction, SourceKind, sync_source
from hooks.modelsource.customize import customize_source
from hooks.namespaced.source import NAMESPACED_SOURCE
from hooks.namespaced.tenancy import customize_namespaced_source
from hooks.registry.scanner import scan_registries
from hooks.settings import Settings, settings_from_env
from hooks.tokens import TokenFile, matching

log = logging.getLogger("hooks.app")

Clock = Callable[[], datetime]
PARSED_MEMORY_PER_BODY_BYTE = 8
"""A request's parsed objects may take 8 times the body size limit: 256 MiB by default, where a
real request takes 2.3 times its size (hooks/jsonio.py `parsed_size_bound`)."""
HookRequest = TypeVar("HookRequest", SyncRequest, CustomizeRequest)


def utc_now() -> datetime:
    """The real clock, passed in so tests and replays can use another."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class HookAnswer:
    """A controller's answer plus what the access log says about it."""

    payload: dict[str, Any]
    outcome: str
    scanned: bool = False
    created: int = 0


@dataclass
class _Call:
    """What is known so far about the request being answered (kept in `flask.g`)."""

    started: float
    answer: HookAnswer | None = None
    refusal: str | None = None
    token_line: int | None = None


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
    token_line: int | None = None

    def record(self) -> None:
        """Log and count the call; parent names and outcomes only, never request content. With
        a token file, which of its lines the call's token is (a rotation is done when no call
        uses the old line any more)."""
        fields = log_fields(
            hook=self.hook,
            parent=self.parent,
            outcome=self.outcome,
            scanned=self.scanned,
            created=self.created,
            http=self.status,
            duration_ms=round(self.seconds * 1000, 1),
        )
        if self.token_line is not None:
            fields[FIELDS]["token_line"] = self.token_line
        log.info("hook call", extra=fields)
        metrics.hook_called(self.hook, self.outcome, self.seconds)


class ScanSlots:
    """How many syncs of this process may scan at once (`Settings.scan_slots`).

    A scan holds its request thread for up to the scan deadline; 50 syncs against a slow
    registry took every thread, and /healthz timed out behind them. A sync takes a slot only
    when the controller is about to scan (`may_scan`), without waiting, and gives it back when
    its answer is ready; one that finds none answers at once (hooks/modelsource/controller.py).
    While it holds the slot the garbage collector runs, whatever pauses the hook calls hold
    (hooks/collector.py): a scan makes cyclic garbage and may last its whole deadline.
    """

    def __init__(self, slots: int) -> None:
        self._free = threading.BoundedSemaphore(slots)

    @contextmanager
    def for_request(self) -> Iterator[Callable[[], bool]]:
        """`may_scan` for one request: takes a slot on the first call that finds one."""
        taken = False
        with ExitStack() as held:

            def may_scan() -> bool:
                nonlocal taken
                if not taken and self._free.acquire(blocking=False):
                    taken = True
                    held.callback(self._free.release)
                    held.enter_context(collector.running())
                return taken

            yield may_scan


def _token_check(settings: Settings) -> Callable[[bytes | None], int | None] | None:
    """Which accepted token a presented one is (its line in the token file, 1 for
    AIM_HOOK_TOKEN), None for none; no check at all when no token is configured."""
    tokens: Callable[[], tuple[bytes, ...]]
    if settings.hook_token_file is not None:
        tokens = TokenFile(settings.hook_token_file).tokens
    elif settings.hook_token is not None:
        tokens = partial(tuple, (settings.hook_token.encode(),))
    else:
        return None

    def line(presented: bytes | None) -> int | None:
        return None if presented is None else matching(presented, tokens())

    return line


def _bearer_token() -> bytes | None:
    """The request's bearer token, None without one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip().encode() if scheme.lower() == "bearer" else None


def _json(body: object, status: int = 200) -> Response:
    return Response(jsonio.dumps(body), status, mimetype="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


def _request_body() -> bytes:
    """The whole body, or RequestEntityTooLarge (a 413) when it is longer than the limit.

    A declared Content-Length is checked against the limit before anything is read
    (`_read_declared`). A chunked body (no Content-Length) werkzeug only cuts at the limit,
    silently, and its stream cannot tell a body of exactly the limit from a longer one: one
    that fills the limit is therefore refused as too large rather than parsed cut short into a
    confusing 400. Metacontroller always sends Content-Length.
    """
    length = request.content_length
    if length is not None:
        return _read_declared(length)
    data = request.get_data(cache=False)
    limit = request.max_content_length
    if limit is not None and len(data) >= limit:
        raise RequestEntityTooLarge()
    return data


def _read_declared(length: int) -> bytes:
    """A body of declared length, read from the WSGI input in as few reads as it allows.

    werkzeug's stream reads 64 KiB at a time, and each read from gunicorn's body copies its
    buffer: a large request took about twice as long to read that way as with one sized read of
    `wsgi.input` (bench/README.md). Reading at most the declared length is what WSGI allows on
    any server; the limit is checked first, as werkzeug would. A body cut short is returned
    short, and fails to parse as a 400.
    """
    limit = request.max_content_length
    if limit is not None and length > limit:
        raise RequestEntityTooLarge()
    stream = request.environ["wsgi.input"]
    chunks: list[bytes] = []
    remaining = length
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)  # one chunk, the usual case, is returned as it is, not copied


def _body_then(pause: Pause) -> bytes:
    """The request's body, then `pause` begun: a client sending the body slowly holds no pause,
    and the body is freed once parsed (the caller holds it only as an argument)."""
    body = _request_body()
    pause.start()
    return body


def _request_json(body: bytes, memory_limit: int, decode: Callable[[bytes], Any]) -> Any:
    """The request body as JSON; RequestError (a 400) when it is not JSON, and
    RequestEntityTooLarge (a 413) when its parsed objects might take more than `memory_limit`
    bytes (`jsonio.parsed_size_bound`; only a body larger than `memory_limit` over the bound's
    cost of one byte is counted, as only those can)."""
    per_byte = jsonio.PARSED_CHAR_BYTES + jsonio.PARSED_VALUE_BYTES
    if len(body) * per_byte > memory_limit and jsonio.parsed_size_bound(body) > memory_limit:
        raise RequestEntityTooLarge(
            f"the body's JSON could take more than {memory_limit // 2**20} MiB once read "
            "(a hook request is mostly strings; this one is mostly tiny values)"
        )
    try:
        return decode(body)
    except ValueError as exc:
        raise RequestError(f"body is not JSON: {exc}") from None
    except RecursionError:
        # Python's parser recurses per nesting level; no hook request nests this deep.
        raise RequestError("body is not a hook request: JSON nested too deeply") from None


def _outcome(call: _Call | None, status: int) -> str:
    """The access log's outcome: the controller's, why we refused, or the HTTP error."""
    if call is not None and call.answer is not None:
        return call.answer.outcome
    if call is not None and call.refusal is not None:
        return call.refusal
    return "internal-error" if status >= 500 else f"http-{status}"


@dataclass(frozen=True)
class _Route(Generic[HookRequest]):
    """A hook's path, how its body is read (`jsonio.loads`, or a shaped reading), its request
    parser and its handler."""

    name: str
    parse: Callable[[Any], HookRequest]
    handle: Callable[[HookRequest], HookAnswer]
    decode: Callable[[bytes], Any] = jsonio.loads


def create_app(
    settings: Settings | None = None,
    *,
    scan: ScanFunction | None = None,
    clock: Clock = utc_now,
) -> Flask:
    """The hook service; `scan` and `clock` are replaceable for tests and replays."""
    settings = settings or settings_from_env(os.environ)
    configure_logging(settings.log_level)
    # prometheus_client itself reads this variable to choose per-process files (metrics.py).
    multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    scan_fn: ScanFunction = scan or partial(scan_registries, settings=settings.registry)
    app = Flask("hooks")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    memory_limit = settings.max_request_bytes * PARSED_MEMORY_PER_BODY_BYTE
    hooks: set[str] = set()

    token_line = _token_check(settings)

    def hook(route: _Route[HookRequest]) -> None:
        def view() -> Response:
            call: _Call = g.call
            if token_line is not None:
                call.token_line = token_line(_bearer_token())
                if call.token_line is None:
                    call.refusal = "unauthorized"
                    return _error(401, "missing or wrong bearer token")
            # No cyclic garbage collection over the call's own objects until they are freed,
            # unless the call scans (hooks/collector.py; `ScanSlots`).
            pause = collector.pause()
            try:
                response, kept = respond(call, pause)
            except BaseException:
                pause.end()
                raise

            def release() -> None:
                nonlocal kept
                kept = None
                pause.end()

            response.call_on_close(release)
            # A server must close the answer (PEP 3333), but a client that drops it unclosed
            # (werkzeug's test client) must not leave the process without its collector.
            weakref.finalize(response, pause.end)
            return response

        def respond(call: _Call, pause: Pause) -> tuple[Response, object]:
            """The answer, and the objects to free once it is sent (not before: the request's
            ~450,000 objects for 10,000 children, freed first, delayed the answer; see
            bench/README.md)."""
            try:
                req = route.parse(_request_json(_body_then(pause), memory_limit, route.decode))
            except RequestError as exc:
                call.refusal = "bad-request"
                return _error(400, str(exc)), None
            # Every line logged while answering, the registry scan's included, names the parent.
            parent_name.set(req.parent.key)
            call.answer = route.handle(req)
            return _json(call.answer.payload), (req, call.answer)

        hooks.add(route.name)
        app.add_url_rule(f"/{route.name}", route.name, view, methods=["POST"], strict_slashes=False)

    for route in _routes(settings, scan_fn, clock):
        hook(route)

    _log_every_call(app, hooks, settings)
    _serve_probes_and_metrics(app, multiprocess_dir)
    return app


def _routes(settings: Settings, scan_fn: ScanFunction, clock: Clock) -> list[_Route[Any]]:
    """Each hook's route: the controllers behind the web layer. A model source's sync reads
    only the fields of its children that the answer carries (`read_model_source_sync`)."""
    namespace = settings.operator_namespace
    scan_slots = ScanSlots(settings.scan_slots)

    def source_sync(kind: SourceKind) -> Callable[[SyncRequest], HookAnswer]:
        def handle(req: SyncRequest) -> HookAnswer:
            with scan_slots.for_request() as may_scan:
                result = sync_source(
                    req,
                    scan=scan_fn,
                    now=clock(),
                    operator_namespace=namespace,
                    kind=kind,
                    may_scan=may_scan,
                )
            metrics.sync_finished(scanned=result.scanned, created=result.created)
            return HookAnswer(
                result.response.to_json(), result.outcome, result.scanned, result.created
            )

        return handle

    def modelsource_customize(req: CustomizeRequest) -> HookAnswer:
        return HookAnswer(customize_source(req, namespace).to_json(), "ok")

    def config_sync(req: SyncRequest) -> HookAnswer:
        response = sync_config(req, now=clock(), secret_namespace=namespace)
        return HookAnswer(response.to_json(), str(response.status.get("status")))

    def config_customize(req: CustomizeRequest) -> HookAnswer:
        return HookAnswer(customize_config(req, namespace).to_json(), "ok")

    def namespaced_source_customize(req: CustomizeRequest) -> HookAnswer:
        return HookAnswer(customize_namespaced_source(req, namespace).to_json(), "ok")

    def namespace_config_sync(req: SyncRequest) -> HookAnswer:
        response = sync_namespace_config(req, now=clock())
        return HookAnswer(response.to_json(), str(response.status.get("status")))

    def namespace_config_customize(req: CustomizeRequest) -> HookAnswer:
        return HookAnswer(customize_namespace_config(req).to_json(), "ok")

    return [
        _Route(
            "sync/modelsource",
            parse_sync_request,
            source_sync(CLUSTER_SOURCE),
            read_model_source_sync,
        ),
        _Route("customize/modelsource", parse_customize_request, modelsource_customize),
        _Route("sync/config", parse_sync_request, config_sync),
        _Route("customize/config", parse_customize_request, config_customize),
        _Route(
            "sync/namespaced-modelsource",
            parse_namespaced_sync_request,
            source_sync(NAMESPACED_SOURCE),
            read_model_source_sync,
        ),
        _Route(
            "customize/namespaced-modelsource",
            parse_namespaced_customize_request,
            namespaced_source_customize,
        ),
        _Route("sync/namespaceconfig", parse_namespaced_sync_request, namespace_config_sync),
        _Route(
            "customize/namespaceconfig",
            parse_namespaced_customize_request,
            namespace_config_customize,
        ),
    ]


def _log_every_call(app: Flask, hooks: set[str], settings: Settings) -> None:
    """One access log line and one count per request to a hook or to no route, whatever status
    it ended with (error handlers' responses pass through `after_request` too: a 413 raised
    while reading the body, a 405, a 404); the parent's name set for the request's lines."""

    @app.before_request
    def start_call() -> None:
        g.call = _Call(time.perf_counter())
        g.parent_token = parent_name.set(None)

    @app.after_request
    def log_call(response: Response) -> Response:
        endpoint = request.endpoint
        if endpoint is not None and endpoint not in hooks:
            return response
        call: _Call | None = g.get("call")
        started = call.started if call is not None else time.perf_counter()
        answer = call.answer if call is not None else None
        HookCall(
            endpoint or "-",
            parent_name.get() or "-",
            _outcome(call, response.status_code),
            answer.scanned if answer is not None else False,
            answer.created if answer is not None else 0,
            response.status_code,
            time.perf_counter() - started,
            call.token_line if call is not None and settings.hook_token_file else None,
        ).record()
        return response

    @app.teardown_request
    def end_call(_: BaseException | None) -> None:
        # Threads serve one request after another: no parent name may outlive its request.
        token = g.pop("parent_token", None)
        if token is not None:
            parent_name.reset(token)


def _serve_probes_and_metrics(app: Flask, multiprocess_dir: str | None) -> None:
    """Health, readiness and /metrics (none of them logged per call), and the JSON errors."""

    @app.get("/healthz")
    def healthz() -> Response:
        return _json({"status": "ok"})

    @app.get("/readyz")
    def readyz() -> Response:
        return _json({"status": "ready"})

    @app.get("/metrics")
    def metrics_text() -> Response:
        body, content_type = metrics.exposition(multiprocess_dir)
        return Response(body, 200, content_type=content_type)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return _error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unexpected error in %s", request.path)
        return _error(500, "internal error; see the hook's logs")
