"""Does the BLAS build (MKL or OpenBLAS) matter for the served models? Measured, not guessed.

Three measurements, for zoo models (a), (c) and (d), on one row and on 100 rows, with
``predict`` called the way a skship prediction thread calls it (one BLAS/OpenMP thread,
``assume_finite`` and ``skip_parameter_validation`` set):

1. which BLAS and OpenMP libraries the serving environment loads (threadpoolctl);
2. the share of ``predict``'s CPU time spent inside the BLAS library: ``perf record``
   attached to a process that only calls ``predict`` in a loop, samples grouped by shared
   object (``perf report --sort dso``);
3. with ``--mkl``: the same ``predict`` timed in two otherwise identical virtualenvs, one
   with numpy linked to MKL (``intel-numpy``, the only MKL build of numpy on PyPI: 1.21,
   CPython 3.9 wheels only) and one with PyPI's numpy 1.21.5 (OpenBLAS); same scikit-learn
   1.6.1 and scipy 1.10.1 in both, models fitted in each.

    uv run python benchmarks/serving/blas.py [--mkl] [--json blas.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ZOO = HERE.parent
CELLS = [(letter, rows) for letter in "acd" for rows in (1, 100)]
MKL_PYTHON = "3.9"
MKL_PINS = {
    "mkl": ["intel-numpy==1.21.5"],
    "openblas": ["numpy==1.21.5"],
}
COMMON_PINS = [
    "scikit-learn==1.6.1",
    "scipy==1.10.1",
    "pandas==1.5.3",
    "python-dateutil",
    "pytz",
    "six",
    "threadpoolctl",
    "joblib",
]


# --------------------------------------------------------------------------- the child


def child(letter: str, rows: int, scale: float, seconds: float) -> None:
    """Build one model, say ready, then call predict in a loop for ``seconds``."""
    sys.path.insert(0, str(ZOO))
    import sklearn
    from threadpoolctl import threadpool_limits
    from zoo import BUILDERS

    _, model, X = BUILDERS[letter](scale)
    sub = X.iloc[:rows] if hasattr(X, "iloc") else X[:rows]
    threadpool_limits(1)
    try:
        sklearn.set_config(assume_finite=True, skip_parameter_validation=True)
    except TypeError:  # older scikit-learn: no skip_parameter_validation
        sklearn.set_config(assume_finite=True)
    for _ in range(20):
        model.predict(sub)
    print("ready", flush=True)
    times = []
    cpu0 = time.process_time()
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        t0 = time.perf_counter()
        model.predict(sub)
        times.append(time.perf_counter() - t0)
    cpu = time.process_time() - cpu0
    # CPU time per call as well as the wall-clock median: on a shared machine the wall
    # clock counts the time other processes held the core
    print(
        json.dumps(
            {
                "predict_us": 1e6 * statistics.median(times),
                "cpu_us": 1e6 * cpu / len(times),
                "calls": len(times),
            }
        )
    )


def _run_child(
    python: str, letter: str, rows: int, scale: float, seconds: float, perf_out: Path | None
) -> dict[str, Any]:
    proc = subprocess.Popen(
        [python, __file__, "--child", letter, str(rows), str(scale), str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        _, err = proc.communicate()
        return {"error": (line + err)[-500:]}
    perf_ok = None
    if perf_out is not None:
        rec = subprocess.run(
            [
                "perf",
                "record",
                "-q",
                "-F",
                "1999",
                "-o",
                str(perf_out),
                "-p",
                str(proc.pid),
                "--",
                "sleep",
                str(max(0.5, seconds - 0.5)),
            ],
            capture_output=True,
            text=True,
        )
        perf_ok = rec.returncode == 0
        if not perf_ok:
            perf_err = rec.stderr[-300:]
    out, err = proc.communicate(timeout=seconds + 60)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    if perf_out is not None:
        if perf_ok:
            result.update(_dso_shares(perf_out))
        else:
            result["perf_error"] = perf_err
    return result


def _dso_shares(perf_data: Path) -> dict[str, Any]:
    rep = subprocess.run(
        ["perf", "report", "-i", str(perf_data), "--sort", "dso", "--stdio", "-q"],
        capture_output=True,
        text=True,
    )
    shares: dict[str, float] = {}
    for line in rep.stdout.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)", line)
        if m:
            shares[m.group(2)] = shares.get(m.group(2), 0.0) + float(m.group(1))
    blas = sum(v for k, v in shares.items() if re.search(r"openblas|mkl", k, re.I))
    top = sorted(shares.items(), key=lambda kv: -kv[1])[:5]
    return {"blas_share_pct": round(blas, 2), "top_dsos": [[k, round(v, 1)] for k, v in top]}


# --------------------------------------------------------------------------- the venvs


def _venv(kind: str, root: Path) -> tuple[str | None, str]:
    """A CPython 3.9 virtualenv with the ``kind`` numpy build; (python, status)."""
    venv = root / f"blas-{kind}"
    python = venv / "bin" / "python"
    if python.exists():
        return str(python), "existing venv"
    uv = shutil.which("uv")
    if uv is None:
        return None, "uv is not on PATH"
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("UV_FROZEN", None)
    env.pop("VIRTUAL_ENV", None)
    interpreter = _python39()
    if interpreter is None:
        return None, f"no CPython {MKL_PYTHON} here (intel-numpy has wheels for it only)"
    made = subprocess.run(
        [uv, "venv", "-q", str(venv), "--python", interpreter],
        env=env,
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        return None, f"uv venv failed: {made.stderr[-300:]}"
    env["VIRTUAL_ENV"] = str(venv)
    # intel-numpy installs the module ``numpy`` under another distribution name: the other
    # packages go in without dependencies, or PyPI's numpy would overwrite it
    steps = [MKL_PINS[kind], ["--no-deps", *COMMON_PINS]]
    for pins in steps:
        inst = subprocess.run(
            [uv, "pip", "install", "-q", *pins], env=env, capture_output=True, text=True
        )
        if inst.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            return None, f"uv pip install {' '.join(pins)} failed: {inst.stderr[-400:]}"
    return str(python), "installed"


def _python39() -> str | None:
    """A CPython 3.9 interpreter: $SKSHIP_PYTHON39, python3.9 on PATH, or pyenv's."""
    found = os.environ.get("SKSHIP_PYTHON39") or shutil.which(f"python{MKL_PYTHON}")
    if found and subprocess.run([found, "-c", "pass"], capture_output=True).returncode == 0:
        return found
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for candidate in sorted(pyenv.glob(f"{MKL_PYTHON}.*/bin/python{MKL_PYTHON}"), reverse=True):
        return str(candidate)
    return None


