"""One zoo model, one server, a few closed-loop cells: latency, throughput and the
server's CPU per request; for before/after comparisons on a shared machine.

Starts ``skship serve`` (one worker) from the checkout this file is in (or ``--root``:
another checkout, e.g. the main branch, with its own virtualenv), runs loadgen.py at each
``--concurrency`` for ``--duration`` seconds, and prints one JSON line: p50/p99 latency,
requests per second and the server's user and system CPU microseconds per request (from
/proc; every process of the server). Latency moves with whatever else the machine runs;
CPU per request hardly does. Run two checkouts alternately, several times:

    for i in 1 2 3; do for r in /work/main .; do
        uv run --project $r python benchmarks/serving/ab.py --root $r --model d --backend onnx
    done; done
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


def _cpu(pid: int) -> tuple[float, float]:
    tick = os.sysconf("SC_CLK_TCK")
    user = system = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pid:  # the server's process group (its own session)
            user += int(fields[11])
            system += int(fields[12])
    return user / tick, system / tick


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2])
    p.add_argument("--model", default="d", help="zoo letter")
    p.add_argument("--backend", default="onnx")
    p.add_argument("--rows", type=int, default=1, help="rows per request")
    p.add_argument("--concurrency", default="1")
    p.add_argument("--duration", type=float, default=3.0)
    p.add_argument("--scale", type=float, default=0.2)
    p.add_argument("--server-args", default="", help="more `skship serve` options")
    args = p.parse_args()
    root = args.root.resolve()
    sys.path[:0] = [str(root / "benchmarks"), str(root / "benchmarks" / "serving")]
    from bench import _stop, oip_body, start_skship
    from zoo import BUILDERS

    import skship

    _, model, X = BUILDERS[args.model](args.scale)
    work = Path(tempfile.mkdtemp(prefix="skship-ab-"))
    path = work / "m.skops"
    skship.dump(model, path, sample=X)
    sub = X.iloc[: args.rows] if hasattr(X, "iloc") else X[: args.rows]
    body_file = work / "body.json"
    body_file.write_bytes(oip_body(sub))
    proc, url = start_skship(
        path, "m", 1, work / "server.log", args.backend, args.server_args.split()
    )
    out: dict[str, Any] = {
        "root": str(root),
        "model": args.model,
        "backend": args.backend,
        "rows": args.rows,
        "load_average": os.getloadavg(),
    }
    try:
        for c in [int(x) for x in args.concurrency.split(",") if x]:
            spec = {
                "url": url,
                "path": "/v2/models/m/infer",
                "body_file": str(body_file),
                "duration": args.duration,
                "repeat": 1,
                "concurrency": c,
            }
            before = _cpu(proc.pid)
            run = subprocess.run(
                [sys.executable, str(root / "benchmarks/serving/loadgen.py"), json.dumps(spec)],
                capture_output=True,
                text=True,
                check=True,
            )
            after = _cpu(proc.pid)
            cell = json.loads(run.stdout)[0]
            n = max(cell["requests"], 1)
            out[f"c{c}"] = {
                "p50_us": round(1000 * cell["p50_ms"], 1),
                "p99_us": round(1000 * cell["p99_ms"], 1),
                "rps": round(cell["rps"]),
                "user_us": round(1e6 * (after[0] - before[0]) / n, 1),
                "sys_us": round(1e6 * (after[1] - before[1]) / n, 1),
            }
    finally:
        _stop(proc)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
