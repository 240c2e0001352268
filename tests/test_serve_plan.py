"""The sklearn backend's execution plan (skship.serve.plan) answers exactly like the model.

A property over fitted pipelines (numeric and text columns, passthrough, remainder, drop,
weights, dense and sparse stacking, nested pipelines, classifier / regressor /
transformer finals) and random rows; the models the plan must refuse (and still serve);
a plan that differs from its model is refused at start-up, one that raises on a request
leaves that request to the model; and a real server answers the same with the plan on
and off.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)

import skship
from skship.format.signature import signature_of
from skship.serve.backends import SklearnBackend
from skship.serve.codecs import Coerced, Table, coerce
from skship.serve.contracts import Contract, contract_for
from skship.serve.errors import ServeError
from skship.serve.plan import _sparse_hstack, same_answer

CLI = [sys.executable, "-c", "from skship.cli import main; main()"]
WORDS = ["paris", "lyon", "nice", "brest", "metz", "lille"]


def _frame(n: int, n_num: int, n_str: int, seed: int, *, ints: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    for i in range(n_num):
        data[f"num{i}"] = rng.normal(i, 1 + i, n)
    if ints:
        data["count"] = rng.integers(0, 50, n).astype(np.int64)
    for i in range(n_str):
        data[f"str{i}"] = rng.choice(WORDS[: 3 + i], n).astype(object)
    return pd.DataFrame(data)


def _backends(model: Any, sample: pd.DataFrame) -> tuple[SklearnBackend, SklearnBackend]:
    contract = contract_for(model, signature_of(sample, model))
    return SklearnBackend(model, contract), SklearnBackend(model, contract, plan="off")


def _rows(contract: Contract, frame: pd.DataFrame) -> Coerced:
    return coerce(Table(columns={c: frame[c].to_numpy() for c in frame.columns}), contract)


def _assert_same(plan: SklearnBackend, off: SklearnBackend, rows: Coerced) -> int:
    """Every output, with the plan and without: the same arrays (or the same refusal).
    Returns how many outputs the model refused (the plan leaves those to the model)."""
    outputs = [o.name for o in plan.contract.outputs]
    assert outputs
    refused = 0
    for name in outputs:
        try:
            want = off.predict(rows, [name])[name]
        except Exception as err:
            with pytest.raises(type(err)) as got:
                plan.predict(rows, [name])
            assert str(got.value) == str(err)
            refused += 1
            continue
        got_arr = plan.predict(rows, [name])[name]
        assert same_answer(got_arr, want), (name, got_arr, want)
    return refused


# --------------------------------------------------------------------------- the property


@st.composite
def pipelines(draw: st.DrawFn) -> tuple[Any, pd.DataFrame, str]:
    """A fitted model of Pipelines and ColumnTransformers on numeric and text columns."""
    n_num = draw(st.integers(1, 4))
    n_str = draw(st.integers(0, 3))
    ints = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    df = _frame(120, n_num, n_str, seed, ints=ints)
    nums = [c for c in df.columns if c.startswith("num")]
    strs = [c for c in df.columns if c.startswith("str")]
    parts: list[tuple[str, Any, Any]] = []
    k = draw(st.integers(1, len(nums)))
    numeric = draw(st.sampled_from(["scaler", "minmax", "passthrough", "drop", "nested"]))
    rest = nums[k:]  # the remainder's columns
    remainder = draw(st.sampled_from(["drop", "passthrough", "scaler"]))
    if remainder == "scaler" and not rest:
        remainder = "drop"
    text = draw(st.sampled_from(["onehot", "onehot-dense", "ordinal", "drop", "nested", "tfidf"]))
    active = (
        numeric != "drop" or ints or (strs and text != "drop") or (remainder != "drop" and rest)
    )
    if not active:
        numeric = "scaler"
    if numeric == "scaler":
        parts.append(("num", StandardScaler(with_mean=draw(st.booleans())), nums[:k]))
    elif numeric == "minmax":
        parts.append(("num", MinMaxScaler(), nums[:k]))
    elif numeric == "nested":
        inner = Pipeline([("impute", SimpleImputer()), ("skip", None), ("scale", StandardScaler())])
        parts.append(("num", inner, nums[:k]))
    else:
        parts.append(("num", numeric, nums[:k]))
    if ints:
        parts.append(("count", draw(st.sampled_from([StandardScaler(), "passthrough"])), ["count"]))
    if strs:
        if text == "onehot":
            parts.append(("str", OneHotEncoder(handle_unknown="ignore"), strs))
        elif text == "onehot-dense":
            enc = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
            parts.append(("str", enc, strs))
        elif text == "ordinal":
            enc = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
            parts.append(("str", enc, strs))
        elif text == "nested":
            inner = Pipeline(
                [
                    ("impute", SimpleImputer(strategy="most_frequent")),
                    ("onehot", OneHotEncoder(handle_unknown="ignore")),
                ]
            )
            parts.append(("str", inner, strs))
        elif text == "tfidf":  # a column selected by a scalar: a 1-d input
            parts.append(("str", TfidfVectorizer(), strs[0]))
            parts.append(("more", OneHotEncoder(handle_unknown="ignore"), strs[1:]))
        else:
            parts.append(("str", "drop", strs))
    parts.append(("nothing", StandardScaler(), []))  # an empty selection is skipped
    weights = None
    if draw(st.booleans()):
        weights = {"num": 2.0, "str": 0.5, "remainder": 3.0}
    ct = ColumnTransformer(
        parts,
        remainder=StandardScaler() if remainder == "scaler" else remainder,
        sparse_threshold=draw(st.sampled_from([0.0, 0.3, 1.0])),
        transformer_weights=weights,
    )
    final = draw(st.sampled_from(["classifier", "regressor", "transformer", "ct"]))
    rng = np.random.default_rng(seed + 1)
    y_num = df[nums[0]].to_numpy() + rng.normal(0, 0.5, len(df))
    if final == "classifier":
        model: Any = Pipeline(
            [("ct", ct), ("passthrough", "passthrough"), ("lr", LogisticRegression())]
        )
        y: Any = np.where(y_num > np.median(y_num), "yes", "no")
        if draw(st.booleans()):
            y = np.digitize(y_num, np.quantile(y_num, [0.33, 0.66]))  # three classes
    elif final == "regressor":
        model = Pipeline([("ct", ct), ("ridge", Ridge())])
        y = y_num
    elif final == "transformer":
        model = Pipeline([("ct", ct), ("scale", MaxAbsScaler())])
        y = None
    else:
        model = ct
        y = None
    with warnings.catch_warnings():  # convergence on random data is not the point
        warnings.simplefilter("ignore")
        model.fit(df, y)
    return model, df, final


def _random_rows(draw: st.DrawFn, df: pd.DataFrame, allow_nan: bool) -> pd.DataFrame:
    n = draw(st.integers(1, 12))
    out: dict[str, Any] = {}
    for c in df.columns:
        if c.startswith("num"):
            finite = st.floats(-1e6, 1e6, allow_nan=False)
            values = draw(
                st.lists(
                    st.one_of(finite, st.just(float("nan"))) if allow_nan else finite,
                    min_size=n,
                    max_size=n,
                )
            )
            out[c] = np.asarray(values, dtype=np.float64)
        elif c == "count":
            out[c] = np.asarray(draw(st.lists(st.integers(-100, 100), min_size=n, max_size=n)))
        else:
            pool = st.sampled_from([*WORDS, "", "unseen", None])
            out[c] = np.asarray(draw(st.lists(pool, min_size=n, max_size=n)), dtype=object)
    return pd.DataFrame(out)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_plan_answers_exactly_like_the_model(data: st.DataObject) -> None:
    model, df, _ = data.draw(pipelines())
    plan, off = _backends(model, df)
    assert plan.plan_status == "used", plan.plan_reason
    assert plan.plan is not None
    assert set(plan.plan.steps) == {o.name for o in plan.contract.outputs}
    rows_frame = _random_rows(data.draw, df, plan.contract.allow_nan)
    rows = _rows(plan.contract, rows_frame)
    refused = _assert_same(plan, off, rows)
    assert plan.plan_fallbacks == refused  # the plan raised only where the model refuses


@settings(max_examples=60, deadline=None)
@given(
    shapes=st.lists(st.tuples(st.booleans(), st.integers(1, 4)), min_size=1, max_size=4),
    n=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_sparse_stack_is_scipy_hstack(shapes: list[tuple[bool, int]], n: int, seed: int) -> None:
    """The fast CSR concatenation gives scipy's matrix entry for entry (same stored
    entries in the same order: a CSR product sums them in that order)."""
    rng = np.random.default_rng(seed)
    blocks: list[Any] = []
    shapes[0] = (True, shapes[0][1])  # a sparse output has a sparse part
    for is_sparse, width in shapes:
        dense = rng.normal(size=(n, width)) * (rng.random((n, width)) < 0.5)
        if is_sparse:
            block = sparse.csr_matrix(dense)
            if rng.random() < 0.5 and block.nnz:
                block.data[0] = 0.0  # an explicit zero is kept
            blocks.append(block)
        else:
            blocks.append(np.asfortranarray(dense) if rng.random() < 0.5 else dense)
    want = sparse.hstack(blocks).tocsr()
    got = _sparse_hstack(blocks)
    assert type(got) is type(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got.indptr, want.indptr)
    assert np.array_equal(got.indices, want.indices)
    assert np.array_equal(got.data, want.data)


@settings(max_examples=80, deadline=None)
@given(
    n_cols=st.integers(1, 3),
    n=st.integers(1, 8),
    sparse_output=st.booleans(),
    unknown=st.sampled_from(["ignore", "error", "infrequent_if_exist"]),
    dtype=st.sampled_from([np.float64, np.float32]),
    data=st.data(),
)
def test_onehot_kernel_is_the_encoder(
    n_cols: int, n: int, sparse_output: bool, unknown: str, dtype: Any, data: st.DataObject
) -> None:
    """The one-hot kernel: the encoder's own output (type, dtype, entries) or its error."""
    from skship.serve.plan import _onehot_kernel

    fit = np.array([[WORDS[(i + j) % (3 + j)] for j in range(n_cols)] for i in range(30)], object)
    enc = OneHotEncoder(handle_unknown=unknown, sparse_output=sparse_output, dtype=dtype)
    enc.fit(fit)
    kernel = _onehot_kernel(enc)
    assert kernel is not None
    pool = st.sampled_from([*WORDS, "", "unseen", None, float("nan")])
    cells = data.draw(st.lists(pool, min_size=n * n_cols, max_size=n * n_cols))
    X = np.empty((n, n_cols), dtype=object)
    X.ravel()[:] = cells
    try:
        want = enc.transform(X)
    except ValueError as err:
        with pytest.raises(ValueError) as got:
            kernel(X)
        assert str(got.value) == str(err)
        return
    out = kernel(X)
    assert type(out) is type(want) and out.dtype == want.dtype
    if sparse.issparse(want):
        assert np.array_equal(out.indptr, want.indptr)
        assert np.array_equal(out.indices, want.indices)
        assert out.indices.dtype == want.indices.dtype
        assert np.array_equal(out.data, want.data)
    else:
        assert np.array_equal(out, want)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 8),
    k=st.integers(1, 4),
    with_mean=st.booleans(),
    with_std=st.booleans(),
    fortran=st.booleans(),
    data=st.data(),
)
def test_scaler_kernel_is_the_scaler(
    n: int, k: int, with_mean: bool, with_std: bool, fortran: bool, data: st.DataObject
) -> None:
    from skship.serve.plan import _scaler_kernel

    rng = np.random.default_rng(k)
    scaler = StandardScaler(with_mean=with_mean, with_std=with_std).fit(rng.normal(3, 2, (50, k)))
    kernel = _scaler_kernel(scaler)
    assert kernel is not None
    value = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(0.0))
    X = np.array(data.draw(st.lists(value, min_size=n * k, max_size=n * k))).reshape(n, k)
    if fortran:
        X = np.asfortranarray(X)
    # as the backend runs it: scikit-learn's finiteness check is left to the signature's
    with warnings.catch_warnings(), sklearn.config_context(assume_finite=True):
        warnings.simplefilter("ignore")  # inf - inf: the same warning on both sides
        want = scaler.transform(X)
        got = kernel(X)
    assert got.dtype == want.dtype and got.flags.f_contiguous == want.flags.f_contiguous
    assert np.array_equal(got, want, equal_nan=True)
    assert got is not X