def _libraries(python: str) -> list[dict[str, Any]]:
    code = (
        "import json, numpy, sklearn, scipy\nfrom threadpoolctl import threadpool_info\n"
        "print(json.dumps([{k: i.get(k) for k in ('user_api', 'internal_api', 'prefix', "
        "'version', 'architecture')} for i in threadpool_info()]))"
    )
    out = subprocess.run([python, "-W", "ignore", "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        return [{"error": out.stderr[-300:]}]
    libs: list[dict[str, Any]] = json.loads(out.stdout)
    return libs


# --------------------------------------------------------------------------- main


def measure(scale: float, seconds: float, mkl: bool, root: Path) -> dict[str, Any]:
    import numpy as np
    import sklearn

    report: dict[str, Any] = {
        "scale": scale,
        "load_average": os.getloadavg(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "libraries": _libraries(sys.executable),
        "perf": shutil.which("perf") is not None,
        "cells": {},
    }
    work = Path(tempfile.mkdtemp(prefix="skship-blas-"))
    for letter, rows in CELLS:
        perf_out = work / f"{letter}-{rows}.data" if report["perf"] else None
        report["cells"][f"{letter}/{rows}"] = _run_child(
            sys.executable, letter, rows, scale, seconds, perf_out
        )
        print(letter, rows, report["cells"][f"{letter}/{rows}"], flush=True)
    shutil.rmtree(work, ignore_errors=True)
    if mkl:
        ab: dict[str, Any] = {}
        for kind in MKL_PINS:
            python, status = _venv(kind, root)
            entry: dict[str, Any] = {"status": status}
            if python is not None:
                entry["libraries"] = _libraries(python)
                for letter, rows in CELLS:
                    entry[f"{letter}/{rows}"] = _run_child(
                        python, letter, rows, scale, seconds, None
                    )
                    print(kind, letter, rows, entry[f"{letter}/{rows}"], flush=True)
            ab[kind] = entry
        report["mkl_vs_openblas"] = ab
    report["load_average_end"] = os.getloadavg()
    return report


def markdown(report: dict[str, Any]) -> str:
    lines = ["## Does the BLAS build matter?", ""]
    libs = ", ".join(
        f"{i.get('internal_api')} ({i.get('prefix')} {i.get('version') or ''})".replace(" )", ")")
        for i in report["libraries"]
        if "error" not in i
    )
    lines += [
        f"Loaded by the serving environment (threadpoolctl; numpy {report['numpy']}, "
        f"scikit-learn {report['scikit-learn']}): {libs}. Load average "
        f"{tuple(round(x, 1) for x in report['load_average'])} at the start.",
        "",
        "Share of `predict`'s CPU time inside the BLAS library (`perf record` on a process "
        "calling only `predict`, one BLAS thread, samples by shared object):",
        "",
        "| model | rows | predict µs (CPU) | in BLAS | top shared objects |",
        "|---|---|---|---|---|",
    ]
    for key, cell in report["cells"].items():
        letter, rows = key.split("/")
        if "error" in cell:
            lines.append(f"| ({letter}) | {rows} | failed: {cell['error'][:60]} | - | - |")
            continue
        share = f"{cell['blas_share_pct']:.1f} %" if "blas_share_pct" in cell else "not measured"
        top = "; ".join(f"{Path(k).name} {v}%" for k, v in cell.get("top_dsos", [])[:3])
        us = cell.get("cpu_us", cell["predict_us"])
        lines.append(f"| ({letter}) | {rows} | {us:.0f} | {share} | {top} |")
    lines.append("")
    ab = report.get("mkl_vs_openblas")
    if ab:
        mkl, ob = ab.get("mkl", {}), ab.get("openblas", {})
        if "a/1" in mkl and "a/1" in ob:
            lines += [
                f"MKL against OpenBLAS: CPython {MKL_PYTHON} virtualenvs, scikit-learn 1.6.1, "
                "scipy 1.10.1, numpy 1.21 linked to MKL (intel-numpy) or to OpenBLAS (PyPI), "
                "models fitted in each, `predict` per call (CPU time of the process, which "
                "counts every thread of it; and the wall-clock median, which also counts "
                "waiting for the core on a shared machine):",
                "",
                "| model | rows | MKL CPU µs | OpenBLAS CPU µs | MKL / OpenBLAS (CPU) "
                "| MKL wall µs | OpenBLAS wall µs |",
                "|---|---|---|---|---|---|---|",
            ]
            for letter, rows in CELLS:
                a, b = mkl.get(f"{letter}/{rows}", {}), ob.get(f"{letter}/{rows}", {})
                if "predict_us" in a and "predict_us" in b:
                    x = a.get("cpu_us", a["predict_us"])
                    y = b.get("cpu_us", b["predict_us"])
                    lines.append(
                        f"| ({letter}) | {rows} | {x:.0f} | {y:.0f} | {x / y:.2f} "
                        f"| {a['predict_us']:.0f} | {b['predict_us']:.0f} |"
                    )
            lines.append("")
        else:
            lines += [
                "MKL against OpenBLAS: not measured here "
                f"(MKL: {mkl.get('status')}; OpenBLAS: {ob.get('status')}).",
                "",
            ]
    else:
        lines += [
            "MKL against OpenBLAS: not run (`blas.py --mkl` builds the two virtualenvs).",
            "",
        ]
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        letter, rows, scale, seconds = sys.argv[2:6]
        child(letter, int(rows), float(scale), float(seconds))
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=0.2)
    p.add_argument("--seconds", type=float, default=3.0, help="predict loop per cell")
    p.add_argument("--mkl", action="store_true", help="also time MKL against OpenBLAS")
    p.add_argument(
        "--venvs",
        type=Path,
        default=Path(tempfile.gettempdir()) / "skship-serve-bench",
        help="where the MKL and OpenBLAS virtualenvs are made (kept between runs)",
    )
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    report = measure(args.scale, args.seconds, args.mkl, args.venvs)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
