"""Keeps benchmarks/serving.py from rotting: one tiny run against skship only, no timing claims."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_serving_benchmark_runs_tiny(tmp_path: Path) -> None:
    out = tmp_path / "serving.json"
    command = [
        sys.executable,
        str(ROOT / "benchmarks/serving/bench.py"),
        "--no-mlserver",
        "--models",
        "a",
        "--scale",
        "0.02",
        "--duration",
        "0.3",
        "--repeat",
        "1",
        "--concurrency",
        "2",
        "--batch",
        "5",
        "--json",
        str(out),
        "--markdown",
        str(tmp_path / "serving.md"),
    ]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(out.read_text())
    for label in ("skship", "skship-onnx"):
        cells = report["models"]["a"]["servers"][label]
        assert set(cells) == {"single/c2", "batch/c2"}
        for cell in cells.values():
            assert cell["correct"] is True and cell["errors"] == 0 and cell["rps"] > 0
    assert report["models"]["a"]["floor_ms"] > 0
    assert report["models"]["a"]["onnx_floor_ms"] > 0
    assert (tmp_path / "serving.md").read_text().startswith("# Serving benchmark")
