"""The one place registry HTTP happens: capped reads, error mapping, Link, Retry-After, paging.

Every client (OCI distribution, Docker Hub, GitHub) sends through `send`, so the size cap, the
timeout handling and the translation of failures into `RegistryError`s with actionable messages
are written once. Messages name the host and what we were doing, never a header value. Every
request is counted here too (hooks/metrics.py), by host and the status of its answer.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import socket
import ssl
import weakref
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from hooks import metrics
from hooks.registry.config import Address, RegistrySettings
from hooks.registry.errors import (
    AccessDeniedError,
    AuthenticationError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    RegistryError,
    TLSError,
    UnavailableError,
    UnsupportedError,
)

# The only content coding we ask for (`Accept-Encoding`); a body in any other, or encoded twice,
# is refused: each layer of gzip multiplies what a few KiB on the wire inflate to.
ACCEPT_ENCODING = "gzip"
_GZIP_CODINGS = frozenset({"gzip", "x-gzip"})
# What is kept of an answer that is not a success: room for an OCI error envelope or a GitHub
# message, which is all that is read from it.
ERROR_BODY_BYTES = 16 * 1024

# OpenSSL's reasons for a handshake answered in plain HTTP (1.1 and 3.0; 3.2 and later).
_PLAIN_HTTP_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST"}
)
_LINK_PART = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")
_REL_NEXT = re.compile(r';\s*rel\s*=\s*"?([^";]*)"?', re.IGNORECASE)


# The longest wait a registry may ask for: past it, a value is the registry's error (a date in
# the next century, 10**400 seconds) and the next sync asks again.
MAX_RETRY_AFTER = 24 * 3600.0
# OCI distribution error codes (spec: `[A-Z_]+`); longer ones are not codes any registry uses.
_OCI_CODE = re.compile(r"[A-Z_]{1,64}")
MAX_ERROR_CODES = 4
_SECONDS = re.compile(r"[0-9]{1,15}")  # ASCII digits only: `str.isdigit` also takes "²"


def loads(body: bytes) -> object:
    """`json.loads`, with a document nested too deep for the parser (a RecursionError, which a
    registry can cause with a few hundred KiB of brackets) as the ValueError of any bad JSON."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deep") from None


def seconds(text: str) -> float | None:
    """A header's whole number of seconds (ASCII digits), or None when it is not one."""
    text = text.strip()
    return float(text) if _SECONDS.fullmatch(text) else None


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
            return loads(self.body)
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
    trusted: bool = False,
    private: bool = True,
) -> Response:
    """Send one request and read at most `max_bytes` of the answer (by default the settings'
    `max_response_bytes`).

    A host the operator did not configure (nor `trusted` by the caller: a token realm on the
    host of a configured registry) is resolved first, and refused when an address it resolves
    to is in `settings.denied_networks`, or is internal at all when `private` is False (a token
    realm on another host than its registry's).

    The body is a form (`data`) or a JSON document (`json`). Transport failures become
    `RegistryError`s here; HTTP error statuses are returned as they are, because only the
    caller knows whether a 401 means "get a token" or "bad credentials".
    """
    target = parse_url(url, what)
    host = authority(target)
    label = settings.metric_label(host)
    limit = settings.max_response_bytes if max_bytes is None else max_bytes
    sent = {"Accept-Encoding": ACCEPT_ENCODING, **(headers or {})}
    connect = target
    if settings.check_addresses and not (trusted or settings.is_configured(host)):
        connect = await _checked_destination(client, target, settings, what, private=private)
        if connect is not target:
            sent["Host"] = host
    answered = False
    try:
        async with client.stream(
            method, connect, headers=sent, params=params, data=data, json=json
        ) as resp:
            answered = True
            metrics.registry_answered(label, resp.status_code)
            body = await read_body(resp, limit, what, host)
            url = resp.url if connect is target else resp.url.copy_with(netloc=target.netloc)
            return Response(resp.status_code, resp.headers, body, url)
    except httpx.HTTPError as exc:
        if not answered:
            metrics.registry_answered(label, None)
        raise _transport_error(exc, what, host) from None


# What each scan's client has resolved, so that a host is looked up once per scan.
_resolved: weakref.WeakKeyDictionary[httpx.AsyncClient, dict[tuple[str, int], list[Address]]] = (
    weakref.WeakKeyDictionary()
)


