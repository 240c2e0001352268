"""The onnx serving backend against the sklearn one: real servers on loopback, same requests.

Two models (a pipeline whose column transformer takes string, categorical and numeric
columns, and a HistGradientBoostingClassifier on an array) are served by one server with
``--backend onnx`` and one with ``--backend sklearn``; labels must be identical and
probabilities within the verification tolerance. ``auto`` falls back to sklearn, and says
why, for a model with no ONNX converter; ``onnx`` refuses to start on it.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import skship

pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")

CLI = [sys.executable, "-c", "from skship.cli import main; main()"]
ATOL = 1e-4  # probabilities: float32 graph against float64 scikit-learn
CITIES = ["paris", "lyon", "nice"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(url: str, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _start(
    args: list[str], log: Path, timeout: float = 240.0
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*CLI, "serve", *args, "--port", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(log.read_text())
        try:
            if _request(url, "GET", "/v2/health/ready")[0] == 200:
                return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    proc.wait()
    raise AssertionError("server did not become ready: " + log.read_text())


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(np.int64),
            "income": rng.normal(50, 10, n),
            "city": rng.choice(CITIES, n).astype(object),
            "plan": pd.Categorical(rng.choice(["free", "pro"], n), categories=["free", "pro"]),
        }
    )


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.semi_supervised import LabelPropagation

    tmp = tmp_path_factory.mktemp("serve-onnx")
    df = _frame(300, 0)
    y = np.where(df["income"] + (df["plan"] == "pro") * 5 + (df["city"] == "nice") * 3 > 53, 1, 0)
    labels = np.array(["no", "yes"], dtype=object)[y]
    tab = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["city", "plan"]),
            (StandardScaler(), ["age", "income"]),
        ),
        LogisticRegression(max_iter=500),
    ).fit(df, labels)
    skship.dump(tab, tmp / "tab.skops", sample=df)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 6))
    yh = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(np.int64) + (X[:, 3] > 1)
    hgb = HistGradientBoostingClassifier(max_iter=25, random_state=0).fit(X, yh)
    skship.dump(hgb, tmp / "hgb.skops", sample=X)
    # no ONNX converter exists for LabelPropagation: the fallback path
    prop = LabelPropagation().fit(X[:100, :3], yh[:100])
    skship.dump(prop, tmp / "prop.skops", sample=X[:100, :3])
    return {"dir": tmp, "df": df, "X": X}


@pytest.fixture(scope="module")
def servers(models: dict[str, Any]) -> Iterator[dict[str, str]]:
    tmp = models["dir"]
    files = [str(tmp / "tab.skops"), str(tmp / "hgb.skops")]
    procs: list[subprocess.Popen[bytes]] = []
    urls: dict[str, str] = {}
    try:
        for backend in ("onnx", "sklearn"):
            proc, url = _start([*files, "--backend", backend], tmp / f"{backend}.log")
            procs.append(proc)
            urls[backend] = url
        yield urls
    finally:
        for proc in procs:
            _stop(proc)


def _tab_request(df: pd.DataFrame) -> dict[str, Any]:
    n = len(df)
    return {
        "inputs": [
            {"name": "age", "datatype": "INT64", "shape": [n, 1], "data": df["age"].tolist()},
            {"name": "income", "datatype": "FP64", "shape": [n, 1], "data": df["income"].tolist()},
            {"name": "city", "datatype": "BYTES", "shape": [n, 1], "data": df["city"].tolist()},
            {"name": "plan", "datatype": "BYTES", "shape": [n, 1], "data": list(df["plan"])},
        ],
        "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
    }


def _hgb_request(X: np.ndarray[Any, Any]) -> dict[str, Any]:
    return {
        "inputs": [
            {
                "name": "input-0",
                "datatype": "FP64",
                "shape": list(X.shape),
                "data": X.ravel().tolist(),
            }
        ],
        "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
    }


def _infer(url: str, model: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    status, data = _request(url, "POST", f"/v2/models/{model}/infer", json.dumps(request).encode())
    return status, json.loads(data)


def _assert_same(onnx: dict[str, Any], sk: dict[str, Any]) -> None:
    got = {o["name"]: o for o in onnx["outputs"]}
    want = {o["name"]: o for o in sk["outputs"]}
    assert got["predict"]["data"] == want["predict"]["data"]
    for name in ("predict", "predict_proba"):
        assert got[name]["datatype"] == want[name]["datatype"]
        assert got[name]["shape"] == want[name]["shape"]
    np.testing.assert_allclose(
        got["predict_proba"]["data"], want["predict_proba"]["data"], rtol=0, atol=ATOL
    )


def test_the_onnx_server_runs_onnx(servers: dict[str, str]) -> None:
    for model in ("tab", "hgb"):
        status, data = _request(servers["onnx"], "GET", f"/v2/models/{model}")
        assert status == 200 and json.loads(data)["platform"] == "skship-onnx"
        status, data = _request(servers["sklearn"], "GET", f"/v2/models/{model}")
        assert status == 200 and json.loads(data)["platform"] == "skship-sklearn"


def test_pipeline_answers_match_sklearn(servers: dict[str, str], models: dict[str, Any]) -> None:
    df = _frame(200, 7)  # rows the model was not fitted on
    status, onnx = _infer(servers["onnx"], "tab", _tab_request(df))
    assert status == 200, onnx
    status, sk = _infer(servers["sklearn"], "tab", _tab_request(df))
    assert status == 200, sk
    assert sorted(set(sk["outputs"][0]["data"])) == ["no", "yes"]  # both labels exercised
    _assert_same(onnx, sk)


def test_hgb_answers_match_sklearn(servers: dict[str, str], models: dict[str, Any]) -> None:
    X = np.random.default_rng(5).normal(size=(300, 6)) * 2
    X[::7, 2] = np.nan  # missing values take the tree's learned direction in both
    request = _hgb_request(np.nan_to_num(X, nan=0.0))
    status, onnx = _infer(servers["onnx"], "hgb", request)
    assert status == 200, onnx
    status, sk = _infer(servers["sklearn"], "hgb", request)
    assert status == 200, sk
    assert len(set(sk["outputs"][0]["data"])) == 3
    _assert_same(onnx, sk)


def test_bad_requests_get_the_same_refusal(servers: dict[str, str]) -> None:
    df = _frame(3, 1)
    request = _tab_request(df)
    request["inputs"][3]["data"] = ["free", "gold", "pro"]  # outside the recorded categories
    answers = [_infer(servers[b], "tab", request) for b in ("onnx", "sklearn")]
    assert answers[0][0] == answers[1][0] == 422
    assert answers[0][1]["error"] == answers[1][1]["error"]


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(-1000, 1000),
            st.floats(-1e6, 1e6, allow_nan=False),
            st.sampled_from([*CITIES, "unseen", ""]),
            st.sampled_from(["free", "pro"]),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_any_rows_get_the_same_answers(
    servers: dict[str, str], rows: list[tuple[int, float, str, str]]
) -> None:
    df = pd.DataFrame(rows, columns=["age", "income", "city", "plan"])
    results = [_infer(servers[b], "tab", _tab_request(df)) for b in ("onnx", "sklearn")]
    assert results[0][0] == results[1][0] == 200, results
    _assert_same(results[0][1], results[1][1])


def test_auto_falls_back_to_sklearn_and_says_why(models: dict[str, Any]) -> None:
    tmp = models["dir"]
    log = tmp / "auto.log"
    proc, url = _start(
        [f"prop={tmp / 'prop.skops'}", f"tab={tmp / 'tab.skops'}", "--backend", "auto"], log
    )
    try:
        platforms, params = {}, {}
        for model in ("prop", "tab"):
            status, data = _request(url, "GET", f"/v2/models/{model}")
            assert status == 200
            platforms[model] = json.loads(data)["platform"]
            params[model] = json.loads(data)["parameters"]
        # tab converts and verifies, so auto timed both backends and kept the faster
        from skship.serve.models import _winner

        timings: dict[str, dict[str, float]] = {}
        for key, value in params["tab"].items():  # timing_{backend}_{size}_us
            if key.startswith("timing_"):
                backend, _, size = key[len("timing_") : -len("_us")].partition("_")
                timings.setdefault(backend, {})[size] = value
        tab_backend = _winner(timings)
        assert platforms == {"prop": "skship-sklearn", "tab": f"skship-{tab_backend}"}
        assert params["prop"]["backend_code"] == "E-ONNX-NO-CONVERTER"
        X = models["X"][:5, :3]
        status, body = _infer(
            url,
            "prop",
            {
                "inputs": [
                    {
                        "name": "input-0",
                        "datatype": "FP64",
                        "shape": [5, 3],
                        "data": X.ravel().tolist(),
                    }
                ]
            },
        )
        assert status == 200 and len(body["outputs"][0]["data"]) == 5
    finally:
        _stop(proc)
    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    fallback = [e for e in events if e.get("event") == "backend.fallback"]
    assert len(fallback) == 1
    assert fallback[0]["model"] == "prop" and fallback[0]["code"] == "E-ONNX-NO-CONVERTER"
    assert "LabelPropagation" in fallback[0]["reason"]


def test_onnx_refuses_to_start_without_a_verified_conversion(models: dict[str, Any]) -> None:
    tmp = models["dir"]
    done = subprocess.run(
        [*CLI, "serve", str(tmp / "prop.skops"), "--backend", "onnx", "--port", str(_free_port())],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 2
    assert "[E-ONNX-NO-CONVERTER] --backend onnx for model 'prop'" in done.stderr
    assert "--backend auto" in done.stderr


# --------------------------------------------------------------------------- in process


def _in_process_models() -> dict[str, Any]:
    from sklearn.cluster import KMeans
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 4))
    y = X @ np.array([1.0, 2.0, 3.0, 4.0])
    return {
        "regressor": (Ridge().fit(X, y), X),
        "clusterer": (KMeans(3, n_init=2, random_state=0).fit(X), X),
        "transformer": (StandardScaler().fit(X), X),
        "no-predict_proba": (LinearSVC().fit(X, y > 0), X),  # decision_function: sklearn
    }


@pytest.fixture(scope="module")
def backend_pairs() -> dict[str, tuple[Any, Any, list[str]]]:
    from skship.format.signature import signature_of
    from skship.serve.backends import make_backend
    from skship.serve.contracts import contract_for

    pairs = {}
    for kind, (model, X) in _in_process_models().items():
        contract = contract_for(model, signature_of(X))
        onnx = make_backend("onnx", model, contract)
        assert onnx.name == "onnx"
        outputs = [o.name for o in contract.outputs]
        pairs[kind] = (onnx, make_backend("sklearn", model, contract), outputs)
    return pairs


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["regressor", "clusterer", "transformer", "no-predict_proba"]),
    rows=st.lists(
        st.lists(st.floats(-100, 100, allow_nan=False), min_size=4, max_size=4),
        min_size=1,
        max_size=10,
    ),
)
def test_every_output_has_the_sklearn_dtype_and_shape(
    backend_pairs: dict[str, tuple[Any, Any, list[str]]], kind: str, rows: list[list[float]]
) -> None:
    from skship.serve.codecs import Coerced

    onnx, sk, outputs = backend_pairs[kind]
    coerced = Coerced(len(rows), matrix=np.asarray(rows, dtype=np.float64))
    got, want = onnx.predict(coerced, outputs), sk.predict(coerced, outputs)
    for name in outputs:
        assert got[name].dtype == want[name].dtype and got[name].shape == want[name].shape
        if want[name].dtype.kind in "biu":
            if kind == "clusterer":  # a point on a boundary may go either way in float32
                continue
            assert np.array_equal(got[name], want[name])
        else:
            scale = max(1.0, float(np.abs(want[name]).max()))
            np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-5 * scale)
