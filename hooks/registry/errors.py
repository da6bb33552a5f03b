"""Registry failures as one exception hierarchy whose text is a message a user can act on.

Every registry call that fails ends as one of these; the scanner turns it into that filter's
error (`filter "{image}": {message}`). Messages never contain credentials or tokens: they are
built from the host, the repository and the registry's own error code, never from headers.
"""

from __future__ import annotations


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
