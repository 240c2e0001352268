"""`skship serve` end to end: a real server on loopback (a subprocess), real HTTP clients.

One server serves three models for the whole module: a tabular pipeline saved with a
DataFrame sample (int, float, text and categorical columns), a LogisticRegression saved
with an array sample, and the serving conformance model. A second server checks the body
limit and pre-forked workers under concurrent load.
"""

from __future__ import annotations

import http.client
import io
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import skship
from skship.errors import CODES

ROOT = Path(__file__).resolve().parents[1]
CONFORMANCE = ROOT / "conformance/serving/1"
CLI = [sys.executable, "-c", "from skship.cli import main; main()"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(
    args: list[str], tmp: Path, timeout: float = 240.0
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    with open(tmp / f"server-{port}.log", "wb") as log:  # the child keeps its own handle
        proc = subprocess.Popen(
            [*CLI, "serve", *args, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError((tmp / f"server-{port}.log").read_text())
        try:
            if _request(url, "GET", "/v2/health/ready")[0] == 200:
                return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise AssertionError("server did not become ready: " + (tmp / f"server-{port}.log").read_text())


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _request(
    url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _post_json(url: str, path: str, obj: Any) -> tuple[int, Any]:
    status, _, data = _request(
        url, "POST", path, json.dumps(obj).encode(), {"Content-Type": "application/json"}
    )
    return status, json.loads(data)


def _tabular_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(np.int64),
            "income": rng.normal(50, 10, n),
            "city": rng.choice(["paris", "lyon", "nice"], n).astype(object),
            "plan": pd.Categorical(rng.choice(["free", "pro"], n), categories=["free", "pro"]),
        }
    )


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    tmp = tmp_path_factory.mktemp("serve-models")
    df = _tabular_frame(300, 0)
    y = np.where(df["income"] + (df["plan"] == "pro") * 5 > 52, "yes", "no")
    tab = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["city", "plan"]),
            (StandardScaler(), ["age", "income"]),
        ),
        LogisticRegression(max_iter=500),
    ).fit(df, y)
    skship.dump(tab, tmp / "tab.skops", sample=df)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 5))
    arr = LogisticRegression().fit(X, (X[:, 0] + X[:, 1] > 0).astype(np.int64))
    skship.dump(arr, tmp / "arr.skops", sample=X)
    return {"dir": tmp, "tab": tab, "arr": arr, "df": df, "X": X}


@pytest.fixture(scope="module")
def server(models: dict[str, Any]) -> Iterator[str]:
    tmp = models["dir"]
    proc, url = _start(
        [
            str(tmp / "tab.skops"),
            str(tmp / "arr.skops"),
            f"conformance={CONFORMANCE / 'model.skops'}",
            # small bodies on the event loop, larger ones on the prediction thread: both paths
            "--inline-max-kb",
            "0.5",
        ],
        tmp,
    )
    yield url
    _stop(proc)


# --------------------------------------------------------------------------- contracts


def test_every_conformance_vector_passes(server: str) -> None:
    from skship.serve.conformance import LEVELS, check

    results = check(server)
    assert {r.level for r in results} == set(LEVELS)
    failed = [(r.id, r.detail) for r in results if not r.passed]
    assert not failed


def test_committed_vectors_match_the_generator(tmp_path: Path) -> None:
    """The vectors are data generated from a seed: regenerating changes nothing."""
    from skship.serve.conformance import write_cases

    ids = write_cases(tmp_path)
    for case_id in ids:
        assert (tmp_path / case_id / "case.json").read_text() == (
            CONFORMANCE / case_id / "case.json"
        ).read_text(), case_id
    assert sorted(p.name for p in CONFORMANCE.iterdir() if p.is_dir()) == sorted(ids)


def test_answers_follow_the_schemas(server: str) -> None:
    from skship.serve.conformance import _validator

    schemas = ROOT / "schemas/serving/1"
    status, sig = _post_json(server, "/v2/models/tab/infer", {"columns": {"age": [1]}})
    assert status == 422
    assert not list(_validator("error", schemas).iter_errors(sig))
    status, _, data = _request(server, "GET", "/v2/models/tab/signature")
    body = json.loads(data)
    assert status == 200 and not list(_validator("signature", schemas).iter_errors(body))
    assert [c["name"] for c in body["inputs"]] == ["age", "income", "city", "plan"]
    assert [c["datatype"] for c in body["inputs"]] == ["INT64", "FP64", "BYTES", "BYTES"]
    assert body["inputs"][3]["categories"] == ["free", "pro"]
    assert body["source"] == "file"


