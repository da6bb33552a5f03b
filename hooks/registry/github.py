"""ghcr.io package listing through the GitHub REST API, since ghcr.io has no `/v2/_catalog`.

A wildcard filter on ghcr.io lists the container packages of its owner
(`GET /orgs/{owner}/packages?package_type=container`, or `/users/{owner}/packages` when the owner
is a user). GitHub serves that list only to a token that may read packages: the password of the
pull secret's ghcr.io entry, a classic personal access token with `read:packages`. Tags are read
through ghcr.io's registry API, elsewhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from urllib.parse import quote

import httpx

from hooks.registry.clock import SYSTEM_CLOCK, Clock
from hooks.registry.config import RegistrySettings
from hooks.registry.errors import (
    AccessDeniedError,
    AuthenticationError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    UnsupportedError,
)
from hooks.registry.transport import (
    PageTrail,
    Response,
    loads,
    next_link,
    raise_for_status,
    retry_after_seconds,
    seconds,
    send,
    wait_until,
)

PAGE_SIZE = 100  # the documented maximum of `per_page`
API_VERSION = "2022-11-28"
# GitHub's advice for a secondary rate limit that names no time: wait at least a minute.
SECONDARY_LIMIT_WAIT = 60.0
CLASSIC_PAT = "a classic personal access token with read:packages"


class GitHubPackagesClient:
    """Lists the container packages of ghcr.io owners, one page of full names at a time."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        api_url: str,
        *,
        token: str | None,
        settings: RegistrySettings,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._client = client
        self._api = api_url.rstrip("/")
        self._token = token
        self._settings = settings
        self._clock = clock
        self.request_count = 0
        """Every HTTP request this client sent (for benchmarks)."""

    async def packages(self, owner: str) -> AsyncIterator[list[str]]:
        """Yield pages of `owner/name` for every container package of `owner` the token sees.

        Package names may contain `/` (`owner/team/model`). Pages already yielded stand even when
        a later page fails; the caller keeps them as partial results.
        """
        if "*" in owner:
            raise UnsupportedError(
                f'a wildcard in the ghcr.io owner ("{owner}") cannot be listed; '
                "name the owner exactly"
            )
        if self._token is None:
            raise UnsupportedError(
                f'listing the ghcr.io packages of "{owner}" needs a GitHub token: add a ghcr.io '
                f"entry to imagePullSecrets whose password is {CLASSIC_PAT}, "
                "or name the repositories exactly"
            )
        what = f'listing the ghcr.io packages of "{owner}"'
        response, first = await self._first_page(owner, what)
        trail = PageTrail(first, max_pages=self._settings.max_pages, what=what)
        while True:
            self._raise_for_status(response, what)
            yield _package_names(response.json(what), owner, what)
            url = trail.follow(next_link(response.headers, response.url, what))
            if url is None:
                return
            response = await self._get(url, what)

    async def _first_page(self, owner: str, what: str) -> tuple[Response, httpx.URL]:
        """Page 1 from the organization endpoint, or from the user endpoint when GitHub knows no
        organization of that name; the URL that answered anchors the rest of the listing."""
        for kind in ("orgs", "users"):
            url = httpx.URL(
                f"{self._api}/{kind}/{quote(owner, safe='')}/packages",
                params={"package_type": "container", "per_page": str(PAGE_SIZE)},
            )
            response = await self._get(url, what)
            if response.status != 404:
                return response, url
        raise NotFoundError(
            f'GitHub knows no organization or user "{owner}" (404), or the token cannot see it',
            status=404,
        )

    async def _get(self, url: httpx.URL, what: str) -> Response:
        if url.scheme != "https" and not self._settings.allows_plain_http(url.netloc.decode()):
            raise UnsupportedError(
                f"{what}: refusing to send the GitHub token over plain HTTP to {url.host}; "
                "use an https:// GitHub API URL or list the host as an insecure registry"
            )
        self.request_count += 1
        return await send(
            self._client,
            "GET",
            url,
            what=what,
            headers={
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "Authorization": f"Bearer {self._token}",
            },
            settings=self._settings,
        )

    def _raise_for_status(self, response: Response, what: str) -> None:
        """GitHub's own meanings of 400, 401, 403 and 429, then the common mapping."""
        status = response.status
        if status == 429 or (status == 403 and _is_rate_limit(response)):
            retry_after = _rate_limit_wait(response, self._clock.utc())
            hint = f"; retry after {retry_after:g}s" if retry_after is not None else ""
            raise RateLimitedError(
                f"{what}: GitHub API rate limit exceeded ({status}){hint}",
                retry_after=retry_after,
                status=status,
            )
        if status == 403:
            raise AccessDeniedError(
                f"{what}: GitHub denied access (403); the token must be {CLASSIC_PAT}",
                status=status,
            )
        if status == 400 and "invalid argument" in _message(response).lower():
            raise AccessDeniedError(
                f"{what}: GitHub answered 400 Invalid argument, its answer to tokens that may "
                f"not list packages (such as a workflow's GITHUB_TOKEN); use {CLASSIC_PAT}",
                status=status,
            )
        if status == 401:
            raise AuthenticationError(
                f"{what}: GitHub refused the token (401); the password of the ghcr.io entry of "
                f"imagePullSecrets must be {CLASSIC_PAT}",
                status=status,
            )
        raise_for_status(response, what, now=self._clock.utc())


def _is_rate_limit(response: Response) -> bool:
    """GitHub answers 403 for a missing permission and for a rate limit; this tells them apart."""
    headers = response.headers
    return (
        headers.get("x-ratelimit-remaining", "").strip() == "0"
        or "retry-after" in headers
        or "rate limit" in _message(response).lower()
    )


def _rate_limit_wait(response: Response, now: datetime) -> float | None:
    """Seconds to wait, in GitHub's order: `retry-after`; else, with `x-ratelimit-remaining: 0`,
    until `x-ratelimit-reset` (epoch seconds); else a minute, its advice for a secondary limit."""
    headers = response.headers
    retry_after = retry_after_seconds(headers, now)
    if retry_after is not None:
        return retry_after
    reset = seconds(headers.get("x-ratelimit-reset", ""))
    if headers.get("x-ratelimit-remaining", "").strip() == "0":
        return None if reset is None else wait_until(reset, now)
    if "rate limit" in _message(response).lower():
        return SECONDARY_LIMIT_WAIT
    return None


def _message(response: Response) -> str:
    """The `message` of a GitHub error body (`{"message", "documentation_url"}`), or ""."""
    try:
        doc = loads(response.body)
    except ValueError:
        return ""
    message = doc.get("message") if isinstance(doc, dict) else None
    return message if isinstance(message, str) else ""


def _package_names(doc: object, owner: str, what: str) -> list[str]:
    """The full names on one page: a JSON array of package objects, each with its `name`."""
    if not isinstance(doc, list):
        raise ProtocolError(f"{what}: the page is not a GitHub package list")
    names: list[str] = []
    for package in doc:
        name = package.get("name") if isinstance(package, dict) else None
        if not isinstance(name, str) or not name:
            raise ProtocolError(f"{what}: a package on the page has no name")
        names.append(f"{owner}/{name}")
    return names
