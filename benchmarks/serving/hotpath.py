"""Where a single-row request's time goes on the serving hot path, step by step.

For one zoo model and backend, times (median of ``--n`` calls, microseconds):

* ``floor``: the backend's own predict on already-coerced rows (onnxruntime ``run``, the
  sklearn backend's verified plan, or the estimator's method), on a thread configured like
  a prediction thread; ``floor_model``: the estimator's own ``predict`` (sklearn backend);
* ``decode``, ``oip_tensors``, ``coerce``, ``predict``, ``encode``: the request path's
  steps, called directly on the same OIP JSON body the benchmark sends (``oip_columns``
  instead of ``oip_tensors`` + ``coerce`` when the request takes that short cut: one
  ``[rows]`` tensor per named column);
* ``asgi``: the whole application (routing, body, the thread hand-off, the answer) called
  in-process through ASGI, no socket;
* ``http``: a keep-alive HTTP/1.1 round trip to a real ``skship serve`` on loopback
  (one client, sequential requests): what a client sees at concurrency 1.

    uv run python benchmarks/serving/hotpath.py --model a --backend onnx
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def _median_us(fn: Any, n: int) -> float:
    fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e6 * statistics.median(times)


async def _asgi_call(app: Any, path: str, body: bytes) -> int:
    sent: list[dict[str, Any]] = []
    done = False

    async def receive() -> dict[str, Any]:
        nonlocal done
        if done:
            await asyncio.sleep(3600)
        done = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    await app(scope, receive, send)
    status: int = sent[0]["status"]
    return status


def _http_p50_us(host: str, port: int, path: str, body: bytes, n: int) -> float:
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")
    times = []
    try:
        for i in range(n + 20):
            t0 = time.perf_counter()
            s.sendall(request)
            length = 0
            while True:
                line = f.readline()
                if line in (b"\r\n", b""):
                    break
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            f.read(length)
            if i >= 20:
                times.append(time.perf_counter() - t0)
    finally:
        s.close()
    return 1e6 * statistics.median(times)


def profile(
    letter: str, backend_name: str, n: int, scale: float, extra: list[str], rows: int = 1
) -> dict[str, Any]:
    from bench import _free_port, _stop, oip_body, start_skship
    from zoo import BUILDERS

    import skship
    from skship.serve import codecs
    from skship.serve.app import _oip_answer, _oip_prepare, build_app
    from skship.serve.backends import configure_predict_thread
    from skship.serve.models import ModelSpec, ServeConfig, load_served

    _, model, X = BUILDERS[letter](scale)
    work = Path(tempfile.mkdtemp(prefix="skship-hotpath-"))
    path = work / "m.skops"
    skship.dump(model, path, sample=X)
    sub = X.iloc[:rows] if hasattr(X, "iloc") else X[:rows]
    body = oip_body(sub)
    inline = -1
    if "--inline-max-kb" in extra:
        inline = int(float(extra[extra.index("--inline-max-kb") + 1]) * 1024)
    config = ServeConfig(
        models=(ModelSpec("m", str(path)),), backend=backend_name, inline_max_bytes=inline
    )
    served = load_served(config.models[0], (), backend_name)
    app = build_app([served], config)
    server = app.state.server
    out: dict[str, Any] = {"model": letter, "backend": backend_name, "rows": rows}

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, initializer=configure_predict_thread) as pool:

        def on_thread(fn: Any) -> float:
            return float(pool.submit(_median_us, fn, n).result())

        rows, chosen, answer_extra = _oip_prepare(
            server, served, body, "application/json", {}, None
        )
        be = served.backend
        if backend_name != "sklearn" and hasattr(be, "feeds"):
            feeds = be.feeds(rows)
            out["floor"] = on_thread(lambda: be.session.run(None, feeds))
        else:
            method = served.model.predict
            X1 = be.model_input(rows)
            out["floor_model"] = on_thread(lambda: method(X1))
            plan = getattr(be, "plan", None)
            out["sklearn_plan"] = getattr(be, "plan_status", "off")
            if plan is not None and "predict" in plan.steps:
                out["floor"] = on_thread(lambda: plan.run("predict", rows))
            else:
                out["floor"] = out["floor_model"]
        out["decode"] = _median_us(lambda: codecs.decode_request_json(body), n)
        obj = codecs.decode_request_json(body)

        def table() -> Any:
            if "inputs" in obj:
                tensors, _, _ = codecs.decode_oip(obj, None, server.limits)
                return codecs.tensors_table(tensors, served.contract)
            return codecs.json_table(obj)

        if codecs.oip_columns(obj, served.contract, server.limits) is not None:
            # one [rows] tensor per column: the server's short cut (tensors + coerce)
            out["oip_columns"] = _median_us(
                lambda: codecs.oip_columns(obj, served.contract, server.limits), n
            )
        else:
            out["oip_tensors"] = _median_us(table, n)
            t = table()
            out["coerce"] = _median_us(lambda: codecs.coerce(t, served.contract, server.limits), n)
        out["predict"] = on_thread(lambda: be.predict(rows, chosen))
        result = be.predict(rows, chosen)
        out["encode"] = _median_us(lambda: _oip_answer(served, result, chosen, answer_extra), n)

    async def asgi() -> float:
        for _ in range(20):
            await _asgi_call(app, "/v2/models/m/infer", body)
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            status = await _asgi_call(app, "/v2/models/m/infer", body)
            times.append(time.perf_counter() - t0)
            assert status == 200, status
        return 1e6 * statistics.median(times)

    try:
        import uvloop

        out["asgi"] = uvloop.run(asgi())
    except ImportError:
        out["asgi"] = asyncio.run(asgi())
    server.pool.shutdown()

    proc, url = start_skship(path, "m", 1, work / "server.log", backend_name, extra)
    try:
        host, port = url.removeprefix("http://").split(":")
        out["http"] = _http_p50_us(host, int(port), "/v2/models/m/infer", body, n)
    finally:
        _stop(proc)
    out["http_minus_floor"] = out["http"] - out["floor"]
    out["load_average"] = os.getloadavg()
    _ = _free_port
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="a")
    p.add_argument("--backend", default="onnx")
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--scale", type=float, default=0.2)
    p.add_argument("--rows", type=int, default=1, help="rows in the request (1: single row)")
    p.add_argument(
        "--server-args", default="", help="more `skship serve` options, e.g. '--inline-max-kb 64'"
    )
    args = p.parse_args()
    extra = args.server_args.split()
    for letter in args.model:
        for backend in args.backend.split(","):
            res = profile(letter, backend, args.n, args.scale, extra, args.rows)
            print(
                json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in res.items()})
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
