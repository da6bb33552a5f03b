"""hooks/allocator.py: a worker's large buffers come from the heap and stay for the next sync.

Measured in a process of its own (the setting is process-wide), by what it is for: page faults.
A sync of 10,000 children frees ~18 MB of buffers at once; three 12 MiB buffers freed together
are past what glibc keeps by default, so each round faults them in again unless the worker
keeps them. tests/web/test_gunicorn.py checks the deployed workers with a real sync.
"""

import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
ROUNDS = """
import resource, sys
from hooks.allocator import keep_large_buffers
if sys.argv[1] == "kept":
    assert keep_large_buffers(), "glibc refused a threshold"

def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

def one_round():
    buffers = [bytearray(12 * 2**20) for _ in range(3)]
    del buffers

for _ in range(3):
    one_round()
before = faults()
for _ in range(10):
    one_round()
print((faults() - before) // 10)
"""


def faults_per_round(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", ROUNDS, mode],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return int(out)


def test_large_buffers_freed_together_are_reused_not_faulted_in_again() -> None:
    pages = 3 * 12 * 2**20 // 4096
    assert faults_per_round("default") > pages // 2  # the case this setting is for
    assert faults_per_round("kept") < pages // 20