# --------------------------------------------------------------------------- no plan


class _FittedOnFrame(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """A transformer fitted on a DataFrame: it records the column count and names."""

    def fit(self, X: Any, y: Any = None) -> _FittedOnFrame:
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self


class _NotLikeFrames(_FittedOnFrame):
    """Answers differently on a DataFrame and on an array: the verification must see it."""

    def transform(self, X: Any) -> Any:
        return np.asarray(X, dtype=np.float64) * (2.0 if hasattr(X, "iloc") else 3.0)


class _FailsOnHuge(_FittedOnFrame):
    """Refuses arrays (not DataFrames) holding a huge value: the request falls to the model."""

    def transform(self, X: Any) -> Any:
        arr = np.asarray(X, dtype=np.float64)
        if not hasattr(X, "iloc") and np.abs(arr).max() > 1e12:
            raise ValueError("huge")
        return arr


def _classifier(ct: Any) -> Pipeline:
    return Pipeline([("ct", ct), ("lr", LogisticRegression())])


def _labels(df: pd.DataFrame) -> Any:
    return np.where(df["num0"] > df["num0"].median(), "yes", "no")


def _refused_models() -> dict[str, tuple[Any, pd.DataFrame, str]]:
    df = _frame(100, 2, 2, 5)
    cat = df.copy()
    cat["str0"] = pd.Categorical(cat["str0"])
    onehot = OneHotEncoder(handle_unknown="ignore")
    out: dict[str, tuple[Any, pd.DataFrame, str]] = {}
    out["category column"] = (
        _classifier(
            ColumnTransformer([("c", onehot, ["str0"]), ("n", StandardScaler(), ["num0"])])
        ),
        cat,
        "kind 'category'",
    )
    mixed = ColumnTransformer(
        [("all", SimpleImputer(strategy="most_frequent"), ["num0", "str0"])],
    )
    out["text and numbers in one estimator"] = (
        Pipeline([("ct", mixed), ("enc", OneHotEncoder(handle_unknown="ignore"))]),
        df,
        "text and numeric",
    )
    pandas_out = ColumnTransformer([("s", StandardScaler(), ["num0", "num1"])]).set_output(
        transform="pandas"
    )
    out["pandas output"] = (_classifier(pandas_out), df, "set_output")
    union = FeatureUnion([("a", StandardScaler()), ("b", MinMaxScaler())])
    out["FeatureUnion"] = (
        _classifier(ColumnTransformer([("u", union, ["num0", "num1"])])),
        df,
        "FeatureUnion",
    )
    func = FunctionTransformer(np.tanh)
    out["FunctionTransformer"] = (
        _classifier(ColumnTransformer([("f", func, ["num0", "num1"])])),
        df,
        "FunctionTransformer",
    )
    out["differs from the model"] = (
        _classifier(ColumnTransformer([("x", _NotLikeFrames(), ["num0", "num1"])])),
        df,
        "differs from the model",
    )
    return out


REFUSED = _refused_models()


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_models_the_plan_cannot_reproduce_are_served_as_they_are(
    case: str, caplog: pytest.LogCaptureFixture
) -> None:
    model, df, reason = REFUSED[case]
    model.fit(df, _labels(df) if isinstance(model[-1], LogisticRegression) else None)
    with caplog.at_level(logging.INFO, logger="skship.serve"):
        plan, off = _backends(model, df)
    assert plan.plan is None and plan.plan_status == "refused"
    assert reason in plan.plan_reason
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "skship.serve"]
    refused = [e for e in events if e["event"] == "backend.plan.refused"]
    assert refused and reason in refused[0]["reason"]
    rows = _rows(plan.contract, df.iloc[:7])
    _assert_same(plan, off, rows)


