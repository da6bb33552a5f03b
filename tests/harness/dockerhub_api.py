"""A local Docker Hub REST API: namespace repository listing and `/v2/auth/token`, as documented.

Pages are generated in the exact shape of the recorded fixtures in
`../shared/registry/api-fixtures/dockerhub/` (loaded at run time, never copied), filled with the
test's repository names. Every request is recorded so tests can check where credentials went.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
from collections.abc import Mapping, Sequence
from urllib.parse import unquote

from tests.harness.apiserver import ApiServer, RecordedRequest, Reply, load_fixture

HUB_FIXTURES = "registry/api-fixtures/dockerhub"


class DockerHubApi(ApiServer):
    """`GET /v2/namespaces/{ns}/repositories` (page, page_size, absolute next/previous; 404 past
    the end or for an unknown namespace) and `POST /v2/auth/token` (JSON identifier/secret ->
    `{"access_token": JWT}`, 401 otherwise). Private repositories are listed only for a bearer
    token this server issued.

    `link_base` replaces this server's URL in `next`/`previous` (a Hub that names another host);
    `looping_page` makes that page's `next` point to itself.
    """

    def __init__(
        self,
        repositories: Mapping[str, Sequence[str]],
        *,
        private: Mapping[str, Sequence[str]] | None = None,
        users: Mapping[str, str] | None = None,
        link_base: str | None = None,
        looping_page: int | None = None,
    ) -> None:
        super().__init__()
        self._public = {ns: list(names) for ns, names in repositories.items()}
        self._private = {ns: list(names) for ns, names in (private or {}).items()}
        self._users = dict(users or {})
        self._link_base = link_base
        self._looping_page = looping_page
        self._tokens: dict[str, str] = {}
        self._throttles: list[dict[str, str]] = []
        self._page = load_fixture(f"{HUB_FIXTURES}/namespace_repositories_page1.json")
        self._token_answer = load_fixture(f"{HUB_FIXTURES}/hub_auth_token_response.json")
        self._token_request = load_fixture(f"{HUB_FIXTURES}/hub_auth_token_request.json")
        self._limited = load_fixture(f"{HUB_FIXTURES}/hub_api_429.headers.json")
        self._limited_body = load_fixture(f"{HUB_FIXTURES}/hub_api_429.json")

    def publish(self, namespace: str, names: Sequence[str]) -> None:
        """Replace the public repositories of `namespace` (as pushes and deletions would)."""
        with self._lock:
            self._public[namespace] = list(names)

    def revoke_tokens(self) -> None:
        """Forget every JWT issued so far; listings that send one get 401."""
        with self._lock:
            self._tokens.clear()

    def throttle(self, *, retry_after: str | None = None, x_retry_after: str | None = None) -> None:
        """The next listing request answers 429 with the recorded rate-limit headers, its wait
        given either as `Retry-After` (seconds, current docs) or `X-Retry-After` (epoch, older)."""
        headers = {k: v for k, v in self._limited["headers"].items() if k != "Retry-After"}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        if x_retry_after is not None:
            headers["X-Retry-After"] = x_retry_after
        with self._lock:
            self._throttles.append(headers)

    @property
    def issued_tokens(self) -> list[str]:
        """The JWTs handed out so far, oldest first."""
        with self._lock:
            return list(self._tokens)

    def handle(self, request: RecordedRequest) -> Reply:
        segments = request.path.strip("/").split("/")
        if request.method == "POST" and request.path == "/v2/auth/token":
            return self._sign_in(request)
        if (
            request.method == "GET"
            and len(segments) == 4
            and segments[:2] == ["v2", "namespaces"]
            and segments[3] == "repositories"
        ):
            return self._list(request, unquote(segments[2]))
        return Reply(404, {"detail": "Not found"})

    def _sign_in(self, request: RecordedRequest) -> Reply:
        try:
            doc = json.loads(request.body)
        except ValueError:
            return Reply(400, {"detail": "the body must be JSON"})
        if not isinstance(doc, dict) or set(doc) != set(self._token_request):
            return Reply(
                400, {"detail": f"the body must hold exactly {sorted(self._token_request)}"}
            )
        identifier, secret = doc["identifier"], doc["secret"]
        if not isinstance(identifier, str) or self._users.get(identifier) != secret:
            return Reply(401, {"detail": "Incorrect authentication credentials", "error": True})
        token = _jwt({"sub": identifier, "iss": "hub", "jti": secrets.token_hex(8)})
        with self._lock:
            self._tokens[token] = identifier
        answer = copy.deepcopy(self._token_answer)
        answer["access_token"] = token
        return Reply(200, answer)

    def _list(self, request: RecordedRequest, namespace: str) -> Reply:
        with self._lock:
            throttle = self._throttles.pop(0) if self._throttles else None
            known_tokens = set(self._tokens)
            public = list(self._public.get(namespace, []))
        if throttle is not None:
            return Reply(self._limited["status"], self._limited_body, throttle)
        authorization = request.headers.get("authorization")
        signed_in = False
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme != "Bearer" or token not in known_tokens:
                return Reply(401, {"detail": "Authentication credentials were not provided."})
            signed_in = True
        if namespace not in self._public and namespace not in self._private:
            return Reply(404, {"detail": "Not found"})
        try:
            page = int(request.query.get("page", ["1"])[0])
            size = min(int(request.query.get("page_size", ["10"])[0]), 100)
        except ValueError:
            return Reply(400, {"detail": "page and page_size must be integers"})
        if page < 1 or size < 1:
            return Reply(400, {"detail": "page and page_size must be at least 1"})
        listed = [(name, False) for name in public]
        if signed_in:
            listed += [(name, True) for name in self._private.get(namespace, [])]
        start = (page - 1) * size
        if page > 1 and start >= len(listed):
            return Reply(404, {"detail": "Not found"})
        base = f"{self._link_base or self.url}/v2/namespaces/{namespace}/repositories"
        more = start + size < len(listed)
        next_page = page if page == self._looping_page else page + 1
        body = copy.deepcopy(self._page)
        template = self._page["results"][0]
        body["count"] = len(listed)
        body["next"] = f"{base}?page={next_page}&page_size={size}" if more else None
        body["previous"] = f"{base}?page={page - 1}&page_size={size}" if page > 1 else None
        body["results"] = [
            {**copy.deepcopy(template), "name": name, "namespace": namespace, "is_private": hidden}
            for name, hidden in listed[start : start + size]
        ]
        return Reply(200, body)


def _jwt(claims: dict[str, str]) -> str:
    """A JWT-shaped token (header.claims.signature), like the Hub's; nobody verifies it here."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = json.dumps({"alg": "HS256", "typ": "JWT"}).encode()
    return ".".join(
        (part(header), part(json.dumps(claims).encode()), part(secrets.token_bytes(16)))
    )