# --------------------------------------------------------------------------- clients


def test_tritonclient_works_unchanged(server: str, models: dict[str, Any]) -> None:
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    client = httpclient.InferenceServerClient(server.removeprefix("http://"))
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("arr")
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    meta = client.get_model_metadata("arr")
    assert meta["inputs"][0]["shape"] == [-1, 5]
    X = models["X"][:7].astype(np.float32)
    for binary in (False, True):
        inp = httpclient.InferInput("input-0", list(X.shape), "FP32")
        inp.set_data_from_numpy(X, binary_data=binary)
        outs = [
            httpclient.InferRequestedOutput("predict", binary_data=binary),
            httpclient.InferRequestedOutput("predict_proba", binary_data=binary),
        ]
        result = client.infer("arr", [inp], outputs=outs)
        np.testing.assert_array_equal(result.as_numpy("predict"), models["arr"].predict(X))
        np.testing.assert_allclose(
            result.as_numpy("predict_proba"), models["arr"].predict_proba(X), rtol=1e-6
        )
        assert result.as_numpy("predict").dtype == np.int64
    df = _tabular_frame(6, 9)
    inputs = []
    for name, datatype in (
        ("age", "INT64"),
        ("income", "FP64"),
        ("city", "BYTES"),
        ("plan", "BYTES"),
    ):
        values = df[name].to_numpy()
        if datatype == "BYTES":
            values = np.array([str(v).encode() for v in values], dtype=object)
        inp = httpclient.InferInput(name, [len(df)], datatype)
        inp.set_data_from_numpy(values, binary_data=True)
        inputs.append(inp)
    result = client.infer("tab", inputs, outputs=[httpclient.InferRequestedOutput("predict")])
    got = [v.decode() for v in result.as_numpy("predict")]
    assert got == models["tab"].predict(df).tolist()
    with pytest.raises(InferenceServerException) as info:
        client.infer("tab", inputs[:3])
    assert "plan" in str(info.value)


def test_sagemaker_formats(server: str, models: dict[str, Any]) -> None:
    X = models["X"][:4]
    want = models["arr"].predict(X)
    target = {"X-Amzn-SageMaker-Target-Model": "arr"}
    status, _, _ = _request(server, "GET", "/ping")
    assert status == 200
    csv_body = "\n".join(",".join(repr(float(v)) for v in row) for row in X).encode()
    status, headers, data = _request(
        server,
        "POST",
        "/invocations",
        csv_body,
        {"Content-Type": "text/csv", "Accept": "text/csv", **target},
    )
    assert status == 200 and headers["content-type"].startswith("text/csv")
    assert [int(v) for v in data.decode().split()] == want.tolist()
    buf = io.BytesIO()
    np.save(buf, X)
    status, headers, data = _request(
        server,
        "POST",
        "/invocations",
        buf.getvalue(),
        {"Content-Type": "application/x-npy", "Accept": "application/x-npy", **target},
    )
    assert status == 200
    np.testing.assert_array_equal(np.load(io.BytesIO(data)), want)
    status, _, data = _request(
        server,
        "POST",
        "/invocations?outputs=predict_proba",
        json.dumps({"instances": X.tolist()}).encode(),
        {"Content-Type": "application/json", **target},
    )
    assert status == 200
    np.testing.assert_allclose(json.loads(data)["predictions"], models["arr"].predict_proba(X))
    status, _, data = _request(
        server, "POST", "/invocations", csv_body, {"Content-Type": "text/csv"}
    )
    assert status == 404 and json.loads(data)["code"] == "E-SERVE-NOT-FOUND"  # 3 models: name one


def test_huggingface_format(server: str, models: dict[str, Any]) -> None:
    df = _tabular_frame(5, 3)
    data = {c: df[c].astype(str if c in ("city", "plan") else df[c].dtype).tolist() for c in df}
    status, body = _post_json(server, "/models/tab", {"inputs": {"data": data}})
    assert status == 200 and body == models["tab"].predict(df).tolist()


