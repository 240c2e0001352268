"""Every scikit-learn estimator round-trips under the default trust.

The estimators are enumerated when the tests are collected (``all_estimators()``), so a
new scikit-learn release is covered without editing anything. Each is fitted small
(skship.testing.estimators says how), saved, audited, loaded with the default trust, and
must then give identical outputs for every prediction-like method it has, and hold the
same state as a pickle round trip does (byte-identical re-save).

The same fitted models feed two drift checks: the default trusted set
(tools/gen_trusted.py derives it from what these models hold) and the coverage page
(tools/gen_coverage.py).
"""

from __future__ import annotations

import copy
import pickle
import sys
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import skship

pytest.importorskip("sklearn")
pytest.importorskip("pandas")

from skship.testing.estimators import Case, cases, extra_cases, fit, outputs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import gen_coverage  # noqa: E402
import gen_trusted  # noqa: E402

CASES: dict[str, Case] = {c.name: c for c in [*cases(), *extra_cases()]}
ESTIMATORS = [c.name for c in cases()]
EXTRAS = [c.name for c in extra_cases()]


class Result:
    __slots__ = ("X", "blob", "model", "y")

    def __init__(self, model: Any, X: Any, y: Any, blob: bytes) -> None:
        self.model, self.X, self.y, self.blob = model, X, y, blob


@cache
def saved(name: str) -> Result:
    """The case fitted and saved once per session (both drift checks reuse it)."""
    model, X, y = fit(CASES[name])
    return Result(model, X, y, skship.dumps(model))


@cache
def _page() -> str:
    return gen_coverage.PAGE.read_text(encoding="utf-8")


def _load(blob: bytes) -> Any:
    with warnings.catch_warnings():
        # Deprecated estimators (PassiveAggressive*) warn when built, as with pickle.
        warnings.simplefilter("ignore", FutureWarning)
        return skship.loads(blob)


def _assert_same(got: Any, want: Any, where: str) -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), where
        for k in want:
            _assert_same(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _assert_same(g, w, f"{where}[{i}]")
    else:
        np.testing.assert_array_equal(got, want, err_msg=where, strict=True)


@pytest.mark.parametrize("name", ESTIMATORS + EXTRAS)
def test_round_trip_with_default_trust(name: str) -> None:
    r = saved(name)
    assert skship.get_untrusted_types(r.blob) == []
    loaded = _load(r.blob)
    assert type(loaded) is type(r.model)
    # Full state: what pickle keeps, skship keeps (Bunch drops its warnings table on
    # unpickling, so the reference is a pickle round trip, not the original).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        via_pickle = pickle.loads(pickle.dumps(r.model))
    assert skship.dumps(loaded) == skship.dumps(via_pickle)
    # A fresh copy of the input: a model that kept the training array itself (KernelRidge
    # keeps X_fit_ = X) takes shortcuts when predicting on that very object.
    X = copy.deepcopy(r.X)
    want = outputs(r.model, X, r.y)
    got = outputs(loaded, X, r.y)
    assert got.keys() == want.keys()
    if not want:  # only models with no prediction-like method rely on state alone
        assert not any(
            callable(getattr(r.model, m, None))
            for m in ("predict", "transform", "predict_proba", "score_samples", "kneighbors")
        )
    for method in want:
        _assert_same(got[method], want[method], method)
    # The coverage page says exactly this.
    row = gen_coverage.cells(name, CASES[name].data, "yes", list(want), [])
    assert gen_coverage.line(row) in _page(), (
        "docs/coverage.md is stale; run: uv run python tools/gen_coverage.py"
    )


def test_every_estimator_is_enumerated() -> None:
    from sklearn.utils import all_estimators

    assert sorted(ESTIMATORS) == sorted(n for n, _ in all_estimators())
    assert len(ESTIMATORS) >= 200


# ---------------------------------------------------------------------- drift checks


@cache
def _reached() -> dict[str, str]:
    return gen_trusted.reached_names(saved(n).blob for n in CASES)


def test_default_trust_is_derived_from_these_models() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        new = gen_trusted.render(_reached())
    old = gen_trusted.OUT.read_text(encoding="utf-8")
    assert new == old, "default_trust.txt drifted; run: uv run python tools/gen_trusted.py"


def test_coverage_page_lists_every_estimator() -> None:
    """Each row is checked by the round-trip test above; here, the list and the count."""
    page = _page()
    assert sorted(gen_coverage.listed_names(page)) == sorted(CASES)
    n = len(ESTIMATORS)
    assert f"**{n} of {n}** classes" in page
