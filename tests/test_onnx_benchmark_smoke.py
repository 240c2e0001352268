"""Keeps benchmarks/onnx_bench.py from rotting: a tiny zoo, one repetition, no timing claims."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_onnx_benchmark_runs_on_a_tiny_zoo(tmp_path: Path) -> None:
    out_json, out_md = tmp_path / "b.json", tmp_path / "b.md"
    command = [sys.executable, str(ROOT / "benchmarks" / "onnx_bench.py"), "--models", "ade"]
    command += ["--scale", "0.01", "--repeat", "1", "--min-time", "0"]
    command += ["--json", str(out_json), "--markdown", str(out_md)]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    report = json.loads(out_json.read_text())
    assert set(report["models"]) == set("ade")
    for entry in report["models"].values():
        assert "error" not in entry, entry
        for size in ("one_row", "batch"):
            assert set(entry[size]) == {"scikit-learn", "onnxruntime"}
            assert all(seconds > 0 for seconds in entry[size].values())
    assert out_md.read_text().startswith("# ONNX benchmarks")
