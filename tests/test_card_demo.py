"""The demo's card stage (examples/demo_card.py), as the lead wires it into the demo."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skship.card import Card, validate_folder

ROOT = Path(__file__).resolve().parents[1]


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_card", ROOT / "examples" / "demo_card.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stage_writes_a_valid_card_with_plots(tmp_path: Path) -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    model = Pipeline(
        [("scale", StandardScaler()), ("classify", HistGradientBoostingClassifier(max_iter=5))]
    )
    with threadpool_limits(limits=1):
        model.fit(X_train, y_train)
    lines = _module().stage(model, X_test, y_test, tmp_path)
    assert len(lines) == 3 and all(isinstance(line, str) for line in lines)
    folder = tmp_path / "card"
    card = Card.load(folder / "README.md")
    accuracy = float(model.score(X_test, y_test))
    assert f"accuracy {accuracy:.3f}" in lines[1]
    assert len(list((folder / "images").glob("*.png"))) == 5
    assert (folder / "config.json").is_file() and (folder / "card.html").is_file()
    assert not [p for p in validate_folder(folder) if p.severity == "error"]
    assert card.metadata["license"] == "bsd-3-clause"


def test_stage_raises_on_failure(tmp_path: Path) -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    with threadpool_limits(limits=1):
        model = HistGradientBoostingClassifier(max_iter=2).fit(X, y)
    with pytest.raises(ValueError):
        _module().stage(model, X.iloc[:, :5], y, tmp_path)  # wrong columns for the model
