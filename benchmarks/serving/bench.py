"""Serving benchmark: skship serve against MLServer 1.7 + mlserver-sklearn, same machine, same run.

For each zoo model (default a, c, d) every server is started alone, warmed up, then loaded
by loadgen.py (an asyncio HTTP/1.1 client in a second process, keep-alive connections)
with single-row and batch OIP v2 requests: closed loop at each ``--concurrency`` and open
loop at each ``--open-rates`` (requests per second on a fixed schedule). Each cell is the
median over ``--repeat`` runs of ``--duration`` seconds: p50 and p99 latency, and
throughput. Also measured: the in-process floors (``predict`` and onnxruntime's ``run`` on
one row, no HTTP). ``--markdown`` writes the docs page (docs/serving/benchmarks.md) with
the issue's targets checked (✓/✗) for every skship configuration against MLServer.

MLServer runs from its own virtualenv (made by this script with ``uv venv`` + ``uv pip``:
mlserver==1.7.1, mlserver-sklearn==1.7.1, uvloop==0.21.0 because 1.7.1 with uvloop 0.23
starts no model), serving a joblib copy of the same fitted model, at its defaults
(``parallel_workers`` = 1) and tuned (``parallel_workers=0``).

skship runs once per backend in ``--backends`` (default ``sklearn,onnx``: ``skship`` and
``skship-onnx``) and per ``--batching`` configuration (default ``off,on``; ``on`` adds
``--batch-max-rows --micro-batch-rows`` and the suffix ``-batch``).

    uv run python benchmarks/serving/bench.py --json serving.json \\
        --markdown docs/serving/benchmarks.md                      # full run (~30 min)
    uv run python benchmarks/serving/bench.py --scale 0.2 --duration 1.0 --repeat 1  # quick
"""

from __future__ import annotations

import argparse
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

MLSERVER_PINS = ["mlserver==1.7.1", "mlserver-sklearn==1.7.1", "uvloop==0.21.0"]


# --------------------------------------------------------------------------- load generator