def test_off_builds_no_plan() -> None:
    df = _frame(80, 2, 1, 2)
    model = _classifier(
        ColumnTransformer(
            [("n", StandardScaler(), ["num0", "num1"]), ("s", OneHotEncoder(), ["str0"])]
        )
    ).fit(df, _labels(df))
    plan, off = _backends(model, df)
    assert plan.plan_status == "used" and off.plan_status == "off" and off.plan is None


def test_a_request_the_plan_fails_on_is_answered_by_the_model() -> None:
    df = _frame(80, 2, 1, 3)
    model = _classifier(
        ColumnTransformer(
            [("h", _FailsOnHuge(), ["num0", "num1"]), ("s", OneHotEncoder(), ["str0"])]
        )
    ).fit(df, _labels(df))
    plan, off = _backends(model, df)
    assert plan.plan_status == "used", plan.plan_reason
    rows_frame = df.iloc[:3].copy()
    rows_frame.loc[rows_frame.index[1], "num0"] = 1e15
    rows = _rows(plan.contract, rows_frame)
    _assert_same(plan, off, rows)
    assert plan.plan_fallbacks == len(plan.contract.outputs)
    # the model's own refusal reaches the client unchanged
    bad = df.iloc[:2].copy()
    bad["str0"] = ["never-seen", "lyon"]
    rows = _rows(plan.contract, bad)
    with pytest.raises(ServeError) as err:
        plan.predict(rows, ["predict"])
    with pytest.raises(ServeError) as err_off:
        off.predict(rows, ["predict"])
    assert err.value.code == err_off.value.code == "E-SERVE-PREDICT"
    assert str(err.value) == str(err_off.value)


