"""Registry credentials from `kubernetes.io/dockerconfigjson` pull secrets.

Metacontroller hands us the pull secrets as full Secret objects. Each is decoded once, here, into
a `Keychain` that answers "which credential for this registry and repository?" the way the kubelet
does (API-NOTES §3.4): config keys lose their scheme and a `/v1/` or `/v2/` path, Docker Hub's
aliases are one host, the port must match exactly, other paths scope a credential to a repository
prefix (the longest wins) and `*` globs one host label.

A malformed secret is reported as a `SecretProblem` that names the secret and what is wrong with
it, never anything it contains, and is skipped: one broken secret must not hide the others.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from hooks.reference import canonical_registry
from hooks.registry.errors import Secrets
from hooks.wildcard import Wildcard

DOCKERCONFIGJSON = "kubernetes.io/dockerconfigjson"
DOCKERCFG = "kubernetes.io/dockercfg"
_DATA_KEYS = {DOCKERCONFIGJSON: ".dockerconfigjson", DOCKERCFG: ".dockercfg"}
# The Secret types a pull secret may have, as for the kubelet.
PULL_SECRET_TYPES = tuple(_DATA_KEYS)
_CREDENTIAL_FIELDS = ("auth", "username", "password", "identitytoken", "registrytoken")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_API_VERSION_PATH = re.compile(r"^v[12](?:/|$)")
# A config key is quoted in messages only when it looks like a registry address, so that a key
# someone filled with `user:password@host` is never echoed.
_PRINTABLE_KEY = re.compile(r"[A-Za-z0-9.*:/_\[\]-]{1,200}")


@dataclass(frozen=True)
class Credential:
    """What a pull secret holds for one registry; the repr never shows a secret."""

    username: str | None = None
    password: str | None = None
    identity_token: str | None = None
    registry_token: str | None = None

    def __repr__(self) -> str:
        def shown(value: str | None) -> str:
            return "None" if value is None else "'<redacted>'"

        return (
            f"Credential(username={self.username!r}, password={shown(self.password)}, "
            f"identity_token={shown(self.identity_token)}, "
            f"registry_token={shown(self.registry_token)})"
        )

    __str__ = __repr__

    def secret_values(self) -> list[str]:
        """What must never appear in a message: `user:password`, the password, the tokens."""
        values = [self.password, self.identity_token, self.registry_token]
        if self.username is not None and self.password is not None:
            values.append(f"{self.username}:{self.password}")
        return [value for value in values if value]


@dataclass(frozen=True, slots=True)
class SecretProblem:
    """A pull secret that cannot be used: its name and what is wrong, never its contents."""

    name: str
    message: str

    def __str__(self) -> str:
        return f'pull secret "{self.name}": {self.message}'


@dataclass(frozen=True, slots=True)
class _Entry:
    """One config key, parsed: `host` may hold `*` globs, `path` scopes it to repositories."""

    host: str
    path: str
    credential: Credential

    @property
    def is_glob(self) -> bool:
        return "*" in self.host

    def matches(self, registry: str, repository: str | None) -> bool:
        if not _host_matches(self.host, registry):
            return False
        if not self.path:
            return True
        return repository is not None and (
            repository == self.path or repository.startswith(self.path + "/")
        )


class Keychain:
    """Credentials by registry config key; `lookup` picks the one that applies to an image."""

    def __init__(self, entries: Iterable[tuple[str, Credential]] = ()) -> None:
        """`entries` are (config key, credential) pairs in priority order.

        Keys that normalise to the same host and path keep the first credential, so callers
        put earlier secrets, and within a secret the keys written exactly, first.
        """
        self._entries: list[_Entry] = []
        self.secrets = Secrets()
        """The credentials' values, and the tokens obtained with them, to scrub from texts."""
        seen: set[tuple[str, str]] = set()
        for key, credential in entries:
            for value in credential.secret_values():
                self.secrets.add(value)
            host, path = _normalise_key(key)
            if not host or (host, path) in seen:
                continue
            seen.add((host, path))
            self._entries.append(_Entry(host, path, credential))

    def lookup(self, registry: str, repository: str | None = None) -> Credential | None:
        """The credential for `registry` (a canonical host[:port]) and `repository`, or None.

        The most specific entry wins: a longer repository path, then a literal host over a glob,
        then the entry that came first.
        """
        host = canonical_registry(registry)
        candidates = [e for e in self._entries if e.matches(host, repository)]
        if not candidates:
            return None

        def rank(indexed: tuple[int, _Entry]) -> tuple[int, bool, int]:
            index, entry = indexed
            return (-len(entry.path), entry.is_glob, index)

        return min(enumerate(candidates), key=rank)[1].credential

    def __repr__(self) -> str:
        keys = ", ".join(f"{e.host}/{e.path}" if e.path else e.host for e in self._entries)
        return f"Keychain([{keys}])"

    __str__ = __repr__


