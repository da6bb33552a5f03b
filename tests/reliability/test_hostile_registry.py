"""Hostile registries: answers that lie, explode or name other hosts, through every client.

Nothing a registry, a token realm, the Docker Hub API or the GitHub API sends may take the hook
past its memory, into an internal error, or put a credential or unbounded text into a message.
Each test sends one kind of hostile answer through every client (hostile_registry.CALLS) and
records its figure for the end-of-run summary (conftest.py).
"""

import gzip
import tracemalloc
from collections.abc import Callable, Iterator

import pytest

from hooks.registry.errors import ProtocolError
from tests.harness.apiserver import Reply
from tests.reliability.conftest import Figures
from tests.reliability.hostile_registry import (
    CALLS,
    Call,
    HostileServer,
    gzipped,
    header_map,
    place,
    run,
    settings_for,
)

MiB = 1024 * 1024


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as started:
        yield started


def traced_peak(action: Callable[[], object]) -> tuple[object, float]:
    """What `action()` returned and the peak of Python memory it allocated, in MiB."""
    tracemalloc.start()
    try:
        result = action()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak / MiB


# --- 1. decompression bombs ---------------------------------------------------------------------

BOMB_BYTES = 256 * MiB


@pytest.fixture(scope="module")
def stacked_bomb() -> bytes:
    """256 MiB of zeros gzipped twice: a few KiB on the wire."""
    return gzipped(BOMB_BYTES, layers=2)


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.name)
@pytest.mark.parametrize("encoding", ["gzip, gzip", "gzip", "deflate", "br"])
def test_a_compressed_answer_is_capped_while_it_inflates(
    server: HostileServer, call: Call, encoding: str, stacked_bomb: bytes, figures: Figures
) -> None:
    body = stacked_bomb if encoding == "gzip, gzip" else gzipped(BOMB_BYTES)
    place(server, call, Reply(200, body, header_map(content_encoding=encoding)))
    settings = settings_for(server)

    outcome, peak = traced_peak(lambda: run(call, settings))

    assert isinstance(outcome, ProtocolError), outcome
    assert "refusing" in str(outcome) or "more than" in str(outcome)
    # The cap is 8 MiB: memory may reach it once, never the bomb's 256 MiB.
    assert peak < 3 * settings.max_response_bytes / MiB
    key = "decompression bombs (256 MiB in a few KiB, every client and coding)"
    worst = max(peak, float(figures.hostile_registry.get(key, "0 MiB").split()[0]))
    figures.hostile_registry[key] = f"{worst:.1f} MiB peak, refused"


def test_a_gzip_answer_within_the_cap_is_read(server: HostileServer) -> None:
    body = b'{"name": "org/model", "tags": ["1.0.0"]}'
    place(
        server,
        CALLS[0],
        Reply(200, gzip.compress(body), header_map(content_encoding="gzip")),
    )
    outcome = run(CALLS[0], settings_for(server))
    assert getattr(outcome, "tags", None) == ["1.0.0"], outcome
