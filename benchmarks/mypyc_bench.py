"""Compiled (mypyc) vs pure-Python skship.dumps/loads, each as a ratio to pickle.

A measurement for issue 2, not a speed target: see benchmarks/notes/mypyc.md. Build the
compiled copy first with benchmarks/mypyc_build.sh. Compiled and pure modules cannot share
a process, so workers alternate (pure, compiled, pure, ...); each worker times pickle as its
anchor in the same process, and we report medians over rounds.

    uv run python benchmarks/mypyc_bench.py --compiled /tmp/mypyc-exp --rounds 3 a c d
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any


def _bench(f: Callable[[], Any]) -> float:
    f()
    t = time.perf_counter()
    f()
    n = max(1, int(0.2 / (time.perf_counter() - t)))
    res = []
    for _ in range(5):
        gc.collect()
        gc.disable()
        t = time.perf_counter()
        for _ in range(n):
            f()
        res.append((time.perf_counter() - t) / n)
        gc.enable()
    return statistics.median(res)


def _worker(models: str, prof: str) -> None:
    import skship
    import skship.format.decoder as dec

    out: dict[str, Any] = {"decoder": dec.__file__}
    for m_ in models:
        with open(f"{prof}/{m_}.pkl", "rb") as fh:
            m, _x = pickle.load(fh)
        p = pickle.dumps(m, protocol=5)
        s = skship.dumps(m)
        out[m_] = {
            "pd": _bench(lambda m=m: pickle.dumps(m, protocol=5)),
            "pl": _bench(lambda p=p: pickle.loads(p)),
            "sd": _bench(lambda m=m: skship.dumps(m)),
            "sl": _bench(lambda s=s: skship.loads(s)),
        }
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*", default=["a", "c", "d"])
    ap.add_argument("--compiled", default="/tmp/mypyc-exp")
    ap.add_argument("--prof", default="/tmp/prof")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--worker", action="store_true")
    a = ap.parse_args()
    models = "".join(a.models)
    if a.worker:
        _worker(models, a.prof)
        return
    runs: dict[str, list[dict[str, Any]]] = {"pure": [], "mypyc": []}
    for _ in range(a.rounds):
        for kind in ("pure", "mypyc"):
            env = dict(os.environ)
            env.pop("PYTHONPATH", None)
            if kind == "mypyc":
                env["PYTHONPATH"] = a.compiled
            cmd = [sys.executable, __file__, "--worker", "--prof", a.prof, models]
            r = json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True).stdout)
            assert r["decoder"].endswith(".so") == (kind == "mypyc"), r["decoder"]
            runs[kind].append(r)
    print(f"load average: {os.getloadavg()}")
    print("model kind   dumps us (x pickle)   loads us (x pickle)")
    for m_ in models:
        med: dict[str, dict[str, float]] = {}
        for kind, rs in runs.items():
            med[kind] = {
                k: statistics.median(r[m_][k] for r in rs) for k in ("pd", "pl", "sd", "sl")
            }
            dx = statistics.median(r[m_]["sd"] / r[m_]["pd"] for r in rs)
            lx = statistics.median(r[m_]["sl"] / r[m_]["pl"] for r in rs)
            v = med[kind]
            print(
                f"{m_:5} {kind:6} {v['sd'] * 1e6:7.1f} ({dx:5.2f}x, pickle {v['pd'] * 1e6:.1f})"
                f"  {v['sl'] * 1e6:7.1f} ({lx:5.2f}x, pickle {v['pl'] * 1e6:.1f})"
            )
        sp_d = med["pure"]["sd"] / med["mypyc"]["sd"]
        sp_l = med["pure"]["sl"] / med["mypyc"]["sl"]
        print(f"{m_:5} speedup dumps {sp_d:.2f}x  loads {sp_l:.2f}x")


if __name__ == "__main__":
    main()