def test_a_matrix_model_runs_on_the_matrix() -> None:
    """A model fitted on a numpy matrix: the plan reads the request's matrix directly."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 4))
    ct = ColumnTransformer([("a", StandardScaler(), [0, 1]), ("b", MinMaxScaler(), slice(2, 4))])
    model = Pipeline([("ct", ct), ("lr", LogisticRegression())]).fit(X, X[:, 0] > 0)
    contract = contract_for(model, signature_of(X, model))
    plan = SklearnBackend(model, contract)
    off = SklearnBackend(model, contract, plan="off")
    assert plan.plan_status == "used" and plan.plan is not None
    rows = coerce(Table(matrix=rng.normal(size=(9, 4)) * 100), contract)
    _assert_same(plan, off, rows)


# --------------------------------------------------------------------------- a real server


def _zoo_d_like(n: int = 400) -> tuple[Any, pd.DataFrame]:
    df = _frame(n, 7, 3, 11)
    model = _classifier(
        ColumnTransformer(
            [
                ("numeric", StandardScaler(), [f"num{i}" for i in range(7)]),
                ("strings", OneHotEncoder(handle_unknown="ignore"), ["str0", "str1", "str2"]),
            ]
        )
    )
    y = np.digitize(df["num0"] + df["num3"], [2.0, 4.0])
    return model.fit(df, y), df


def test_server_answers_the_same_with_the_plan_on_and_off(tmp_path: Path) -> None:
    from test_serve import _post_json, _request, _start, _stop

    model, df = _zoo_d_like()
    path = tmp_path / "d.skops"
    skship.dump(model, path, sample=df)
    rows = df.iloc[:25].copy()
    rows.loc[rows.index[3], "str1"] = "unseen"
    rows.loc[rows.index[4], "str2"] = ""
    body = {
        "inputs": [
            {
                "name": c,
                "datatype": "FP64" if c.startswith("num") else "BYTES",
                "shape": [len(rows), 1],
                "data": rows[c].tolist(),
            }
            for c in rows.columns
        ]
    }
    wanted = [{"name": n} for n in ("predict", "predict_proba", "decision_function")]
    body["outputs"] = wanted
    singles = [
        {
            "inputs": [{**t, "shape": [1, 1], "data": [t["data"][i]]} for t in body["inputs"]],
            "outputs": wanted,
        }
        for i in range(len(rows))
    ]
    answers: dict[str, Any] = {}
    for flag in ("auto", "off"):
        args = [str(path), "--sklearn-plan", flag, "--batch-max-rows", "16"]
        proc, url = _start(args, tmp_path)
        try:
            status, _, raw = _request(url, "GET", "/v2/models/d")
            meta = json.loads(raw)
            assert status == 200
            assert meta["parameters"]["sklearn_plan"] == ("used" if flag == "auto" else "off")
            status, batch = _post_json(url, "/v2/models/d/infer", body)
            assert status == 200, batch
            one_by_one = [_post_json(url, "/v2/models/d/infer", b)[1] for b in singles]
            with ThreadPoolExecutor(8) as pool:  # concurrent rows: micro-batched together
                together = list(
                    pool.map(
                        _post_json,
                        [url] * len(singles),
                        ["/v2/models/d/infer"] * len(singles),
                        singles,
                    )
                )
            assert all(s == 200 for s, _ in together)
            answers[flag] = (batch["outputs"], [a["outputs"] for a in one_by_one])
            # which requests share a batch varies from run to run, and a row's last bits
            # may depend on the batch it is computed in: close to the model's, row by row
            for i, (_, answer) in enumerate(together):
                got = {o["name"]: o["data"] for o in answer["outputs"]}
                assert got["predict"] == model.predict(rows.iloc[i : i + 1]).tolist()
                want = model.predict_proba(rows.iloc[i : i + 1]).ravel()
                assert np.allclose(got["predict_proba"], want, rtol=1e-12, atol=1e-15)
        finally:
            _stop(proc)
    assert answers["auto"] == answers["off"]  # the same batch, the same single rows
    # and they are the model's own answers
    outputs = {o["name"]: o for o in answers["auto"][0]}
    assert outputs["predict"]["data"] == model.predict(rows).tolist()
    proba = np.reshape(outputs["predict_proba"]["data"], outputs["predict_proba"]["shape"])
    assert np.array_equal(proba, model.predict_proba(rows))
    for i, single in enumerate(answers["auto"][1]):
        got = {o["name"]: o["data"] for o in single}
        assert got["predict_proba"] == model.predict_proba(rows.iloc[i : i + 1]).ravel().tolist()


def test_serve_refuses_an_unknown_plan_setting(tmp_path: Path) -> None:
    model, df = _zoo_d_like(60)
    path = tmp_path / "d.skops"
    skship.dump(model, path, sample=df)
    proc = subprocess.run(
        [*CLI, "serve", str(path), "--sklearn-plan", "maybe"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "--sklearn-plan 'maybe'" in proc.stderr


def test_any_exception_of_the_model_is_a_422_not_a_500() -> None:
    """TfidfVectorizer raises AttributeError (not ValueError) on a text column holding only
    missing values: still the model refusing these rows, E-SERVE-PREDICT, with the plan and
    without, and the backend answers the next request."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    df = pd.DataFrame({"num0": np.arange(40.0), "text": [f"w{i % 5} x{i % 3}" for i in range(40)]})
    model = _classifier(
        ColumnTransformer([("n", StandardScaler(), ["num0"]), ("t", TfidfVectorizer(), "text")])
    ).fit(df, _labels(df))
    for backend in _backends(model, df):
        missing = pd.DataFrame({"num0": [1.0], "text": np.array([None], dtype=object)})
        with pytest.raises(ServeError) as err:
            backend.predict(_rows(backend.contract, missing), ["predict"])
        assert err.value.code == "E-SERVE-PREDICT" and "AttributeError" in str(err.value)
        good = backend.predict(_rows(backend.contract, df.iloc[:2]), ["predict"])["predict"]
        assert np.array_equal(good, model.predict(df.iloc[:2]))
