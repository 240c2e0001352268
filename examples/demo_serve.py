"""The demo's serving stage: serve the saved model, query it in two formats, check, stop.

``stage(model_path, X_test, y_test, workdir)`` starts ``skship serve`` on a free loopback
port, sends an OIP v2 JSON request (the KServe/MLServer format) and a SageMaker CSV
request, checks every answer against the model loaded in this process, prints the
answers and the single-row latency, stops the server and returns the failures (an empty
list when everything matched). Run alone, it trains a small model and runs the stage.
"""

from __future__ import annotations

import http.client
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import skship


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"skship serve exited with status {proc.returncode}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/v2/health/ready")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
        finally:
            conn.close()
    raise RuntimeError("skship serve did not become ready")


def stage(model_path: Path, X_test: Any, y_test: Any, workdir: Path) -> list[str]:
    """Serve ``model_path``; returns the failures (empty when every answer matched)."""
    failures: list[str] = []
    model = skship.load(model_path)
    rows = np.asarray(X_test, dtype=np.float64)[:20]
    want = np.asarray(
        model.predict(X_test[:20] if not hasattr(X_test, "iloc") else X_test.iloc[:20])
    )
    port = _free_port()
    log = Path(workdir) / "serve.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "skship.serve", f"demo={model_path}", "--port", str(port)],
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(port, proc)
        print(f"serving: skship serve demo={Path(model_path).name} on 127.0.0.1:{port}")
        oip = {
            "inputs": [
                {
                    "name": "input-0",
                    "datatype": "FP64",
                    "shape": list(rows.shape),
                    "data": rows.ravel().tolist(),
                }
            ],
            "outputs": [{"name": "predict"}],
        }
        status, body = _post(
            port,
            "/v2/models/demo/infer",
            json.dumps(oip).encode(),
            {"Content-Type": "application/json"},
        )
        got = json.loads(body)["outputs"][0]["data"] if status == 200 else None
        if got != want.tolist():
            failures.append(f"OIP JSON answer {status} {body[:200]!r} != {want.tolist()}")
        print(f"serving: OIP v2 JSON, {len(rows)} rows -> predict {got}")
        csv = "\n".join(",".join(repr(float(v)) for v in r) for r in rows).encode()
        status, body = _post(
            port, "/invocations", csv, {"Content-Type": "text/csv", "Accept": "text/csv"}
        )
        got_csv = (
            [type(want[0].item())(v) for v in body.decode().split()] if status == 200 else None
        )
        if got_csv != want.tolist():
            failures.append(f"SageMaker CSV answer {status} {body[:200]!r} != {want.tolist()}")
        print(f"serving: SageMaker text/csv, {len(rows)} rows -> {len(got_csv or [])} predictions")
        accuracy = float(np.mean(np.asarray(got) == np.asarray(y_test)[:20])) if got else 0.0
        one = json.dumps(
            {
                "inputs": [
                    {
                        "name": "input-0",
                        "datatype": "FP64",
                        "shape": [1, rows.shape[1]],
                        "data": rows[0].tolist(),
                    }
                ]
            }
        ).encode()
        latencies = []
        for _ in range(50):
            t0 = time.perf_counter()
            _post(port, "/v2/models/demo/infer", one, {"Content-Type": "application/json"})
            latencies.append(time.perf_counter() - t0)
        print(
            f"serving: single-row latency median {1000 * statistics.median(latencies):.2f} ms "
            f"over 50 requests (new connection each); accuracy on these rows {accuracy:.2f}"
        )
    except (RuntimeError, OSError, ValueError, KeyError) as exc:
        failures.append(f"serving stage: {exc}; server log: {log.read_text()[-1500:]}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return failures


def main() -> int:
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X_train, y_train)
    with tempfile.TemporaryDirectory(prefix="skship-demo-serve-") as tmp:
        path = Path(tmp) / "model.skops"
        skship.dump(model, path, sample=X_train)
        failures = stage(path, X_test, y_test, Path(tmp))
    for f in failures:
        print(f"FAILED: {f}", file=sys.stderr)
    print("OK" if not failures else "FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
