"""skship's own converters (skship.onnx.converters): each estimator converts, verifies and
gives scikit-learn's outputs on rows it was not verified on; parameters a converter does
not handle are refused by ``check`` and ``convert`` alike. Real skl2onnx and onnxruntime."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.cluster import Birch, FeatureAgglomeration, MeanShift
from sklearn.compose import TransformedTargetRegressor
from sklearn.cross_decomposition import CCA
from sklearn.datasets import make_classification
from sklearn.decomposition import FastICA, SparsePCA
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import RandomTreesEmbedding, VotingClassifier
from sklearn.feature_selection import SequentialFeatureSelector
from sklearn.impute import MissingIndicator
from sklearn.isotonic import IsotonicRegression
from sklearn.kernel_approximation import (
    AdditiveChi2Sampler,
    Nystroem,
    RBFSampler,
    SkewedChi2Sampler,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import NearestCentroid
from sklearn.neural_network import BernoulliRBM
from sklearn.preprocessing import (
    FunctionTransformer,
    KBinsDiscretizer,
    OneHotEncoder,
    PowerTransformer,
    StandardScaler,
)
from sklearn.random_projection import SparseRandomProjection
from sklearn.semi_supervised import SelfTrainingClassifier

from skship.errors import OnnxConversionError
from skship.onnx import check, convert
from skship.onnx.verify_session import run as ort_run


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X, y = make_classification(
        n_samples=160, n_features=4, n_informative=3, n_redundant=0, random_state=1
    )
    X = X - X.min(axis=0) + 0.5  # positive: SkewedChi2Sampler, BernoulliRBM
    target = X @ np.array([1.0, -2.0, 0.5, 3.0])
    return X, y, target


def _isotonic(X: Any, y: Any, t: Any) -> Any:
    return IsotonicRegression(out_of_bounds="clip").fit(X[:, :1], t)


MODELS = {
    "dummy-classifier": lambda X, y, t: DummyClassifier(strategy="prior").fit(X, y),
    "dummy-regressor": lambda X, y, t: DummyRegressor(strategy="median").fit(X, t),
    "nearest-centroid": lambda X, y, t: NearestCentroid().fit(X, y),
    "isotonic": _isotonic,
    "target-scaled": lambda X, y, t: TransformedTargetRegressor(
        Ridge(), transformer=StandardScaler()
    ).fit(X, t),
    "target-log": lambda X, y, t: TransformedTargetRegressor(
        Ridge(), func=np.log, inverse_func=np.exp
    ).fit(X, np.abs(t) + 1),
    "self-training": lambda X, y, t: SelfTrainingClassifier(LogisticRegression()).fit(
        X, np.where(np.arange(len(y)) % 3 == 0, -1, y)
    ),
    "cca": lambda X, y, t: CCA(n_components=1).fit(X, t),
    "sequential-selector": lambda X, y, t: SequentialFeatureSelector(
        Ridge(), n_features_to_select=2, cv=2
    ).fit(X, t),
    "sparse-projection": lambda X, y, t: SparseRandomProjection(3, random_state=0).fit(X),
    "fast-ica": lambda X, y, t: FastICA(3, random_state=0).fit(X),
    "sparse-pca": lambda X, y, t: SparsePCA(2, random_state=0).fit(X),
    "agglomeration": lambda X, y, t: FeatureAgglomeration(2).fit(X),
    "rbm": lambda X, y, t: BernoulliRBM(3, random_state=0).fit(X / X.max()),
    "rbf-sampler": lambda X, y, t: RBFSampler(n_components=8, random_state=0).fit(X),
    "skewed-chi2": lambda X, y, t: SkewedChi2Sampler(n_components=8, random_state=0).fit(X),
    "nystroem": lambda X, y, t: Nystroem(n_components=10, random_state=0).fit(X),
    "nystroem-laplacian": lambda X, y, t: Nystroem(
        "laplacian", gamma=0.3, n_components=10, random_state=0
    ).fit(X),
    "additive-chi2": lambda X, y, t: AdditiveChi2Sampler(sample_steps=3).fit(X),
    "birch": lambda X, y, t: Birch(n_clusters=3).fit(X),
    "mean-shift": lambda X, y, t: MeanShift(bandwidth=2.0, bin_seeding=True).fit(X),
    # skl2onnx refuses these parameters; the ONNX graph is the dense equivalent.
    "kbins-onehot": lambda X, y, t: KBinsDiscretizer(3, encode="onehot").fit(X),
    "trees-embedding-sparse": lambda X, y, t: RandomTreesEmbedding(
        3, max_depth=2, random_state=0
    ).fit(X),
    "voting-flatten": lambda X, y, t: VotingClassifier(
        [("lr", LogisticRegression()), ("nc", DummyClassifier())], voting="soft"
    ).fit(X, y),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_converter_matches_scikit_learn_on_new_rows(data: Any, name: str) -> None:
    X, y, t = data
    model = MODELS[name](X, y, t)
    X_used = X[:, :1] if name == "isotonic" else X
    assert check(model).outcome == "ok"
    conversion = convert(model, X_used[:40])
    assert conversion.verification.ok
    dtype = np.float32 if conversion.inputs[0].type == "float" else np.float64
    got = ort_run(conversion.onnx, {conversion.inputs[0].name: X_used[100:].astype(dtype)})
    new = X_used[100:]
    if hasattr(model, "predict") and not isinstance(model, (FeatureAgglomeration,)):
        expected = model.predict(new)
        if expected.dtype.kind in "iu":
            np.testing.assert_array_equal(np.ravel(got[0]), expected)
        else:
            np.testing.assert_allclose(np.ravel(got[0]), np.ravel(expected), rtol=1e-3, atol=1e-3)
    else:
        expected = model.transform(new)
        expected = expected.toarray() if hasattr(expected, "toarray") else expected
        np.testing.assert_allclose(got[0], expected, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize(
    "options", [{}, {"standardize": False}, {"method": "box-cox"}], ids=["yj", "raw", "bc"]
)
def test_power_transformer_keeps_missing_values_missing(data: Any, options: Any) -> None:
    X, _, _ = data
    X = X.copy()
    if options.get("method") != "box-cox":
        X[:, 1] -= 2.0  # both signs for Yeo-Johnson
    X[::6, 2] = np.nan
    model = PowerTransformer(**options).fit(X)
    assert check(model).outcome == "ok"
    conversion = convert(model, X[:40])
    dtype = np.float32 if conversion.inputs[0].type == "float" else np.float64
    (got,) = ort_run(conversion.onnx, {"input": X[100:].astype(dtype)})
    np.testing.assert_allclose(got, model.transform(X[100:]), rtol=1e-3, atol=1e-3)
    missing = np.isnan(X[100:, 2])
    assert missing.any() and np.isnan(got[missing, 2]).all()


def test_missing_indicator_marks_missing_values(data: Any) -> None:
    X, _, _ = data
    X = X.copy()
    X[::7, 1] = np.nan
    X[::5, 3] = np.nan
    model = MissingIndicator().fit(X)
    assert check(model).outcome == "ok"
    conversion = convert(model, X[:40])
    (got,) = ort_run(conversion.onnx, {"input": X[100:].astype(np.float32)})
    np.testing.assert_array_equal(got, model.transform(X[100:]))


def test_one_hot_encoder_with_float_categories(data: Any) -> None:
    X, _, _ = data
    X = np.round(X[:, :2] * 2) / 2  # a few half-integer categories per column
    X[::9, 0] = np.nan
    for options in ({"drop": "first"}, {"handle_unknown": "ignore"}):
        model = OneHotEncoder(sparse_output=False, **options).fit(X)
        assert check(model).outcome == "ok"
        conversion = convert(model, X[:40])
        new = X[100:]
        if options.get("handle_unknown") == "ignore":
            new = np.vstack([new, [[123.5, 0.5]]])  # an unseen category: all zeros
        dtype = np.float32 if conversion.inputs[0].type == "float" else np.float64
        (got,) = ort_run(conversion.onnx, {"input": new.astype(dtype)})
        np.testing.assert_array_equal(got, model.transform(new))
    grouped = OneHotEncoder(min_frequency=5).fit(X)
    assert check(grouped).outcome == "fails"


UNSUPPORTED = {
    "dummy-classifier-uniform": lambda X, y, t: DummyClassifier(strategy="uniform").fit(X, y),
    "isotonic-raise": lambda X, y, t: IsotonicRegression(out_of_bounds="raise").fit(X[:, :1], t),
    "nearest-centroid-manhattan": lambda X, y, t: NearestCentroid(metric="manhattan").fit(X, y),
    "target-python-function": lambda X, y, t: TransformedTargetRegressor(
        Ridge(), transformer=FunctionTransformer(lambda v: v * 2, lambda v: v / 2)
    ).fit(X, t),
    "nystroem-poly": lambda X, y, t: Nystroem("poly", n_components=5).fit(X),
    "missing-indicator-zero": lambda X, y, t: MissingIndicator(missing_values=0.0).fit(X),
}


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_parameters_are_refused_up_front(data: Any, name: str) -> None:
    X, y, t = data
    model = UNSUPPORTED[name](X, y, t)
    report = check(model)
    assert report.outcome == "fails", report.summary
    with pytest.raises(OnnxConversionError):
        convert(model, X[:40, :1] if name.startswith("isotonic") else X[:40])
