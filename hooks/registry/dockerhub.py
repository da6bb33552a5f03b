"""Docker Hub repository listing: the one question about docker.io its registry API cannot answer.

registry-1.docker.io has no `/v2/_catalog`, so a wildcard filter on docker.io lists the
repositories of its namespace through the Hub REST API
(`GET /v2/namespaces/{namespace}/repositories`), anonymously (public repositories only) or with a
Hub JWT obtained from `POST /v2/auth/token`. Tags are read through the registry API, elsewhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

import httpx

from hooks.registry.auth import TOKEN_ANSWER_BYTES, checked_token
from hooks.registry.clock import SYSTEM_CLOCK, Clock
from hooks.registry.config import RegistrySettings
from hooks.registry.errors import (
    AuthenticationError,
    NotFoundError,
    ProtocolError,
    Secrets,
    UnsupportedError,
)
from hooks.registry.transport import PageTrail, Response, parse_url, raise_for_status, send

PAGE_SIZE = 100  # the documented maximum of `page_size`
# The Hub documents its JWT as valid for 10 minutes; renewing a minute early keeps a slow page
# from being sent with a token that expires on the way.
TOKEN_LIFETIME = timedelta(minutes=10)
TOKEN_SKEW = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class _HubToken:
    value: str
    renew_at: datetime


class DockerHubClient:
    """Lists the repositories of Docker Hub namespaces, one page of full names at a time."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        api_url: str,
        *,
        username: str | None,
        secret: str | None,
        settings: RegistrySettings,
        clock: Clock = SYSTEM_CLOCK,
        secrets: Secrets | None = None,
    ) -> None:
        """`secrets` learns the Hub JWT this client obtains (to scrub it from messages)."""
        if (username is None) != (secret is None):
            raise ValueError("Docker Hub credentials need both a username and a secret")
        self._client = client
        self._api = api_url.rstrip("/")
        self._username = username
        self._secret = secret
        self._settings = settings
        self._clock = clock
        self._token: _HubToken | None = None
        self._token_lock = asyncio.Lock()
        self._secrets = secrets or Secrets()
        self.request_count = 0
        """Every HTTP request this client sent, sign-ins included (for benchmarks)."""
        self.token_request_count = 0
        """Sign-ins (`POST /v2/auth/token`) among them."""

    async def repositories(self, namespace: str) -> AsyncIterator[list[str]]:
        """Yield pages of `namespace/name`, every repository of `namespace` these credentials see.

        Pages already yielded stand even when a later page fails; the caller keeps them as partial
        results. A namespace with `*` in it cannot be listed: the Hub has no search by pattern.
        """
        if "*" in namespace:
            raise UnsupportedError(
                f'a wildcard in the Docker Hub namespace ("{namespace}") cannot be listed; '
                "name the namespace exactly"
            )
        what = f'listing Docker Hub namespace "{namespace}"'
        first = httpx.URL(
            f"{self._api}/v2/namespaces/{quote(namespace, safe='')}/repositories",
            params={"page_size": str(PAGE_SIZE)},
        )
        trail = PageTrail(first, max_pages=self._settings.max_pages, what=what)
        url: httpx.URL | None = first
        while url is not None:
            response = await self._get(url, what)
            if response.status == 404:
                if trail.pages == 0:
                    raise NotFoundError(f'Docker Hub namespace "{namespace}" not found', status=404)
                # The Hub answers 404 for a page past the end: the namespace shrank while we read.
                return
            if response.status == 401:
                self._token = None  # a revoked or expired JWT: the next listing signs in again
            raise_for_status(response, what, now=self._clock.utc())
            names, next_page = _page_names(response.json(what), namespace, what)
            yield names
            following = None if next_page is None else parse_url(next_page, what, base=response.url)
            url = trail.follow(following)

    async def _get(self, url: httpx.URL, what: str) -> Response:
        headers = {"Accept": "application/json"}
        token = await self._bearer_token()
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        self.request_count += 1
        return await send(
            self._client,
            "GET",
            url,
            what=what,
            headers=headers,
            settings=self._settings,
        )

    async def _bearer_token(self) -> str | None:
        """The cached Hub JWT, signing in when there is none or it is about to expire."""
        if self._username is None or self._secret is None:
            return None
        async with self._token_lock:
            now = self._clock.utc()
            if self._token is None or now >= self._token.renew_at:
                value = await self._sign_in(self._username, self._secret)
                self._secrets.add(value)
                self._token = _HubToken(value, now + TOKEN_LIFETIME - TOKEN_SKEW)
            return self._token.value

    async def _sign_in(self, username: str, secret: str) -> str:
        what = f'signing in to Docker Hub as "{username}"'
        url = httpx.URL(f"{self._api}/v2/auth/token")
        if url.scheme != "https" and not self._settings.allows_plain_http(url.netloc.decode()):
            raise UnsupportedError(
                f"{what}: refusing to send the Docker Hub secret over plain HTTP to {url.host}; "
                "use an https:// Hub API URL or list the host as an insecure registry"
            )
        self.request_count += 1
        self.token_request_count += 1
        response = await send(
            self._client,
            "POST",
            url,
            what=what,
            headers={"Accept": "application/json"},
            json={"identifier": username, "secret": secret},
            settings=self._settings,
            max_bytes=TOKEN_ANSWER_BYTES,
        )
        if response.status == 401:
            raise AuthenticationError(
                f'Docker Hub refused the credentials of "{username}" (401); check the docker.io '
                "entry of imagePullSecrets (username and password or access token)",
                status=401,
            )
        raise_for_status(response, what, now=self._clock.utc())
        doc = response.json(what)
        token = doc.get("access_token") if isinstance(doc, dict) else None
        return checked_token(token, what, url.host)


def _page_names(doc: object, namespace: str, what: str) -> tuple[list[str], str | None]:
    """The full names on one `{count, next, previous, results}` page, and its `next` URL."""
    if not isinstance(doc, dict):
        raise ProtocolError(f"{what}: the page is not a Docker Hub repository list")
    results, next_page = doc.get("results"), doc.get("next")
    if not isinstance(results, list) or not (next_page is None or isinstance(next_page, str)):
        raise ProtocolError(f"{what}: the page is not a Docker Hub repository list")
    names: list[str] = []
    for result in results:
        name = result.get("name") if isinstance(result, dict) else None
        if not isinstance(name, str) or not name:
            raise ProtocolError(f"{what}: a repository on the page has no name")
        owner = result.get("namespace")
        names.append(f"{owner if isinstance(owner, str) and owner else namespace}/{name}")
    return names, next_page or None
