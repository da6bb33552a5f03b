"""Push tiny synthetic images to a running registry, for examples/local-registry.sh.

    PYTHONPATH=. .venv/bin/python examples/populate_local.py http://127.0.0.1:5000 demo/a:1.0.0 ...

The images are the test harness's (tests/harness/populate.py): one shared layer of a few hundred
bytes and a config with AIM labels, so one push is a handful of requests. It waits up to 10 s for
the registry to answer first, since the script starts both at once.
"""

import sys
import time

import httpx

from tests.harness.populate import push_image

READY_SECONDS = 10.0


def wait_until_ready(client: httpx.Client, base_url: str) -> None:
    """Poll `GET /v2/` until the registry answers; SystemExit with a message if it never does."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        try:
            if client.get(f"{base_url}/v2/").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"populate_local: no registry answers at {base_url} after {READY_SECONDS} s")


def main(argv: list[str]) -> int:
    """Push each `REPOSITORY:TAG` of argv[1:] to the registry at argv[0]."""
    if len(argv) < 2 or any(":" not in image for image in argv[1:]):
        print(f"usage: {__doc__.strip().splitlines()[2].strip()}", file=sys.stderr)
        return 2
    base_url = argv[0].rstrip("/")
    with httpx.Client(timeout=10.0) as client:
        wait_until_ready(client, base_url)
        for image in argv[1:]:
            repository, _, tag = image.rpartition(":")
            pushed = push_image(client, base_url, repository, tag)
            print(f"pushed {repository}:{tag} ({pushed.digest[:19]})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
