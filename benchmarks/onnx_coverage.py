"""ONNX coverage over scikit-learn's ``all_estimators()``: what converts and verifies, and
whether ``skship onnx check`` predicted it.

    python benchmarks/onnx_coverage.py --markdown docs/onnx/coverage.md --json coverage.json

Each classifier, regressor, transformer and clusterer is built as scikit-learn's own test
suite builds it (``_construct_instances``), fitted on small seeded data (120 rows, 4
non-negative features, binary labels), converted with ``skship.onnx.convert`` (default
options, verification on 40 training rows plus edge cases) and compared with
``skship.onnx.check``'s prediction. Estimators that need other data (dicts, pairs, 1-d
input) are listed as skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

TYPES = ["classifier", "regressor", "transformer", "cluster"]
N_TRAIN, N_TEST = 120, 40


def estimators() -> list[tuple[str, type]]:
    from sklearn.utils import all_estimators

    return sorted(all_estimators(type_filter=TYPES), key=lambda item: item[0])


def _docs(n: int, rng: np.random.Generator) -> list[str]:
    words = ["red", "green", "blue", "cat", "dog", "fish", "sun", "moon", "tree", "rock"]
    return [" ".join(rng.choice(words, size=int(rng.integers(3, 9)))) for _ in range(n)]


def build(cls: type) -> tuple[Any, Any]:
    """(fitted estimator, sample), or raise if it cannot be built on our data."""
    from sklearn.base import is_regressor
    from sklearn.datasets import make_classification
    from sklearn.utils._test_common.instance_generator import _construct_instances

    est = next(iter(_construct_instances(cls)))
    if "random_state" in est.get_params():
        est.set_params(random_state=0)
    tags = est.__sklearn_tags__()
    rng = np.random.default_rng(0)
    n = N_TRAIN + N_TEST
    X, y = make_classification(
        n_samples=n, n_features=4, n_informative=3, n_redundant=0, random_state=0
    )
    X = X - X.min(axis=0) + 0.5  # non-negative for the naive Bayes and chi2 estimators
    target: Any = y
    if is_regressor(est):
        target = X @ np.array([1.0, -2.0, 0.5, 3.0]) + rng.normal(size=n)
        if tags.target_tags.positive_only:
            target = np.abs(target) + 1.0
    if tags.input_tags.categorical and tags.input_tags.positive_only:
        X = np.floor(X)
    if not tags.input_tags.two_d_array and tags.input_tags.one_d_array:
        X = X[:, :1]
    # The first way of fitting that works: the data as it is, then the variants some
    # estimators need (two target columns, no target, documents).
    attempts: list[tuple[Any, Any]] = [(X, target)]
    if not tags.target_tags.single_output:
        attempts.insert(0, (X, np.column_stack([target, target[::-1]])))
    attempts.append((X, None))
    if tags.input_tags.string:
        attempts.insert(0, (np.array(_docs(n, rng), dtype=object), y))
    errors = []
    for data, labels in attempts:
        arrays = tags.input_tags.two_d_array or tags.input_tags.one_d_array
        if not arrays and not (tags.input_tags.string and data.ndim == 1):
            errors.append("takes no 2-d array input (needs dicts, images or labels)")
            continue
        train = list(data[:N_TRAIN]) if data.ndim == 1 else data[:N_TRAIN]
        try:
            fitted = est.fit(train, None if labels is None else labels[:N_TRAIN])
        except Exception as err:
            errors.append(f"{type(err).__name__}: {err}")
            continue
        return fitted, list(data[:N_TEST]) if data.ndim == 1 else data[:N_TEST]
    raise ValueError(errors[-1] if errors else "cannot fit")


def run_one(cls: type) -> dict[str, Any]:
    from skship.errors import OnnxConversionError, OnnxVerificationError
    from skship.onnx import check, convert

    entry: dict[str, Any] = {"name": cls.__name__, "module": cls.__module__.split("._")[0]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model, sample = build(cls)
        except Exception as err:
            entry.update(outcome="skip", detail=f"{type(err).__name__}: {str(err)[:160]}")
            return entry
        report = check(model)
        entry["predicted"] = report.outcome
        entry["findings"] = sorted({f.code for s in report.steps for f in s.findings})
        start = time.perf_counter()
        try:
            conversion = convert(model, sample)
        except OnnxVerificationError as err:
            entry.update(outcome="mismatch", detail=err.detail.splitlines()[0][:200])
            entry["outputs"] = [o.to_dict() for o in err.report.outputs]
        except OnnxConversionError as err:
            entry.update(outcome="fails", code=err.code, detail=err.detail[:200])
        else:
            entry.update(outcome="ok", dtype=conversion.dtype)
        entry["seconds"] = round(time.perf_counter() - start, 4)
    return entry


def markdown(results: list[dict[str, Any]], versions: dict[str, str]) -> str:
    counted = [r for r in results if r["outcome"] != "skip"]
    count = {k: sum(r["outcome"] == k for r in counted) for k in ("ok", "fails", "mismatch")}
    agree = sum(r["predicted"] == r["outcome"] for r in counted)
    lines = [
        "# ONNX coverage",
        "",
        "Generated by `python benchmarks/onnx_coverage.py --markdown docs/onnx/coverage.md`"
        " (do not edit by hand). Versions: "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + ".",
        "",
        f"Of {len(results)} estimators in `all_estimators()` (classifiers, regressors, "
        f"transformers, clusterers), {len(counted)} could be fitted on the sweep's data: "
        f"**{count['ok']} convert and verify**, {count['fails']} fail to convert (most have "
        f"no converter), {count['mismatch']} convert but do not verify. `skship onnx check` "
        f"predicted the outcome of {agree} of {len(counted)}.",
        "",
        "| Estimator | Outcome | check predicted | Detail |",
        "|---|---|---|---|",
    ]
    for r in results:
        detail = str(r.get("detail", r.get("dtype", ""))).replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| `{r['name']}` | {r['outcome']} | {r.get('predicted', '-')} | {detail[:120]} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--only", nargs="*", help="class names to run (default: all)")
    args = parser.parse_args(argv)
    from skship.onnx._deps import versions

    results = []
    for name, cls in estimators():
        if args.only and name not in args.only:
            continue
        entry = run_one(cls)
        results.append(entry)
        print(
            f"{name:40s} {entry['outcome']:9s} predicted={entry.get('predicted', '-'):9s} "
            f"{str(entry.get('detail', ''))[:90]}",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps({"versions": versions(), "results": results}, indent=1))
    if args.markdown:
        args.markdown.write_text(markdown(results, versions()))
    wrong = [
        r["name"] for r in results if r["outcome"] != "skip" and r["predicted"] != r["outcome"]
    ]
    print(f"check disagreed with the outcome for {len(wrong)}: {wrong}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
