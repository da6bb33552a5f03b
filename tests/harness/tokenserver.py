"""A Docker-style token server (the `realm` of a Bearer challenge) for distribution's token auth.

It speaks both forms a client may use (distribution `docs/spec/auth/token.md` and `oauth.md`):
`GET /token?service=&scope=` with optional Basic credentials, and the OAuth2 `POST /token` form
(`grant_type=password` or `refresh_token`). Tokens are RS256 JWTs assembled by hand, carrying the
signing certificate in `x5c` so that distribution 2.8 can check them against `rootcertbundle`
(docs/testing-registry.md §5). Every request is recorded so tests can assert which credentials went
where.
"""

import base64
import binascii
import datetime
import fnmatch
import json
import secrets
import shutil
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from tests.harness.loopback import LoopbackServer, ServingThread
from tests.harness.tls import TestCA

# `error`: every request gets 500 with a JSON error; `garbage`: 200 with a body that is not JSON.
FailMode = Literal["error", "garbage"]

_REPOSITORY_ACTIONS = ("pull", "push")


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """One request the token server received, as the client sent it."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # names lower-cased
    form: Mapping[str, list[str]]  # the decoded body of an OAuth2 POST, else empty
    user: str | None  # who the server authenticated, None when anonymous or rejected


@dataclass(frozen=True, slots=True)
class Scope:
    """One `type:name:actions` scope as requested or granted."""

    type: str
    name: str
    actions: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> "Scope | None":
        """`repository:org/repo:pull,push` -> Scope; None when malformed."""
        head, sep, actions = text.rpartition(":")
        kind, sep2, name = head.partition(":")
        if not (sep and sep2 and kind and name):
            return None
        return cls(kind, name, tuple(a for a in actions.split(",") if a))

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified (for assertions on what a token grants)."""
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def _scopes(values: Iterable[str]) -> list[Scope]:
    """Scopes from repeated parameters, each of which may hold several space-separated scopes."""
    parsed = (Scope.parse(part) for value in values for part in value.split())
    return [scope for scope in parsed if scope is not None]


