"""The OCI distribution (Docker Registry v2) API of one registry: catalog, tags, manifest HEAD.

Every request goes through `transport.send` with the auth handshake of `auth.RegistryAuth`: sent
with what we already know (nothing, Basic, or a cached token), and after a 401 from the registry
answered once more with what its challenge asked for. Redirects are followed by hand so that
`Authorization` only ever goes to the registry's own origin (the OCI spec: clients MUST NOT
forward it across hosts). Failures are `RegistryError`s whose message says what we were doing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import cached_property

import httpx

from hooks.registry.auth import CATALOG_SCOPE, RegistryAuth, repository_scope
from hooks.registry.clock import SYSTEM_CLOCK, Clock
from hooks.registry.config import RegistrySettings
from hooks.registry.errors import (
    AccessDeniedError,
    AuthenticationError,
    NotFoundError,
    ProtocolError,
    UnsupportedError,
)
from hooks.registry.transport import (
    PageTrail,
    Response,
    authority,
    error_codes,
    next_link,
    parse_url,
    raise_for_status,
    send,
)

# Without an explicit Accept, distribution 404s OCI manifests and down-converts Docker schema2 to
# schema1 with another digest (docs/testing-registry.md §4).
MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)
MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_EXACT_NAMES_HINT = "name exact repositories instead of wildcards"


@dataclass(frozen=True, slots=True)
class TagList:
    """The tags of one repository that were asked for, in the registry's order; `truncated`
    when the listing was capped."""

    tags: list[str]
    truncated: bool


class DistributionClient:
    """One registry's OCI distribution API for one scan, over the scan's client for it."""

    def __init__(
        self,
        registry: str,
        base_url: str,
        client: httpx.AsyncClient,
        auth: RegistryAuth,
        settings: RegistrySettings,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.registry = registry
        self._base_url = base_url.rstrip("/")
        self._client = client
        self._auth = auth
        self._settings = settings
        self._clock = clock
        self._registry_requests = 0

    @property
    def request_count(self) -> int:
        """Every HTTP request sent for this registry: redirects and token requests included."""
        return self._registry_requests + self._auth.token_request_count

    @property
    def token_request_count(self) -> int:
        """Token service requests among them."""
        return self._auth.token_request_count

    async def catalog(
        self, *, start_after: str | None = None, page_size: int = 1000
    ) -> AsyncIterator[list[str]]:
        """Yield pages of repository names from `/v2/_catalog`, following `Link: rel="next"`.

        `start_after` resumes after that name. Pages already yielded stand when a later one
        fails. More than `settings.max_pages` pages, or a Link back to a page already read, is
        a ProtocolError; a registry without a catalog usable by these credentials is an
        UnsupportedError that suggests exact repository names.
        """
        what = f"listing the repositories of {self.registry}"
        params = {"n": str(page_size)}
        if start_after is not None:
            params["last"] = start_after
        first = self._url("/v2/_catalog", params, what)
        trail = PageTrail(first, max_pages=self._settings.max_pages, what=what)
        url: httpx.URL | None = first
        while url is not None:
            response = await self._request(
                "GET", url, what=what, scope=CATALOG_SCOPE, repository=None
            )
            self._raise_for_catalog(response, what)
            names = _string_list(response.json(what), "repositories", what)
            if names:
                yield names
            url = trail.follow(next_link(response.headers, response.url, what))

    async def tags(
        self,
        repository: str,
        *,
        page_size: int | None = None,
        keep: Callable[[str], bool] | None = None,
    ) -> TagList:
        """The tags of `repository` (those `keep` accepts, when given), following `Link:
        rel="next"`, capped per repository.

        `keep` filters each page as it arrives, so a repository's thousands of tags are not held
        when few are wanted. Past `settings.max_tags_per_repository` tags listed (kept or not)
        the listing stops and `truncated` is set, instead of failing. `page_size` is sent as `n`
        only when given: Quay rejects a large `n`.
        """
        what = f"listing tags of {self.registry}/{repository}"
        limit = self._settings.max_tags_per_repository
        first = self._url(
            f"/v2/{repository}/tags/list",
            None if page_size is None else {"n": str(page_size)},
            what,
        )
        trail = PageTrail(first, max_pages=self._settings.max_pages, what=what)
        url: httpx.URL | None = first
        tags: list[str] = []
        listed = 0
        while url is not None:
            response = await self._request(
                "GET", url, what=what, scope=repository_scope(repository), repository=repository
            )
            if response.status == 404:
                codes = error_codes(response)
                detail = f" ({', '.join(codes)})" if codes else ""
                raise NotFoundError(
                    f"{what}: repository {repository} not found on {self.registry}{detail}",
                    status=404,
                )
            self._raise_for_status(response, repository, what)
            page = _string_list(response.json(what), "tags", what)
            following = next_link(response.headers, response.url, what)
            room = limit - listed
            taken = page[:room]
            listed += len(taken)
            tags.extend(taken if keep is None else filter(keep, taken))
            if len(page) > room or (listed >= limit and following is not None):
                return TagList(tags, truncated=True)
            url = trail.follow(following)
        return TagList(tags, truncated=False)

    async def manifest_exists(self, repository: str, reference: str) -> str | None:
        """The digest of the manifest `reference` (a tag or a digest) names, or None if absent.

        A HEAD, which Docker Hub does not count as a pull. A HEAD answer has no body, so any 404
        means absent (MANIFEST_UNKNOWN and NAME_UNKNOWN alike); other failures raise.
        """
        separator = "@" if ":" in reference else ":"
        what = f"looking up {self.registry}/{repository}{separator}{reference}"
        response = await self._request(
            "HEAD",
            self._url(f"/v2/{repository}/manifests/{reference}", None, what),
            what=what,
            scope=repository_scope(repository),
            repository=repository,
            accept=MANIFEST_ACCEPT,
        )
        if response.status == 404:
            return None
        self._raise_for_status(response, repository, what)
        digest = str(response.headers.get("docker-content-digest", ""))
        if digest:
            return digest
        if separator == "@":
            return reference
        raise ProtocolError(f"{what}: {self.registry} answered without a Docker-Content-Digest")

    def _url(self, path: str, params: dict[str, str] | None, what: str) -> httpx.URL:
        return parse_url(f"{self._base_url}{path}", what, params=params)

    @cached_property
    def _base(self) -> httpx.URL:
        """The registry's base URL; a ProtocolError at the first request when the registry's
        name makes no URL (so that one bad registry fails only its own targets)."""
        return parse_url(self._base_url, f"reaching {self.registry}")

    def _is_own(self, url: httpx.URL) -> bool:
        """Whether `url` is on the registry's own origin, the only one credentials go to."""
        base = self._base
        return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)

    async def _request(
        self,
        method: str,
        url: httpx.URL,
        *,
        what: str,
        scope: str,
        repository: str | None,
        accept: str = "application/json",
    ) -> Response:
        """Send with the auth we have; after a 401 challenge from the registry, once more."""
        authorization = await self._auth.authorization(scope, repository, what)
        response = await self._send(method, url, what, accept, authorization)
        if response.status == 401 and self._is_own(response.url):
            self._auth.challenged(response, scope, repository, what)
            retry = await self._auth.authorization(scope, repository, what)
            if retry != authorization:
                response = await self._send(method, url, what, accept, retry)
        return response

    async def _send(
        self, method: str, url: httpx.URL, what: str, accept: str, authorization: str | None
    ) -> Response:
        """One request, following redirects; `Authorization` only while on the registry's origin."""
        target = url
        for _ in range(MAX_REDIRECTS + 1):
            headers = {"Accept": accept}
            if authorization is not None and self._is_own(target):
                headers["Authorization"] = authorization
            self._registry_requests += 1
            response = await send(
                self._client,
                method,
                target,
                what=what,
                headers=headers,
                settings=self._settings,
            )
            location = response.headers.get("location")
            if response.status not in _REDIRECT_STATUSES or not location:
                return response
            target = parse_url(location, f"{what}: the redirect target", base=response.url)
        raise ProtocolError(f"{what}: {self.registry} redirected more than {MAX_REDIRECTS} times")

    def _raise_for_status(self, response: Response, repository: str | None, what: str) -> None:
        if response.status == 401 and self._is_own(response.url):
            raise self._auth.refusal(response, repository, what)
        if response.status == 401:
            raise AuthenticationError(
                f"{what}: {self.registry} redirected to {authority(response.url)}, which asks "
                "for credentials; they are never sent to another host",
                status=401,
            )
        raise_for_status(response, what, now=self._clock.utc())

    def _raise_for_catalog(self, response: Response, what: str) -> None:
        """A catalog that is missing or closed to us is unsupported, not an auth failure."""
        if response.status == 404:
            raise UnsupportedError(
                f"{what}: {self.registry} has no catalog (/v2/_catalog answered 404); "
                f"{_EXACT_NAMES_HINT}",
                status=404,
            )
        try:
            self._raise_for_status(response, None, what)
        except AccessDeniedError as denied:
            raise UnsupportedError(
                f"{what}: {self.registry} does not let these credentials list its catalog "
                f"({denied.status}); {_EXACT_NAMES_HINT}",
                status=denied.status,
            ) from None


def _string_list(doc: object, key: str, what: str) -> list[str]:
    """`doc[key]` as a list of strings; `null` or absent is an empty list (docs/testing-registry.md
    §4)."""
    if not isinstance(doc, dict):
        raise ProtocolError(f"{what}: the answer is not a JSON object")
    values = doc.get(key)
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ProtocolError(f'{what}: the answer has no list of strings under "{key}"')
    return values