# --------------------------------------------------------------------------- tabular data


def _arrow_body(df: pd.DataFrame, *, stream: bool) -> bytes:
    import pyarrow as pa

    table = pa.Table.from_pandas(df, preserve_index=False)
    sink = pa.BufferOutputStream()
    writer = pa.ipc.new_stream if stream else pa.ipc.new_file
    with writer(sink, table.schema) as w:
        w.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def test_tabular_bodies_keep_dtypes_and_answer_like_the_model(
    server: str, models: dict[str, Any]
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = _tabular_frame(25, 4)
    want = models["tab"].predict(df).tolist()
    parquet = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), parquet)
    records = json.loads(df.astype({"plan": str}).to_json(orient="records"))
    bodies = {
        "application/vnd.apache.arrow.stream": _arrow_body(df, stream=True),
        "application/vnd.apache.arrow.file": _arrow_body(df, stream=False),
        "application/vnd.apache.parquet": bytes(parquet.getvalue().to_pybytes()),
        "text/csv": df.to_csv(index=False).encode(),
        "application/json": json.dumps(records).encode(),
    }
    structured = np.rec.fromarrays(
        [
            df["age"].to_numpy(),
            df["income"].to_numpy(),
            df["city"].to_numpy(dtype="U8"),
            df["plan"].to_numpy(dtype="U8"),
        ],
        names=list(df.columns),
    )
    buf = io.BytesIO()
    np.save(buf, structured, allow_pickle=False)
    bodies["application/x-npy"] = buf.getvalue()
    for media, body in bodies.items():
        status, _, data = _request(
            server, "POST", "/v2/models/tab/infer", body, {"Content-Type": media}
        )
        assert status == 200, (media, data)
        assert json.loads(data)["outputs"][0]["data"] == want, media


def test_large_json_batches_answer_like_the_model(server: str, models: dict[str, Any]) -> None:
    """Bodies big enough for the simdjson path (a [rows, features] matrix, nested or flat,
    and one tensor per column) answer like the model; a list hidden in a row is refused
    with the general path's code, and the server goes on serving."""
    from skship.serve.codecs import FAST_JSON_MIN_BYTES

    rng = np.random.default_rng(7)
    X = rng.normal(size=(400, 5))
    want = models["arr"].predict(X).tolist()
    matrix = {"name": "input-0", "datatype": "FP64", "shape": [400, 5]}
    df = _tabular_frame(400, 8)
    tab_want = models["tab"].predict(df).tolist()
    columns = [
        {
            "name": c,
            "datatype": "FP64" if df[c].dtype.kind in "if" else "BYTES",
            "shape": [400],
            "data": df[c].astype(float if df[c].dtype.kind in "if" else str).tolist(),
        }
        for c in df.columns
    ]
    for model, body, expect in (
        ("arr", {"inputs": [{**matrix, "data": X.tolist()}]}, want),
        ("arr", {"inputs": [{**matrix, "data": X.ravel().tolist()}]}, want),
        ("tab", {"inputs": columns}, tab_want),
    ):
        assert len(json.dumps(body)) >= FAST_JSON_MIN_BYTES
        status, answer = _post_json(server, f"/v2/models/{model}/infer", body)
        assert status == 200, answer
        assert answer["outputs"][0]["data"] == expect
    hidden = X.tolist()
    hidden[3] = [[], [X[3, 0], X[3, 1]], *X[3, 2:].tolist()]  # 5 values in 5 cells
    status, answer = _post_json(
        server, "/v2/models/arr/infer", {"inputs": [{**matrix, "data": hidden}]}
    )
    assert answer["code"] == "E-SERVE-SHAPE" and 400 <= status < 500, answer
    status, answer = _post_json(
        server, "/v2/models/arr/infer", {"inputs": [{**matrix, "data": X.tolist()}]}
    )
    assert status == 200 and answer["outputs"][0]["data"] == want