def keychain_from_secrets(
    secrets: Sequence[tuple[str, Mapping[str, object] | None]],
) -> tuple[Keychain, list[SecretProblem]]:
    """A keychain from pull secrets in imagePullSecrets order; broken secrets become problems.

    `secrets` pairs each secret's name with the Secret object Metacontroller sent, or None when
    it does not exist. Earlier secrets win for the same registry key, as in the kubelet.
    """
    entries: list[tuple[str, Credential]] = []
    problems: list[SecretProblem] = []
    for name, secret in secrets:
        parsed = _parse_secret(name, secret)
        if isinstance(parsed, SecretProblem):
            problems.append(parsed)
        else:
            entries.extend(parsed)
    return Keychain(entries), problems


def check_pull_secret(name: str, secret: Mapping[str, object] | None) -> SecretProblem | None:
    """Whether a pull secret can be used; the AIMClusterConfig controller reports the problem."""
    parsed = _parse_secret(name, secret)
    return parsed if isinstance(parsed, SecretProblem) else None


def _parse_secret(
    name: str, secret: Mapping[str, object] | None
) -> list[tuple[str, Credential]] | SecretProblem:
    """The (key, credential) pairs of one Secret object, or what is wrong with it.

    Whatever a secret holds, it is this secret's problem: an unforeseen failure to read it is
    reported like a malformed secret (and skipped), never a failure of the whole source.
    """
    try:
        return _read_secret(name, secret)
    except Exception:  # the exception's text may quote the secret: never used
        return SecretProblem(name, "cannot be read")


def _read_secret(
    name: str, secret: Mapping[str, object] | None
) -> list[tuple[str, Credential]] | SecretProblem:
    if secret is None:
        return SecretProblem(name, "not found")
    if not isinstance(secret, Mapping):
        return SecretProblem(name, "is not a Secret object")
    secret_type = secret.get("type")
    data_key = _DATA_KEYS.get(secret_type) if isinstance(secret_type, str) else None
    if data_key is None:
        return SecretProblem(
            name,
            f"has type {_quote_type(secret_type)}; expected {DOCKERCONFIGJSON} or {DOCKERCFG}",
        )
    data = secret.get("data")
    encoded = data.get(data_key) if isinstance(data, Mapping) else None
    if not isinstance(encoded, str) or not encoded:
        return SecretProblem(name, f"has no data key {data_key}")
    # Exception texts are never used: JSONDecodeError and UnicodeDecodeError quote the input.
    try:
        raw = base64.b64decode(encoded, validate=True)
    except ValueError:  # binascii.Error, or a character that is not ASCII
        return SecretProblem(name, f"{data_key} is not valid base64")
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        return SecretProblem(name, f"{data_key} is not valid JSON")
    if secret_type == DOCKERCONFIGJSON:
        auths = document.get("auths") if isinstance(document, dict) else None
        if not isinstance(auths, dict):
            return SecretProblem(name, f'{data_key} has no "auths" object')
    else:
        auths = document
        if not isinstance(auths, dict):
            return SecretProblem(name, f"{data_key} is not a JSON object")
    try:
        pairs = [(str(key), _parse_entry(str(key), entry)) for key, entry in auths.items()]
    except _EntryError as exc:
        return SecretProblem(name, f"{data_key}: {exc}")
    # docker/cli looks a key up exactly before it normalises the others (`docker.io` beats
    # `https://index.docker.io/v1/` in the same file); a stable sort keeps the file's order.
    return sorted(pairs, key=lambda pair: not _is_written_normalised(pair[0]))