def run_load(
    url: str,
    path: str,
    body_file: Path,
    duration: float,
    repeat: int,
    *,
    concurrency: int = 0,
    rate: float = 0.0,
) -> list[dict[str, Any]]:
    """``repeat`` runs of loadgen.py in a second process (never the server's): closed loop
    at ``concurrency``, or open loop at ``rate`` requests per second."""
    spec = {
        "url": url,
        "path": path,
        "body_file": str(body_file),
        "duration": duration,
        "repeat": repeat,
        "concurrency": concurrency,
        "rate": rate,
        "drain": max(10.0, 4 * duration),
    }
    out = subprocess.run(
        [sys.executable, str(HERE / "loadgen.py"), json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=(duration * 6 + 40) * repeat + 60,
    )
    if out.returncode != 0:
        return [{"error": out.stderr[-500:]}]
    runs: list[dict[str, Any]] = json.loads(out.stdout)
    return runs


# --------------------------------------------------------------------------- servers


def group_cpu_seconds(pgid: int) -> float | None:
    """User + system CPU seconds of every live process in the process group ``pgid`` (a
    server started in its own session: its workers too), from /proc; None elsewhere.
    Per request, this is the server's own cost, whatever else the machine runs."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        if int(fields[2]) == pgid:  # fields[2] is the process group (after state, ppid)
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


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
    out = {
        "p50_ms": statistics.median(r["p50_ms"] for r in ok),
        "p99_ms": statistics.median(r["p99_ms"] for r in ok),
        "rps": statistics.median(r["rps"] for r in ok),
        "errors": sum(r["errors"] for r in ok),
        "runs": len(ok),
    }
    if any("dropped" in r for r in ok):
        out["dropped"] = sum(r.get("dropped", 0) for r in ok)
        out["offered_rps"] = ok[0].get("offered_rps")
    return out


def server_configs(args: argparse.Namespace, mlserver: bool) -> list[tuple[str, dict[str, Any]]]:
    """(label, how to start it): every skship backend, with micro-batching off and/or on,
    optionally with several workers; then MLServer at its defaults and tuned."""
    out: list[tuple[str, dict[str, Any]]] = []
    for backend in [b for b in args.backends.split(",") if b]:
        base = "skship" if backend == "sklearn" else f"skship-{backend}"
        for batching in [m for m in args.batching.split(",") if m]:
            label = base if batching == "off" else f"{base}-batch"
            extra = []
            if batching == "on":
                extra = ["--batch-max-rows", str(args.micro_batch_rows)]
            out.append((label, {"workers": 1, "backend": backend, "extra": extra}))
            if args.workers > 1:
                out.append(
                    (
                        f"{label}-{args.workers}w",
                        {"workers": args.workers, "backend": backend, "extra": extra},
                    )
                )
    if mlserver:
        out += [
            ("mlserver", {"parallel_workers": None}),
            ("mlserver-tuned", {"parallel_workers": 0}),
        ]
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="acd")
    p.add_argument("--scale", type=float, default=0.2, help="zoo scale (training size only)")
    p.add_argument("--duration", type=float, default=1.5)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--concurrency", default="1,8,64", help="closed-loop cells")
    p.add_argument(
        "--open-rates",
        default="100,500",
        help="open-loop cells: requests per second on a fixed schedule ('' for none)",
    )
    p.add_argument("--batch", type=int, default=100, help="rows in a batch request")
    p.add_argument("--workers", type=int, default=1, help="also run skship with this many workers")
    p.add_argument(
        "--backends", default="sklearn,onnx", help="skship backends to run (sklearn, onnx)"
    )
    p.add_argument(
        "--batching",
        default="off,on",
        help="skship micro-batching configurations: off, on (--batch-max-rows)",
    )
    p.add_argument("--micro-batch-rows", type=int, default=256, help="--batch-max-rows when on")
    p.add_argument("--no-mlserver", action="store_true")
    p.add_argument(
        "--mlserver-venv",
        type=Path,
        default=Path(tempfile.gettempdir()) / "skship-serve-bench" / "mlserver-venv",
    )
    p.add_argument("--blas-json", type=Path, help="include blas.py's answer (its --json)")
    p.add_argument("--json", type=Path)
    p.add_argument("--markdown", type=Path)
    args = p.parse_args()

    import numpy as np
    import sklearn
    from zoo import BUILDERS

    import skship

    concurrencies = [int(c) for c in args.concurrency.split(",") if c]
    rates = [float(r) for r in args.open_rates.split(",") if r]
    workdir = Path(tempfile.mkdtemp(prefix="skship-serving-bench-"))
    mlserver: Path | None = None
    why = "skipped (--no-mlserver)"
    if not args.no_mlserver:
        mlserver, why = ensure_mlserver(args.mlserver_venv)
    servers = server_configs(args, mlserver is not None)
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
        "command": " ".join(["python", "benchmarks/serving/bench.py", *sys.argv[1:]]),
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
        if "onnx" in args.backends:
            floor = onnx_floor(model, X_test)
            entry["onnx_floor_ms"] = None if floor is None else 1000 * floor
        for label, setting in servers:
            log = workdir / f"{name}-{label}.log"
            try:
                if label.startswith("skship"):
                    proc, url = start_skship(
                        path, name, setting["workers"], log, setting["backend"], setting["extra"]
                    )
                else:
                    assert mlserver is not None
                    proc, url = start_mlserver(
                        mlserver, model, name, workdir, setting["parallel_workers"], log
                    )
            except RuntimeError as exc:
                entry["servers"][label] = {"error": f"{exc}; log: {log.read_text()[-800:]}"}
                continue
            try:
                cells: dict[str, Any] = {}
                loads = [(f"c{c}", {"concurrency": c}) for c in concurrencies]
                loads += [(f"r{r:g}", {"rate": r}) for r in rates]
                for kind, (body_file, sub) in bodies.items():
                    want = model.predict(sub).tolist()
                    correct = check_answers(url, name, body_file.read_bytes(), want)
                    for key, load in loads:
                        cpu0 = group_cpu_seconds(proc.pid)
                        runs = run_load(
                            url,
                            f"/v2/models/{name}/infer",
                            body_file,
                            args.duration,
                            args.repeat,
                            **load,
                        )
                        cpu1 = group_cpu_seconds(proc.pid)
                        cell = {**_median(runs), "correct": correct}
                        answered = sum(r.get("requests", 0) for r in runs if "error" not in r)
                        if cpu0 is not None and cpu1 is not None and answered:
                            # the server's CPU per answered request, all its processes
                            cell["cpu_us"] = 1e6 * (cpu1 - cpu0) / answered
                        cells[f"{kind}/{key}"] = cell
                        print(letter, label, kind, key, cells[f"{kind}/{key}"], flush=True)
                entry["servers"][label] = cells
            finally:
                _stop(proc)
        report["models"][letter] = entry
    report["environment"]["load_average_end"] = os.getloadavg()
    if args.blas_json and args.blas_json.exists():
        report["blas"] = json.loads(args.blas_json.read_text())
    shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    text = markdown(report)
    if args.markdown:
        args.markdown.write_text(text)
    print(text)
    return 0


# --------------------------------------------------------------------------- the page

P50_TARGET = 0.5  # skship p50 at most this times MLServer's (defaults)
RPS_TARGET = 2.0  # skship throughput at least this times MLServer's
FLOOR_SLACK_MS = 0.3  # onnx single-row p50 within this of onnxruntime's in-process run

INTRO = """\
# Serving benchmark

`skship serve` with each backend (`skship`: scikit-learn, `skship-onnx`: onnxruntime on the
verified conversion), each with micro-batching off and on (`-batch`: `--batch-max-rows`),
against MLServer 1.7.1 + mlserver-sklearn 1.7.1 serving the same fitted model (a joblib copy
for MLServer), on the same machine in the same run, at MLServer's defaults and tuned
(`parallel_workers=0`). The in-process floors are scikit-learn's `predict` and onnxruntime's
`run` on one row, one thread. The sklearn backend runs its verified execution plan where the
model has one (model (d): the fitted steps on numpy arrays, see the serving page), so its
latency can be below scikit-learn's own `predict` floor.

Load: an asyncio HTTP/1.1 client in a second process (`benchmarks/serving/loadgen.py`),
keep-alive connections, OIP v2 JSON requests of one row (`single`) or a batch. Closed loop
(`c8`: 8 connections, each sends its next request when its answer arrives) measures
capacity at a concurrency; open loop (`r500`: 500 requests per second on a fixed schedule,
latency counted from the moment each request is issued, waiting for a free connection
included) shows latency at a given traffic, including how a server falls behind (`dropped`:
unanswered when the run ended). Each cell is the median of
the runs; `server CPU µs/req` is the CPU time (user + system, every process of the server)
spent during the cell divided by the requests answered: unlike latency, it hardly depends
on what else the machine runs. Targets from the issue, checked against MLServer's defaults in the same run on the
closed-loop cells: p50 at most 0.5x MLServer's, throughput at least 2x; and the onnx backend's
single-row p50 (concurrency 1) within 0.3 ms of the in-process onnxruntime floor.

Reproduce (about 30 minutes; the first runs also build MLServer's virtualenv and the two
BLAS virtualenvs with `uv`, which needs a CPython 3.9 for intel-numpy's wheels):

```console
uv run python benchmarks/serving/blas.py --mkl --json blas.json    # the BLAS answer
uv run python benchmarks/serving/bench.py --blas-json blas.json \\
    --json serving.json --markdown docs/serving/benchmarks.md
```

Where a single request's time goes (decode, coerce, predict, encode, the app, HTTP):
`uv run python benchmarks/serving/hotpath.py --model acd --backend onnx,sklearn`.
"""


def _ok(flag: bool) -> str:
    return "✓" if flag else "✗"


def _targets(ours: dict[str, Any], base: dict[str, Any]) -> list[tuple[str, float, float]]:
    out = []
    for key, a in ours.items():
        b = base.get(key, {})
        if "/c" in key and "p50_ms" in a and "p50_ms" in b and b["p50_ms"] and b["rps"]:
            out.append((key, a["p50_ms"] / b["p50_ms"], a["rps"] / b["rps"]))
    return out


def markdown(report: dict[str, Any]) -> str:
    env = report["environment"]
    settings = report["settings"]
    lines = [INTRO]
    start = tuple(round(x, 1) for x in env["load_average"])
    end = tuple(round(x, 1) for x in env.get("load_average_end", env["load_average"]))
    lines += [
        "## This run",
        "",
        f"Python {env['python']}, scikit-learn {env['scikit-learn']}, numpy {env['numpy']}, "
        f"skship {env['skship']}, MLServer {env['mlserver'] or '-'} ({env['mlserver_status']}); "
        f"{env['cpus']} CPUs; load average {start} at the start, {end} at the end. "
        f"Median of {settings['repeat']} runs of {settings['duration']} s; batch requests of "
        f"{settings['batch']} rows; micro-batching with `--batch-max-rows "
        f"{settings.get('micro_batch_rows', '-')}`. Command: `{report.get('command', '-')}`.",
        "",
    ]
    # summary: targets met per skship configuration, over every model and closed-loop cell
    summary: dict[str, list[int]] = {}
    floors: list[str] = []
    for letter, entry in report["models"].items():
        base = entry["servers"].get("mlserver", {})
        for label, cells in entry["servers"].items():
            if not label.startswith("skship") or "error" in cells:
                continue
            if base and "error" not in base:
                for _, p50, rps in _targets(cells, base):
                    met = summary.setdefault(label, [0, 0])
                    met[0] += p50 <= P50_TARGET and rps >= RPS_TARGET
                    met[1] += 1
            floor = entry.get("onnx_floor_ms")
            cell = cells.get("single/c1", {})
            if label.startswith("skship-onnx") and floor is not None and "p50_ms" in cell:
                over = cell["p50_ms"] - floor
                floors.append(
                    f"| ({letter}) | {label} | {floor:.3f} | {cell['p50_ms']:.3f} | "
                    f"{over:.3f} | {_ok(over <= FLOOR_SLACK_MS)} |"
                )
    if summary:
        lines += [
            "Closed-loop cells meeting both targets against MLServer (defaults), all models:",
            "",
            "| server | cells meeting p50 <= 0.5x and throughput >= 2x |",
            "|---|---|",
        ]
        lines += [f"| {label} | {m[0]} / {m[1]} |" for label, m in summary.items()]
        lines.append("")
    if floors:
        lines += [
            "Single-row latency of the onnx backend against the in-process onnxruntime floor "
            "(concurrency 1; target: at most 0.3 ms above):",
            "",
            "| model | server | floor ms | p50 ms | above floor ms | target |",
            "|---|---|---|---|---|---|",
            *floors,
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
            "| server | rows | load | p50 ms | p99 ms | req/s | server CPU µs/req | errors | "
            "dropped | correct |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for label, cells in entry["servers"].items():
            if "error" in cells:
                lines.append(
                    f"| {label} | - | - | - | - | - | - | failed: {cells['error'][:80]} | - | - |"
                )
                continue
            for key, cell in cells.items():
                kind, load = key.split("/")
                if "error" in cell:
                    lines.append(
                        f"| {label} | {kind} | {load} | - | - | - | - | {cell['error'][:60]} "
                        "| - | - |"
                    )
                    continue
                cpu = f"{cell['cpu_us']:.0f}" if "cpu_us" in cell else "-"
                lines.append(
                    f"| {label} | {kind} | {load} | {cell['p50_ms']:.2f} | {cell['p99_ms']:.2f} | "
                    f"{cell['rps']:.0f} | {cpu} | {cell['errors']} | {cell.get('dropped', '-')} "
                    f"| {cell['correct']} |"
                )
        lines.append("")
        base = entry["servers"].get("mlserver", {})
        for label, ours in entry["servers"].items():
            if not label.startswith("skship"):
                continue
            if not (base and ours and "error" not in base and "error" not in ours):
                continue
            lines += [f"Targets, {label} / MLServer (defaults), same run:", ""]
            lines += [
                "| rows | concurrency | p50 ratio | <= 0.5 | throughput ratio | >= 2 |",
                "|---|---|---|---|---|---|",
            ]
            for key, p50, rps in _targets(ours, base):
                kind, c = key.split("/")
                lines.append(
                    f"| {kind} | {c[1:]} | {p50:.2f} | {_ok(p50 <= P50_TARGET)} | {rps:.2f} | "
                    f"{_ok(rps >= RPS_TARGET)} |"
                )
            lines.append("")
    if "blas" in report:
        from blas import markdown as blas_markdown

        lines.append(blas_markdown(report["blas"]))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