async def _checked_destination(
    client: httpx.AsyncClient,
    target: httpx.URL,
    settings: RegistrySettings,
    what: str,
    *,
    private: bool,
) -> httpx.URL:
    """`target`, or over plain HTTP `target` at the address that was checked.

    The name is resolved as the connection would resolve it, so every spelling the resolver
    accepts (`127.1`, `2130706433`, `0x7f.0.0.1`, `[::ffff:127.0.0.1]`) is judged by the
    address it means. Plain HTTP then connects to that address (the Host header keeps the
    name), so a name that resolves differently a moment later cannot move the request. HTTPS
    connects by name: its certificate must still match the name, which an internal service
    reached by a second lookup does not present.
    """
    host = authority(target)
    port = target.port or (443 if target.scheme == "https" else 80)
    addresses = await _resolve(client, target.host, port, settings.request_timeout, what, host)
    for address in addresses:
        if not private and _is_internal(address):
            raise UnsupportedError(
                f"{what}: the internal address {host} ({address}) is not the registry's own "
                "host; refusing it"
            )
        network = settings.denied_network(address)
        if network is not None:
            raise UnsupportedError(
                f"{what}: {host} is {address}, in {network}, a network registries may not be "
                "reached in (AIM_REGISTRY_DENIED_NETWORKS); refusing to connect"
            )
    if target.scheme != "http":
        return target
    return target.copy_with(host=str(addresses[0]))


async def _resolve(
    client: httpx.AsyncClient, name: str, port: int, timeout: float, what: str, host: str
) -> list[Address]:
    """Every address `name` resolves to (once per scan's client); UnavailableError if none."""
    cache = _resolved.setdefault(client, {})
    found = cache.get((name, port))
    if found is None:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(name, port, type=socket.SOCK_STREAM), timeout
            )
        except (OSError, UnicodeError, TimeoutError):
            raise UnavailableError(f"{what}: cannot resolve {host}") from None
        found = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
        if not found:
            raise UnavailableError(f"{what}: cannot resolve {host}")
        cache[(name, port)] = found
    return found


def _is_internal(address: Address) -> bool:
    """Whether an address is of the machine or its private networks."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_unspecified
        or address.is_reserved
    )


async def read_body(
    resp: httpx.Response, max_bytes: int, what: str, host: str, *, truncate: bool = False
) -> bytes:
    """The body as sent, inflated when gzip, never more than `max_bytes` of it in memory.

    The raw bytes are read (`_raw`, the same whatever transport sits under httpx) and
    inflated here, a chunk at a time with the room left as the inflater's output limit, so a
    bomb is refused after at most `max_bytes` of output, not after a chunk of gigabytes.

    An answer that is not a success is only read for its error code or message: its first
    ERROR_BODY_BYTES are kept and the rest is left unread, so a failure (whose exception lives
    as long as the scan keeps it) holds a few KiB, not the 7 MiB a registry sent with its 404.
    With `truncate` (a cassette recording) any body is cut at `max_bytes` instead of refused.
    """
    if not 200 <= resp.status_code < 300:
        max_bytes, truncate = min(max_bytes, ERROR_BODY_BYTES), True
    inflater = _inflater(resp.headers.get("content-encoding", ""), what, host)
    chunks: list[bytes] = []
    size = raw = 0
    refusal: str | None = None
    async for received in _raw(resp):
        raw += len(received)
        try:
            chunk = (
                received
                if inflater is None
                else inflater.decompress(received, max_bytes - size + 1)
            )
        except zlib.error:
            refusal = f"{what}: {host} sent a body that is not valid gzip"
            break
        size += len(chunk)
        if size > max_bytes or raw > max_bytes:
            if truncate:
                chunks.append(chunk[: max_bytes - size + len(chunk)])
                return b"".join(chunks)
            refusal = f"{what}: {host} sent more than {max_bytes} bytes; stopped reading"
            break
        chunks.append(chunk)
    else:
        if inflater is not None and not inflater.eof:
            refusal = f"{what}: {host} sent a gzip body that ends too early"
    if refusal is None:
        return b"".join(chunks)
    # The exception lives as long as the scan keeps it, and its traceback keeps this frame:
    # drop what was read, here and in the stream's own buffers, before raising.
    chunks.clear()
    received = chunk = b""
    await resp.aclose()
    raise ProtocolError(refusal)


def _raw(resp: httpx.Response) -> AsyncIterator[bytes]:
    """The body's bytes as they came, before any content decoding: the response's own stream,
    which every transport provides (one that built its response from `content=` has already
    read it, which `aiter_raw` refuses; its stream gives the bytes again)."""
    stream = resp.stream
    return stream.__aiter__() if isinstance(stream, httpx.AsyncByteStream) else resp.aiter_raw()


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


def parse_url(
    text: str | httpx.URL,
    what: str,
    *,
    base: httpx.URL | None = None,
    params: dict[str, str] | None = None,
) -> httpx.URL:
    """`text` as an http(s) URL with a host (relative to `base` when given), or a ProtocolError.

    Registries choose much of what goes into a URL (redirect targets, next-page links, realms,
    repository names that become paths), and httpx refuses some of it (a NUL, an invalid host)
    with an exception of its own; here that is the registry's protocol error, never a crash.
    """
    try:
        if base is not None:
            url = base.join(text)
        else:  # `params=None` would drop the query `text` has
            url = httpx.URL(text) if params is None else httpx.URL(text, params=params)
    except (httpx.InvalidURL, ValueError):
        raise ProtocolError(f"{what}: not a valid URL") from None
    if url.scheme not in {"http", "https"} or not url.host:
        raise ProtocolError(f"{what}: only http:// and https:// URLs with a host can be requested")
    return url


def _transport_error(exc: httpx.HTTPError, what: str, host: str) -> RegistryError:
    """The RegistryError for a failure of the connection itself, saying what to look at."""
    if isinstance(exc, httpx.TimeoutException):
        return UnavailableError(f"{what}: {host} did not answer in time")
    if isinstance(exc, httpx.ConnectError):
        if _is_plain_http(exc):
            return TLSError(
                f"{what}: {host} answered plain HTTP, not HTTPS; if the registry serves plain "
                f"HTTP, list it in AIM_INSECURE_REGISTRIES"
            )
        if _is_tls_failure(exc):
            return TLSError(
                f"{what}: TLS handshake with {host} failed (certificate not trusted? "
                "set AIM_CA_BUNDLE to the registry's CA)"
            )
        return UnavailableError(f"{what}: cannot connect to {host}")
    if isinstance(exc, httpx.RemoteProtocolError) and str(exc).startswith("Invalid URL in loc"):
        # httpx reads the Location of every redirect, followed or not.
        return ProtocolError(f"{what}: {host} redirected to an invalid URL")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return UnavailableError(f"{what}: connection to {host} was dropped")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return ProtocolError(f"{what}: only http:// and https:// URLs with a host can be requested")
    return UnavailableError(f"{what}: the request to {host} failed ({type(exc).__name__})")


def authority(url: httpx.URL) -> str:
    """`host[:port]` of a URL for messages: two registries on one host differ by port."""
    return url.netloc.decode("ascii")


def _is_plain_http(exc: BaseException) -> bool:
    """Whether a TLS handshake failed because the server answered plain HTTP (OpenSSL reads
    `HTTP/1.1 400` as a TLS record of an unknown version or an impossible length)."""
    seen: BaseException | None = exc
    while seen is not None:
        # aiohttp's certificate error is an SSLError that has no `reason` of its own.
        if isinstance(seen, ssl.SSLError) and getattr(seen, "reason", None) in _PLAIN_HTTP_REASONS:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _is_tls_failure(exc: BaseException) -> bool:
    """httpx wraps ssl errors in ConnectError; look down the cause chain for one."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc) or "SSL" in str(exc)