@pytest.mark.parametrize(
    ("columns", "code", "names"),
    [
        ({"age": [30], "income": [1.0], "city": ["nice"]}, "E-SERVE-COLUMN-MISSING", "plan"),
        (
            {"age": [30], "income": [1.0], "city": ["x"], "plan": ["pro"], "zip": [1]},
            "E-SERVE-COLUMN-UNKNOWN",
            "zip",
        ),
        ({"age": [30.5], "income": [1.0], "city": ["x"], "plan": ["pro"]}, "E-SERVE-DTYPE", "age"),
        (
            {"age": [30], "income": ["lots"], "city": ["x"], "plan": ["pro"]},
            "E-SERVE-DTYPE",
            "income",
        ),
        (
            {"age": [30], "income": [1.0], "city": ["x"], "plan": ["gold"]},
            "E-SERVE-CATEGORY",
            "plan",
        ),
        (
            {"age": [30], "income": [None], "city": ["x"], "plan": ["pro"]},
            "E-SERVE-VALUE",
            "income",
        ),
        (
            {"age": [30, 31], "income": [1.0], "city": ["x"], "plan": ["pro"]},
            "E-SERVE-SHAPE",
            "income",
        ),
        ({"age": [2**70], "income": [1.0], "city": ["x"], "plan": ["pro"]}, "E-SERVE-DTYPE", "age"),
    ],
)
def test_refusals_name_the_column(
    server: str, columns: dict[str, Any], code: str, names: str
) -> None:
    status, body = _post_json(server, "/v2/models/tab/infer", {"columns": columns})
    assert 400 <= status < 500
    assert body["code"] == code and names in body["error"]


def test_request_ids_and_metrics(server: str) -> None:
    status, headers, _ = _request(
        server, "GET", "/v2/health/live", headers={"X-Request-Id": "abc-1"}
    )
    assert status == 200 and headers["x-request-id"] == "abc-1"
    status, _, data = _request(server, "GET", "/metrics")
    text = data.decode()
    assert status == 200
    assert 'skship_requests_total{route="live",status="200"}' in text
    assert "skship_request_seconds_bucket" in text


# --------------------------------------------------------------------------- robustness

bodies = st.one_of(
    st.binary(max_size=300),
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=20,
    ).map(lambda v: json.dumps(v).encode()),
    st.builds(
        lambda inputs: json.dumps({"inputs": inputs}).encode(),
        st.lists(
            st.fixed_dictionaries(
                {
                    "name": st.sampled_from(["input-0", "age", "plan", "x"]),
                    "datatype": st.sampled_from(["FP64", "INT64", "BYTES", "BOOL", "FP16", "X"]),
                    "shape": st.lists(st.integers(-1, 4), max_size=3),
                    "data": st.lists(
                        st.integers(-3, 3) | st.text(max_size=3) | st.booleans(), max_size=8
                    ),
                }
            ),
            max_size=3,
        ),
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=bodies,
    media=st.sampled_from(
        [
            "application/json",
            "text/csv",
            "application/x-npy",
            "application/vnd.apache.arrow.stream",
            "application/octet-stream",
            "application/vnd.apache.parquet",
        ]
    ),
    path=st.sampled_from(
        ["/v2/models/tab/infer", "/v2/models/arr/infer", "/invocations", "/models/tab"]
    ),
)
def test_arbitrary_bodies_get_a_coded_answer_never_a_500(
    server: str, body: bytes, media: str, path: str
) -> None:
    headers = {"Content-Type": media, "X-Amzn-SageMaker-Target-Model": "arr"}
    if media == "application/octet-stream":
        headers["Inference-Header-Content-Length"] = str(min(len(body), 7))
    status, _, data = _request(server, "POST", path, body, headers)
    assert status < 500, data
    if status >= 400:
        assert json.loads(data)["code"] in CODES
    assert _request(server, "GET", "/v2/health/ready")[0] == 200


# --------------------------------------------------------------------------- start-up, limits, load


def _untrusted_model(tmp: Path) -> tuple[Any, Path]:
    """A pipeline naming _operator.neg, which the default trust does not cover."""
    import operator

    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X = np.arange(20.0).reshape(10, 2)
    model = make_pipeline(FunctionTransformer(operator.neg), LinearRegression()).fit(X, X[:, 0])
    path = tmp / "neg.skops"
    skship.dump(model, path, sample=X)
    return model, path


def _read_response(f: Any) -> tuple[int, dict[str, str], bytes]:
    status = int(f.readline().split()[1])
    headers: dict[str, str] = {}
    while (line := f.readline()) not in (b"\r\n", b""):
        k, _, v = line.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, f.read(int(headers.get("content-length", "0")))


