"""The outputs recorded in a file's signature (rule-signature-outputs) and the serving
contract built from them (rule-serve-signature-outputs).

``dump(model, f, sample=X)`` records each output the model gives on the sample's first
rows; the server lists those, and infers outputs from the model only for files that do
not record them.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import skship
from skship.api import get_signature
from skship.format.signature import OUTPUT_METHODS
from skship.serve.contracts import _outputs, contract_for

pytest.importorskip("sklearn")
ROOT = Path(__file__).resolve().parents[1]


def _gen_vectors() -> Any:
    spec = importlib.util.spec_from_file_location("gen_vectors", ROOT / "tools/gen_vectors.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_vector_is_what_the_writer_records_for_a_classifier() -> None:
    from sklearn.linear_model import LogisticRegression

    X = np.random.default_rng(0).normal(size=(30, 2))
    clf = LogisticRegression().fit(X, (X[:, 0] > 0).astype(np.int64))
    signature = get_signature(skship.dumps(clf, sample=X))
    assert signature == _gen_vectors().SIGNATURE_WITH_OUTPUTS


def _model(kind: str, n_classes: int, seed: int) -> tuple[Any, Any]:
    """A fitted model of ``kind`` and a sample of its input."""
    import pandas as pd
    from sklearn.cluster import KMeans
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 3))
    labels = np.array(["ant", "bee", "cat", "dog"][:n_classes], dtype=object)
    y = labels[np.arange(40) % n_classes]
    if kind == "logistic":
        return LogisticRegression().fit(X, y), X
    if kind == "tree-int":
        return DecisionTreeClassifier().fit(X, np.arange(40) % n_classes), X
    if kind == "svc":  # decision_function without predict_proba
        return SVC().fit(X, y), X
    if kind == "ridge-multi":
        return Ridge().fit(X, X[:, :2]), X
    if kind == "linear":
        return LinearRegression().fit(X, X[:, 0]), X
    if kind == "kmeans":
        return KMeans(n_classes, n_init=1, random_state=seed).fit(X), X
    if kind == "scaler":
        return StandardScaler().fit(X), X
    if kind == "onehot-frame":
        df = pd.DataFrame({"c": rng.choice(["x", "y", "z"], 40), "n": rng.normal(size=40)})
        ct = make_column_transformer((OneHotEncoder(), ["c"]), remainder="passthrough")
        return ct.fit(df), df
    if kind == "pipeline-frame":
        df = pd.DataFrame({"c": rng.choice(["x", "y"], 40), "n": rng.normal(size=40)})
        ct = make_column_transformer((OneHotEncoder(), ["c"]), (StandardScaler(), ["n"]))
        return make_pipeline(ct, LogisticRegression()).fit(df, y), df
    if kind == "unfitted":
        return LogisticRegression(), X
    raise AssertionError(kind)


KINDS = [
    "logistic",
    "tree-int",
    "svc",
    "ridge-multi",
    "linear",
    "kmeans",
    "scaler",
    "onehot-frame",
    "pipeline-frame",
    "unfitted",
]


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(KINDS), st.integers(2, 4), st.integers(0, 2**16))
def test_recorded_outputs_are_what_the_model_gives(kind: str, n_classes: int, seed: int) -> None:
    model, sample = _model(kind, n_classes, seed)
    signature = get_signature(skship.dumps(model, sample=sample))
    assert signature is not None
    recorded = {o["name"]: o for o in signature.get("outputs") or []}
    gives = {}
    for name in OUTPUT_METHODS:
        if name == "transform" and gives:
            break
        if not callable(getattr(model, name, None)):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = getattr(model, name)(sample)  # every row, not just the first two
        except Exception:
            continue
        gives[name] = value.toarray() if hasattr(value, "toarray") else np.asarray(value)
    assert list(recorded) == list(gives)  # the same methods, in the same order
    if not gives:
        assert "outputs" not in signature  # nothing recorded rather than an empty list
    for name, value in gives.items():
        out = recorded[name]
        assert out["dtype"] == str(value.dtype)
        assert out.get("width") == (value.shape[1] if value.ndim == 2 else None)
        if name in ("predict_proba", "decision_function") and value.ndim == 2:
            assert out["columns"] == model.classes_.tolist()
        elif name == "transform":
            assert out["columns"] == model.get_feature_names_out().tolist()
        else:
            assert "columns" not in out


@pytest.mark.parametrize("kind", ["logistic", "tree-int", "svc", "linear", "pipeline-frame"])
def test_recorded_outputs_agree_with_the_inferred_ones(kind: str) -> None:
    """For classifiers and float regressors the file says what inference said before."""
    model, sample = _model(kind, 3, 0)
    signature = get_signature(skship.dumps(model, sample=sample))
    from_file = contract_for(model, signature)
    assert from_file.outputs_source == "file"
    assert from_file.outputs == _outputs(model)


def test_file_outputs_are_more_exact_than_inference() -> None:
    """KMeans labels are int32: the recorded dtype says so, inference guessed float64."""
    model, sample = _model("kmeans", 3, 0)
    contract = contract_for(model, get_signature(skship.dumps(model, sample=sample)))
    assert [(o.name, o.datatype) for o in contract.outputs] == [("predict", "INT32")]
    assert [(o.name, o.datatype) for o in _outputs(model)] == [("predict", "FP64")]
    assert model.predict(sample).dtype == np.int32


def test_files_without_recorded_outputs_infer_them() -> None:
    """A signature without ``outputs`` (files written before it existed, or models that
    gave none on the sample) still reads, and the outputs come from the model."""
    model, sample = _model("logistic", 3, 0)
    signature = get_signature(skship.dumps(model, sample=sample))
    assert signature is not None
    old = {k: v for k, v in signature.items() if k != "outputs"}
    blob = skship.dumps([1], sample=sample)  # nothing to predict: no outputs recorded
    assert get_signature(blob) == old
    contract = contract_for(model, old)
    assert contract.outputs_source == "model" and contract.outputs == _outputs(model)
    assert contract.signature_json()["outputs_source"] == "model"


def test_a_recorded_output_the_model_lacks_is_left_out() -> None:
    model, sample = _model("linear", 2, 0)
    signature = dict(
        get_signature(skship.dumps(model, sample=sample)) or {},
        outputs=[
            {"name": "predict_proba", "dtype": "float64", "width": 2},
            {"name": "predict", "dtype": "float64"},
        ],
    )
    contract = contract_for(model, signature)
    assert [o.name for o in contract.outputs] == ["predict"]
