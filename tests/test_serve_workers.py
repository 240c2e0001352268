"""`skship serve --workers 2 --backend auto`: one real server (a subprocess on loopback)
for the whole module, stopped by SIGTERM in the last test.

It checks what only shows with several processes: each model is converted and verified
once (by the parent), not once per worker; ``auto`` reports the backend it chose and the
timings that decided; /metrics on any worker sums every worker's counts; request ids and
JSON log lines; and SIGTERM lets a request already in flight finish.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import skship
from skship.api import get_signature

pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")

CLI = [sys.executable, "-c", "from skship.cli import main; main()"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


def _events(log: Path) -> list[dict[str, Any]]:
    """The server's log: every line is one JSON object, uvicorn's lines included (the last
    line may be half written)."""
    lines = log.read_text(errors="replace").splitlines()
    out = []
    for i, line in enumerate(lines):
        try:
            out.append(json.loads(line))
        except ValueError:
            if i < len(lines) - 1:
                raise AssertionError(f"not a JSON line: {line!r}") from None
    return out


def _samples(text: str, name: str, **labels: str) -> list[float]:
    """Values of the series ``name`` whose labels include ``labels`` (Prometheus text)."""
    found = []
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        head, value = line.rsplit(" ", 1)
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            found.append(float(value))
    return found


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    import operator

    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    tmp = tmp_path_factory.mktemp("serve-workers")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 4))
    arr = LogisticRegression().fit(X, (X[:, 0] - X[:, 2] > 0).astype(np.int64))
    skship.dump(arr, tmp / "arr.skops", sample=X)
    # skl2onnx has no converter for FunctionTransformer(operator.neg): auto falls back
    neg = make_pipeline(FunctionTransformer(operator.neg), LinearRegression()).fit(X, X[:, 1])
    skship.dump(neg, tmp / "neg.skops")  # no sample: no signature, outputs inferred
    log = tmp / "server.log"
    port = _free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                *CLI,
                "serve",
                str(tmp / "arr.skops"),
                str(tmp / "neg.skops"),
                "--trust",
                "_operator.neg",
                "--workers",
                "2",
                "--backend",
                "auto",
                "--access-log",
                "--onnx-cache",
                str(tmp / "onnx-cache"),
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:  # ready: both workers have loaded both models
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("server did not start:\n" + log.read_text())
            loaded = [e for e in _events(log) if e.get("event") == "model.loaded"]
            if len(loaded) == 4:
                try:
                    if _request(url, "GET", "/v2/health/ready")[0] == 200:
                        break
                except OSError:
                    pass
            time.sleep(0.3)
        yield {"url": url, "proc": proc, "log": log, "X": X, "arr": arr, "neg": neg, "dir": tmp}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _infer(
    url: str, model: str, rows: np.ndarray[Any, Any], headers: dict[str, str] | None = None
) -> Any:
    body = {
        "inputs": [
            {
                "name": "input-0",
                "datatype": "FP64",
                "shape": list(rows.shape),
                "data": rows.ravel().tolist(),
            }
        ]
    }
    status, _, data = _request(
        url,
        "POST",
        f"/v2/models/{model}/infer",
        json.dumps(body).encode(),
        {"Content-Type": "application/json", **(headers or {})},
    )
    assert status == 200, data
    return json.loads(data)["outputs"][0]["data"]


def test_each_model_is_converted_once_not_once_per_worker(served: dict[str, Any]) -> None:
    events = _events(served["log"])
    (start,) = [e for e in events if e["event"] == "server.workers"]
    chosen = [e for e in events if e["event"] == "backend.chosen"]
    loaded = [e for e in events if e["event"] == "model.loaded"]
    # the parent converted arr once; both workers loaded its verified bytes
    assert [e["model"] for e in chosen] == ["arr"]
    assert chosen[0]["onnx_conversion"] == "converted" or chosen[0]["backend"] == "sklearn"
    workers = {e["pid"] for e in loaded}
    assert len(workers) == 2 and start["pid"] not in workers
    for e in loaded:
        assert e["backend"] == (chosen[0]["backend"] if e["model"] == "arr" else "sklearn")
        if e["backend"] == "onnx":
            assert e["onnx_conversion"] == "prepared"
    # the same count, from the server itself: the parent's metric file is summed in
    _, _, data = _request(served["url"], "GET", "/metrics")
    text = data.decode()
    assert _samples(text, "skship_onnx_conversions_total", model="arr") == [1.0]
    assert _samples(text, "skship_onnx_conversions_total", model="neg") == []
    # and kept for the next start: one verified conversion in the cache (neg has none)
    assert len(list((served["dir"] / "onnx-cache").glob("*.onnx"))) == 1


def _timings(params: dict[str, Any]) -> dict[str, dict[str, float]]:
    """``timing_{backend}_{size}_us`` parameters (OIP parameters are flat) -> nested."""
    out: dict[str, dict[str, float]] = {}
    for key, value in params.items():
        if key.startswith("timing_") and key.endswith("_us"):
            backend, _, size = key.removeprefix("timing_").removesuffix("_us").partition("_")
            out.setdefault(backend, {})[size] = value
    return out


def test_auto_reports_its_choice_and_the_timings(served: dict[str, Any]) -> None:
    from skship.serve.models import _winner

    url = served["url"]
    _, _, data = _request(url, "GET", "/v2/models/arr")
    meta = json.loads(data)
    params = meta["parameters"]
    timings = _timings(params)
    assert params["requested_backend"] == "auto"
    assert set(timings) == {"sklearn", "onnx"}
    for t in timings.values():
        assert set(t) == {"row", "batch_64"} and all(v > 0 for v in t.values())
    assert params["backend"] == _winner(timings)  # the rule, applied to what it reports
    assert meta["platform"] == f"skship-{params['backend']}"
    from skship.serve.conformance import _validator

    schemas = Path(__file__).resolve().parents[1] / "schemas/serving/1"
    assert not list(_validator("model-metadata", schemas).iter_errors(meta))
    _, _, data = _request(url, "GET", "/v2/models/neg")
    params = json.loads(data)["parameters"]
    assert params["backend"] == "sklearn" and params["requested_backend"] == "auto"
    assert params["backend_code"].startswith("E-ONNX-") and params["backend_reason"]
    assert not _timings(params)
    # both answer like the models themselves, whichever backend won
    X = served["X"]
    assert _infer(url, "arr", X[:20]) == served["arr"].predict(X[:20]).tolist()
    assert _infer(url, "neg", X[:20]) == pytest.approx(served["neg"].predict(X[:20]).tolist())


def test_outputs_come_from_the_file_when_it_records_them(served: dict[str, Any]) -> None:
    """arr was saved with a sample: its signature records the outputs; neg was not: the
    server infers them from the model (rule-serve-signature-outputs)."""
    url, arr = served["url"], served["arr"]
    sig = json.loads(_request(url, "GET", "/v2/models/arr/signature")[2])
    meta = json.loads(_request(url, "GET", "/v2/models/arr")[2])
    recorded = get_signature(served["dir"] / "arr.skops")["outputs"]
    assert sig["outputs_source"] == "file"
    assert [o["name"] for o in sig["outputs"]] == [o["name"] for o in recorded]
    assert [o["name"] for o in meta["outputs"]] == [o["name"] for o in recorded]
    proba = next(o for o in sig["outputs"] if o["name"] == "predict_proba")
    assert proba["labels"] == arr.classes_.tolist() and proba["shape"] == [-1, 2]
    sig = json.loads(_request(url, "GET", "/v2/models/neg/signature")[2])
    assert sig["outputs_source"] == "model" and sig["source"] == "model"
    assert [o["name"] for o in sig["outputs"]] == ["predict"]


def test_metrics_sum_over_the_workers(served: dict[str, Any]) -> None:
    """Every scrape, whichever worker answers it, reports the requests of both (another
    worker's counts are at most FLUSH_SECONDS old: the test waits that out)."""
    from skship.serve.metrics import FLUSH_SECONDS

    url = served["url"]

    def infer_counts(scrapes: int) -> set[float]:
        time.sleep(3 * FLUSH_SECONDS)
        found = set()
        for _ in range(scrapes):
            _, _, data = _request(url, "GET", "/metrics")
            text = data.decode()
            found.add(sum(_samples(text, "skship_requests_total", route="infer", status="200")))
        return found

    (before,) = infer_counts(1)
    X = served["X"]
    start = len(_events(served["log"]))
    sent = 0
    pids: set[int] = set()
    with ThreadPoolExecutor(8) as pool:
        while len(pids) < 2 and sent < 2000:  # until both workers have answered some
            list(pool.map(lambda i: _infer(url, "arr", X[i % 200 : i % 200 + 1]), range(40)))
            sent += 40
            new = _events(served["log"])[start:]
            pids = {e["pid"] for e in new if e.get("event") == "request" and e["route"] == "infer"}
    assert len(pids) == 2, "one worker answered every request"
    assert infer_counts(8) == {before + sent}
    new = _events(served["log"])[start:]
    scraped_by = {e["pid"] for e in new if e.get("event") == "request" and e["route"] == "metrics"}
    assert len(scraped_by) == 2, "one worker answered every scrape"


def test_request_ids_are_echoed_or_made_and_logged(served: dict[str, Any]) -> None:
    url = served["url"]
    status, headers, _ = _request(url, "GET", "/v2/health/live", headers={"X-Request-ID": "rid-7"})
    assert status == 200 and headers["x-request-id"] == "rid-7"
    made = {_request(url, "GET", "/v2/health/live")[1]["x-request-id"] for _ in range(3)}
    assert len(made) == 3 and all(len(r) == 16 and int(r, 16) >= 0 for r in made)
    status, headers, data = _request(
        url,
        "POST",
        "/v2/models/arr/infer",
        b"{not json",
        {"Content-Type": "application/json", "X-Request-ID": "rid-bad"},
    )
    assert status == 400 and headers["x-request-id"] == "rid-bad"
    deadline = time.monotonic() + 10
    while True:
        events = _events(served["log"])
        refused = [e for e in events if e.get("request_id") == "rid-bad"]
        if len(refused) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    kinds = {e["event"]: e for e in refused}
    assert set(kinds) == {"request.refused", "request"}
    assert kinds["request.refused"]["code"] == json.loads(data)["code"]
    assert kinds["request"]["status"] == 400


def test_sigterm_lets_a_request_in_flight_finish(served: dict[str, Any]) -> None:
    """Runs last: the request's body is half sent when the server gets SIGTERM; the rest
    arrives a second later and the answer is still right; then the server exits 0 and
    removes its working directory."""
    url, proc, X = served["url"], served["proc"], served["X"]
    (start,) = [e for e in _events(served["log"]) if e["event"] == "server.workers"]
    rows = X[:50]
    body = "\n".join(",".join(repr(float(v)) for v in row) for row in rows).encode()
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        head = (
            "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
            "Accept: application/json\r\nX-Amzn-SageMaker-Target-Model: arr\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        sock.sendall(head + body[: len(body) // 2])
        time.sleep(0.5)  # the worker is now reading this request
        proc.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        sock.sendall(body[len(body) // 2 :])
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert b" 200 " in status_line, answer
    payload = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert payload["predictions"] == served["arr"].predict(rows).tolist()
    assert proc.wait(timeout=60) == 0
    assert not os.path.exists(start["workdir"])
    events = _events(served["log"])  # shutdown lines too, all JSON
    assert any(e["event"] == "log" and e["logger"].startswith("uvicorn") for e in events)
    # uvicorn's own access lines stay off (skship's "request" events are the access log)
    assert not [e for e in events if e.get("logger") == "uvicorn.access"]
    with pytest.raises(OSError):
        _request(url, "GET", "/v2/health/live")


def test_the_onnx_cache_skips_conversion_for_the_same_file_and_versions(tmp_path: Path) -> None:
    """In process (no server): a verified conversion stored under the file's sha256 is
    loaded on the next start, answers like the fresh one, and a damaged entry is
    converted again rather than trusted."""
    from sklearn.linear_model import LogisticRegression

    from skship.serve import metrics
    from skship.serve.codecs import Table, coerce
    from skship.serve.models import ModelSpec, load_served

    rng = np.random.default_rng(5)
    X = rng.normal(size=(80, 3))
    clf = LogisticRegression().fit(X, (X[:, 1] > 0).astype(np.int64))
    skship.dump(clf, tmp_path / "m.skops", sample=X)
    spec = ModelSpec("m", str(tmp_path / "m.skops"))
    cache = tmp_path / "cache"

    def start() -> Any:
        return load_served(spec, (), "onnx", onnx_cache=str(cache))

    before = metrics._conversions.get("m", 0)
    first = start()
    assert first.choice is not None and first.choice.conversion == "converted"
    entries = sorted(p.suffixes[-1] for p in cache.iterdir())
    assert entries == [".json", ".onnx"]
    second = start()
    assert second.choice is not None and second.choice.conversion == "cache"
    assert metrics._conversions.get("m", 0) - before == 1  # the second start did not convert
    rows = coerce(Table(matrix=X[:30]), first.contract)
    for out in ("predict", "predict_proba"):
        a = first.backend.predict(rows, [out])[out]
        b = second.backend.predict(rows, [out])[out]
        assert a.dtype == b.dtype and np.array_equal(a, b)
    (onnx_file,) = cache.glob("*.onnx")
    onnx_file.write_bytes(b"not an onnx graph")
    third = start()
    assert third.choice is not None and third.choice.conversion == "converted"
    assert onnx_file.read_bytes() != b"not an onnx graph"  # rewritten by the new conversion
    # another file (another sha256) has another entry
    skship.dump(LogisticRegression(C=0.5).fit(X, X[:, 0] > 0), tmp_path / "m.skops", sample=X)
    assert start().choice.conversion == "converted"  # type: ignore[union-attr]
    assert len(list(cache.glob("*.onnx"))) == 2
