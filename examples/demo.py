"""The main job, end to end: train a model, save it, audit it, load it, check it.

Trains Pipeline(StandardScaler, HistGradientBoostingClassifier) on the breast cancer
dataset that ships with scikit-learn (no download), saves it with skship, audits the
file, loads it, checks that every prediction method gives identical output, and prints
file size and save/load times next to pickle protocol 5 (median of repeated runs, both
measured in the same run). Then the later stages run on the same model: a model card
with plots, validated offline (examples/demo_card.py); an ONNX conversion, checked,
converted and verified against scikit-learn (examples/demo_onnx.py); and the model
served over HTTP and queried in two formats (examples/demo_serve.py). Exits with status
1 if anything does not match or any stage fails.

Run it with `make demo`, or `uv run python examples/demo.py [--quick]`.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import skship

PREDICTION_METHODS = ("predict", "predict_proba", "decision_function")


@dataclass
class Timing:
    skship: float
    pickle: float


@dataclass
class Report:
    model: str
    dataset: str
    skship_bytes: int = 0
    pickle_bytes: int = 0
    save: Timing | None = None
    load: Timing | None = None
    audit_seconds: float = 0.0
    untrusted: list[str] | None = None
    deterministic: bool = False
    checked_methods: tuple[str, ...] = ()
    test_accuracy: float = 0.0
    failures: list[str] | None = None
    stages: list[tuple[str, list[str], float]] | None = None


def median_seconds(run: Callable[[], Any], repeats: int) -> float:
    """Median wall time of `repeats` calls (one untimed warm-up call first)."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def train(quick: bool) -> tuple[Pipeline, pd.DataFrame, pd.DataFrame, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    model = Pipeline(
        [
            ("scale", StandardScaler()),
            (
                "classify",
                HistGradientBoostingClassifier(
                    max_iter=20 if quick else 200, early_stopping=False, random_state=0
                ),
            ),
        ]
    )
    model.fit(X_train, y_train)
    return model, X_train, X_test, y_test


