"""skship diff / skship.diff: hyperparameters, fitted attributes, arrays and versions,
compared from the documents and data sections without loading either file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from cli_helpers import assert_valid, pipeline, run, run_json
from craft import build, document
from hypothesis import given, settings

import skship
from skship.testing import strategies as sst


def dumped(tmp_path: Path, name: str, model: Any) -> Path:
    path = tmp_path / name
    skship.dump(model, path)
    return path


def test_same_model_no_differences(tmp_path: Path) -> None:
    a = dumped(tmp_path, "a.skops", pipeline())
    b = dumped(tmp_path, "b.skops", pipeline())
    report = skship.diff(a, b)
    assert report["same"] and report["differences"] == []
    assert run("diff", a, b).exit_code == 0


def test_hyperparameter_and_fitted_differences(tmp_path: Path) -> None:
    a = dumped(tmp_path, "a.skops", pipeline(C=1.0))
    b = dumped(tmp_path, "b.skops", pipeline(C=0.1))
    report = skship.diff(a, b)
    assert_valid("diff", report)
    by_path = {d["path"]: d for d in report["differences"]}
    c = by_path["steps[1][1].C"]
    assert (c["category"], c["change"], c["a"], c["b"]) == ("hyperparameter", "changed", 1.0, 0.1)
    coef = by_path["steps[1][1].coef_"]
    assert coef["category"] == "fitted" and coef["change"] == "array"
    ma, mb = skship.load(a)[-1].coef_, skship.load(b)[-1].coef_
    assert coef["differing"] == int((ma != mb).sum()) and coef["elements"] == ma.size
    assert np.isclose(coef["max_abs_diff"], np.abs(ma - mb).max())
    # the scaler saw the same data: nothing under it differs
    assert not any(p.startswith("steps[0]") for p in by_path)
    code, out = run_json("diff", a, b, "--json")
    assert code == 1 and out == report
    text = run("diff", a, b).stdout
    assert "hyperparameter" in text and "steps[1][1].C" in text and "max |a-b|" in text


def test_added_removed_and_type_changes(tmp_path: Path) -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    a = dumped(tmp_path, "a.skops", pipeline(last=DecisionTreeClassifier(max_depth=2)))
    b = dumped(tmp_path, "b.skops", pipeline(last=RandomForestClassifier(n_estimators=2)))
    report = skship.diff(a, b)
    [change] = [d for d in report["differences"] if d["path"] == "steps[1][1]"]
    assert change["change"] == "type"
    # nothing is reported below a node whose type changed
    assert not any(d["path"].startswith("steps[1][1].") for d in report["differences"])
    la = dumped(tmp_path, "la.skops", [1, 2, 3])
    lb = dumped(tmp_path, "lb.skops", [1, 2])
    [removed] = skship.diff(la, lb)["differences"]
    assert (removed["path"], removed["change"], removed["a"]) == ("[2]", "removed", 3)
    [added] = skship.diff(lb, la)["differences"]
    assert (added["path"], added["change"], added["b"]) == ("[2]", "added", 3)


def test_versions_and_array_shapes(tmp_path: Path) -> None:
    arr = {"t": "ndarray", "dtype": "<f8", "shape": [2], "data": [0, 16]}
    data = np.array([1.0, 2.0]).tobytes()
    a = build(document({"t": "list", "v": [arr]}, data), data)
    env = {"python": "3.12.0", "numpy": "2.0.0", "scipy": "1.14.0", "sklearn": "1.6.0"}
    b = build(document({"t": "list", "v": [arr]}, data, environment=env), data)
    report = skship.diff(a, b)
    fields = {d["field"]: (d["a"], d["b"]) for d in report["differences"]}
    assert fields == {
        "environment.python": ("3.11.0", "3.12.0"),
        "environment.sklearn": (None, "1.6.0"),
    }
    wide = {"t": "ndarray", "dtype": "<f8", "shape": [1, 2], "data": [0, 16]}
    c = build(document({"t": "list", "v": [wide]}, data), data)
    [shape] = skship.diff(a, c)["differences"]
    assert shape["change"] == "array" and "(1, 2)" in shape["b"]


@settings(max_examples=60)
@given(sst.values(), sst.values())
def test_diff_of_any_two_values(x: Any, y: Any) -> None:
    bx, by = skship.dumps(x), skship.dumps(y)
    same = skship.diff(bx, bx)
    assert same["same"]
    report = skship.diff(bx, by)
    assert_valid("diff", report)
    # equal files give no differences; files without differences load equal values
    if bx == by:
        assert report["same"]
    if report["same"]:
        trusted = sst.TRUSTED
        assert sst.equal(skship.loads(bx, trusted=trusted), skship.loads(by, trusted=trusted))
    else:
        assert bx != by


def test_signed_zero_and_nan_values() -> None:
    assert not skship.diff(skship.dumps([0.0]), skship.dumps([-0.0]))["same"]
    assert skship.diff(skship.dumps([float("nan")]), skship.dumps([float("nan")]))["same"]


def test_arrays_compare_in_logical_order() -> None:
    c = np.arange(6.0).reshape(2, 3)
    f = np.asfortranarray(c)
    assert skship.diff(skship.dumps([c]), skship.dumps([f]))["same"]
    g = f.copy()
    g[1, 2] = -1.0
    [d] = skship.diff(skship.dumps([c]), skship.dumps([g]))["differences"]
    assert (d["differing"], d["elements"], d["max_abs_diff"]) == (1, 6, 6.0)
    zeros = skship.diff(skship.dumps([np.zeros(3)]), skship.dumps([-np.zeros(3)]))
    [z] = zeros["differences"]
    assert z["differing"] == 3 and z["max_abs_diff"] == 0.0


def test_shapes_of_object_arrays_and_sparse_matrices_are_compared() -> None:
    """Found by Hypothesis: two empty object arrays of different shapes have no elements
    to differ, so only their shapes tell them apart."""
    import scipy.sparse as sp

    a = np.empty((0,), dtype=object)
    b = np.empty((0, 0), dtype=object)
    [change] = skship.diff(skship.dumps(a), skship.dumps(b))["differences"]
    assert change["change"] == "array" and "(0, 0)" in change["b"]
    m, n = sp.csr_matrix((2, 3)), sp.csr_matrix((3, 2))
    assert not skship.diff(skship.dumps(m), skship.dumps(n))["same"]


def test_sparse_array_and_matrix_differ() -> None:
    # Found by test_diff_of_any_two_values: same arrays, different container or format.
    import scipy.sparse as sp

    eye = np.eye(3)
    files = [skship.dumps(make(eye)) for make in (sp.csr_array, sp.csr_matrix, sp.csc_array)]
    for i, a in enumerate(files):
        for j, b in enumerate(files):
            report = skship.diff(a, b)
            assert report["same"] is (i == j)
            assert_valid("diff", report)
