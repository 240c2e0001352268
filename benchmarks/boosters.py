"""XGBoost, LightGBM and CatBoost models: skship (each library's own model format,
validated before loading) against pickle protocol 5, in the same run.

    uv run python benchmarks/boosters.py [--trees 300] [--repeat 7]

Prints, per model, the file sizes and the median dumps/loads times, with skship's
ratio to pickle. Single-threaded libraries; one process; medians of --repeat runs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pickle
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.datasets import make_classification

import skship


def _models(trees: int) -> dict[str, Any]:
    import catboost
    import lightgbm
    import xgboost

    X, y = make_classification(2000, 20, n_informative=10, random_state=0)
    return {
        "XGBClassifier": xgboost.XGBClassifier(n_estimators=trees, max_depth=6, n_jobs=1).fit(X, y),
        "LGBMClassifier": lightgbm.LGBMClassifier(
            n_estimators=trees, num_leaves=63, n_jobs=1, verbose=-1
        ).fit(X, y),
        "CatBoostClassifier": catboost.CatBoostClassifier(
            iterations=trees, depth=6, thread_count=1, verbose=0, allow_writing_files=False
        ).fit(X, y),
    }


def _median(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trees", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        # Module versions: xgboost may come from the xgboost or the xgboost-cpu distribution.
        "versions": {
            m: importlib.import_module(m).__version__
            for m in ("xgboost", "lightgbm", "catboost", "numpy")
        },
        "trees": args.trees,
        "repeat": args.repeat,
        "models": {},
    }
    print(f"{'model':<20} {'size p/s (kB)':>16} {'dumps p/s (ms)':>18} {'loads p/s (ms)':>18}")
    for name, model in _models(args.trees).items():
        pickled = pickle.dumps(model, protocol=5)
        blob = skship.dumps(model)
        X = np.zeros((1, model.n_features_in_))
        assert np.array_equal(skship.loads(blob).predict(X), model.predict(X))
        row = {
            "size": {"pickle": len(pickled), "skship": len(blob)},
            "dumps": {
                "pickle": _median(lambda m=model: pickle.dumps(m, protocol=5), args.repeat),
                "skship": _median(lambda m=model: skship.dumps(m), args.repeat),
            },
            "loads": {
                "pickle": _median(lambda b=pickled: pickle.loads(b), args.repeat),
                "skship": _median(lambda b=blob: skship.loads(b), args.repeat),
            },
        }
        results["models"][name] = row
        d, lo = row["dumps"], row["loads"]
        print(
            f"{name:<20} {len(pickled) / 1e3:>7.0f}/{len(blob) / 1e3:<8.0f}"
            f" {d['pickle'] * 1e3:>7.1f}/{d['skship'] * 1e3:<6.1f}(x{d['skship'] / d['pickle']:.1f})"
            f" {lo['pickle'] * 1e3:>7.1f}/{lo['skship'] * 1e3:<6.1f}(x{lo['skship'] / lo['pickle']:.1f})"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
