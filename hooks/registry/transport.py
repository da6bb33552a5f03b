"""The one place registry HTTP happens: capped reads, error mapping, Link, Retry-After, paging.

Every client (OCI distribution, Docker Hub, GitHub) sends through `send`, so the size cap, the
timeout handling and the translation of failures into `RegistryError`s with actionable messages
are written once. Messages name the host and what we were doing, never a header value. Every
request is counted here too (hooks/metrics.py), by host and the status of its answer.
"""

from __future__ import annotations

import json
import re
import ssl
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from hooks import metrics
from hooks.registry.config import RegistrySettings
from hooks.registry.errors import (
    AccessDeniedError,
    AuthenticationError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    RegistryError,
    TLSError,
    UnavailableError,
)

# The only content coding we ask for (`Accept-Encoding`); a body in any other, or encoded twice,
# is refused: each layer of gzip multiplies what a few KiB on the wire inflate to.
ACCEPT_ENCODING = "gzip"
_GZIP_CODINGS = frozenset({"gzip", "x-gzip"})

_LINK_PART = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")
_REL_NEXT = re.compile(r';\s*rel\s*=\s*"?([^";]*)"?', re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Response:
    """A fully read, size-capped response."""

    status: int
    headers: httpx.Headers
    body: bytes
    url: httpx.URL

    def json(self, what: str) -> object:
        """The body as JSON, or a ProtocolError that says which call answered garbage."""
        try:
            return json.loads(self.body)
        except ValueError:
            raise ProtocolError(
                f"{what}: {authority(self.url)} answered with a body that is not JSON",
                status=self.status,
            ) from None


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str | httpx.URL,
    *,
    what: str,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    data: dict[str, str] | None = None,
    json: object | None = None,
    settings: RegistrySettings,
    max_bytes: int | None = None,
) -> Response:
    """Send one request and read at most `max_bytes` of the answer (by default the settings'
    `max_response_bytes`).

    The body is a form (`data`) or a JSON document (`json`). Transport failures become
    `RegistryError`s here; HTTP error statuses are returned as they are, because only the
    caller knows whether a 401 means "get a token" or "bad credentials".
    """
    target = httpx.URL(url)
    host = authority(target)
    label = settings.metric_label(host)
    limit = settings.max_response_bytes if max_bytes is None else max_bytes
    answered = False
    try:
        async with client.stream(
            method,
            target,
            headers={"Accept-Encoding": ACCEPT_ENCODING, **(headers or {})},
            params=params,
            data=data,
            json=json,
        ) as resp:
            answered = True
            metrics.registry_answered(label, resp.status_code)
            body = await _read_body(resp, limit, what, host)
            return Response(resp.status_code, resp.headers, body, resp.url)
    except httpx.HTTPError as exc:
        if not answered:
            metrics.registry_answered(label, None)
        raise _transport_error(exc, what, host) from None


async def _read_body(resp: httpx.Response, max_bytes: int, what: str, host: str) -> bytes:
    """The body as sent, inflated when gzip, never more than `max_bytes` of it in memory.

    The raw bytes are read (`aiter_raw`, the same whatever transport sits under httpx) and
    inflated here, a chunk at a time with the room left as the inflater's output limit, so a
    bomb is refused after at most `max_bytes` of output, not after a chunk of gigabytes.
    """
    inflater = _inflater(resp.headers.get("content-encoding", ""), what, host)
    chunks: list[bytes] = []
    size = raw = 0
    async for received in resp.aiter_raw():
        raw += len(received)
        chunk = received
        if inflater is not None:
            try:
                chunk = inflater.decompress(received, max_bytes - size + 1)
            except zlib.error:
                chunks.clear()
                raise ProtocolError(f"{what}: {host} sent a body that is not valid gzip") from None
        size += len(chunk)
        if size > max_bytes or raw > max_bytes:
            chunks.clear()  # the exception's traceback must not keep what was read
            raise ProtocolError(f"{what}: {host} sent more than {max_bytes} bytes; stopped reading")
        chunks.append(chunk)
    if inflater is not None and not inflater.eof:
        chunks.clear()
        raise ProtocolError(f"{what}: {host} sent a gzip body that ends too early")
    return b"".join(chunks)


def _inflater(header: str, what: str, host: str) -> zlib._Decompress | None:
    """A gzip inflater for the `Content-Encoding` we asked for; a ProtocolError for any other
    coding, or for more than one (`gzip, gzip`), which no server needs to send."""
    codings = [c for c in (c.strip().lower() for c in header.split(",")) if c and c != "identity"]
    if not codings:
        return None
    if len(codings) > 1:
        raise ProtocolError(
            f"{what}: {host} sent a body encoded {len(codings)} times over; refusing it"
        )
    if codings[0] not in _GZIP_CODINGS:
        raise ProtocolError(
            f"{what}: {host} sent a body in a content coding that was not asked for "
            f"(only {ACCEPT_ENCODING}); refusing it"
        )
    return zlib.decompressobj(zlib.MAX_WBITS | 16)


