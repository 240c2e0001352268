"""Keeps benchmarks/serving/ from rotting: one tiny run against skship only (every backend,
micro-batching off and on, closed and open loop), and the page's target marks; no timing
claims."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks" / "serving"))
sys.path.insert(0, str(ROOT / "benchmarks"))


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
        "1,2",
        "--open-rates",
        "50",
        "--batch",
        "5",
        "--json",
        str(out),
        "--markdown",
        str(tmp_path / "serving.md"),
    ]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(out.read_text())
    servers = report["models"]["a"]["servers"]
    assert set(servers) == {"skship", "skship-onnx", "skship-batch", "skship-onnx-batch"}
    for cells in servers.values():
        assert set(cells) == {
            f"{kind}/{load}" for kind in ("single", "batch") for load in ("c1", "c2", "r50")
        }
        for cell in cells.values():
            assert cell["correct"] is True and cell["errors"] == 0 and cell["rps"] > 0
        assert cells["single/r50"]["offered_rps"] == 50
        # the server's CPU per request (from /proc): busy for most of a closed-loop run
        assert all(cells[f"{k}/c1"]["cpu_us"] > 0 for k in ("single", "batch"))
    assert report["models"]["a"]["floor_ms"] > 0
    assert report["models"]["a"]["onnx_floor_ms"] > 0
    page = (tmp_path / "serving.md").read_text()
    assert page.startswith("# Serving benchmark")
    assert "above floor ms" in page  # the onnx floor check is on the page
    assert "server CPU µs/req" in page


def _cell(p50: float, rps: float) -> dict[str, Any]:
    return {"p50_ms": p50, "p99_ms": 2 * p50, "rps": rps, "errors": 0, "correct": True}


def test_page_marks_each_cell_against_mlserver() -> None:
    from bench import markdown

    report = {
        "environment": {
            "python": "3",
            "scikit-learn": "1",
            "numpy": "2",
            "skship": "0",
            "mlserver": "1.7.1",
            "mlserver_status": "installed",
            "cpus": 2,
            "load_average": [1.0, 1.0, 1.0],
        },
        "settings": {"repeat": "3", "duration": "1.5", "batch": "100", "micro_batch_rows": "256"},
        "models": {
            "a": {
                "floor_ms": 0.1,
                "onnx_floor_ms": 0.01,
                "servers": {
                    "mlserver": {"single/c1": _cell(2.0, 500), "single/c8": _cell(8.0, 900)},
                    "skship-onnx": {
                        "single/c1": _cell(0.25, 3000),  # 0.125x, 6x: both met
                        "single/c8": _cell(5.0, 2000),  # 0.625x: p50 missed
                    },
                },
            }
        },
    }
    page = markdown(report)
    assert "| single | 1 | 0.12 | ✓ | 6.00 | ✓ |" in page
    assert "| single | 8 | 0.62 | ✗ | 2.22 | ✓ |" in page
    assert "| skship-onnx | 1 / 2 |" in page
    assert "| (a) | skship-onnx | 0.010 | 0.250 | 0.240 | ✓ |" in page
