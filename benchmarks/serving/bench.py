"""Serving benchmark: skship serve against MLServer 1.7 + mlserver-sklearn, same machine, same run.

For each zoo model (default a, c, d) every server is started alone, warmed up, then loaded
by a closed-loop asyncio HTTP/1.1 client running in a second process (keep-alive
connections, one request in flight per connection) with single-row and batch OIP v2
requests at each concurrency. Each cell is the median over ``--repeat`` runs of
``--duration`` seconds: p50 and p99 latency, and throughput. Also measured: the
in-process floor (``predict`` on one row, no HTTP).

MLServer runs from its own virtualenv (made by this script with ``uv venv`` + ``uv pip``:
mlserver==1.7.1, mlserver-sklearn==1.7.1, uvloop==0.21.0 because 1.7.1 with uvloop 0.23
starts no model), serving a joblib copy of the same fitted model, at its defaults
(``parallel_workers`` = 1) and tuned (``parallel_workers=0``).

    uv run python benchmarks/serving.py                        # full run (~15 min)
    uv run python benchmarks/serving.py --scale 0.02 --duration 0.5 --repeat 1 \\
        --concurrency 1 --models a --no-mlserver                # smoke

skship runs once per backend in ``--backends`` (default ``sklearn,onnx``: the rows
``skship`` and ``skship-onnx``); the onnx floor is onnxruntime's ``run`` on one row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

MLSERVER_PINS = ["mlserver==1.7.1", "mlserver-sklearn==1.7.1", "uvloop==0.21.0"]


# --------------------------------------------------------------------------- load generator


async def _worker(
    host: str, port: int, request: bytes, stop: float, lat: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def _load(
    url: str, path: str, body: bytes, concurrency: int, duration: float
) -> dict[str, Any]:
    host, port = url.removeprefix("http://").split(":")
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    lat: list[float] = []
    errors: list[int] = []
    start = time.perf_counter()
    stop = start + duration
    await asyncio.gather(
        *(_worker(host, int(port), request, stop, lat, errors) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - start
    lat.sort()
    n = len(lat)
    return {
        "requests": n,
        "errors": len(errors),
        "p50_ms": 1000 * lat[n // 2] if n else None,
        "p99_ms": 1000 * lat[min(n - 1, int(n * 0.99))] if n else None,
        "rps": n / elapsed,
    }


def loadgen_main(args: list[str]) -> None:
    url, path, body_file, concurrency, duration, repeat = args
    body = Path(body_file).read_bytes()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    runs = [
        asyncio.run(_load(url, path, body, int(concurrency), float(duration)))
        for _ in range(int(repeat))
    ]
    print(json.dumps(runs))


def run_load(
    url: str, path: str, body_file: Path, concurrency: int, duration: float, repeat: int
) -> list[dict[str, Any]]:
    """``repeat`` runs by the load generator in a second process (never the server's)."""
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--loadgen",
            url,
            path,
            str(body_file),
            str(concurrency),
            str(duration),
            str(repeat),
        ],
        capture_output=True,
        text=True,
        timeout=(duration * 4 + 30) * repeat + 60,
    )
    if out.returncode != 0:
        return [{"error": out.stderr[-500:]}]
    runs: list[dict[str, Any]] = json.loads(out.stdout)
    return runs


# --------------------------------------------------------------------------- servers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {timeout} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def start_skship(
    model_path: Path,
    name: str,
    workers: int,
    log: Path,
    backend: str = "sklearn",
    extra: list[str] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    cmd = [
        sys.executable,
        "-c",
        "from skship.cli import main; main()",
        "serve",
        f"{name}={model_path}",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--backend",
        backend,
        *(extra or []),
    ]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    _wait_ready(f"{url}/v2/models/{name}/ready", proc)
    return proc, url


