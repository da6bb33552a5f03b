"""Registry failures as one exception hierarchy whose text is a message a user can act on.

Every registry call that fails ends as one of these; the scanner turns it into that filter's
error (`filter "{image}": {message}`). Messages are built from the host, the repository and the
registry's own error code (only when it is a code of the OCI grammar), never from headers. What
a registry chose still reaches them (names, hosts), so every text leaving the registry layer
goes through `public_text`: the credentials of the scan scrubbed in every form they travel in,
control characters replaced, and the length bounded.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable

# A status message or log line quotes at most this much of one registry failure.
MAX_TEXT_CHARS = 1000
REDACTED = "<redacted>"
# Shorter values are not scrubbed: a 3-character password would garble every message, and is
# not worth stealing from one.
MIN_SECRET_CHARS = 4
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class Secrets:
    """The credentials in use by one scan (pull secrets, tokens obtained), in each form they
    travel in: as they are, base64 (standard and URL-safe, with and without padding)."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._forms: set[str] = set()
        for value in values:
            self.add(value)

    def add(self, value: str) -> None:
        """Scrub `value` (a password, `user:password`, a token) from now on."""
        if len(value) < MIN_SECRET_CHARS:
            return
        raw = value.encode(errors="surrogatepass")
        for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
            text = encoded.decode("ascii")
            self._forms.update((text, text.rstrip("=")))
        self._forms.add(value)

    def scrub(self, text: str) -> str:
        """`text` with every known form replaced by REDACTED, longest first."""
        for form in sorted(self._forms, key=len, reverse=True):
            if form in text:
                text = text.replace(form, REDACTED)
        return text


def public_text(text: str, secrets: Secrets, limit: int = MAX_TEXT_CHARS) -> str:
    """A registry failure's text as it may leave the registry layer (status, logs): no
    credential of the scan, no control character (a NUL or newline a registry put in a name),
    at most `limit` characters."""
    text = _CONTROL.sub("?", secrets.scrub(text))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


class RegistryError(Exception):
    """A registry call failed; `str(error)` is the status message shown to the user."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message


class AuthenticationError(RegistryError):
    """401: the credentials are missing, wrong or expired; the fix is in imagePullSecrets."""


class AccessDeniedError(RegistryError):
    """403 or DENIED: the credentials work but do not grant access to this repository."""


class NotFoundError(RegistryError):
    """404: the repository, tag or digest does not exist (or is invisible to these credentials)."""


class RateLimitedError(RegistryError):
    """429: the registry asks us to come back later; `retry_after` is in seconds when it said."""

    def __init__(
        self, message: str, *, retry_after: float | None, status: int | None = 429
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class UnavailableError(RegistryError):
    """5xx, refused or dropped connections and timeouts: worth retrying at the next sync."""


class TLSError(RegistryError):
    """The TLS handshake failed, most often an unknown CA: fixed with AIM_CA_BUNDLE."""


class ProtocolError(RegistryError):
    """The answer is not what the API documents: not JSON, wrong shape, too large, looping pages."""


class UnsupportedError(RegistryError):
    """The registry cannot do what the filter needs (no catalog, a wildcard Hub namespace)."""
