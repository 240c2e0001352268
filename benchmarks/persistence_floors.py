"""Primitive floors of one skship.loads, next to pickle.loads of the same model.

Each step that protocol 3 requires of every load is timed alone (``timeit``, minimum of 7
repeats): inflating schema.json, decoding it with msgspec, the two sha256s, building the
estimator (``__new__`` + ``__setstate__`` of its state dict) and making its arrays
(``np.frombuffer``). Their sum is what a perfect pure-Python reader would spend before
reading any zip header, walking or auditing any node or resolving any trusted name: the
reason issue 2's <= 1.5x targets on small models are out of reach without compiled code or
a spec change. A measurement, not a test.

    uv run python benchmarks/persistence_floors.py --models ad --zoo-cache /tmp/zoo.pkl
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import io
import pickle
import sys
import timeit
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from persistence import load_zoo

import skship


def _us(fn: Callable[[], Any], number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=7)) / number * 1e6


def floors(model: Any, number: int) -> dict[str, float]:
    data = skship.dumps(model)
    pdata = pickle.dumps(model, protocol=5)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = z.getinfo("schema.json")
        schema = z.read("schema.json")
        section = z.read("data")
    start = info.header_offset + 30 + len(info.filename)
    raw = data[start : start + info.compress_size]
    inflate = (lambda: zlib.decompress(raw, -15)) if info.compress_type == 8 else (lambda: raw)
    state = model.__getstate__()
    cls = type(model)
    arrays = [v for v in state.values() if isinstance(v, np.ndarray) and v.dtype != object]

    def construct() -> Any:
        obj = cls.__new__(cls)
        obj.__setstate__(dict(state))
        return obj

    def frombuffer() -> Any:
        return [
            np.frombuffer(section, dtype=a.dtype, count=a.size).reshape(a.shape) for a in arrays
        ]

    gc.freeze()
    rows = {
        "pickle.loads (whole)": _us(lambda: pickle.loads(pdata), number),
        "skship.loads (whole)": _us(lambda: skship.loads(data), number),
        "inflate schema.json": _us(inflate, number),
        "msgspec decode of schema.json": _us(lambda: msgspec.json.decode(schema), number),
        "sha256 of schema.json and the data section": _us(
            lambda: (hashlib.sha256(schema).digest(), hashlib.sha256(section).digest()), number
        ),
        "__new__ + __setstate__": _us(construct, number),
        f"np.frombuffer x{len(arrays)}": _us(frombuffer, number),
    }
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="ad", help="zoo letters (small models: a, d)")
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--number", type=int, default=20000, help="calls per timing")
    p.add_argument("--zoo-cache", type=Path, default=None)
    args = p.parse_args()
    zoo = load_zoo(args.models, args.scale, args.zoo_cache, lambda s: None)
    for letter, model, _ in zoo:
        rows = floors(model, args.number)
        pickle_us = rows["pickle.loads (whole)"]
        floor = sum(v for k, v in rows.items() if not k.endswith("(whole)"))
        print(f"\n({letter}) {type(model).__name__}\n\n| step | µs |\n|---|---:|")
        for k, v in rows.items():
            print(f"| {k} | {v:.1f} |")
        print(f"| **sum of the steps** | **{floor:.1f} = {floor / pickle_us:.2f}x pickle** |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