def ensure_mlserver(venv: Path) -> tuple[Path | None, str]:
    """MLServer's own virtualenv; (None, why) when it cannot be made here."""
    exe = venv / "bin" / "mlserver"
    if exe.exists():
        return exe, "existing venv"
    uv = shutil.which("uv")
    if uv is None:
        return None, "uv is not on PATH"
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("UV_FROZEN", None)
    env.pop("VIRTUAL_ENV", None)
    made = subprocess.run(
        [uv, "venv", "-q", str(venv), "--python", sys.executable],
        env=env,
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        return None, f"uv venv failed: {made.stderr[-300:]}"
    env["VIRTUAL_ENV"] = str(venv)
    inst = subprocess.run(
        [uv, "pip", "install", "-q", *MLSERVER_PINS],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if inst.returncode != 0:
        return None, f"pip install {' '.join(MLSERVER_PINS)} failed: {inst.stderr[-500:]}"
    return exe, "installed"


def start_mlserver(
    exe: Path, model: Any, name: str, workdir: Path, parallel_workers: int | None, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    import joblib

    folder = workdir / f"mlserver-{name}-{parallel_workers}"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / name).mkdir(parents=True)
    joblib.dump(model, folder / name / "model.joblib")
    (folder / name / "model-settings.json").write_text(
        json.dumps(
            {
                "name": name,
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": "./model.joblib"},
            }
        )
    )
    port = _free_port()
    settings: dict[str, Any] = {
        "http_port": port,
        "grpc_port": _free_port(),
        "metrics_port": _free_port(),
        "debug": False,
    }
    if parallel_workers is not None:
        settings["parallel_workers"] = parallel_workers
    (folder / "settings.json").write_text(json.dumps(settings))
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [str(exe), "start", str(folder)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=folder,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    _wait_ready(f"{url}/v2/models/{name}/ready", proc)
    return proc, url


# --------------------------------------------------------------------------- payloads


def oip_body(X: Any) -> bytes:
    """One OIP request both servers read the same way: one [rows, features] FP64 tensor
    for numeric models; one tensor per column (pandas content type) for DataFrames."""
    import numpy as np

    if hasattr(X, "columns"):
        inputs = []
        for c in X.columns:
            col = X[c]
            if col.dtype.kind in "biuf":
                inputs.append(
                    {
                        "name": str(c),
                        "datatype": "FP64",
                        "shape": [len(X)],
                        "data": col.to_numpy(dtype=np.float64).tolist(),
                    }
                )
            else:
                inputs.append(
                    {
                        "name": str(c),
                        "datatype": "BYTES",
                        "shape": [len(X)],
                        "parameters": {"content_type": "str"},
                        "data": [str(v) for v in col],
                    }
                )
        return json.dumps({"parameters": {"content_type": "pd"}, "inputs": inputs}).encode()
    arr = np.asarray(X, dtype=np.float64)
    return json.dumps(
        {
            "inputs": [
                {
                    "name": "input-0",
                    "datatype": "FP64",
                    "shape": list(arr.shape),
                    "data": arr.ravel().tolist(),
                }
            ]
        }
    ).encode()


def in_process_floor(model: Any, X: Any, repeat: int = 300) -> float:
    """Median seconds of predict on one row, one thread (what HTTP adds to)."""
    from threadpoolctl import threadpool_limits

    row = X.iloc[:1] if hasattr(X, "iloc") else X[:1]
    with threadpool_limits(1):
        model.predict(row)
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            model.predict(row)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def onnx_floor(model: Any, X: Any, repeat: int = 300) -> float | None:
    """Median seconds of onnxruntime's run on one row (one intra-op thread), feeds made
    once: the floor of the onnx backend. None when the model does not convert and verify."""
    import numpy as np

    from skship.errors import SkshipError
    from skship.format.signature import signature_of
    from skship.onnx.serving import serving_backend
    from skship.serve.codecs import Coerced
    from skship.serve.contracts import contract_for

    contract = contract_for(model, signature_of(X))
    try:
        backend = serving_backend(model, contract)
    except SkshipError:
        return None
    if hasattr(X, "iloc"):
        row = X.iloc[:1]
        cols = [
            np.asarray(
                row[c].to_numpy(), dtype=object if row[c].dtype.kind not in "biuf" else row[c].dtype
            )
            for c in row.columns
        ]
        rows = Coerced(1, columns=cols)
    else:
        rows = Coerced(1, matrix=np.asarray(X[:1], dtype=np.float64))
    feeds = backend.feeds(rows)
    backend.session.run(None, feeds)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        backend.session.run(None, feeds)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def check_answers(url: str, name: str, body: bytes, want: list[Any]) -> bool:
    req = urllib.request.Request(
        f"{url}/v2/models/{name}/infer", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        out = json.loads(r.read())["outputs"][0]["data"]
    return [str(v) for v in out] == [str(v) for v in want]


# --------------------------------------------------------------------------- main


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if "error" not in r and r.get("requests")]
    if not ok:
        return {"error": runs[0].get("error", "no requests completed") if runs else "not run"}
    return {
        "p50_ms": statistics.median(r["p50_ms"] for r in ok),
        "p99_ms": statistics.median(r["p99_ms"] for r in ok),
        "rps": statistics.median(r["rps"] for r in ok),
        "errors": sum(r["errors"] for r in ok),
        "runs": len(ok),
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--loadgen":
        loadgen_main(sys.argv[2:])
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="acd")
    p.add_argument("--scale", type=float, default=0.2, help="zoo scale (training size only)")
    p.add_argument("--duration", type=float, default=1.5)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--concurrency", default="1,8,64")
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--workers", type=int, default=1, help="also run skship with this many workers")
    p.add_argument(
        "--backends", default="sklearn,onnx", help="skship backends to run (sklearn, onnx)"
    )
    p.add_argument("--no-mlserver", action="store_true")
    p.add_argument(
        "--mlserver-venv",
        type=Path,
        default=Path(tempfile.gettempdir()) / "skship-serve-bench" / "mlserver-venv",
    )
    p.add_argument("--json", type=Path)
    p.add_argument("--markdown", type=Path)
    args = p.parse_args()

    import numpy as np
    import sklearn
    from zoo import BUILDERS

    import skship

    concurrencies = [int(c) for c in args.concurrency.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="skship-serving-bench-"))
    mlserver: Path | None = None
    why = "skipped (--no-mlserver)"
    if not args.no_mlserver:
        mlserver, why = ensure_mlserver(args.mlserver_venv)
    backends = [b for b in args.backends.split(",") if b]
    servers: list[tuple[str, Any]] = []
    for backend in backends:
        suffix = "" if backend == "sklearn" else f"-{backend}"
        servers.append((f"skship{suffix}", (1, backend)))
        if args.workers > 1:
            servers.append((f"skship{suffix}-{args.workers}w", (args.workers, backend)))
    if mlserver is not None:
        servers += [("mlserver", None), ("mlserver-tuned", 0)]
    report: dict[str, Any] = {
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "skship": skship.__version__,
            "mlserver": "1.7.1" if mlserver is not None else None,
            "mlserver_status": why,
        },
        "settings": {k: str(v) for k, v in vars(args).items()},
        "models": {},
    }
    for letter in args.models:
        _, model, X_test = BUILDERS[letter](args.scale)
        name = f"zoo-{letter}"
        path = workdir / f"{name}.skops"
        skship.dump(model, path, sample=X_test)
        bodies = {}
        for kind, rows in (("single", 1), ("batch", args.batch)):
            sub = X_test.iloc[:rows] if hasattr(X_test, "iloc") else X_test[:rows]
            bodies[kind] = (workdir / f"{name}-{kind}.json", sub)
            bodies[kind][0].write_bytes(oip_body(sub))
        entry: dict[str, Any] = {"floor_ms": 1000 * in_process_floor(model, X_test), "servers": {}}
        if "onnx" in backends:
            floor = onnx_floor(model, X_test)
            entry["onnx_floor_ms"] = None if floor is None else 1000 * floor
        for label, setting in servers:
            log = workdir / f"{name}-{label}.log"
            try:
                if label.startswith("skship"):
                    proc, url = start_skship(path, name, setting[0], log, setting[1])
                else:
                    assert mlserver is not None
                    proc, url = start_mlserver(mlserver, model, name, workdir, setting, log)
            except RuntimeError as exc:
                entry["servers"][label] = {"error": f"{exc}; log: {log.read_text()[-800:]}"}
                continue
            try:
                cells: dict[str, Any] = {}
                for kind, (body_file, sub) in bodies.items():
                    want = model.predict(sub).tolist()
                    correct = check_answers(url, name, body_file.read_bytes(), want)
                    for c in concurrencies:
                        runs = run_load(
                            url,
                            f"/v2/models/{name}/infer",
                            body_file,
                            c,
                            args.duration,
                            args.repeat,
                        )
                        cells[f"{kind}/c{c}"] = {**_median(runs), "correct": correct}
                        print(letter, label, kind, c, cells[f"{kind}/c{c}"], flush=True)
                entry["servers"][label] = cells
            finally:
                _stop(proc)
        report["models"][letter] = entry
    shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    text = markdown(report, concurrencies)
    if args.markdown:
        args.markdown.write_text(text)
    print(text)
    return 0


def markdown(report: dict[str, Any], concurrencies: list[int]) -> str:
    env = report["environment"]
    lines = [
        "# Serving benchmark",
        "",
        f"Python {env['python']}, scikit-learn {env['scikit-learn']}, numpy {env['numpy']}, "
        f"skship {env['skship']}, MLServer {env['mlserver'] or '-'} ({env['mlserver_status']}); "
        f"{env['cpus']} CPUs, load average at start {tuple(round(x, 1) for x in env['load_average'])}. "
        f"Median of {report['settings']['repeat']} runs of {report['settings']['duration']} s; "
        "closed-loop asyncio HTTP/1.1 client in a second process; OIP v2 JSON requests.",
        "",
    ]
    for letter, entry in report["models"].items():
        lines += [
            f"## Model ({letter})",
            "",
            f"In-process floor (predict, one row): {entry['floor_ms']:.3f} ms",
            "",
        ]
        if "onnx_floor_ms" in entry:
            onnx_floor_ms = entry["onnx_floor_ms"]
            lines += [
                "In-process floor (onnxruntime run, one row): "
                + (
                    "does not convert and verify"
                    if onnx_floor_ms is None
                    else f"{onnx_floor_ms:.3f} ms"
                ),
                "",
            ]
        lines += [
            "| server | rows | concurrency | p50 ms | p99 ms | req/s | errors | correct |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for label, cells in entry["servers"].items():
            if "error" in cells:
                lines.append(f"| {label} | - | - | - | - | - | failed: {cells['error'][:80]} | - |")
                continue
            for key, cell in cells.items():
                kind, c = key.split("/")
                if "error" in cell:
                    lines.append(
                        f"| {label} | {kind} | {c[1:]} | - | - | - | {cell['error'][:60]} | - |"
                    )
                    continue
                lines.append(
                    f"| {label} | {kind} | {c[1:]} | {cell['p50_ms']:.2f} | {cell['p99_ms']:.2f} | "
                    f"{cell['rps']:.0f} | {cell['errors']} | {cell['correct']} |"
                )
        lines.append("")
        base = entry["servers"].get("mlserver", {})
        for label in ("skship", "skship-onnx"):
            ours = entry["servers"].get(label, {})
            if not (base and ours and "error" not in base and "error" not in ours):
                continue
            lines += [f"Ratios {label} / MLServer (defaults), same run:", ""]
            lines += [
                "| rows | concurrency | p50 ratio (target <= 0.5) | throughput ratio (target >= 2) |",
                "|---|---|---|---|",
            ]
            for key in ours:
                a, b = ours[key], base.get(key, {})
                if "p50_ms" in a and "p50_ms" in b:
                    kind, c = key.split("/")
                    lines.append(
                        f"| {kind} | {c[1:]} | {a['p50_ms'] / b['p50_ms']:.2f} | {a['rps'] / b['rps']:.2f} |"
                    )
            lines.append("")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