class _EntryError(ValueError):
    """One `auths` entry is unusable; the message names the entry by its key, never its values."""


def _parse_entry(key: str, entry: object) -> Credential:
    """One `auths` entry as docker/cli reads it: `auth` (base64 user:password) wins."""
    where = f'the entry for "{key}"' if _PRINTABLE_KEY.fullmatch(key) else "an entry"
    if not isinstance(entry, dict):
        raise _EntryError(f"{where} is not an object")
    fields: dict[str, str] = {}
    for field_name in _CREDENTIAL_FIELDS:
        value = entry.get(field_name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise _EntryError(f'{where} has a "{field_name}" that is not a string')
        if not _is_text(value):
            raise _EntryError(f'{where} has a "{field_name}" that is not valid text')
        fields[field_name] = value
    if not fields.keys() - {"username"}:
        raise _EntryError(
            f"{where} has no credentials (auth, username and password, identitytoken "
            "or registrytoken)"
        )
    username, password = fields.get("username"), fields.get("password")
    if "auth" in fields:
        username, password = _decode_auth(fields["auth"], where)
    return Credential(
        username=username,
        password=password,
        identity_token=fields.get("identitytoken"),
        registry_token=fields.get("registrytoken"),
    )


def _decode_auth(auth: str, where: str) -> tuple[str, str]:
    """`auth` is base64 of `username:password`, split on the first `:` (docker/cli)."""
    try:
        text = base64.b64decode(auth.strip(), validate=True).decode()
    except ValueError:  # binascii.Error, not ASCII, or not UTF-8
        raise _EntryError(f'{where} has an "auth" that is not base64') from None
    username, colon, password = text.partition(":")
    if not _is_text(text):
        raise _EntryError(f'{where} has an "auth" that is not valid text')
    if not colon:
        raise _EntryError(f'{where} has an "auth" that is not base64(username:password)')
    return username, password


def _is_text(value: str) -> bool:
    """Whether a value can be sent: JSON may hold lone surrogates, which no encoding writes."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _normalise_key(key: str) -> tuple[str, str]:
    """A config key as (canonical host[:port], repository path prefix); empty host = unusable."""
    text = _SCHEME.sub("", key.strip())
    host, _, path = text.partition("/")
    path = _API_VERSION_PATH.sub("", path).strip("/")
    return canonical_registry(host), path


def _is_written_normalised(key: str) -> bool:
    """Whether a config key is already in the form `lookup` compares (no scheme, no /v1/)."""
    host, path = _normalise_key(key)
    return key == (f"{host}/{path}" if path else host)


def _host_matches(pattern: str, registry: str) -> bool:
    """Literal host[:port] equality, or `*` per host label with the same label count and port."""
    if "*" not in pattern:
        return pattern == registry
    pattern_host, pattern_port = _split_port(pattern)
    host, port = _split_port(registry)
    labels, pattern_labels = host.split("."), pattern_host.split(".")
    return (
        port == pattern_port
        and len(labels) == len(pattern_labels)
        and all(
            _label_matches(glob, label) for glob, label in zip(pattern_labels, labels, strict=True)
        )
    )


def _label_matches(glob: str, label: str) -> bool:
    """`*` stands for any run of characters inside one host label."""
    return Wildcard(glob).matches(label)


def _split_port(host: str) -> tuple[str, str]:
    """`host:port` -> (host, port); `[IPv6]` keeps its colons."""
    if host.endswith("]") or ":" not in host:
        return host, ""
    name, _, port = host.rpartition(":")
    return name, port


def _quote_type(value: object) -> str:
    """A Secret type for a message: its value when it is a short word, else what it is."""
    if isinstance(value, str) and _PRINTABLE_KEY.fullmatch(value):
        return f'"{value}"'
    return "none" if value is None else "an invalid value"