def compare_predictions(original: Any, loaded: Any, X: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Return (methods checked, failures). Outputs must be identical, not just close."""
    checked, failures = [], []
    for method in PREDICTION_METHODS:
        if not hasattr(original, method):
            continue
        expected = getattr(original, method)(X)
        got = getattr(loaded, method)(X)
        checked.append(method)
        if not np.array_equal(expected, got):
            failures.append(f"{method} differs after loading")
    return checked, failures


def run(quick: bool, repeats: int, workdir: Path) -> Report:
    model, X_train, X_test, y_test = train(quick)
    report = Report(
        model="Pipeline(StandardScaler, HistGradientBoostingClassifier)",
        dataset=f"breast_cancer ({len(X_train)} train / {len(X_test)} test rows, "
        f"{X_train.shape[1]} features)",
        failures=[],
    )
    assert report.failures is not None
    skship_path = workdir / "model.skops"
    pickle_path = workdir / "model.pkl"

    # Save.
    def save_skship() -> None:
        skship.dump(model, skship_path, sample=X_train.head())

    def save_pickle() -> None:
        with open(pickle_path, "wb") as f:
            pickle.dump(model, f, protocol=5)

    report.save = Timing(median_seconds(save_skship, repeats), median_seconds(save_pickle, repeats))
    report.skship_bytes = skship_path.stat().st_size
    report.pickle_bytes = pickle_path.stat().st_size
    report.deterministic = skship_path.read_bytes() == skship.dumps(model, sample=X_train.head())
    if not report.deterministic:
        report.failures.append("saving the same model twice gave different bytes")

    # Audit: reads schema.json only, imports nothing.
    report.untrusted = skship.get_untrusted_types(skship_path)
    report.audit_seconds = median_seconds(lambda: skship.get_untrusted_types(skship_path), repeats)
    if report.untrusted:
        report.failures.append(f"untrusted types in the file: {report.untrusted}")
        return report

    # Load (the audit is part of every load) and check.
    def load_pickle() -> Any:
        with open(pickle_path, "rb") as f:
            return pickle.load(f)

    report.load = Timing(
        median_seconds(lambda: skship.load(skship_path), repeats),
        median_seconds(load_pickle, repeats),
    )
    loaded = skship.load(skship_path)
    X_all = pd.concat([X_train, X_test])
    checked, failures = compare_predictions(model, loaded, X_all)
    report.checked_methods = tuple(checked)
    report.failures.extend(failures)
    report.test_accuracy = float(loaded.score(X_test, y_test))
    if not report.failures:
        run_stages(report, model, skship_path, X_test, y_test, workdir)
    return report


def run_stages(
    report: Report, model: Any, model_path: Path, X_test: Any, y_test: Any, workdir: Path
) -> None:
    """The later issues' stages, each in its own module next to this file."""
    import demo_card
    import demo_onnx
    import demo_serve

    def serve() -> list[str]:
        failures = demo_serve.stage(model_path, X_test, y_test, workdir)
        if failures:
            raise RuntimeError("; ".join(failures))
        return ["OIP v2 JSON and SageMaker CSV answers identical to the loaded model"]

    assert report.failures is not None
    report.stages = []
    stages: list[tuple[str, Callable[[], list[str]]]] = [
        ("model card", lambda: demo_card.stage(model, X_test, y_test, workdir)),
        ("onnx", lambda: demo_onnx.stage(model, X_test, y_test, workdir)),
        ("serve", serve),
    ]
    for name, stage in stages:
        start = time.perf_counter()
        try:
            lines = stage()
        except Exception as exc:  # a failed stage is reported; the others still run
            report.failures.append(f"{name} stage: {type(exc).__name__}: {exc}")
            lines = []
        report.stages.append((name, lines, time.perf_counter() - start))


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def print_report(report: Report, repeats: int) -> None:
    version = getattr(skship, "__version__", None)
    print(f"skship {version} demo" if version else "skship demo")
    print(f"model:   {report.model}")
    print(f"dataset: {report.dataset}")
    print()
    rows = [("", "skship", "pickle 5", "ratio")]
    rows.append(
        (
            "file size (bytes)",
            f"{report.skship_bytes:,}",
            f"{report.pickle_bytes:,}",
            ratio(report.skship_bytes, report.pickle_bytes),
        )
    )
    for label, timing in (("save", report.save), ("load incl. audit", report.load)):
        if timing is not None:
            rows.append(
                (
                    f"{label} (ms, median of {repeats})",
                    f"{timing.skship * 1e3:.2f}",
                    f"{timing.pickle * 1e3:.2f}",
                    ratio(timing.skship, timing.pickle),
                )
            )
    rows.append(
        (f"audit only (ms, median of {repeats})", f"{report.audit_seconds * 1e3:.2f}", "-", "")
    )
    untrusted = "-" if report.untrusted is None else str(len(report.untrusted))
    rows.append(("untrusted types", untrusted, "not audited", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print(
            "  ".join(
                cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                for i, cell in enumerate(row)
            ).rstrip()
        )
    print()
    print(f"deterministic bytes: {'yes' if report.deterministic else 'NO'}")
    if report.checked_methods:
        print(
            f"predictions: {', '.join(report.checked_methods)} identical after loading; "
            f"test accuracy {report.test_accuracy:.3f}"
        )
    for name, lines, seconds in report.stages or []:
        print()
        print(f"[{name}] ({seconds:.1f} s)")
        for line in lines:
            print(f"  {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="train a smaller model (20 boosting iterations instead of 200), for tests",
    )
    parser.add_argument("--repeats", type=int, default=None, help="timing runs (default 5)")
    args = parser.parse_args(argv)
    repeats = args.repeats or 5

    with tempfile.TemporaryDirectory(prefix="skship-demo-") as tmp:
        report = run(args.quick, repeats, Path(tmp))
    print_report(report, repeats)
    if report.failures:
        for failure in report.failures:
            print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