def error_codes(response: Response) -> list[str]:
    """The `code`s of an OCI error envelope (`{"errors":[{"code":...}]}`) that are codes of its
    grammar (`[A-Z_]+`, as `NAME_UNKNOWN`), the first few distinct ones; empty if none.

    Anything else a registry puts there (7 MB of text, the Authorization header it was sent)
    is not quoted."""
    try:
        doc = loads(response.body)
    except ValueError:
        return []
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errors, list):
        return []
    codes = (e.get("code") for e in errors if isinstance(e, dict))
    valid = [code for code in codes if isinstance(code, str) and _OCI_CODE.fullmatch(code)]
    return list(dict.fromkeys(valid))[:MAX_ERROR_CODES]


def raise_for_status(
    response: Response, what: str, *, now: datetime, where: str | None = None
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
        retry_after = retry_after_seconds(response.headers, now)
        hint = f"; retry after {retry_after:g}s" if retry_after is not None else ""
        raise RateLimitedError(
            f"{what}: rate limited by {host} (429){hint}", retry_after=retry_after
        )
    if status >= 500:
        raise UnavailableError(f"{what}: {host} failed with {status}{detail}", status=status)
    raise ProtocolError(f"{what}: {host} answered {status}{detail}", status=status)


def retry_after_seconds(headers: httpx.Headers, now: datetime) -> float | None:
    """Seconds to wait, from `Retry-After` (seconds or HTTP-date) or Hub's `X-Retry-After`
    (epoch seconds), at most MAX_RETRY_AFTER; None when neither says."""
    value = headers.get("retry-after")
    if value is not None:
        wait = seconds(value)
        if wait is not None:
            return min(wait, MAX_RETRY_AFTER)
        try:
            when = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return wait_until(when.timestamp(), now)
    epoch = seconds(headers.get("x-retry-after", ""))
    return None if epoch is None else wait_until(epoch, now)


def wait_until(epoch: float, now: datetime) -> float:
    """Seconds from `now` until `epoch`, within 0 and MAX_RETRY_AFTER."""
    return min(max(0.0, epoch - now.timestamp()), MAX_RETRY_AFTER)


def next_link(
    headers: httpx.Headers, request_url: httpx.URL, what: str = "reading a listing"
) -> httpx.URL | None:
    """The `rel="next"` target of a Link header, resolved against the URL that was requested.

    Registries send relative links (distribution) or absolute ones (GitHub); resolving against
    the request URL keeps a non-default port that some registries drop (Nexus).
    """
    for header in headers.get_list("link"):
        for match in _LINK_PART.finditer(header):
            target, params = match.group(1), match.group(2)
            rels = {rel.lower() for m in _REL_NEXT.finditer(params) for rel in m.group(1).split()}
            if "next" in rels:
                return parse_url(target, f"{what}: the next-page link", base=request_url)
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
