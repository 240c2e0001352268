"""skship.onnx: check predicts, convert converts and always verifies, verify catches what
differs. Real skl2onnx and onnxruntime throughout; small data so the file stays fast."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import KNNImputer
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import FixedThresholdClassifier, TunedThresholdClassifierCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    SplineTransformer,
    StandardScaler,
)
from sklearn.svm import LinearSVC

from skship.errors import CODES, OnnxConversionError, OnnxVerificationError
from skship.onnx import check, convert, verify
from skship.onnx.verify_session import run as ort_run

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas" / "onnx" / "1"


def _validator(name: str) -> Draft202012Validator:
    resources = []
    for path in SCHEMAS.glob("*.schema.json"):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    registry: Registry = Registry().with_resources(resources)
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    return Draft202012Validator(schema, registry=registry)


def _valid(name: str, data: dict[str, Any]) -> None:
    errors = sorted(_validator(name).iter_errors(data), key=str)
    assert not errors, [e.message for e in errors[:5]]


@pytest.fixture(scope="module")
def classification() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(n_samples=200, n_features=6, n_informative=4, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def customers() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    n = 240
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 90, size=n),
            "income": rng.normal(50_000, 15_000, size=n),
            "city": rng.choice(["oslo", "lima", "riga", "fez"], size=n).astype(object),
            "plan": rng.choice(["free", "pro"], size=n).astype(object),
        }
    )
    y = ((frame["income"] > 50_000) ^ (frame["city"] == "oslo")).to_numpy().astype(int)
    return frame, y


def test_importing_skship_onnx_imports_nothing_heavy() -> None:
    code = (
        "import sys, skship, skship.onnx, skship.cli.onnx\n"
        "heavy = [m for m in ('sklearn', 'numpy', 'skl2onnx', 'onnxruntime', 'onnx') "
        "if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_pipeline_converts_verifies_and_runs(classification: Any) -> None:
    X, y = classification
    model = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]).fit(X, y)
    report = check(model, X[:20])
    assert report.outcome == "ok", report.summary
    assert [s.path for s in report.steps] == ["", "scale", "clf"]
    _valid("check-report", report.to_dict())

    conversion = convert(model, X[:50])
    assert conversion.verification.ok
    assert conversion.options == {"clf": {"zipmap": False}}
    assert {"column minima", "far above the maxima"} <= set(conversion.verification.edge_rows)
    # "missing numbers" is not an edge case LogisticRegression accepts.
    assert "missing numbers" not in conversion.verification.edge_rows
    _valid("convert-report", conversion.report("model.onnx").to_dict())
    # A kept report and its bytes give the same conversion back (the serve cache).
    assert type(conversion).from_report(conversion.onnx, conversion.report()) == conversion

    # Independently of verify: onnxruntime on held-out rows gives scikit-learn's answers.
    label, proba = ort_run(conversion.onnx, {"input": X[100:].astype(np.float32)})
    np.testing.assert_array_equal(label, model.predict(X[100:]))
    np.testing.assert_allclose(proba, model.predict_proba(X[100:]), atol=1e-5)


def test_column_transformer_with_string_columns(customers: Any) -> None:
    frame, y = customers
    columns = ColumnTransformer(
        [
            ("numbers", StandardScaler(), ["age", "income"]),
            ("strings", OneHotEncoder(handle_unknown="ignore"), ["city", "plan"]),
        ]
    )
    model = Pipeline([("columns", columns), ("clf", LogisticRegression())]).fit(frame, y)
    report = check(model, frame)
    assert report.outcome == "ok", report.summary
    assert {(i.name, i.type) for i in report.inputs} == {
        ("age", "float"),
        ("income", "float"),
        ("city", "string"),
        ("plan", "string"),
    }
    assert "integer-columns" in {f.code for f in report.findings}

    conversion = convert(model, frame.head(60))
    assert "unseen categories" in conversion.verification.edge_rows
    assert [i.name for i in conversion.inputs] == ["age", "income", "city", "plan"]


def test_text_pipeline_ending_in_linear_svc() -> None:
    # The zipmap option would break LinearSVC, and en_US.UTF-8 is often missing: convert
    # sets per-estimator options and a locale that exists.
    rng = np.random.default_rng(1)
    words = np.array(["red", "green", "blue", "cat", "dog", "sun", "moon", "tree"])
    docs = [" ".join(rng.choice(words, size=6)) for _ in range(120)]
    y = np.array(["cat" in d for d in docs], dtype=int)
    model = Pipeline([("tfidf", TfidfVectorizer()), ("svm", LinearSVC())]).fit(docs, y)
    report = check(model, docs)
    assert report.outcome == "ok", report.summary
    assert "text-locale" in {f.code for s in report.steps for f in s.findings}
    conversion = convert(model, docs[:40])
    assert "locale" in conversion.options["tfidf"]
    assert "zipmap" not in conversion.options.get("svm", {})
    assert {"empty document", "unseen words"} <= set(conversion.verification.edge_rows)
    methods = {o.method for o in conversion.verification.outputs}
    assert methods == {"predict", "decision_function"}


def test_missing_values_a_converter_mishandles_are_flagged_and_refused(
    classification: Any,
) -> None:
    # skl2onnx's KNNImputer fails in onnxruntime on the rows with missing values (the
    # rows it exists for); the edge-case row with missing values exposes it.
    X, _ = classification
    model = KNNImputer().fit(X)
    report = check(model)
    assert report.outcome == "mismatch"
    assert report.steps[0].status == "wrong"
    assert "known-mismatch" in {f.code for f in report.steps[0].findings}
    with pytest.raises(OnnxVerificationError) as caught:
        convert(model, X[:40])
    err = caught.value
    assert err.code == "E-ONNX-MISMATCH"
    assert not err.report.ok
    assert err.report.differing_rows, "the rows that differ are in the report"
    assert "missing numbers" in {r.edge for r in err.report.differing_rows}
    _valid("verify-report", err.report.to_dict())
    assert "variable vs transform" in str(err)


def test_binary_lda_probabilities_match(classification: Any) -> None:
    # skl2onnx 1.20 converts binary LDA as a generic linear classifier, with wrong
    # probabilities; skship's converter computes expit(decision) as scikit-learn does.
    X, y = classification
    for target in (y, np.arange(len(y)) % 3):
        model = LinearDiscriminantAnalysis().fit(X, target)
        assert check(model).outcome == "ok"
        conversion = convert(model, X[:40])
        label, proba = ort_run(conversion.onnx, {"input": X[100:].astype(np.float32)})
        np.testing.assert_array_equal(label, model.predict(X[100:]))
        np.testing.assert_allclose(proba, model.predict_proba(X[100:]), rtol=1e-3, atol=1e-4)


def test_threshold_classifiers_apply_their_threshold(classification: Any) -> None:
    X, y = classification
    inner = LogisticRegression().fit(X, y)
    low = FixedThresholdClassifier(inner, threshold=0.2).fit(X, y)
    tuned = TunedThresholdClassifierCV(LogisticRegression(), cv=3).fit(X, y)
    for model in (low, tuned):
        assert check(model).outcome == "ok"
        conversion = convert(model, X)
        (label, _) = ort_run(conversion.onnx, {"input": X.astype(np.float32)})
        np.testing.assert_array_equal(label, model.predict(X))
    # The threshold matters on this data: the inner classifier's labels differ.
    assert (low.predict(X) != inner.predict(X)).any()
    decision = FixedThresholdClassifier(LinearSVC()).fit(X, y)
    assert check(decision).outcome == "fails"


def _halve(X: Any) -> Any:
    return X / 2


def test_function_transformer_with_a_python_function_fails(classification: Any) -> None:
    X, y = classification
    model = Pipeline([("log", FunctionTransformer(_halve)), ("clf", LogisticRegression())]).fit(
        X, y
    )
    report = check(model)
    assert report.outcome == "fails"
    step = next(s for s in report.steps if s.path == "log")
    assert step.status == "unsupported"
    assert "function-transformer-func" in {f.code for f in step.findings}
    with pytest.raises(OnnxConversionError) as caught:
        convert(model, X[:20])
    assert caught.value.code == "E-ONNX-CONVERT"


@pytest.mark.parametrize("func", [np.log1p, np.sqrt, np.expm1, np.abs])
def test_function_transformer_with_a_numpy_function_converts(
    classification: Any, func: Any
) -> None:
    X, y = classification
    X = np.abs(X)
    model = Pipeline([("f", FunctionTransformer(func)), ("clf", LogisticRegression())]).fit(X, y)
    assert check(model).outcome == "ok"
    conversion = convert(model, X[:40])
    assert conversion.verification.ok
    label, _ = ort_run(conversion.onnx, {"input": X[100:].astype(np.float32)})
    np.testing.assert_array_equal(label, model.predict(X[100:]))


@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly", "laplacian"])
def test_kernel_ridge_converts(classification: Any, kernel: str) -> None:
    X, y = classification
    model = KernelRidge(kernel=kernel, alpha=1.0).fit(X, y.astype(float))
    assert check(model).outcome == "ok"
    conversion = convert(model, X[:40])  # float32, or float64 where float32 does not verify
    dtype = np.float32 if conversion.inputs[0].type == "float" else np.float64
    (got,) = ort_run(conversion.onnx, {"input": X[100:].astype(dtype)})
    np.testing.assert_allclose(got.ravel(), model.predict(X[100:]), rtol=1e-3, atol=1e-3)
    callable_kernel = KernelRidge(kernel=lambda a, b: float(a @ b)).fit(X[:30], y[:30])
    assert check(callable_kernel).outcome == "fails"


def test_missing_converter_is_named_with_its_path(classification: Any) -> None:
    X, y = classification
    model = Pipeline([("scale", StandardScaler()), ("spline", SplineTransformer())]).fit(X, y)
    report = check(model)
    assert report.outcome == "fails"
    assert [(s.path, s.status) for s in report.steps if s.status != "ok"] == [
        ("spline", "no-converter")
    ]
    with pytest.raises(OnnxConversionError) as caught:
        convert(model, X[:20])
    assert caught.value.code == "E-ONNX-NO-CONVERTER"
    assert "'spline'" in str(caught.value)


def test_verification_catches_an_onnx_model_of_another_fit(classification: Any) -> None:
    X, y = classification
    model = LogisticRegression().fit(X, y)
    other = LogisticRegression(C=0.001).fit(X, y)
    report = verify(model, convert(other, X[:30]).onnx, X[:30])
    assert not report.ok
    assert any(not o.ok for o in report.outputs)
    assert report.differing_rows and report.differing_rows[0].input


def test_trees_send_missing_values_where_scikit_learn_does(classification: Any) -> None:
    X, y = classification
    X = X.copy()
    X[::7, 0] = np.nan  # learned missing-value directions
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    conversion = convert(model, X[:40])
    assert "missing numbers" in conversion.verification.edge_rows
    rows = X[:40].copy()
    rows[:, 1] = np.nan
    label, _ = ort_run(conversion.onnx, {"input": rows.astype(np.float32)})
    np.testing.assert_array_equal(label, model.predict(rows))


def test_histgradientboosting_pipeline_falls_back_to_float64_preprocessing() -> None:
    X, y = make_classification(n_samples=400, n_features=8, random_state=3)
    X = X * 1000 + 5000  # scaling in float32 moves rows across splits
    model = Pipeline(
        [
            ("scale", StandardScaler()),
            ("hgb", HistGradientBoostingClassifier(max_iter=30, random_state=0)),
        ]
    ).fit(X, y)
    conversion = convert(model, X[:200])
    assert conversion.verification.ok
    assert conversion.dtype in ("float32", "float64")
    if conversion.dtype == "float64":
        assert any("float64" in note for note in conversion.notes)
    forced = None
    try:
        forced = convert(model, X[:200], dtype="float32")
    except OnnxVerificationError as err:
        assert err.report.differing_rows
    if forced is not None:
        assert forced.dtype == "float32"


def test_error_codes_are_registered() -> None:
    for code in ("E-ONNX-NO-CONVERTER", "E-ONNX-CONVERT", "E-ONNX-RUNTIME", "E-ONNX-MISMATCH"):
        assert code in CODES


@pytest.fixture(scope="module")
def scaled_logistic(classification: Any) -> tuple[Any, bytes]:
    X, y = classification
    model = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]).fit(X, y)
    return model, convert(model, X[:30]).onnx


@settings(max_examples=15)
@given(
    rows=arrays(
        np.float64,
        st.tuples(st.integers(1, 12), st.just(6)),
        elements=st.floats(-1e4, 1e4, allow_nan=False, width=32),
    )
)
def test_a_verified_conversion_verifies_on_any_rows(scaled_logistic: Any, rows: Any) -> None:
    model, onnx_bytes = scaled_logistic
    report = verify(model, onnx_bytes, rows)
    assert report.ok, report.describe()
    assert report.sample_rows == len(rows)


def test_a_categorical_column_converts_and_its_unseen_category_is_verified() -> None:
    """Edge cases add an unseen category; a pandas Categorical must be widened, not crash."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from skship.onnx import convert

    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"a": rng.normal(size=200), "c": pd.Categorical(rng.choice(["x", "y", "z"], 200))}
    )
    y = (X["a"] > 0).astype(int)
    model = make_pipeline(
        ColumnTransformer(
            [("n", StandardScaler(), ["a"]), ("c", OneHotEncoder(handle_unknown="ignore"), ["c"])]
        ),
        LogisticRegression(),
    ).fit(X, y)
    result = convert(model, X.head(20))
    assert result.verification.ok
    assert any("unseen" in case for case in result.verification.edge_rows)
