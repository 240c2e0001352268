"""check's prediction agrees with a real conversion and verification, over a deterministic
sample of scikit-learn's all_estimators() (every estimator: benchmarks/onnx_coverage.py,
whose output is docs/onnx/coverage.md)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "onnx_coverage.py"
EVERY = 6  # every 6th estimator by name: about 30 of 181
# ... and the ones that convert but do not verify, so that each prediction is exercised.
MISMATCHES = ["KNNImputer"]


def _sweep() -> Any:
    spec = importlib.util.spec_from_file_location("onnx_coverage", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SWEEP = _sweep()
SAMPLED = [
    name for i, (name, _) in enumerate(SWEEP.estimators()) if i % EVERY == 0 or name in MISMATCHES
]


@pytest.mark.slow
@pytest.mark.parametrize("name", SAMPLED)
def test_check_predicts_the_real_outcome(name: str) -> None:
    cls = dict(SWEEP.estimators())[name]
    entry = SWEEP.run_one(cls)
    if entry["outcome"] == "skip":
        pytest.skip(f"cannot be fitted on the sweep's data: {entry['detail']}")
    assert entry["predicted"] == entry["outcome"], entry


def test_sample_covers_every_outcome_the_sweep_records() -> None:
    # The committed table comes from the full sweep; the sample must hold every outcome.
    table = (ROOT / "docs" / "onnx" / "coverage.md").read_text()
    outcomes = {}
    for line in table.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            outcomes[cells[0].strip("`")] = cells[1]
    assert {outcomes.get(name) for name in SAMPLED} >= {"ok", "fails", "mismatch"}


def test_sweep_script_writes_json_and_markdown(tmp_path: Path) -> None:
    out_json, out_md = tmp_path / "c.json", tmp_path / "c.md"
    only = ["KNNImputer", "NMF", "Ridge"]
    run = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--only",
            *only,
            "--json",
            str(out_json),
            "--markdown",
            str(out_md),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    results = {r["name"]: r for r in json.loads(out_json.read_text())["results"]}
    assert {n: results[n]["outcome"] for n in only} == {
        "KNNImputer": "mismatch",
        "NMF": "fails",
        "Ridge": "ok",
    }
    assert out_md.read_text().startswith("# ONNX coverage")
