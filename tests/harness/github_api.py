"""A local GitHub REST API for container packages: `/orgs/{org}/packages`, `/users/{user}/packages`.

Pages, error bodies and headers follow the recorded fixtures in
`../shared/registry/api-fixtures/github/` (loaded at run time, never copied): package objects
shaped like the documented examples, `Link` with prev/next/last/first pointing to the numeric
`/organizations/{id}/packages` and `/user/{id}/packages` forms GitHub uses, and the
`X-RateLimit-*` headers. Every request is recorded.
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from tests.harness.apiserver import ApiServer, RecordedRequest, Reply, load_fixture

GITHUB_FIXTURES = "registry/api-fixtures/github"
RATE_LIMIT = 5000
RESET_AT = 1_727_918_169  # the epoch of the recorded headers
MAX_RESULTS = 10_000  # GitHub answers 400 when per_page * page goes past this


@dataclass(frozen=True)
class _Owner:
    login: str
    id: int
    is_org: bool
    packages: tuple[str, ...]


class GitHubApi(ApiServer):
    """Lists container packages of organizations and users, for the tokens it knows.

    Without a token, or with an unknown one, it answers 401 (the docs list 401 for these
    endpoints). `rate_limit(...)` and `invalid_argument()` switch every package request to that
    refusal until `recover()`. `link_base` replaces this server's URL in `Link`.
    """

    def __init__(
        self,
        *,
        orgs: Mapping[str, Sequence[str]] | None = None,
        users: Mapping[str, Sequence[str]] | None = None,
        tokens: Collection[str] = (),
        link_base: str | None = None,
    ) -> None:
        super().__init__()
        owners = [(login, True, names) for login, names in (orgs or {}).items()]
        owners += [(login, False, names) for login, names in (users or {}).items()]
        self._owners = [
            _Owner(login, 9919 + index, is_org, tuple(names))
            for index, (login, is_org, names) in enumerate(owners)
        ]
        self._tokens = frozenset(tokens)
        self._link_base = link_base
        self._refusal: Reply | None = None
        self._served = 0
        self._counter_lock = threading.Lock()
        self._org_package = load_fixture(f"{GITHUB_FIXTURES}/org_packages_container.json")[0]
        self._user_package = load_fixture(f"{GITHUB_FIXTURES}/user_packages_container.json")[0]
        self._page_headers = load_fixture(f"{GITHUB_FIXTURES}/org_packages_container.headers.json")
        self._error = load_fixture(f"{GITHUB_FIXTURES}/error_invalid_argument_400.json")

    def rate_limit(
        self, *, status: int = 403, reset: int = RESET_AT, retry_after: str | None = None
    ) -> None:
        """Answer package requests as a spent rate limit: `x-ratelimit-remaining: 0` and the reset
        epoch (primary limit), plus `retry-after` when given (secondary limit)."""
        headers = self._rate_headers(remaining=0, reset=reset)
        if retry_after is not None:
            headers["retry-after"] = retry_after
        body = self._error_body(status, "API rate limit exceeded for user ID 1.")
        with self._lock:
            self._refusal = Reply(status, body, headers)

    def invalid_argument(self) -> None:
        """Answer package requests with the recorded 400 Invalid argument, as to a GITHUB_TOKEN."""
        with self._lock:
            self._refusal = Reply(400, copy.deepcopy(self._error))

    def recover(self) -> None:
        """Back to answering package requests normally."""
        with self._lock:
            self._refusal = None

    def handle(self, request: RecordedRequest) -> Reply:
        segments = [unquote(s) for s in request.path.strip("/").split("/")]
        if request.method != "GET" or len(segments) != 3 or segments[2] != "packages":
            return Reply(404, self._error_body(404, "Not Found"))
        authorization = request.headers.get("authorization", "")
        if not authorization:
            return Reply(401, self._error_body(401, "Requires authentication"))
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() not in ("bearer", "token") or token not in self._tokens:
            return Reply(401, self._error_body(401, "Bad credentials"))
        with self._lock:
            refusal = self._refusal
        if refusal is not None:
            return refusal
        owner = self._find(segments[0], segments[1])
        if owner is None:
            return Reply(404, self._error_body(404, "Not Found"))
        return self._page(request, owner)

    def _find(self, kind: str, key: str) -> _Owner | None:
        """The owner a path names: by login (`orgs`, `users`) or by id (`organizations`, `user`)."""
        by_login = {"orgs": True, "users": False}
        by_id = {"organizations": True, "user": False}
        for owner in self._owners:
            if by_login.get(kind) == owner.is_org and owner.login.lower() == key.lower():
                return owner
            if by_id.get(kind) == owner.is_org and str(owner.id) == key:
                return owner
        return None

    def _page(self, request: RecordedRequest, owner: _Owner) -> Reply:
        package_type = request.query.get("package_type", [""])[0]
        if not package_type:
            return Reply(422, self._error_body(422, "Validation Failed"))
        try:
            per_page = min(max(int(request.query.get("per_page", ["30"])[0]), 1), 100)
            page = max(int(request.query.get("page", ["1"])[0]), 1)
        except ValueError:
            return Reply(422, self._error_body(422, "Validation Failed"))
        if per_page * page > MAX_RESULTS:
            return Reply(400, self._error_body(400, "Pagination is limited to 10000 results."))
        names = owner.packages if package_type == "container" else ()
        listed = names[(page - 1) * per_page : page * per_page]
        last = max(1, math.ceil(len(names) / per_page))
        headers = self._rate_headers(remaining=None, reset=RESET_AT)
        headers["Content-Type"] = self._page_headers["headers"]["Content-Type"]
        link = self._link(owner, package_type, per_page, page, last)
        if link:
            headers["Link"] = link
        return Reply(200, [self._package(owner, name) for name in listed], headers)

    def _link(self, owner: _Owner, package_type: str, per_page: int, page: int, last: int) -> str:
        """GitHub's Link: prev, next, last, first, to the numeric form of the owner's path."""
        kind = "organizations" if owner.is_org else "user"
        base = f"{self._link_base or self.url}/{kind}/{owner.id}/packages"

        def target(number: int) -> str:
            return f"<{base}?package_type={package_type}&per_page={per_page}&page={number}>"

        links = []
        if page > 1:
            links.append(f'{target(page - 1)}; rel="prev"')
        if page < last:
            links += [f'{target(page + 1)}; rel="next"', f'{target(last)}; rel="last"']
        if page > 1:
            links.append(f'{target(1)}; rel="first"')
        return ", ".join(links)

    def _package(self, owner: _Owner, name: str) -> dict[str, Any]:
        """A package object in the recorded shape, for `name` of `owner`."""
        template = self._org_package if owner.is_org else self._user_package
        kind = "orgs" if owner.is_org else "users"
        encoded = quote(name, safe="")
        package: dict[str, Any] = copy.deepcopy(template)
        package["id"] = owner.id * 1000 + owner.packages.index(name)
        package["name"] = name
        package["owner"]["login"] = owner.login
        package["owner"]["id"] = owner.id
        package["url"] = f"{self.url}/{kind}/{owner.login}/packages/container/{encoded}"
        package["html_url"] = (
            f"https://github.com/{kind}/{owner.login}/packages/container/package/{encoded}"
        )
        return package

    def _rate_headers(self, *, remaining: int | None, reset: int) -> dict[str, str]:
        """The recorded `X-RateLimit-*` header set; `remaining` counts down unless it is given."""
        with self._counter_lock:
            self._served += 1
            used = self._served
        left = max(RATE_LIMIT - used, 0) if remaining is None else remaining
        recorded = self._page_headers["headers"]
        headers = {k: v for k, v in recorded.items() if k.lower().startswith("x-ratelimit-")}
        headers.update(
            {
                "X-RateLimit-Limit": str(RATE_LIMIT),
                "X-RateLimit-Remaining": str(left),
                "X-RateLimit-Reset": str(reset),
                "X-RateLimit-Used": str(RATE_LIMIT - left),
            }
        )
        return headers

    def _error_body(self, status: int, message: str) -> dict[str, Any]:
        """An error body in the recorded shape (`message`, `documentation_url`, `status`)."""
        body: dict[str, Any] = copy.deepcopy(self._error)
        body["message"] = message
        body["status"] = str(status)
        return body
