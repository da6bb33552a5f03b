"""A registry of hostile catalogs and tag lists (the scanner-side campaign), on 127.0.0.1.

`/v2/_catalog` serves `names` (sorted) after `?last=`: in pages of `?n=` with a Link to the next
page, or all at once when `one_page`; with `endless`, every page holds `n` fresh names after
`last` and links to the next, for ever. `/v2/{name}/tags/list` answers `tags` (a Reply). Large
bodies are encoded once, before a test measures anything, so that the server's own allocations
stay out of the scan's figures.
"""

import bisect
import json
from collections.abc import Sequence
from urllib.parse import quote

from tests.harness.apiserver import ApiServer, RecordedRequest, Reply

ONE_TAG = Reply(200, {"tags": ["1.0.0"]})


class HostileCatalog(ApiServer):
    """See the module docstring."""

    def __init__(
        self,
        names: Sequence[str] = (),
        *,
        one_page: bool = False,
        endless: bool = False,
        tags: Reply = ONE_TAG,
    ) -> None:
        super().__init__()
        self.names = sorted(names)
        self.one_page = one_page
        self.endless = endless
        self.tags = tags
        self._whole = json.dumps({"repositories": self.names}).encode() if one_page else b""

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def handle(self, request: RecordedRequest) -> Reply:
        if request.path == "/v2/_catalog":
            return self._catalog(request.query)
        if request.path.endswith("/tags/list"):
            return self.tags
        return Reply(200, {})

    def _catalog(self, query: dict[str, list[str]]) -> Reply:
        last = query.get("last", [""])[0]
        size = int(query.get("n", ["100"])[0])
        if self.endless:
            start = int(last.rsplit("-", 1)[-1]) + 1 if last else 0
            page = [f"endless/name-{i:012d}" for i in range(start, start + size)]
            return self._page(page, more=True, size=size)
        if self.one_page and not last:
            return Reply(200, self._whole)
        start = bisect.bisect_right(self.names, last)
        if self.one_page:
            return self._page(self.names[start:], more=False, size=size)
        page = self.names[start : start + size]
        return self._page(page, more=start + size < len(self.names), size=size)

    @staticmethod
    def _page(names: list[str], *, more: bool, size: int) -> Reply:
        headers = {}
        if more and names:
            headers["Link"] = f'</v2/_catalog?n={size}&last={quote(names[-1])}>; rel="next"'
        return Reply(200, {"repositories": names}, headers)
