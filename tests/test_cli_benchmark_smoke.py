"""Keeps benchmarks/inspect_speed.py from rotting: a tiny model, one repetition, no timing claims."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_inspect_benchmark_runs(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "inspect_speed.py")]
    run = subprocess.run(
        [*command, "--scale", "0.002", "--repeat", "1", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["inspect_reads_no_array_bytes"] is True
    assert set(report["median_seconds"]) == {
        "inspect",
        "read whole file",
        "skship.load",
        "skship --help",
        "python -c pass",
    }
