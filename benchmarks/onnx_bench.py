"""ONNX benchmark: conversion time, and onnxruntime against scikit-learn latency, on the
persistence zoo (benchmarks/zoo.py).

    python benchmarks/onnx_bench.py --scale 0.25 --repeat 5 --markdown docs/onnx/benchmarks.md

How it measures (the markdown page repeats this):

* Conversion: ``skship.onnx.convert`` on 200 test rows. "convert" is skl2onnx's
  conversion alone (of the graph that was kept); "convert + verify" is the whole call,
  including onnxruntime session creation and the verification on the rows plus edge
  cases. Measured once per model (it is seconds, not microseconds).
* Imports of skl2onnx and onnxruntime happen before the first model is timed; models with
  ``n_jobs`` are set to ``n_jobs=1``.
* Latency: ``predict`` of scikit-learn (with ``predict_proba`` when the model has it, since
  the ONNX graph computes both) against ``InferenceSession.run`` of all outputs, on one row
  and on a batch of the zoo's test rows (1000 at scale 1). Both run on one thread
  (``threadpoolctl`` for scikit-learn, ``intra_op_num_threads=1`` for onnxruntime), the
  fair comparison for a server that runs one worker per core.
* One measurement = ``n`` calls (calibrated to last ``--min-time``) timed with
  ``time.perf_counter`` with the garbage collector off; the reported time is the median
  over ``--repeat`` measurements, the two runtimes alternating; ratios are taken within
  the same run.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Not named onnx.py: this folder comes first on sys.path and would shadow the onnx package.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import zoo
from persistence import environment

VERIFY_ROWS = 200


def _measure(operation: Callable[[], Any], number: int) -> float:
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(number):
            operation()
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    return elapsed / number


def _calibrated(operation: Callable[[], Any], min_time: float) -> int:
    start = time.perf_counter()
    operation()
    once = time.perf_counter() - start
    if min_time <= 0 or once >= min_time:
        return 1
    return min(10_000, math.ceil(min_time / max(once, 1e-7)))


def _rows(X: Any, n: int) -> Any:
    if hasattr(X, "iloc"):
        return X.iloc[:n]
    if isinstance(X, list):
        return X[:n]
    return X[:n]


def bench_model(letter: str, scale: float, repeat: int, min_time: float) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    from skship.onnx import convert
    from skship.onnx.inputs import feeds, prepare_sample

    _, model, X_test = zoo.BUILDERS[letter](scale)
    if "n_jobs" in model.get_params():
        model.set_params(n_jobs=1)  # one thread each (the forest is fitted with n_jobs=2)
    entry: dict[str, Any] = {"description": zoo.DESCRIPTIONS[letter]}
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            conversion = convert(model, _rows(X_test, VERIFY_ROWS))
    except Exception as err:
        entry["error"] = f"{type(err).__name__}: {str(err)[:300]}"
        return entry
    entry["convert_seconds"] = conversion.seconds
    entry["convert_verify_seconds"] = time.perf_counter() - start
    entry["onnx_bytes"] = len(conversion.onnx)
    entry["dtype"] = conversion.dtype
    entry["edge_rows"] = len(conversion.verification.edge_rows)
    session = conversion.session(threads=1)
    has_proba = hasattr(model, "predict_proba")

    def sklearn_call(rows: Any) -> Callable[[], Any]:
        if has_proba:
            return lambda: (model.predict(rows), model.predict_proba(rows))
        return lambda: model.predict(rows)

    batch_size = len(X_test)
    entry["batch_rows"] = batch_size
    for label, rows in (("one_row", _rows(X_test, 1)), ("batch", X_test)):
        onnx_feeds = feeds(prepare_sample(model, rows), conversion.inputs)
        operations = {
            "scikit-learn": sklearn_call(rows),
            "onnxruntime": lambda f=onnx_feeds: session.run(None, f),
        }
        times: dict[str, list[float]] = {name: [] for name in operations}
        with threadpool_limits(1):
            counts = {name: _calibrated(op, min_time) for name, op in operations.items()}
            for _ in range(repeat):
                for name, op in operations.items():
                    times[name].append(_measure(op, counts[name]))
        entry[label] = {name: statistics.median(values) for name, values in times.items()}
    return entry


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}" if seconds < 0.01 else f"{seconds * 1e3:.1f}"


def markdown(report: dict[str, Any]) -> str:
    env = report["environment"]
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items())
    lines = [
        "# ONNX benchmarks",
        "",
        f"Generated by `{report['command']}` on {env['date']} (do not edit by hand).",
        "",
        f"Machine: {env['machine']['cpu']}, {env['machine']['usable_cores']} usable cores, "
        f"load average at start {env['machine']['load_average_at_start']}. Versions: {versions}.",
        "",
        "How it is measured: see the docstring of `benchmarks/onnx_bench.py`. Latency is the median "
        f"of {report['repeat']} measurements, one thread each; scikit-learn calls `predict` "
        "and `predict_proba` (when the model has it), onnxruntime computes both outputs in "
        "one run. Ratio = scikit-learn / onnxruntime (above 1: onnxruntime is faster).",
        "",
        "| model | convert (ms) | convert + verify (ms) | ONNX bytes | inputs | one row sklearn / ORT (ms) | ratio | batch rows | batch sklearn / ORT (ms) | ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for letter, entry in report["models"].items():
        if "error" in entry:
            lines.append(
                f"| ({letter}) {entry['description']} | failed: {entry['error'][:120]} |" + " |" * 8
            )
            continue
        one, batch = entry["one_row"], entry["batch"]
        lines.append(
            f"| ({letter}) {entry['description']} | {entry['convert_seconds'] * 1e3:.0f} | "
            f"{entry['convert_verify_seconds'] * 1e3:.0f} | {entry['onnx_bytes']:,} | "
            f"{entry['dtype']} | {_ms(one['scikit-learn'])} / {_ms(one['onnxruntime'])} | "
            f"{one['scikit-learn'] / one['onnxruntime']:.1f}x | {entry['batch_rows']} | "
            f"{_ms(batch['scikit-learn'])} / {_ms(batch['onnxruntime'])} | "
            f"{batch['scikit-learn'] / batch['onnxruntime']:.1f}x |"
        )
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--models", default="abcdef", help="zoo letters (default abcdef)")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.05)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args(argv)
    letters = [c for c in args.models if c in zoo.BUILDERS]
    env = environment()
    env["command"] = "python benchmarks/onnx_bench.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    for dist in ("skl2onnx", "onnxruntime", "onnx"):
        from importlib.metadata import version

        env["versions"][dist] = version(dist)
    report: dict[str, Any] = {
        "environment": env,
        "command": env["command"],
        "repeat": args.repeat,
        "scale": args.scale,
        "models": {},
    }
    # Import skl2onnx, onnxruntime and skship's converters before the first timed
    # conversion, so that model (a) does not pay for them.
    from skship.onnx.registry import converter_for
    from skship.onnx.verify_session import run as _ort_run  # noqa: F401

    converter_for(None)
    failed = False
    for letter in letters:
        entry = bench_model(letter, args.scale, args.repeat, args.min_time)
        report["models"][letter] = entry
        failed |= "error" in entry
        print(letter, json.dumps(entry), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    if args.markdown:
        args.markdown.write_text(markdown(report))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
