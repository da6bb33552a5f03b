"""The soak (bench/soak.py) in its short form: 20 s of mixed load on gunicorn as deployed.

The full run (`python -m bench.soak`, 3 minutes by default) is for people; this one runs on
every push. It checks what the soak itself checks: every answer a 200 that keeps every child,
no planted credential in gunicorn's output or /metrics, and, between an idle sample after the
warm-up and one after the load, worker memory within the stated bound and no open file, socket
or thread more.
"""

import json
import subprocess
import sys
from pathlib import Path

from tests.reliability.conftest import Figures

PROJECT = Path(__file__).resolve().parents[2]
KINDS = {"gated", "scanning", "invalid-spec", "customize", "config", "metrics"}


def test_a_short_soak_under_gunicorn_answers_everything_and_leaks_nothing(
    registry_binary: Path, figures: Figures
) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--seconds", "20", "--json"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.stdout, run.stderr
    report = json.loads(run.stdout)
    assert report["failures"] == [], report
    assert run.returncode == 0
    assert report["errors"] == report["children_dropped"] == report["secrets_found"] == 0
    assert set(report["by_kind"]) == KINDS
    assert report["children_sent"] > 0
    before = [w["pid"] for w in report["workers_before"]]
    assert before == [w["pid"] for w in report["workers_after"]] and len(before) == 2
    figures.soak = report
