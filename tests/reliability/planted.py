"""Known credentials planted in pull secrets, and the search for them wherever they could leak.

Every campaign in this package sends pull secrets made here. A leak is any planted value found in
a response, a log record, the service's stderr or its metrics, in any form it travels in: as is,
standard and URL-safe base64, the `auth` field (base64 of `user:password`), or the whole
`.dockerconfigjson` value as Metacontroller sends it. Bearer tokens the token server issues are
added once seen on the wire, since nobody knows them before.
"""

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.hooks.wire import dockerconfigjson, login, secret

USERNAME = "planted-robot-5c1e"
PASSWORD = "planted-Passw0rd-9a7f3e1d"
REGISTRY_TOKEN = "planted-registry-token-0b8d44f2"
IDENTITY_TOKEN = "planted-identity-token-6e2a90c7"


def basic_auth(username: str = USERNAME, password: str = PASSWORD) -> str:
    """The `Authorization` value of Basic credentials (and the `auth` field, after `Basic `)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _forms(value: str) -> set[str]:
    raw = value.encode()
    return {
        value,
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }


@dataclass
class Planted:
    """Makes the pull secrets, remembers every secret value sent, and finds them in texts."""

    values: set[str] = field(
        default_factory=lambda: {f"{USERNAME}:{PASSWORD}", PASSWORD, REGISTRY_TOKEN, IDENTITY_TOKEN}
    )
    texts_searched: int = 0

    def login_secret(self, name: str, *hosts: str) -> dict[str, Any]:
        """A pull secret with the planted username and password for each of `hosts`."""
        auths = {h: entry for h in hosts for entry in login(h, USERNAME, PASSWORD).values()}
        return self._secret(name, auths)

    def token_secret(self, name: str, host: str, kind: str) -> dict[str, Any]:
        """A pull secret with the planted `registrytoken` or `identitytoken` for `host`."""
        entry = (
            {"registrytoken": REGISTRY_TOKEN}
            if kind == "registrytoken"
            else {"username": "<token>", "identitytoken": IDENTITY_TOKEN}
        )
        return self._secret(name, {host: entry})

    def _secret(self, name: str, auths: dict[str, dict[str, str]]) -> dict[str, Any]:
        made = secret(name, auths)
        self.values.add(dockerconfigjson(auths))
        return made

    def saw_authorizations(self, values: Iterable[str | None]) -> None:
        """Add the bearer tokens seen on the wire (issued by a token server) to the search."""
        for value in values:
            scheme, _, token = (value or "").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                self.values.add(token.strip())

    def forms(self) -> set[str]:
        """Every planted value in every form it could leak in."""
        return {form for value in self.values for form in _forms(value)}

    def hits(self, *texts: str | bytes) -> list[str]:
        """The planted forms found in `texts`: empty when nothing leaked."""
        forms = self.forms()
        found: list[str] = []
        for text in texts:
            self.texts_searched += 1
            haystack = text.decode(errors="replace") if isinstance(text, bytes) else text
            found.extend(sorted(form for form in forms if form in haystack))
        return found
