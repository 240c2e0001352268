"""`skship onnx check` and `skship onnx convert`: exit codes, JSON that follows the
schemas, files written only when verified."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from sklearn.impute import KNNImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import SplineTransformer, StandardScaler
from typer.testing import CliRunner

import skship
from skship.cli._app import build_app

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas" / "onnx" / "1"


def _validate(name: str, data: object) -> None:
    resources = [
        (s["$id"], Resource.from_contents(s))
        for s in (json.loads(p.read_text()) for p in SCHEMAS.glob("*.schema.json"))
    ]
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    validator = Draft202012Validator(schema, registry=Registry().with_resources(resources))
    errors = [e.message for e in validator.iter_errors(data)]
    assert not errors, errors[:5]


class _Run:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _skship(*args: str | Path) -> _Run:
    """The real command, in this process (a subprocess per call would cost seconds of
    imports); test_unreadable_input_exits_2 runs the console entry point for real."""
    result = CliRunner().invoke(build_app(), [str(a) for a in args], prog_name="skship")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return _Run(result.exit_code, result.stdout, result.stderr)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("onnx-cli")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(150, 4)), columns=["a", "b", "c", "d"])
    y = (frame["a"] + frame["b"] > 0).astype(int)
    paths = {"sample": tmp / "sample.csv"}
    frame.head(40).to_csv(paths["sample"], index=False)
    models = {
        "good": Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]),
        # skl2onnx's KNNImputer fails on rows with missing values: the missing-values edge case
        "power": KNNImputer(),
        "kr": Pipeline([("scale", StandardScaler()), ("kr", SplineTransformer())]),
    }
    for name, model in models.items():
        paths[name] = tmp / f"{name}.skops"
        skship.dump(model.fit(frame, y), paths[name])
    return paths


def test_check_ok_and_json(files: dict[str, Path]) -> None:
    run = _skship("onnx", "check", files["good"], "--sample", files["sample"], "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    _validate("check-report", report)
    assert report["outcome"] == "ok"
    assert [i["name"] for i in report["inputs"]] == ["input"]


def test_check_predicts_failure_with_exit_1(files: dict[str, Path]) -> None:
    run = _skship("onnx", "check", files["kr"])
    assert run.returncode == 1
    assert "no-converter" in run.stdout and "outcome: fails" in run.stdout
    power = _skship("onnx", "check", files["power"], "--json")
    assert power.returncode == 1
    assert json.loads(power.stdout)["outcome"] == "mismatch"


def test_convert_writes_only_verified_models(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "good.onnx"
    run = _skship("onnx", "convert", files["good"], "--sample", files["sample"], "-o", out)
    assert run.returncode == 0, run.stderr
    assert out.stat().st_size > 0 and run.stdout.rstrip().endswith("OK")

    as_json = _skship(
        "onnx", "convert", files["good"], "--sample", files["sample"], "-o", out, "--json"
    )
    _validate("convert-report", json.loads(as_json.stdout))

    refused = tmp_path / "power.onnx"
    run = _skship("onnx", "convert", files["power"], "--sample", files["sample"], "-o", refused)
    assert run.returncode == 1
    assert "E-ONNX-MISMATCH" in run.stderr and "row " in run.stderr
    assert not refused.exists()


def test_unreadable_input_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.skops"
    bad.write_bytes(b"not a model")
    run = subprocess.run(
        [sys.executable, "-c", "from skship.cli import main; main()", "onnx", "check", str(bad)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 2
    assert "E-CONTAINER-NOT-ZIP" in run.stderr