class TokenServer(LoopbackServer):
    """A threaded token endpoint on 127.0.0.1 (`url`, `realm`), optionally over TLS.

    Policy: valid credentials get pull and push on every repository not in `deny` (names or
    fnmatch patterns), and the catalog; anonymous clients get pull when `anonymous_pull` and the
    catalog only when not `catalog_requires_auth`. As in distribution and Docker Hub, a scope that
    is not granted is silently left out of the token (the registry then refuses), while wrong
    credentials are refused here with 401. `refresh_tokens` maps identity tokens to users for the
    OAuth2 `refresh_token` grant; tokens requested offline are added to it.
    """

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        anonymous_pull: bool = True,
        catalog_requires_auth: bool = True,
        deny: Iterable[str] = (),
        expires_in: int = 300,
        *,
        service: str = "test-registry",
        issuer: str = "test-token-issuer",
        refresh_tokens: Mapping[str, str] | None = None,
        tls: TestCA | None = None,
        directory: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.users = dict(users or {})
        self.anonymous_pull = anonymous_pull
        self.catalog_requires_auth = catalog_requires_auth
        self.deny = frozenset(deny)
        self.expires_in = expires_in
        self.service = service
        self.issuer = issuer
        self.refresh_tokens = dict(refresh_tokens or {})
        self.tls = tls
        self.clock = clock
        self.fail_mode: FailMode | None = None
        self._owns_directory = directory is None
        self.directory = directory or Path(tempfile.mkdtemp(prefix="tokenserver-"))
        self.rootcertbundle = self.directory / "token-signing.crt"
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._cert_der = self._write_signing_cert()
        self._lock = threading.Lock()
        self._requests: list[TokenRequest] = []
        self._serving: ServingThread | None = None

    def _write_signing_cert(self) -> bytes:
        """A self-signed cert for the signing key; distribution trusts it via rootcertbundle."""
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.issuer)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .sign(self._key, hashes.SHA256())
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        self.rootcertbundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cert.public_bytes(serialization.Encoding.DER)

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Listen on a free port of 127.0.0.1 and serve in a daemon thread."""
        server = _Server(("127.0.0.1", 0), _handler_for(self))
        if self.tls is not None:
            # Handshake lazily in the request thread, so one stuck client cannot block accept().
            server.socket = self.tls.server_context().wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._serving = ServingThread(server, "tokenserver")
        self.port = self._serving.port
        return self

    def stop(self) -> None:
        """Stop serving and remove the directory it created."""
        serving, self._serving = self._serving, None
        if serving is not None:
            serving.stop()
        if self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    @property
    def realm(self) -> str:
        """The token endpoint a registry names in its Bearer challenge."""
        return f"{self.url}/token"

    def registry_auth_config(self) -> dict[str, Any]:
        """The `auth:` section of a distribution config that trusts this server's tokens."""
        return {
            "token": {
                "realm": self.realm,
                "service": self.service,
                "issuer": self.issuer,
                "rootcertbundle": str(self.rootcertbundle),
            }
        }

    # --- records ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[TokenRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def _record(self, request: TokenRequest) -> None:
        with self._lock:
            self._requests.append(request)

    # --- policy and tokens -----------------------------------------------------------------

    def _repository_actions(self, user: str | None, name: str) -> tuple[str, ...]:
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in self.deny):
            return ()
        if user is not None:
            return _REPOSITORY_ACTIONS
        return ("pull",) if self.anonymous_pull else ()

    def grant(self, user: str | None, requested: Iterable[Scope]) -> list[Scope]:
        """The part of `requested` that `user` (None = anonymous) is allowed."""
        granted: list[Scope] = []
        for scope in requested:
            allowed: tuple[str, ...] = ()
            if scope.type == "repository":
                allowed = self._repository_actions(user, scope.name)
            elif (scope.type, scope.name) == ("registry", "catalog") and (
                user is not None or not self.catalog_requires_auth
            ):
                allowed = ("*",)
            actions = tuple(action for action in scope.actions if action in allowed)
            if actions:
                granted.append(Scope(scope.type, scope.name, actions))
        return granted

    def issue(self, user: str | None, granted: list[Scope], audience: str) -> tuple[str, float]:
        """A signed RS256 JWT for `granted`, and the time it was issued."""
        now = self.clock()
        header = {
            "alg": "RS256",
            "typ": "JWT",
            "x5c": [base64.b64encode(self._cert_der).decode()],
        }
        claims = {
            "iss": self.issuer,
            "sub": user or "",
            "aud": audience,
            "exp": int(now + self.expires_in),
            "nbf": int(now - 1),
            "iat": int(now),
            "jti": secrets.token_hex(16),
            "access": [
                {"type": s.type, "name": s.name, "actions": list(s.actions)} for s in granted
            ],
        }
        signing_input = (
            f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        )
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}", now

    def check_password(self, user: str, password: str) -> bool:
        """Whether `user` exists with this password."""
        expected = self.users.get(user)
        return expected is not None and secrets.compare_digest(expected, password)

    def new_refresh_token(self, user: str) -> str:
        """An identity token for `user`, usable later with grant_type=refresh_token."""
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.refresh_tokens[token] = user
        return token

    def user_for_refresh_token(self, token: str) -> str | None:
        """Who an identity token belongs to."""
        with self._lock:
            return self.refresh_tokens.get(token)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet about clients that reject our certificate or hang up; loud about anything else."""
        if not isinstance(sys.exc_info()[1], ssl.SSLError | ConnectionError):
            super().handle_error(request, client_address)


def _issued_at(timestamp: float) -> str:
    return (
        datetime.datetime.fromtimestamp(timestamp, datetime.UTC).isoformat().replace("+00:00", "Z")
    )


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(user, password) from an `Authorization: Basic` header; None when absent or malformed."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        user, sep, password = (
            base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _handler_for(server: TokenServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: the requests are recorded instead of printed."""

        def _reply(self, status: int, body: object | bytes) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _failed(self) -> bool:
            """Answer per `fail_mode`; True when the request has been answered that way."""
            match server.fail_mode:
                case "error":
                    self._reply(
                        500, {"errors": [{"code": "UNKNOWN", "message": "token server failure"}]}
                    )
                case "garbage":
                    self._reply(200, b"<html>this is not a token</html>")
                case None:
                    return False
            return True

        def _record(self, form: Mapping[str, list[str]], user: str | None) -> None:
            parts = urlsplit(self.path)
            server._record(
                TokenRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    form=form,
                    user=user,
                )
            )

        def do_GET(self) -> None:
            """The Docker token flow: scopes in the query, optional Basic credentials."""
            query = parse_qs(urlsplit(self.path).query)
            credentials = _basic_credentials(self.headers.get("Authorization"))
            user = credentials[0] if credentials and server.check_password(*credentials) else None
            self._record({}, user)
            if self._failed():
                return
            if urlsplit(self.path).path != "/token":
                self._reply(404, {"errors": [{"code": "NOT_FOUND", "message": "no such endpoint"}]})
                return
            if credentials is not None and user is None:
                self._reply(
                    401,
                    {
                        "errors": [
                            {"code": "UNAUTHORIZED", "message": "incorrect username or password"}
                        ]
                    },
                )
                return
            granted = server.grant(user, _scopes(query.get("scope", [])))
            audience = query.get("service", [server.service])[0]
            token, issued = server.issue(user, granted, audience)
            body: dict[str, object] = {
                "token": token,
                "access_token": token,
                "expires_in": server.expires_in,
                "issued_at": _issued_at(issued),
            }
            if user is not None and query.get("offline_token", [""])[0] == "true":
                body["refresh_token"] = server.new_refresh_token(user)
            self._reply(200, body)

        def do_POST(self) -> None:
            """The OAuth2 form: grant_type=password or refresh_token (identity tokens)."""
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode(errors="replace"))

            def field(name: str) -> str:
                return form.get(name, [""])[0]

            grant_type = field("grant_type")
            user: str | None = None
            if grant_type == "password" and server.check_password(
                field("username"), field("password")
            ):
                user = field("username")
            elif grant_type == "refresh_token":
                user = server.user_for_refresh_token(field("refresh_token"))
            self._record(form, user)
            if self._failed():
                return
            if urlsplit(self.path).path != "/token":
                self._reply(404, {"error": "not_found"})
                return
            if grant_type not in {"password", "refresh_token"}:
                self._reply(400, {"error": "unsupported_grant_type"})
                return
            if user is None:
                self._reply(
                    400,
                    {"error": "invalid_grant", "error_description": "invalid credentials"},
                )
                return
            granted = server.grant(user, _scopes(form.get("scope", [])))
            token, issued = server.issue(user, granted, field("service") or server.service)
            body: dict[str, object] = {
                "access_token": token,
                "scope": " ".join(str(scope) for scope in granted),
                "expires_in": server.expires_in,
                "issued_at": _issued_at(issued),
            }
            if grant_type == "refresh_token":
                body["refresh_token"] = field("refresh_token")
            elif field("access_type") == "offline":
                body["refresh_token"] = server.new_refresh_token(user)
            self._reply(200, body)

    return Handler
