"""Challenge-driven registry auth: what `Authorization` to send to one registry, and when.

A registry says how it wants to be authenticated in the `WWW-Authenticate` header of a 401
(distribution `docs/spec/auth/token.md`): `Basic` means our username and password go to the
registry itself; `Bearer realm=…,service=…,scope=…` means we first ask the token service at
`realm` for a token for that scope (anonymously, or with our credentials) and send that token to
the registry. Tokens are cached per scope until they expire.

Where credentials may travel (the security rule, tested in tests/registry/test_auth.py):

- A registry's credentials are looked up for that registry only; they go to the registry's own
  origin (scheme, host and port of its base URL) and to the token realm that the registry's own
  challenge names, nowhere else. Redirects and next-page links to another origin never carry them
  (distribution.py strips `Authorization` there).
- Over plain HTTP only for a registry listed in `insecure_registries`, by its canonical name or by
  the `host:port` of the URL being contacted. This covers the registry's credentials (Basic,
  registry tokens, bearer tokens obtained with them) and every request to the token realm: a realm
  on plain HTTP is refused for a registry that is not listed, even anonymously, because the token
  it returns would be accepted by the registry as proof of access.
- A realm whose host resolves to an internal address (loopback, link-local, private,
  unspecified or reserved; in any spelling the resolver accepts) is refused unless it is the
  registry's own host or a host the operator configured (go-containerregistry's SSRF hardening):
  a registry cannot point our credentials, or our requests, at internal services. Every host
  is also checked against AIM_REGISTRY_DENIED_NETWORKS (transport.send).
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

import httpx

from hooks.registry.clock import SYSTEM_CLOCK, Clock
from hooks.registry.config import RegistrySettings
from hooks.registry.credentials import Credential, Keychain
from hooks.registry.errors import (
    AccessDeniedError,
    AuthenticationError,
    ProtocolError,
    RegistryError,
    UnsupportedError,
)
from hooks.registry.transport import Response, authority, parse_url, raise_for_status, send

CATALOG_SCOPE = "registry:catalog:*"
DEFAULT_TOKEN_LIFETIME = 60.0  # seconds, when the token service does not say (token.md)
TOKEN_EXPIRY_SKEW = 10.0  # renew this much early, so a token does not expire on its way
OAUTH_CLIENT_ID = "aim-model-source-hooks"
# Real tokens are a few KiB (Docker Hub's JWTs under 2, cloud registries' under 8); a token is
# cached per scope and sent on every request, so a token service must not choose its size.
MAX_TOKEN_CHARS = 32 * 1024
# A token answer holds the token twice at most (`token` and `access_token`) and a few fields.
TOKEN_ANSWER_BYTES = 3 * MAX_TOKEN_CHARS
# RFC 9110 token characters, and the parts of an auth-param list (RFC 9110 §11).
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_SEPARATORS = re.compile(r"[\s,]*")
_EQUALS = re.compile(r"\s*=\s*")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"?', re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_TOKEN68_TAIL = re.compile(r"=*")
# What may appear in an Authorization header value taken from a token service.
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


def repository_scope(repository: str) -> str:
    """The token scope for reading one repository."""
    return f"repository:{repository}:pull"


@dataclass(frozen=True, slots=True)
class Challenge:
    """One `WWW-Authenticate` challenge: a lower-case scheme and its (lower-case keyed) params."""

    scheme: str
    params: Mapping[str, str]

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @property
    def scope(self) -> str | None:
        return self.params.get("scope")

    @property
    def error(self) -> str | None:
        return self.params.get("error")


def parse_challenges(values: Iterable[str]) -> list[Challenge]:
    """Every challenge in `WWW-Authenticate` header values (several per header are allowed).

    Quoted values may hold commas and escapes; a `token68` credential (`Negotiate abc==`) is
    skipped. Parsing stops at text that is not a challenge, keeping what came before.
    """
    challenges: list[Challenge] = []
    for value in values:
        challenges.extend(_parse_header(value))
    return challenges


def _parse_header(text: str) -> list[Challenge]:
    found: list[Challenge] = []
    scheme: str | None = None
    params: dict[str, str] = {}
    pos = _skip(_SEPARATORS, text, 0)
    while pos < len(text):
        word = _TOKEN.match(text, pos)
        if word is None:
            break
        equals = _EQUALS.match(text, word.end())
        if scheme is None or equals is None:
            if scheme is not None:
                found.append(Challenge(scheme, params))
            scheme, params = word.group().lower(), {}
            pos = word.end()
        else:
            pos = equals.end()
            quoted = _QUOTED.match(text, pos)
            token = _TOKEN.match(text, pos)
            if quoted is not None:
                params[word.group().lower()] = _ESCAPE.sub(r"\1", quoted.group(1))
                pos = quoted.end()
            elif token is not None:
                params[word.group().lower()] = token.group()
                pos = token.end()
            else:  # token68 such as `abc==`: no parameter
                pos = _skip(_TOKEN68_TAIL, text, pos)
        pos = _skip(_SEPARATORS, text, pos)
    if scheme is not None:
        found.append(Challenge(scheme, params))
    return found


def _skip(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """The position after what `pattern` matches at `pos` (patterns that may match nothing)."""
    match = pattern.match(text, pos)
    return pos if match is None else match.end()


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    renew_at: float


class RegistryAuth:
    """The auth state of one registry for one scan: its challenge, its tokens, its credentials.

    `authorization` gives the header for a request to the registry's own origin; after a 401 from
    that origin, `challenged` learns what the registry wants, and `refusal` explains a 401 that
    persists. Token requests go through the scan's client for this registry.
    """

    def __init__(
        self,
        registry: str,
        keychain: Keychain,
        *,
        base_url: str,
        client: httpx.AsyncClient,
        settings: RegistrySettings,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.registry = registry
        self._base_url = base_url
        self._client = client
        self._settings = settings
        self._keychain = keychain
        self._clock = clock
        self._challenge: Challenge | None = None
        self._tokens: dict[str, _Token] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.token_request_count = 0
        """Requests sent to token services (for benchmarks)."""

    @cached_property
    def _base(self) -> httpx.URL:
        """The registry's base URL; a ProtocolError at the first request that needs it when the
        registry's name makes no URL (so that one bad registry fails only its own targets)."""
        return parse_url(self._base_url, f"reaching {self.registry}")

    def _credential(self, repository: str | None) -> Credential | None:
        """The pull-secret credential for this registry and repository, if any."""
        return self._keychain.lookup(self.registry, repository)

    async def authorization(self, scope: str, repository: str | None, what: str) -> str | None:
        """The `Authorization` value for a request in `scope`, or None to go anonymously.

        Before the registry has challenged us only a registry token is sent (it is meant to be
        sent as it is); afterwards Basic credentials or a bearer token for `scope`, fetched
        from the token service when none is cached.
        """
        credential = self._credential(repository)
        if credential is not None and credential.registry_token is not None:
            self._require_secure_registry(what)
            return f"Bearer {credential.registry_token}"
        challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            if credential is None or credential.username is None or credential.password is None:
                return None
            self._require_secure_registry(what)
            return _basic(credential.username, credential.password)
        token = self._cached(scope)
        if token is None:
            async with self._locks.setdefault(scope, asyncio.Lock()):
                token = self._cached(scope)
                if token is None:
                    token = await self._fetch_token(challenge, scope, credential, what)
                    self._keychain.secrets.add(token.value)
                    self._tokens[scope] = token
        return f"Bearer {token.value}"

    def challenged(self, response: Response, scope: str, repository: str | None, what: str) -> None:
        """Learn from a 401 of the registry's origin how it wants to be authenticated.

        A cached token for `scope` is dropped (the registry no longer accepts it). A Basic
        challenge without credentials to answer it raises AuthenticationError at once.
        """
        challenges = parse_challenges(response.headers.get_list("www-authenticate"))
        bearer = next((c for c in challenges if c.scheme == "bearer"), None)
        basic = next((c for c in challenges if c.scheme == "basic"), None)
        self._tokens.pop(scope, None)
        if bearer is not None:
            self._challenge = bearer
        elif basic is not None:
            self._challenge = basic
            credential = self._credential(repository)
            if credential is None or credential.username is None or credential.password is None:
                raise AuthenticationError(
                    f"{what}: {self.registry} requires a username and password, and "
                    f"imagePullSecrets have none for {self.registry}",
                    status=401,
                )

    def refusal(self, response: Response, repository: str | None, what: str) -> RegistryError:
        """The error for a 401 that persisted after we answered the registry's challenge."""
        challenges = parse_challenges(response.headers.get_list("www-authenticate"))
        errors = {c.error for c in challenges if c.error}
        credential = self._credential(repository)
        who = "the credentials in imagePullSecrets" if credential else "anonymous access"
        if "insufficient_scope" in errors:
            return AccessDeniedError(
                f"{what}: {self.registry} denied access (insufficient_scope): the repository "
                f"does not exist or {who} cannot pull it",
                status=401,
            )
        if credential is None:
            return AuthenticationError(
                f"{what}: {self.registry} requires authentication and imagePullSecrets have no "
                f"credentials for {self.registry}",
                status=401,
            )
        return AuthenticationError(
            f"{what}: {self.registry} refused the credentials in imagePullSecrets (401); "
            "check the username and password or token",
            status=401,
        )

    def _cached(self, scope: str) -> _Token | None:
        token = self._tokens.get(scope)
        if token is None or self._clock.time() >= token.renew_at:
            return None
        return token

    def _plain_http_allowed(self, url: httpx.URL) -> bool:
        return self._settings.allows_plain_http(self.registry) or self._settings.allows_plain_http(
            authority(url)
        )

    def _require_secure_registry(self, what: str) -> None:
        """Credentials go to the registry over HTTPS, or to a registry listed as insecure."""
        if self._base.scheme != "https" and not self._plain_http_allowed(self._base):
            raise UnsupportedError(
                f"{what}: refusing to send credentials for {self.registry} over plain HTTP to "
                f"{authority(self._base)}; use HTTPS or list {self.registry} as an insecure "
                "registry"
            )

    def _checked_realm(self, challenge: Challenge, what: str) -> httpx.URL:
        """The token service URL the registry named, if it is one we may talk to."""
        text = challenge.realm
        try:
            realm = httpx.URL(text) if text else None
        except httpx.InvalidURL:
            realm = None
        if realm is None or realm.scheme not in {"http", "https"} or not realm.host:
            raise ProtocolError(
                f"{what}: {self.registry} asks for a bearer token but names no usable token "
                "service (realm)",
                status=401,
            )
        if realm.scheme != "https" and not self._plain_http_allowed(realm):
            raise UnsupportedError(
                f"{what}: {self.registry} names a token service on plain HTTP "
                f"({authority(realm)}); refusing it: use HTTPS or list {self.registry} as an "
                "insecure registry"
            )
        return realm

    async def _fetch_token(
        self, challenge: Challenge, scope: str, credential: Credential | None, what: str
    ) -> _Token:
        """Ask the realm for a token for `scope`: OAuth2 refresh, Basic, or anonymous.

        The realm came from the registry, so credentials go there only when the registry itself
        was reached securely (or is listed as insecure).
        """
        realm = self._checked_realm(challenge, what)
        where = f"token service at {authority(realm)}"
        query = {"scope": scope}
        if challenge.service:
            query["service"] = challenge.service
        started = self._clock.time()
        basic = None
        if credential is not None and credential.username and credential.password:
            basic = _basic(credential.username, credential.password)
        with_credentials = basic is not None or (
            credential is not None and credential.identity_token is not None
        )
        if with_credentials:
            self._require_secure_registry(what)
        if credential is not None and credential.identity_token is not None:
            response = await self._token_request(
                "POST",
                realm,
                what,
                data={
                    **query,
                    "grant_type": "refresh_token",
                    "refresh_token": credential.identity_token,
                    "client_id": OAUTH_CLIENT_ID,
                },
            )
            if response.status == 404:  # no OAuth2 endpoint: the classic GET (docker/distribution)
                response = await self._token_request("GET", realm, what, params=query, basic=basic)
        else:
            response = await self._token_request("GET", realm, what, params=query, basic=basic)
        if response.status == 401:
            hint = (
                "check the credentials in imagePullSecrets"
                if with_credentials
                else f"add a pull secret for {self.registry}"
            )
            raise AuthenticationError(
                f"{what}: {where} refused "
                f"{'the credentials' if with_credentials else 'anonymous access'} (401); {hint}",
                status=401,
            )
        raise_for_status(response, what, now=self._clock.utc(), where=where)
        value, lifetime = _token_answer(response.json(f"{what}: {where}"), what, where)
        # The lifetime counts from when we asked, not from `issued_at`: that is the token
        # service's clock, and a skewed one would make every token look expired (or eternal).
        return _Token(value, started + lifetime - TOKEN_EXPIRY_SKEW)

    async def _token_request(
        self,
        method: str,
        realm: httpx.URL,
        what: str,
        *,
        params: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
        basic: str | None = None,
    ) -> Response:
        """One request to the token service; its redirects are not followed (no credential
        may follow one to another host)."""
        self.token_request_count += 1
        same_host = realm.host == self._base.host
        headers = {"Accept": "application/json"}
        if basic is not None:
            headers["Authorization"] = basic
        return await send(
            self._client,
            method,
            realm,
            what=f"{what}: token service",
            headers=headers,
            params=params,
            data=data,
            settings=self._settings,
            max_bytes=TOKEN_ANSWER_BYTES,
            trusted=same_host and self._settings.is_configured(authority(self._base)),
            private=same_host,
        )


def _token_answer(doc: object, what: str, where: str) -> tuple[str, float]:
    """(token, lifetime in seconds) of a token response; `token` and `access_token` are one."""
    if not isinstance(doc, dict):
        raise ProtocolError(f"{what}: {where} answered something that is not a token")
    value = checked_token(doc.get("token") or doc.get("access_token"), what, where)
    expires_in = doc.get("expires_in")
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
        return value, float(expires_in)
    return value, DEFAULT_TOKEN_LIFETIME


def checked_token(value: object, what: str, where: str) -> str:
    """A token a token service answered, if it can be sent as a header and is of a sane size."""
    if isinstance(value, str) and len(value) > MAX_TOKEN_CHARS:
        raise ProtocolError(
            f"{what}: {where} answered a token of more than {MAX_TOKEN_CHARS} characters; "
            "refusing it"
        )
    if not isinstance(value, str) or not _HEADER_SAFE.fullmatch(value):
        raise ProtocolError(f"{what}: {where} answered without a usable token")
    return value


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
