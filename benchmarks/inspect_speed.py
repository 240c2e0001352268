"""Inspect benchmark: `skship.inspect` on a ~100 MB model file, and `skship --help`.

    python benchmarks/inspect_speed.py --repeat 7 [--scale 1.0] [--json out.json]

How it measures:

* The model is a Pipeline(StandardScaler, RandomForestClassifier(40 trees),
  KNeighborsClassifier(kd_tree)) whose KNN keeps its training rows, so the file is about
  100 MB at ``--scale 1`` with a few thousand nodes in its tree. It is written once to a
  temporary folder (so the page cache holds it, as it would for a file just downloaded).
* Anchors from the same run: reading the whole file into memory (``Path.read_bytes``:
  what any tool that looks at array bytes pays at least) and ``skship.load``.
* ``inspect`` reads no array bytes. The script proves it rather than claiming it: it
  overwrites the whole data section with 0xFF and checks that the inspect report is
  unchanged (only ``load`` notices, through the sha256).
* Each measurement is one call timed with ``time.perf_counter`` after ``gc.collect()``;
  the reported time is the median over ``--repeat`` repetitions, operations visited in
  turn each repetition. ``skship --help`` is timed as a fresh process (the way a shell
  runs it), anchored to ``python -c pass``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def build_model(scale: float) -> Any:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    n = max(int(1_200_000 * scale), 200)
    X = rng.normal(size=(n, 10))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    forest = RandomForestClassifier(n_estimators=40, max_depth=8, random_state=0, n_jobs=1)
    forest.fit(X[: min(n, 20_000)], y[: min(n, 20_000)])
    knn = KNeighborsClassifier(algorithm="kd_tree").fit(X, y)
    return Pipeline([("scale", StandardScaler().fit(X)), ("forest", forest), ("knn", knn)])


def data_section(path: Path) -> tuple[int, int]:
    """Offset and length of the data member's bytes in the file."""
    from skship.format.container import parse_container
    from skship.format.limits import DEFAULT_LIMITS

    pc = parse_container(path.read_bytes(), DEFAULT_LIMITS)
    assert pc.data is not None
    return pc.data.start, pc.data.csize


def timed(fn: Callable[[], Any]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def process_time(args: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of a fresh process. CPU time is what the
    command costs; wall time also counts waiting for a core on a busy machine."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    import skship

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.skops"
        skship.dump(build_model(args.scale), path)
        size = path.stat().st_size
        report = skship.inspect(path)

        # Proof that inspect reads no array bytes: scribble over the data section.
        start, length = data_section(path)
        scribbled = Path(tmp) / "scribbled.skops"
        with open(path, "rb") as src, open(scribbled, "wb") as dst:
            dst.write(src.read(start))
            dst.write(b"\xff" * length)
            src.seek(start + length)
            dst.write(src.read())
        same = skship.inspect(scribbled)
        same["file"] = report["file"]
        assert same == report, "inspect's report depends on the array bytes"
        try:
            skship.load(scribbled)
            raise AssertionError("load accepted a corrupted data section")
        except skship.errors.IntegrityError:
            pass

        ops: dict[str, Callable[[], Any]] = {
            "inspect": lambda: skship.inspect(path),
            "read whole file": path.read_bytes,
            "skship.load": lambda: skship.load(path),
        }
        skship_exe = str(Path(sys.executable).with_name("skship"))
        procs: dict[str, list[str]] = {
            "skship --help": [skship_exe, "--help"],
            "python -c pass": [sys.executable, "-c", "pass"],
        }
        times: dict[str, list[float]] = {k: [] for k in [*ops, *procs]}
        cpu: dict[str, list[float]] = {k: [] for k in procs}
        for _ in range(args.repeat):
            for name, fn in ops.items():
                times[name].append(timed(fn))
            for name, cmd in procs.items():
                wall, used = process_time(cmd)
                times[name].append(wall)
                cpu[name].append(used)
    median = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "file_bytes": size,
        "nodes": report["node_count"],
        "data_bytes": report["data"]["bytes"],
        "median_seconds": median,
        "median_cpu_seconds": {k: statistics.median(v) for k, v in cpu.items()},
        "inspect_over_read": median["inspect"] / median["read whole file"],
        "help_over_python": median["skship --help"] / median["python -c pass"],
        "inspect_reads_no_array_bytes": True,
        "repeat": args.repeat,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
    }
    print(f"file: {size / 2**20:.1f} MiB, {report['node_count']} nodes")
    for name, secs in median.items():
        print(f"  {name:16s} {secs * 1000:8.1f} ms (median of {args.repeat})")
    for name, v in result["median_cpu_seconds"].items():
        print(f"  {name:16s} {v * 1000:8.1f} ms CPU (median of {args.repeat})")
    print(f"  inspect / read whole file = {result['inspect_over_read']:.3f}")
    print(f"  skship --help / python -c pass = {result['help_over_python']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
