"""A real CNCF distribution registry (Debian's docker-registry 2.8.2), a child process on loopback.

Our registry clients must be tested against the real thing, not a look-alike: its pagination,
content negotiation, auth challenges and error bodies are what production registries descend
from. It starts in about 40 ms with storage on tmpfs (docs/testing-registry.md §2), so tests may
start their own.
"""

import os
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Self

import bcrypt
import httpx
import yaml

from tests.harness.loopback import LoopbackServer, free_port
from tests.harness.populate import Image, ImagePlan, write_layout
from tests.harness.processes import stop_process
from tests.harness.tls import TestCA
from tests.harness.tokenserver import TokenServer

DEFAULT_BINARY = Path("/usr/bin/docker-registry")
_READY_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0
_PORT_ATTEMPTS = 3


@dataclass(frozen=True)
class BasicAuth:
    """htpasswd auth: bcrypt cost 4, because the registry checks bcrypt on every request."""

    users: Mapping[str, str]
    realm: str = "test-realm"


@dataclass(frozen=True)
class TokenAuth:
    """Token auth against a started TokenServer (Docker Hub / ghcr.io style Bearer challenges).

    `realm` makes the registry's challenge name another URL than the server's own, e.g. a fault
    proxy in front of it or the same server under another host name.
    """

    server: TokenServer
    realm: str | None = None


Auth = BasicAuth | TokenAuth


class RegistryStartError(RuntimeError):
    """The registry did not become ready; the message carries its log (a Go panic, usually)."""


@dataclass
class _Workdir:
    """Config, log, htpasswd and storage of one registry, on tmpfs when available."""

    root: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="registry-", dir=scratch_root()))
    )

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def config(self) -> Path:
        return self.root / "config.yml"

    @property
    def log(self) -> Path:
        return self.root / "registry.log"

    @property
    def htpasswd(self) -> Path:
        return self.root / "htpasswd"


def scratch_root() -> Path | None:
    """tmpfs (/dev/shm) when writable: storage there is 7x faster than ext4
    (docs/testing-registry.md §3)."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else None


class Registry(LoopbackServer):
    """docker-registry serving on 127.0.0.1, optionally with an image plan, auth and TLS.

    `start()` writes the plan's storage layout (before the process starts, as the registry caches
    blob descriptors), picks a port, starts the process and waits until `GET /v2/` answers 200 or
    401, for at most 10 s; on failure it kills the child and raises RegistryStartError with the
    log. `stop()` sends SIGTERM, waits, and removes all files.
    """

    def __init__(
        self,
        plan: ImagePlan | None = None,
        auth: Auth | None = None,
        tls: TestCA | None = None,
        binary: Path = DEFAULT_BINARY,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.plan = plan
        # Added to this process's environment for the registry's (the benchmarks set GOMAXPROCS).
        self.environment = dict(environment or {})
        self.auth = auth
        self.tls = tls
        self.binary = binary
        self.images: dict[tuple[str, str], Image] = {}
        self.port = 0
        self._workdir: _Workdir | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        """storage.filesystem.rootdirectory."""
        return self._require_workdir().data

    @property
    def pid(self) -> int:
        """The registry process's id (the benchmarks read its CPU time)."""
        if self._process is None:
            raise RuntimeError("Registry is not started")
        return self._process.pid

    def _require_workdir(self) -> _Workdir:
        if self._workdir is None:
            raise RuntimeError("Registry is not started")
        return self._workdir

    def verify(self) -> ssl.SSLContext | bool:
        """What httpx needs as `verify=` to trust this registry."""
        return self.tls.client_context() if self.tls is not None else True

    def client(self, **options: Any) -> httpx.Client:
        """An httpx client with this registry as base_url, trusting its CA; caller closes it."""
        options.setdefault("timeout", 10.0)
        return httpx.Client(base_url=self.url, verify=self.verify(), **options)

    def log(self) -> str:
        """What the registry has written to stdout/stderr so far."""
        path = self._require_workdir().log
        return path.read_text(errors="replace") if path.exists() else ""

    # --- lifecycle -------------------------------------------------------------------------

    def _config(self, workdir: _Workdir) -> dict[str, Any]:
        http: dict[str, Any] = {"addr": self.host, "secret": "test-only-secret"}
        if self.tls is not None:
            http["tls"] = {"certificate": str(self.tls.cert_file), "key": str(self.tls.key_file)}
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(workdir.data)},
                "delete": {"enabled": True},
                "cache": {"blobdescriptor": "inmemory"},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": http,
        }
        match self.auth:
            case BasicAuth(users=users, realm=realm):
                workdir.htpasswd.write_text(
                    "".join(
                        f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()}\n"
                        for user, password in users.items()
                    )
                )
                config["auth"] = {"htpasswd": {"realm": realm, "path": str(workdir.htpasswd)}}
            case TokenAuth(server=server, realm=realm):
                config["auth"] = server.registry_auth_config()
                if realm is not None:
                    config["auth"]["token"]["realm"] = realm
        return config

    def start(self) -> Self:
        """Write the plan, start the process and wait for readiness (see the class docstring)."""
        if self._process is not None:
            raise RuntimeError("Registry is already started")
        workdir = self._workdir = _Workdir()
        try:
            if self.plan is not None:
                self.images = write_layout(workdir.data, self.plan)
            for _ in range(_PORT_ATTEMPTS):
                self.port = free_port()
                workdir.config.write_text(yaml.safe_dump(self._config(workdir)))
                if self._spawn_and_wait(workdir):
                    return self
            raise RegistryStartError(f"port taken {_PORT_ATTEMPTS} times in a row:\n{self.log()}")
        except BaseException:
            self.stop()
            raise

    def _spawn_and_wait(self, workdir: _Workdir) -> bool:
        """Start once; True when ready, False when another process took the port meanwhile."""
        with workdir.log.open("wb") as log:
            self._process = subprocess.Popen(
                [str(self.binary), "serve", str(workdir.config)],
                env={**os.environ, **self.environment},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + _READY_TIMEOUT
        with httpx.Client(verify=self.verify(), timeout=1.0) as probe:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    text = self.log()
                    self._process = None
                    if "address already in use" in text:
                        return False
                    raise RegistryStartError(f"docker-registry exited at startup:\n{text}")
                try:
                    if probe.get(f"{self.url}/v2/").status_code in (200, 401):
                        return True
                except httpx.TransportError:
                    pass
                time.sleep(0.02)
        raise RegistryStartError(
            f"docker-registry not ready after {_READY_TIMEOUT} s:\n{self.log()}"
        )

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL if it lingers), then remove config, log and storage."""
        process, self._process = self._process, None
        if process is not None:
            stop_process(process, _STOP_TIMEOUT)
        workdir, self._workdir = self._workdir, None
        if workdir is not None:
            shutil.rmtree(workdir.root, ignore_errors=True)

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._process is not None and self._process.poll() is None


class RegistryFactory(Protocol):
    """The `registry_factory` fixture: start a registry that is stopped at the test's end."""

    def __call__(
        self, plan: ImagePlan | None = None, auth: Auth | None = None, tls: TestCA | None = None
    ) -> Registry: ...
