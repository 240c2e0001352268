"""Time each stage of one skship.loads in sequence (a copy of api._read with checkpoints),
pure or compiled (PYTHONPATH=/tmp/mypyc-exp). Scratch measurement for
benchmarks/notes/mypyc.md; keep in step with api._read by hand.

    uv run python benchmarks/mypyc_stages.py a
"""

import gc
import pickle
import statistics
import sys
import time

import numpy as np

import skship
import skship.api as api
import skship.format.decoder as d
from skship.api import DEFAULT_LIMITS, DataVerifier, parse_container, recursion_limit

with open(f"/tmp/prof/{sys.argv[1]}.pkl", "rb") as fh:
    m, X = pickle.load(fh)
buf = skship.dumps(m)


def _read(buf, trusted=None, limits=None, verify=True, copy=True, policy=None):
    T = [time.perf_counter()]
    r = api._reader()
    Builder, audit, decode_document = r.Builder, r.audit, r.decode_document
    limits = limits or DEFAULT_LIMITS
    judge = api._trust_judge(trusted, policy)
    T.append(time.perf_counter())
    pc = parse_container(buf, limits)
    T.append(time.perf_counter())
    doc = decode_document(pc.schema, limits)
    T.append(time.perf_counter())
    found = audit(doc, limits)
    T.append(time.perf_counter())
    judge(doc, found)
    T.append(time.perf_counter())
    data = api.decode_data(pc, doc.data.compression, doc.data.size, limits)
    verifier = DataVerifier(data, doc.data.sha256)
    T.append(time.perf_counter())
    copy_arrays = copy and doc.data.compression == "none"
    copies_state = r.STATE_COPIED_BY_TYPE
    if (
        copy_arrays
        and 2 * found.data_bytes >= memoryview(data).nbytes
        and copies_state.isdisjoint(found.names)
    ):
        data = np.frombuffer(data, np.uint8).copy()
        copy_arrays = False
    T.append(time.perf_counter())
    builder = Builder(
        data,
        r.validators(),
        list(r.generic_validators()),
        copy_arrays=copy_arrays,
        copies_state=copies_state,
        dtypes=found.dtypes,
    )
    T.append(time.perf_counter())
    with recursion_limit(limits.max_depth):
        builder.build(doc.root)
    T.append(time.perf_counter())
    verifier.check()
    api._warn_versions(doc.environment.sklearn)
    T.append(time.perf_counter())
    return T


names = [
    "setup",
    "parse_container",
    "decode_document",
    "audit",
    "judge",
    "data+verifier",
    "copy",
    "Builder()",
    "build",
    "check+warn",
]
res = {n: [] for n in names}
tot = []
for i in range(3000):
    gc.disable()
    T = _read(buf)
    gc.enable()
    if i > 200:
        for n, a, b in zip(names, T, T[1:], strict=False):
            res[n].append(b - a)
        tot.append(T[-1] - T[0])
print(
    "so" if d.__file__.endswith(".so") else "py",
    " ".join(f"{n}={statistics.median(v) * 1e6:.1f}" for n, v in res.items()),
    f"total={statistics.median(tot) * 1e6:.1f}",
)


def L():
    skship.loads(buf)


r = []
for _ in range(7):
    gc.disable()
    t = time.perf_counter()
    for _ in range(1000):
        L()
    r.append((time.perf_counter() - t) / 1000)
    gc.enable()
print("loads", statistics.median(r) * 1e6)