def test_http_framing_head_expect_continue_and_pipelining(server: str) -> None:
    """Each response's head is held to go out with its body (skship.serve.protocol): a
    HEAD answer (no body) still gets its head, ``100 Continue`` is not held, and
    pipelined requests get their answers in order."""
    host, port = server.removeprefix("http://").split(":")
    body = json.dumps(
        {"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 5], "data": [0.5] * 5}]}
    ).encode()
    post = (
        f"POST /v2/models/arr/infer HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=10) as s:
        f = s.makefile("rb")
        s.sendall(f"HEAD /v2/health/live HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        status, headers, _ = _read_response(io.BytesIO(f.readline() + _head_rest(f)))
        assert status == 200 and headers["content-type"] == "application/json"
        s.sendall(post + b"Expect: 100-continue\r\n\r\n")
        assert f.readline().startswith(b"HTTP/1.1 100")  # asked for the body: not held
        assert f.readline() == b"\r\n"
        s.sendall(body)
        status, _, answer = _read_response(f)
        assert status == 200 and json.loads(answer)["outputs"][0]["shape"] == [1]
        s.sendall((post + b"\r\n" + body) * 3)  # pipelined
        for _ in range(3):
            status, _, answer = _read_response(f)
            assert status == 200 and json.loads(answer)["model_name"] == "arr"


def _head_rest(f: Any) -> bytes:
    out = b""
    while (line := f.readline()) not in (b"\r\n", b""):
        out += line
    return out + b"\r\n"


def test_untrusted_model_is_refused_at_startup(tmp_path: Path) -> None:
    _, path = _untrusted_model(tmp_path)
    run = subprocess.run(
        [*CLI, "serve", str(path), "--port", "1"], capture_output=True, text=True, timeout=300
    )
    assert (
        run.returncode == 2
        and "E-TRUST-UNTRUSTED-TYPE" in run.stderr
        and "_operator.neg" in run.stderr
    )
    run = subprocess.run(
        [*CLI, "serve", str(path), "--backend", "onnx", "--trust", "_operator.neg", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    # trusted, it loads; skl2onnx cannot convert FunctionTransformer(operator.neg), so the
    # onnx backend refuses to start
    assert run.returncode == 2 and "E-ONNX-CONVERT" in run.stderr
    assert "--backend onnx for model 'neg'" in run.stderr


def test_limits_and_workers_under_concurrent_load(models: dict[str, Any]) -> None:
    """Two pre-forked workers, a 64 KiB body cap, a model trusted through a policy file:
    oversized bodies get 413, and 200 mixed concurrent requests are each answered,
    correctly, by the row they sent."""
    tmp = models["dir"]
    neg, neg_path = _untrusted_model(tmp)
    policy = tmp / "policy.txt"
    policy.write_text("# reviewed by a person\n_operator.neg\n")
    args = [str(tmp / "arr.skops"), str(neg_path), "--policy", str(policy)]
    proc, url = _start([*args, "--workers", "2", "--max-body-mb", "0.0625"], tmp)
    try:
        status, body = _post_json(url, "/v2/models/neg/infer", [[1.0, 2.0]])
        assert status == 200
        assert body["outputs"][0]["data"] == pytest.approx(
            neg.predict(np.array([[1.0, 2.0]])).tolist()
        )
        big = json.dumps({"instances": np.zeros((3000, 5)).tolist()}).encode()
        status, _, data = _request(
            url, "POST", "/v2/models/arr/infer", big, {"Content-Type": "application/json"}
        )
        assert status == 413 and json.loads(data)["code"] == "E-SERVE-PAYLOAD-TOO-LARGE"
        X = models["X"]
        want = models["arr"].predict(X)

        def one(i: int) -> bool:
            row = X[i % len(X)]
            if i % 3 == 0:
                status, body = _post_json(
                    url,
                    "/v2/models/arr/infer",
                    {
                        "inputs": [
                            {
                                "name": "input-0",
                                "datatype": "FP64",
                                "shape": [1, 5],
                                "data": row.tolist(),
                            }
                        ]
                    },
                )
                got = body["outputs"][0]["data"][0]
            elif i % 3 == 1:
                status, _, data = _request(
                    url,
                    "POST",
                    "/invocations",
                    ",".join(str(float(v)) for v in row).encode(),
                    {
                        "Content-Type": "text/csv",
                        "Accept": "text/csv",
                        "X-Amzn-SageMaker-Target-Model": "arr",
                    },
                )
                got = int(data.decode())
            else:
                status, _, data = _request(
                    url,
                    "POST",
                    "/v2/models/arr/infer",
                    b"not json",
                    {"Content-Type": "application/json"},
                )
                return status == 400 and json.loads(data)["code"] == "E-SERVE-BAD-REQUEST"
            return status == 200 and got == want[i % len(X)]

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(one, range(200)))
        assert all(answers), answers.count(False)
    finally:
        _stop(proc)


def test_serve_help_does_not_import_sklearn() -> None:
    code = (
        "import sys\nfrom skship.cli._app import build_app\n"
        "app = build_app()\nimport typer.main\n"
        "cmd = typer.main.get_command(app)\nassert 'serve' in cmd.commands\n"
        "assert 'sklearn' not in sys.modules and 'numpy' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_one_write_joins_each_head_to_its_body() -> None:
    """What uvicorn writes for one response reaches the socket as one write."""
    import asyncio

    from skship.serve.protocol import OneWrite, one_write_send

    class Socket:  # what a transport hands to the kernel, one entry per write
        def __init__(self) -> None:
            self.writes: list[bytes] = []

        def write(self, data: bytes) -> None:
            self.writes.append(data)

        def writelines(self, parts: Any) -> None:
            self.writes.append(b"".join(parts))

    sock = Socket()
    out = OneWrite(sock)

    async def uvicorn_send(message: dict[str, Any]) -> None:  # uvicorn's two writes
        out.write(b"HEAD" if message["type"] == "http.response.start" else message["body"])

    send = one_write_send(uvicorn_send, out)

    async def respond(body: bytes) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    asyncio.run(respond(b"small"))
    asyncio.run(respond(b"x" * 100_000))
    assert sock.writes == [b"HEADsmall", b"HEAD" + b"x" * 100_000]
    out.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # outside a response start: at once
    assert sock.writes[-1].startswith(b"HTTP/1.1 100")


def test_auto_inline_takes_cheap_batches_on_the_loop(models: dict[str, Any]) -> None:
    """--inline-max-kb -1: a batch body (over 16 KiB) runs on the event loop once the
    model's predictions of such bodies are measured cheap, on a prediction thread before
    that, when they are costly, or beyond 256 KiB."""
    import asyncio

    from skship.serve.app import AUTO_INLINE_BATCH_BYTES, build_app
    from skship.serve.models import ModelSpec, ServeConfig, load_served

    config = ServeConfig(models=(ModelSpec("arr", str(models["dir"] / "arr.skops")),))
    served = load_served(config.models[0], (), "sklearn")
    server = build_app([served], config).state.server
    rows = np.random.default_rng(0).normal(size=(400, 5))
    body = json.dumps(
        {"inputs": [{"name": "x", "datatype": "FP64", "shape": [400, 5], "data": rows.tolist()}]}
    ).encode()
    assert 16 * 1024 < len(body) < AUTO_INLINE_BATCH_BYTES
    assert not server.on_loop("arr", len(body), None)  # not measured yet: a thread
    from skship.serve.app import _oip_answer, _oip_prepare

    async def infer() -> Any:
        return await server.infer(
            served,
            lambda: _oip_prepare(server, served, body, "application/json", {}, None),
            lambda result, chosen, extra: _oip_answer(served, result, chosen, extra),
            len(body),
        )

    answer = json.loads(asyncio.run(infer()).body)
    assert answer["outputs"][0]["data"] == models["arr"].predict(rows).tolist()
    measured = server.byte_costs["arr"]  # CPU seconds per byte, from that prediction
    assert 0 < measured * len(body) < 0.05
    server.byte_costs["arr"] = 0.0001 / len(body)  # 0.1 ms for this body: on the loop
    assert server.on_loop("arr", len(body), None)
    assert not server.on_loop("arr", AUTO_INLINE_BATCH_BYTES + 1, None)
    server.byte_costs["arr"] = 0.0009 / len(body)  # 0.9 ms: still on the loop
    assert server.on_loop("arr", len(body), None)
    server.byte_costs["arr"] = 0.002 / len(body)  # 2 ms: a thread
    assert not server.on_loop("arr", len(body), None)
    server.pool.shutdown()


def test_inline_requests_leave_the_loop_a_turn(models: dict[str, Any]) -> None:
    """Many inline requests ready at once do not hold the event loop: after about
    INLINE_TURN_SECONDS of inline work, the rest wait for the loop's next turn, so a
    callback queued behind them (a health probe's, a new connection's) runs after a few
    of them, not after all. Every request is still answered, in full, on the loop."""
    import asyncio

    from skship.serve.app import INLINE_TURN_SECONDS, _oip_answer, _oip_prepare, build_app
    from skship.serve.models import ModelSpec, ServeConfig, load_served

    spec = ModelSpec("arr", str(models["dir"] / "arr.skops"))
    served = load_served(spec, (), "sklearn")
    server = build_app([served], ServeConfig(models=(spec,), threads=1)).state.server
    server.costs["arr"] = 0.0001  # measured cheap: small bodies run inline
    X = models["X"][:1]
    body = json.dumps(
        {"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 5], "data": X.tolist()}]}
    ).encode()
    order: list[Any] = []
    slow = INLINE_TURN_SECONDS / 2  # each request's inline work

    def prepare(i: int) -> Any:
        time.sleep(slow)
        order.append(i)
        return _oip_prepare(server, served, body, "application/json", {}, None)

    async def scenario() -> list[Any]:
        assert server.on_loop("arr", len(body), None)
        calls = [
            server.infer(
                served,
                lambda i=i: prepare(i),
                lambda result, chosen, extra: _oip_answer(served, result, chosen, extra),
                len(body),
            )
            for i in range(12)
        ]
        tasks = [asyncio.ensure_future(c) for c in calls]
        asyncio.get_running_loop().call_soon(order.append, "probe")
        return list(await asyncio.gather(*tasks))

    answers = asyncio.run(scenario())
    want = models["arr"].predict(X).tolist()
    assert [json.loads(a.body)["outputs"][0]["data"] for a in answers] == [want] * 12
    assert sorted(x for x in order if x != "probe") == list(range(12))
    assert order.index("probe") <= 4, order  # without the turn budget: 12
    server.pool.shutdown()


def test_auto_inline_small_bodies_depend_on_cost_and_threads(models: dict[str, Any]) -> None:
    """A small body runs on the loop under 0.3 ms of measured prediction, and under 1 ms
    when there is one prediction thread (the hand-off then only costs); with more
    threads a 0.5 ms model's small requests go to the threads, which can run together."""
    from skship.serve.app import AUTO_INLINE_BYTES, build_app
    from skship.serve.models import ModelSpec, ServeConfig, load_served

    spec = ModelSpec("arr", str(models["dir"] / "arr.skops"))
    served = load_served(spec, (), "sklearn")
    for threads, half_ms_on_loop in ((1, True), (2, False)):
        server = build_app([served], ServeConfig(models=(spec,), threads=threads)).state.server
        assert not server.on_loop("arr", 100, None)  # not measured yet: a thread
        server.costs["arr"] = 0.0002
        assert server.on_loop("arr", 100, None)
        assert server.on_loop("arr", AUTO_INLINE_BYTES, None)
        server.costs["arr"] = 0.0005
        assert server.on_loop("arr", 100, None) is half_ms_on_loop
        server.costs["arr"] = 0.002
        assert not server.on_loop("arr", 100, None)
        server.pool.shutdown()


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [b"content-type", b"Content-Type", b"x-request-id", b"content-length", b"a"]
            ),
            st.binary(max_size=6),
        ),
        max_size=6,
    ),
    st.sampled_from(["content-type", "x-request-id", "content-length", "missing"]),
)
def test_header_lookup_is_starlettes(headers: list[tuple[bytes, bytes]], name: str) -> None:
    """The inference route's header dict answers like Starlette's ``headers.get``."""
    from starlette.requests import Request

    from skship.serve.app import _header

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    assert _header(Request(scope), name) == Request(dict(scope)).headers.get(name)
