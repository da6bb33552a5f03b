"""Registry endpoints for tests that must never reach a real registry, whatever host a spec names.

Generated and hostile specs name arbitrary registry hosts; sending them all to one local URL keeps
every request on 127.0.0.1 while the hook still resolves each host as it would in production.
"""

from collections.abc import Iterator, Mapping


class EveryHost(Mapping[str, str]):
    """Registry endpoints that send every registry host to one URL (never out to the network)."""

    def __init__(self, url: str) -> None:
        self._url = url

    def __getitem__(self, host: str) -> str:
        return self._url

    def __contains__(self, host: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0