def _transport_error(exc: httpx.HTTPError, what: str, host: str) -> RegistryError:
    """The RegistryError for a failure of the connection itself, saying what to look at."""
    if isinstance(exc, httpx.TimeoutException):
        return UnavailableError(f"{what}: {host} did not answer in time")
    if isinstance(exc, httpx.ConnectError):
        if _is_tls_failure(exc):
            return TLSError(
                f"{what}: TLS handshake with {host} failed (certificate not trusted? "
                "set AIM_CA_BUNDLE to the registry's CA)"
            )
        return UnavailableError(f"{what}: cannot connect to {host}")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return UnavailableError(f"{what}: connection to {host} was dropped")
    return UnavailableError(f"{what}: {host}: {type(exc).__name__}")


def authority(url: httpx.URL) -> str:
    """`host[:port]` of a URL for messages: two registries on one host differ by port."""
    return url.netloc.decode("ascii")


def _is_tls_failure(exc: BaseException) -> bool:
    """httpx wraps ssl errors in ConnectError; look down the cause chain for one."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc) or "SSL" in str(exc)


def error_codes(response: Response) -> list[str]:
    """The `code`s of an OCI error envelope (`{"errors":[{"code":...}]}`), empty if none."""
    try:
        doc = json.loads(response.body)
    except ValueError:
        return []
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errors, list):
        return []
    return [
        str(e["code"]) for e in errors if isinstance(e, dict) and isinstance(e.get("code"), str)
    ]


def raise_for_status(
    response: Response, what: str, *, now: datetime | None = None, where: str | None = None
) -> None:
    """Turn an HTTP error status into the RegistryError a user can act on; 2xx passes.

    `where` names the server in the message (e.g. "token service at auth.example.com");
    by default it is the host[:port] that answered.
    """
    status = response.status
    if 200 <= status < 300:
        return
    host = where or authority(response.url)
    codes = error_codes(response)
    detail = f" ({', '.join(codes)})" if codes else ""
    if status == 401:
        raise AuthenticationError(
            f"{what}: {host} refused the credentials (401{detail}); check imagePullSecrets",
            status=status,
        )
    if status == 403 or "DENIED" in codes:
        raise AccessDeniedError(
            f"{what}: access denied by {host} (403{detail}); the credentials lack pull access",
            status=status,
        )
    if status == 404:
        raise NotFoundError(f"{what}: not found on {host} (404{detail})", status=status)
    if status == 429 or "TOOMANYREQUESTS" in codes:
        retry_after = retry_after_seconds(response.headers, now or datetime.now(UTC))
        hint = f"; retry after {retry_after:g}s" if retry_after is not None else ""
        raise RateLimitedError(
            f"{what}: rate limited by {host} (429){hint}", retry_after=retry_after
        )
    if status >= 500:
        raise UnavailableError(f"{what}: {host} failed with {status}{detail}", status=status)
    raise ProtocolError(f"{what}: {host} answered {status}{detail}", status=status)


def retry_after_seconds(headers: httpx.Headers, now: datetime) -> float | None:
    """Seconds to wait, from `Retry-After` (seconds or HTTP-date) or Hub's `X-Retry-After`."""
    value = headers.get("retry-after")
    if value is not None:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - now).total_seconds())
    epoch = headers.get("x-retry-after")
    if epoch is not None and epoch.strip().isdigit():
        return max(0.0, float(epoch) - now.timestamp())
    return None


def next_link(headers: httpx.Headers, request_url: httpx.URL) -> httpx.URL | None:
    """The `rel="next"` target of a Link header, resolved against the URL that was requested.

    Registries send relative links (distribution) or absolute ones (GitHub); resolving against
    the request URL keeps a non-default port that some registries drop (Nexus).
    """
    for header in headers.get_list("link"):
        for match in _LINK_PART.finditer(header):
            target, params = match.group(1), match.group(2)
            rels = {rel.lower() for m in _REL_NEXT.finditer(params) for rel in m.group(1).split()}
            if "next" in rels:
                return request_url.join(target)
    return None


class PageTrail:
    """The pages one listing has read: it stays on one origin, stops at the cap, refuses loops.

    REST APIs hand out absolute next-page URLs; following one to another host would carry our
    credentials there, and a server that repeats itself would keep a scan busy until its deadline.
    """

    def __init__(self, first: httpx.URL, *, max_pages: int, what: str) -> None:
        self._origin = (first.scheme, first.host, first.port)
        self._seen = {str(first)}
        self._max_pages = max_pages
        self._what = what
        self.pages = 0

    def follow(self, target: httpx.URL | None) -> httpx.URL | None:
        """Count the page just read; return the next page to fetch, or None when the list ended."""
        self.pages += 1
        if target is None:
            return None
        if (target.scheme, target.host, target.port) != self._origin:
            raise ProtocolError(
                f"{self._what}: the next page is on another host ({target.host}); "
                "refusing to follow it there"
            )
        if self.pages >= self._max_pages:
            raise ProtocolError(
                f"{self._what}: more than {self._max_pages} pages (the page cap); "
                "the list is incomplete"
            )
        if str(target) in self._seen:
            raise ProtocolError(
                f"{self._what}: the next-page links loop back to a page already read"
            )
        self._seen.add(str(target))
        return target
