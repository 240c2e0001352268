"""The demo's ONNX stage: check, convert and verify the demo model.

`stage(model, X_test, y_test, workdir)` runs `skship.onnx.check` (predict the outcome),
`skship.onnx.convert` (which always verifies onnxruntime against scikit-learn on the rows
plus edge cases), writes `model.onnx` into `workdir`, compares test accuracy and
single-row latency, and returns summary lines; it raises if any of that fails.
examples/demo.py calls it; run alone it trains the demo model quickly and runs the stage.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def _median_ms(run: Callable[[], Any], repeats: int = 25) -> float:
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def stage(model: Any, X_test: Any, y_test: Any, workdir: Path) -> list[str]:
    """Check, convert and verify ``model``; write ``workdir/model.onnx``; summary lines."""
    from skship.onnx import check, convert

    report = check(model, X_test)
    if not report.ok:
        raise RuntimeError(f"skship onnx check predicts failure: {report.summary}")
    conversion = convert(model, X_test)  # raises OnnxVerificationError on any mismatch
    path = conversion.save(Path(workdir) / "model.onnx")
    verification = conversion.verification
    numeric = [o for o in verification.outputs if o.kind == "numeric"]
    worst = max((o.max_abs_diff or 0.0) for o in numeric) if numeric else 0.0

    session = conversion.session()
    info = conversion.inputs[0]
    dtype = np.float32 if info.type == "float" else np.float64
    X = np.asarray(X_test, dtype=dtype)
    labels = session.run([conversion.outputs[0]], {info.name: X})[0]
    onnx_accuracy = float(np.mean(labels == np.asarray(y_test)))
    sklearn_accuracy = float(model.score(X_test, y_test))
    if onnx_accuracy != sklearn_accuracy:
        raise RuntimeError(f"accuracy differs: onnx {onnx_accuracy}, sklearn {sklearn_accuracy}")
    one_row = X_test.iloc[:1] if hasattr(X_test, "iloc") else X_test[:1]
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # both on one thread (HGB's OpenMP pool stalls on busy cores)
        sklearn_ms = _median_ms(lambda: model.predict_proba(one_row))
    onnx_ms = _median_ms(lambda: session.run(None, {info.name: X[:1]}))
    return [
        f"onnx check: {report.outcome} ({len(report.steps)} steps, every one with a converter)",
        f"onnx convert: {path.name}, {path.stat().st_size:,} bytes, {conversion.dtype} inputs, "
        f"{conversion.seconds * 1e3:.0f} ms",
        f"onnx verify: {verification.sample_rows} rows + {len(verification.edge_rows)} edge "
        f"cases, labels identical, max abs diff {worst:.2g}",
        f"onnx accuracy {onnx_accuracy:.3f} (scikit-learn {sklearn_accuracy:.3f}); one row "
        f"{onnx_ms:.3f} ms onnxruntime vs {sklearn_ms:.3f} ms scikit-learn (one thread each)",
    ]


def main() -> int:
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    model = Pipeline(
        [
            ("scale", StandardScaler()),
            (
                "classify",
                HistGradientBoostingClassifier(max_iter=20, early_stopping=False, random_state=0),
            ),
        ]
    ).fit(X_train, y_train)
    with tempfile.TemporaryDirectory(prefix="skship-onnx-demo-") as tmp:
        for line in stage(model, X_test, y_test, Path(tmp)):
            print(line)
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
