"""Shared pieces of the command-line tool tests: real models, a real CLI runner, schemas."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from typer.testing import CliRunner

from skship.cli._app import build_app
from skship.format.schemas import validator


@cache
def app() -> Any:
    return build_app()


def run(*args: str | Path) -> Any:
    """Run ``skship ARGS`` in this process through click (the real command tree)."""
    return CliRunner().invoke(app(), [str(a) for a in args], catch_exceptions=False)


def run_json(*args: str | Path) -> tuple[int, Any]:
    result = run(*args)
    return result.exit_code, json.loads(result.stdout)


def assert_valid(name: str, instance: Any) -> None:
    errors = sorted(validator(f"cli/1/{name}").iter_errors(instance), key=str)
    assert not errors, "\n".join(f"{e.message[:200]} at {list(e.absolute_path)}" for e in errors)


def data(seed: int = 0, n: int = 60) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + rng.normal(scale=0.3, size=n) > 0).astype(int)
    return X, y


def pipeline(seed: int = 0, C: float = 1.0, last: Any = None) -> Any:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = data(seed)
    steps = [
        ("scale", StandardScaler()),
        ("forest", RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0)),
    ]
    if last is None:
        steps[1] = ("lr", LogisticRegression(C=C))
    else:
        steps[1] = ("last", last)
    return Pipeline(steps).fit(X, y)
