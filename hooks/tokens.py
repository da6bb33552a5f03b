"""The bearer tokens the hooks accept: one from AIM_HOOK_TOKEN, or every line of the file that
AIM_HOOK_TOKEN_FILE names, re-read when the file changes.

The file is a Secret mounted as a volume: the kubelet replaces its content when the Secret
changes (about a minute later), without restarting the pod. Metacontroller, for its part, reads
the token once, when the CompositeController's spec changes. A rotation therefore passes
through a time when both tokens must be accepted: the file holds one token per line (README,
"Rotating the hook token"). Each call costs one `stat` of the file; the file is read again only
when its inode, size or modification time changed (the kubelet swaps a symlink, so the inode
changes on every update).

A token never reaches a log line or a message: only how many there are, and which line of the
file a call's token matched (so an operator can see when the old one is no longer used).
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from hooks.logs import log_fields

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 64 * 1024
"""A token file is a few lines; anything larger is not one."""


class TokenFileError(ValueError):
    """The token file cannot be used; the message says why (never what it holds)."""


def read_tokens(path: Path) -> tuple[bytes, ...]:
    """The non-empty lines of `path`, stripped; TokenFileError when there are none."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise TokenFileError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise TokenFileError(f"{path} is larger than {MAX_FILE_BYTES} bytes")
    tokens = tuple(line.strip() for line in data.splitlines() if line.strip())
    if not tokens:
        raise TokenFileError(f"{path} holds no token (one token per line)")
    return tokens


def matching(presented: bytes, accepted: tuple[bytes, ...]) -> int | None:
    """The 1-based position of `presented` in `accepted`, or None. Every token is compared, in
    constant time, whichever matches: the time taken tells nothing about any of them."""
    found: int | None = None
    for position, token in enumerate(accepted, 1):
        if hmac.compare_digest(presented, token) and found is None:
            found = position
    return found


@dataclass(frozen=True)
class _Stamp:
    """What changes when the kubelet (or anyone) replaces the file."""

    device: int
    inode: int
    size: int
    modified_ns: int


def _stamp(path: Path) -> _Stamp | None:
    try:
        status = os.stat(path)  # follows the kubelet's symlinks to the current content
    except OSError:
        return None
    return _Stamp(status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


class TokenFile:
    """The tokens of a file, re-read when it changes.

    A file that becomes unreadable or empty keeps the tokens last read, with a warning: a
    half-finished edit must not lock Metacontroller out (nor let everyone in).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp = _stamp(path)
        self._tokens = read_tokens(path)

    def tokens(self) -> tuple[bytes, ...]:
        """The tokens accepted now."""
        stamp = _stamp(self.path)
        if stamp is not None and stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    self._reload(stamp)
        return self._tokens

    def _reload(self, stamp: _Stamp) -> None:
        self._stamp = stamp
        try:
            self._tokens = read_tokens(self.path)
        except TokenFileError as exc:
            log.warning(
                "hook token file unusable; the tokens read before stay accepted",
                extra=log_fields(error=str(exc), tokens=len(self._tokens)),
            )
            return
        log.info("hook token file read", extra=log_fields(tokens=len(self._tokens)))
