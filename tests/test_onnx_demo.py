"""The demo's ONNX stage (examples/demo_onnx.py) on the demo model, trained small."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skship.errors import OnnxVerificationError

ROOT = Path(__file__).resolve().parents[1]


def _stage_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("demo_onnx", ROOT / "examples" / "demo_onnx.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _demo_model():  # type: ignore[no-untyped-def]
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    model = Pipeline(
        [
            ("scale", StandardScaler()),
            (
                "classify",
                HistGradientBoostingClassifier(max_iter=20, early_stopping=False, random_state=0),
            ),
        ]
    ).fit(X_train, y_train)
    return model, X_test, y_test


def test_stage_checks_converts_and_verifies(tmp_path: Path) -> None:
    model, X_test, y_test = _demo_model()
    lines = _stage_module().stage(model, X_test, y_test, tmp_path)
    assert lines[0].startswith("onnx check: ok")
    assert "edge cases, labels identical" in lines[2]
    assert (tmp_path / "model.onnx").stat().st_size > 0


def test_stage_raises_when_the_model_does_not_verify(tmp_path: Path) -> None:
    from sklearn.impute import KNNImputer

    # skl2onnx's KNNImputer fails on rows with missing values; that edge case fails.
    _, X_test, y_test = _demo_model()
    power = KNNImputer().fit(X_test)
    with pytest.raises((RuntimeError, OnnxVerificationError)):
        _stage_module().stage(power, X_test, y_test, tmp_path)
    assert not (tmp_path / "model.onnx").exists()
