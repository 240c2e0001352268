"""Keeps the persistence benchmarks from rotting: a tiny zoo, one repetition, no timing claims."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "persistence.py"
LIBRARIES = {"pickle", "joblib", "joblib-c3", "skops", "skship", "skship-zstd", "skship-deflate"}


@pytest.mark.slow
def test_persistence_benchmark_runs_on_a_tiny_zoo(tmp_path: Path) -> None:
    out_json = tmp_path / "bench.json"
    out_md = tmp_path / "benchmarks.md"
    command = [
        sys.executable,
        str(SCRIPT),
        *("--scale", "0.01", "--repeat", "1", "--min-time", "0"),
        *("--json", str(out_json), "--markdown", str(out_md)),
    ]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    report = json.loads(out_json.read_text())
    assert set(report["models"]) == set("abcdef")
    for letter, result in report["models"].items():
        assert set(result["libraries"]) == LIBRARIES, letter
        for name in ("pickle", "skship", "skship-zstd", "skship-deflate"):
            entry = result["libraries"][name]
            assert "error" not in entry, (letter, name, entry.get("error"))
            assert entry["size"] > 0
            assert {"dumps", "loads"} <= set(entry["median"])
            assert all(seconds > 0 for seconds in entry["median"].values())
        assert "untrusted" in result["libraries"]["skship"]["median"]
    assert len(report["targets"]) == 5
    assert all(isinstance(target["pass"], bool) for target in report["targets"])
    for key in ("python", "numpy", "scikit-learn", "skops", "skship", "joblib"):
        assert key in report["environment"]["versions"]

    page = out_md.read_text()
    assert page.startswith("# Benchmarks")
    assert "PASS" in page or "FAIL" in page


@pytest.mark.slow
def test_persistence_floors_runs_on_a_tiny_zoo() -> None:
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "persistence_floors.py"),
        *("--models", "ad", "--scale", "0.01", "--number", "3"),
    ]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for letter in "ad":
        assert f"({letter})" in run.stdout
    assert run.stdout.count("sum of the steps") == 2
