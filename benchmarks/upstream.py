"""Loading files written by upstream skops: skship's translating reader against skops 0.16
itself, on the same file, in the same run (median of repeated loads).

    uv run python benchmarks/upstream.py [--trees 100] [--repeat 7]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any


def _median(f: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    import sklearn
    import skops
    import skops.io as sio
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    import skship

    X, y = make_classification(n_samples=2000, n_features=20, random_state=0)
    model = RandomForestClassifier(n_estimators=args.trees, random_state=0).fit(X, y)
    raw = sio.dumps(model)
    untrusted = sio.get_untrusted_types(data=raw)
    ours = _median(lambda: skship.loads(raw), args.repeat)
    theirs = _median(lambda: sio.loads(raw, trusted=untrusted), args.repeat)
    p3 = skship.dumps(model)
    native = _median(lambda: skship.loads(p3), args.repeat)
    print(
        f"python {platform.python_version()}, scikit-learn {sklearn.__version__}, "
        f"skops {skops.__version__}, skship {skship.__version__}; "
        f"RandomForestClassifier({args.trees} trees), protocol-2 file of {len(raw) / 1e6:.2f} MB"
    )
    print(f"skship.loads (protocol 2, translated): {ours * 1e3:8.1f} ms")
    print(f"skops.io.loads (protocol 2):           {theirs * 1e3:8.1f} ms  ({theirs / ours:.2f}x)")
    print(f"skship.loads (protocol 3, same model): {native * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
