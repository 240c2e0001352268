"""Write the crafted conformance vectors of the model file.

conformance/format/3/{valid,invalid,malicious,future} (protocol 3) and
conformance/format/upstream/<protocol>/{valid,malicious} (files in the shape upstream
skops writes, crafted node by node: attacks and the smallest valid file). The real
upstream files beside them come from tools/gen_upstream_fixtures.py.

Deterministic (seeded, fixed writer and environment fields): ``--check`` regenerates them in
a temporary directory and fails on any difference, which ``make test`` runs. Every vector
is a directory named by its id with ``case.json`` (conformance/case.schema.json), the file
``model.skops`` and, for a valid file, ``expected.json`` (its canonical tree and name index,
spec/conformance.md#canonical-tree).

    uv run python tools/gen_vectors.py           # rewrite the vectors
    uv run python tools/gen_vectors.py --check   # compare, change nothing
"""

from __future__ import annotations

import argparse
import collections
import copy
import filecmp
import fractions
import functools
import hashlib
import http
import inspect
import io
import json
import shutil
import struct
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

import skship
from skship.conformance.canonical import canonical_tree
from skship.conformance.tree import name_index
from skship.format.container import DataSection, decode_data, parse_container, write_container
from skship.format.limits import DEFAULT_LIMITS

ROOT = Path(__file__).resolve().parents[1]
FORMAT = ROOT / "conformance" / "format"
OUT = FORMAT / "3"
SEED = 20261126
FILE = "model.skops"
WRITER = {"name": "skship-gen-vectors", "version": "1"}
ENV = {"python": "3.11.0", "numpy": "2.0.0", "scipy": "1.14.0"}
CATEGORIES = ("valid", "invalid", "malicious", "future")
UPSTREAM_PROTOCOLS = (0, 1, 2)
UPSTREAM_CATEGORIES = ("valid", "malicious")
# Directories (relative to conformance/format) this script owns and rewrites.
OWNED = [f"3/{c}" for c in CATEGORIES] + [
    f"upstream/{p}/{c}" for p in UPSTREAM_PROTOCOLS for c in UPSTREAM_CATEGORIES
]

V = "spec/format/values.md"
C = "spec/format/container.md"
S = "spec/format/security.md"
L = "spec/format/limits.md"
VER = "spec/format/versioning.md"

# -------------------------------------------------------------------------- building files


def document(
    root: Any, data: bytes = b"", compression: str = "none", **extra: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "protocol": 3,
        "writer": WRITER,
        "environment": ENV,
        "names": name_index(root),
        "root": root,
    }
    if data:
        doc["data"] = {
            "member": "data",
            "compression": compression,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    doc.update(extra)
    return doc


def container(schema: bytes, data: bytes = b"", compression: str = "none") -> bytes:
    out: list[Any] = []
    if data:
        section = DataSection()
        section.add(memoryview(data))
        _, crc = section.digests()
        write_container(out, schema, [data], len(data), crc, compression)
    else:
        write_container(out, schema, None, 0, 0, compression)
    return b"".join(out)


def encode(doc: dict[str, Any]) -> bytes:
    return msgspec.json.encode(doc)


def of_object(
    obj: Any, compression: str = "none", sample: Any = None
) -> tuple[dict[str, Any], bytes, bytes]:
    """(document, data, file) for what the reference writer writes for ``obj``, with the
    writer and environment fields fixed so the vector does not depend on versions."""
    blob = skship.dumps(
        obj, compression=None if compression == "none" else compression, sample=sample
    )
    pc = parse_container(blob, DEFAULT_LIMITS)
    doc = json.loads(pc.schema)
    data = b""
    if doc.get("data"):
        data = bytes(
            decode_data(pc, doc["data"]["compression"], doc["data"]["size"], DEFAULT_LIMITS)
        )
    doc["writer"], doc["environment"] = WRITER, ENV
    return doc, data, container(encode(doc), data, compression)


def raw_zip(
    members: list[tuple[str, bytes]], comment: bytes | None = None, method: int = 0
) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, body in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            z.writestr(info, body)
        if comment is None:
            schema = dict(members).get("schema.json", b"")
            comment = b"sha256=" + hashlib.sha256(schema).hexdigest().encode()
        z.comment = comment
    return buf.getvalue()


def central_entries(blob: bytes) -> list[int]:
    """Offsets of the central directory entries."""
    eocd = blob.rindex(b"PK\x05\x06")
    n, _, start = struct.unpack_from("<HII", blob, eocd + 10)
    out = []
    pos = start
    for _ in range(n):
        out.append(pos)
        nl, el, cl = struct.unpack_from("<HHH", blob, pos + 28)
        pos += 46 + nl + el + cl
    return out


def patch(blob: bytes, at: int, fmt: str, *values: int) -> bytes:
    b = bytearray(blob)
    struct.pack_into(fmt, b, at, *values)
    return bytes(b)


# ------------------------------------------------------------------------------ the vectors


class Suite:
    def __init__(self) -> None:
        self.vectors: list[dict[str, Any]] = []

    def add(
        self,
        category: str,
        name: str,
        description: str,
        spec: str,
        blob: bytes,
        *,
        code: str | None = None,
        rule: str | None = None,
        level: str = "core",
        trusted: list[str] | None = None,
        limits: dict[str, int] | None = None,
        classes: list[str] | None = None,
        expected: dict[str, Any] | None = None,
        upstream: int | None = None,
        unless: list[str] | None = None,
    ) -> None:
        prefix = "format-3" if upstream is None else f"format-upstream-{upstream}"
        where = "3" if upstream is None else f"upstream/{upstream}"
        case: dict[str, Any] = {
            "id": f"{prefix}-{category}-{name}",
            "description": description,
            "spec": spec,
            "level": level,
            "since": "3.0",
            "until": None,
            "file": FILE,
            "sha256": hashlib.sha256(blob).hexdigest(),
            "expect": "valid" if code is None else "error",
        }
        if code is not None:
            rule = rule or spec.split("#", 1)[1]
            if not rule.startswith("rule-"):
                raise ValueError(f"{name}: name the one rule the file breaks")
            case["error"] = {"code": code, "rule": rule}
        case["classes"] = classes or ["reader"]
        if trusted:
            case["trusted"] = trusted
        if limits:
            case["limits"] = limits
        if unless:
            case["unless"] = unless
        self.vectors.append(
            {"dir": f"{where}/{category}", "case": case, "blob": blob, "expected": expected}
        )

    def valid(
        self,
        name: str,
        description: str,
        spec: str,
        doc: dict[str, Any],
        data: bytes,
        blob: bytes,
        *,
        level: str = "core",
        writer: bool = True,
        limits: dict[str, int] | None = None,
    ) -> None:
        expected = {"tree": canonical_tree(doc, data), "names": doc["names"]}
        classes = ["reader", "auditor"]
        if writer and level == "core" and len(data) <= 4096 and not limits:
            classes.append("writer")
        self.add(
            "valid",
            name,
            description,
            spec,
            blob,
            level=level,
            trusted=sorted(doc["names"]),
            limits=limits,
            classes=classes,
            expected=expected,
        )

    def valid_object(self, name: str, description: str, spec: str, obj: Any, **kw: Any) -> None:
        compression = kw.pop("compression", "none")
        doc, data, blob = of_object(obj, compression, kw.pop("sample", None))
        self.valid(name, description, spec, doc, data, blob, **kw)

    def valid_doc(
        self, name: str, description: str, spec: str, root: Any, data: bytes = b"", **kw: Any
    ) -> None:
        extra = kw.pop("extra", {})
        doc = document(root, data, **extra)
        self.valid(name, description, spec, doc, data, container(encode(doc), data), **kw)

    def error(
        self,
        category: str,
        name: str,
        description: str,
        spec: str,
        blob: bytes,
        code: str,
        **kw: Any,
    ) -> None:
        self.add(category, name, description, spec, blob, code=code, **kw)

    def error_doc(
        self,
        category: str,
        name: str,
        description: str,
        spec: str,
        root: Any,
        code: str,
        data: bytes = b"",
        extra: dict[str, Any] | None = None,
        **kw: Any,
    ) -> None:
        doc = document(root, data, **(extra or {}))
        self.error(category, name, description, spec, container(encode(doc), data), code, **kw)


def arr(dtype: Any, shape: list[int], ref: list[int], **kw: Any) -> dict[str, Any]:
    return {"t": "ndarray", "dtype": dtype, "shape": shape, "data": ref, **kw}


def valid_vectors(s: Suite, rng: np.random.Generator) -> None:
    s.valid_object(
        "json-scalars",
        "plain JSON scalars: null, booleans, integers at the int64 edges, "
        "floats (-0.0, 1e300, an integral 1.0), a non-ASCII string",
        f"{V}#values",
        {
            "none": None,
            "t": True,
            "f": False,
            "zero": 0,
            "neg": -7,
            "max": 2**63 - 1,
            "min": -(2**63) + 1,
            "one": 1.0,
            "negzero": -0.0,
            "big": 1e300,
            "tiny": 5e-324,
            "text": "café ∑ \U0001f600",
        },
    )
    s.valid_doc(
        "int-node",
        "int nodes beyond 64 bits, and small values with leading zeros, which readers accept",
        f"{V}#node-int",
        {
            "t": "list",
            "v": [
                {"t": "int", "v": "0x" + "f" * 40},
                {"t": "int", "v": "-0x8000000000000000"},
                {"t": "int", "v": "0x0001"},
                {"t": "int", "v": "-0x0"},
            ],
        },
    )
    s.valid_object(
        "float-node",
        "non-finite floats as float nodes",
        f"{V}#node-float",
        [float("nan"), float("inf"), float("-inf")],
    )
    s.valid_doc(
        "complex",
        "complex numbers, with an integer part (read as a float) and a non-finite part",
        f"{V}#node-complex",
        {
            "t": "list",
            "v": [
                {"t": "complex", "re": 1, "im": -2.5},
                {"t": "complex", "re": 0.0, "im": {"t": "float", "v": "-inf"}},
            ],
        },
    )
    s.valid_object(
        "bytes",
        "bytes and bytearray values, one of them empty",
        f"{V}#node-bytes",
        [b"\x00\x01binary\xff", bytearray(b"mutable"), b""],
    )
    s.valid_object(
        "list-tuple",
        "nested lists and tuples",
        f"{V}#node-list",
        [1, [2, (3, "x", (None,))], ("a",)],
    )
    s.valid_doc(
        "set-frozenset",
        "set and frozenset nodes whose elements are not in the writer's "
        "sorted order (readers accept any order)",
        f"{V}#node-set",
        {
            "t": "list",
            "v": [
                {"t": "set", "v": [3, 1, "b", 2]},
                {"t": "frozenset", "v": [{"t": "tuple", "v": [2, 1]}, 0.5]},
            ],
        },
    )
    s.valid_object(
        "dict-forms",
        "dicts with string keys (v) and with other keys (items), an "
        "OrderedDict, and 1 and '1' as different keys",
        f"{V}#node-dict",
        {
            "s": {"a": 1, "b": [2]},
            "o": collections.OrderedDict([("z", 1), ("a", 2)]),
            "k": {1: "int", "1": "str", (1, 2): "tuple", None: "none", 2.5: "float"},
        },
    )
    s.valid_doc(
        "dict-items-string-keys",
        "a dict with only string keys written with items (readers accept either form)",
        f"{V}#node-dict",
        {"t": "dict", "items": [["b", 1], ["a", 2]]},
    )
    s.valid_object(
        "defaultdict",
        "a defaultdict with a type as its factory",
        f"{V}#node-defaultdict",
        collections.defaultdict(list, {"a": [1]}),
    )
    s.valid_object(
        "slice-range",
        "slices and ranges",
        f"{V}#node-slice",
        [slice(1, None, 2), slice(None), range(0, 10, 3), range(5, -5, -2)],
    )
    s.valid_object(
        "enum",
        "an Enum member (http.HTTPStatus.NOT_FOUND)",
        f"{V}#node-enum",
        [http.HTTPStatus.NOT_FOUND],
    )
    s.valid_object(
        "namedtuple",
        "a namedtuple instance (inspect.FullArgSpec)",
        f"{V}#node-namedtuple",
        inspect.FullArgSpec(["x"], None, None, (1,), [], None, {}),
    )
    s.valid_object(
        "type-function",
        "classes and functions by qualified name",
        f"{V}#node-type",
        [float, np.float64, np.add, len],
    )
    s.valid_object(
        "partial",
        "functools.partial of a class with a keyword",
        f"{V}#node-partial",
        functools.partial(int, base=2),
    )

    # every dtype, one vector per family
    families: dict[str, list[str]] = {
        "bool": ["|b1"],
        "int": ["|i1", "<i2", "<i4", "<i8", ">i2", ">i4", ">i8"],
        "uint": ["|u1", "<u2", "<u4", "<u8", ">u4"],
        "float": ["<f2", "<f4", "<f8", ">f4", ">f8"],
        "complex": ["<c8", "<c16", ">c16"],
        "bytes-str": ["|S3", "<U4", ">U2", "|V5"],
        "datetime": ["<M8[ns]", "<M8[D]", "<M8[10ms]", "<m8[s]", ">m8[us]", "<M8"],
    }
    for fam, dtypes in families.items():
        items = []
        for d in dtypes:
            dt = np.dtype(d)
            if dt.kind in "iu":
                a = rng.integers(
                    np.iinfo(dt).min, np.iinfo(dt).max, size=3, dtype=dt.newbyteorder("=")
                ).astype(dt)
            elif dt.kind == "b":
                a = np.array([True, False, True])
            elif dt.kind == "f":
                a = rng.standard_normal(3).astype(dt)
            elif dt.kind == "c":
                a = (rng.standard_normal(3) + 1j * rng.standard_normal(3)).astype(dt)
            elif dt.kind in "SUV":
                a = np.frombuffer(rng.bytes(3 * dt.itemsize), dtype=f"|V{dt.itemsize}").copy()
                if dt.kind == "S":
                    a = np.array([b"ab", b"xyz", b""], dtype=dt)
                elif dt.kind == "U":
                    a = np.array(["é", "abcd", ""], dtype=dt)
            else:
                a = np.array([0, 1, -5], dtype=np.int64).view(dt)
            items.append(a.astype(dt))
        s.valid_object(
            f"dtype-{fam}", f"1-d arrays of dtypes {', '.join(dtypes)}", f"{V}#dtypes", items
        )
    s.valid_object(
        "dtype-structured",
        "a structured array with a nested field, a subarray field and "
        "padding, and a dtype node for it (the reference writer puts it in the dtype table)",
        f"{V}#rule-dtype-table",
        [
            np.zeros(
                2,
                dtype=np.dtype(
                    {
                        "names": ["a", "b", "c"],
                        "formats": ["<i4", ("<f8", (2,)), [("x", "|u1")]],
                        "offsets": [0, 8, 24],
                        "itemsize": 32,
                    }
                ),
            ),
            np.dtype([("a", "<i4"), ("b", "<f8")]),
        ],
    )
    s.valid_doc(
        "dtype-table-simple",
        "a simple dtype given as an index into the dtype table",
        f"{V}#rule-dtype-table",
        arr(0, [2], [0, 8]),
        bytes(range(8)),
        extra={"dtypes": ["<i4"]},
    )
    s.valid_object(
        "ndarray-shapes",
        "a 0-d array, an empty 2-d array and a 3-d array",
        f"{V}#node-ndarray",
        [np.array(3.5), np.zeros((0, 3)), np.arange(24, dtype="<i2").reshape(2, 3, 4)],
    )
    fortran = np.asfortranarray(np.arange(12, dtype="<i4").reshape(3, 4))
    s.valid_object(
        "ndarray-fortran",
        "a Fortran-order array: the canonical bytes are in C order",
        f"{V}#node-ndarray",
        fortran,
    )
    big = rng.standard_normal((64, 8))
    s.valid_object(
        "ndarray-large",
        "an array larger than the inline limit (only its sha256 "
        "is in expected.json), stored so that it can be memory-mapped",
        f"{C}#rule-writer-alignment",
        big,
        writer=False,
    )
    s.valid_object(
        "objarray",
        "an object array mixing scalars, a list and a string",
        f"{V}#node-objarray",
        np.array([1, "a", None, [2]], dtype=object).reshape(2, 2),
    )
    s.valid_object(
        "masked",
        "a masked array with the default fill value, and one with an explicit fill value",
        f"{V}#node-masked",
        [
            np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0]),
            np.ma.masked_array([1, 2], mask=[1, 0], fill_value=7),
        ],
    )
    s.valid_object(
        "npscalar-dtype",
        "numpy scalars and dtype objects",
        f"{V}#node-npscalar",
        [
            np.float32(1.5),
            np.int64(-3),
            np.bool_(True),
            np.datetime64("2026-11-26", "D"),
            np.dtype("<U3"),
            np.dtype(">i2"),
        ],
    )
    s.valid_object(
        "generator",
        "numpy Generators over each of the five bit generators",
        f"{V}#node-generator",
        [
            np.random.Generator(bg(SEED))
            for bg in (
                np.random.PCG64,
                np.random.MT19937,
                np.random.PCG64DXSM,
                np.random.Philox,
                np.random.SFC64,
            )
        ],
        writer=False,
    )
    s.valid_object(
        "randomstate",
        "a legacy RandomState",
        f"{V}#node-randomstate",
        np.random.RandomState(SEED),
        writer=False,
    )
    import scipy.sparse as sp

    s.valid_object(
        "sparse",
        "every sparse format: csr, csc, coo, bsr, dia, lil and dok, as matrices and arrays",
        f"{V}#node-sparse",
        [
            sp.csr_matrix(np.array([[0, 1.5], [2, 0]])),
            sp.coo_array(np.array([[0, 0, 3], [4, 0, 0]], dtype="<i4")),
            sp.csc_matrix(np.array([[0, 2.0], [0, 3.0]])),
            sp.bsr_array(
                np.array([[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 2], [0, 0, 3, 0]]),
                blocksize=(2, 2),
            ),
            sp.dia_matrix(np.array([[1.0, 0], [4, 2]])),
            sp.lil_array(np.array([[0, 5.0], [6, 0]])),
            sp.dok_matrix(np.array([[0, 0], [7.0, 0]])),
        ],
    )
    s.valid_object(
        "reduce",
        "an instance rebuilt by calling its class (fractions.Fraction)",
        f"{V}#node-reduce",
        fractions.Fraction(2, 3),
    )
    shared = [1, 2]
    s.valid_object(
        "refs-shared",
        "a list reachable twice is written once and restored as one object",
        f"{V}#ids-and-refs",
        {"a": shared, "b": shared, "c": [shared]},
    )
    loop: list[Any] = []
    loop.append(loop)
    d: dict[str, Any] = {"x": 1}
    d["self"] = d
    s.valid_object(
        "refs-cycles",
        "a list that contains itself and a dict that contains itself",
        f"{V}#ids-and-refs",
        [loop, d],
    )
    s.valid_doc(
        "refs-unreferenced-id",
        "an id that no ref names, and ids in a non-sequential order",
        f"{V}#ids-and-refs",
        {"t": "list", "id": 7, "v": [{"t": "list", "id": 3, "v": []}, {"t": "ref", "id": 3}]},
    )
    # scikit-learn models
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    X = rng.standard_normal((30, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    s.valid_object(
        "sklearn-logistic",
        "a fitted LogisticRegression (object nodes)",
        f"{V}#node-object",
        LogisticRegression().fit(X, y),
        writer=False,
    )
    s.valid_object(
        "sklearn-tree",
        "a fitted DecisionTreeClassifier (its Tree is a reduce node with a structured node array)",
        f"{S}#rule-validate-tree",
        DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y),
        writer=False,
    )
    # compression and layout
    s.valid_object(
        "compression-deflate",
        "a data section compressed with raw deflate",
        f"{C}#members",
        np.arange(100, dtype="<i4"),
        compression="deflate",
        writer=False,
    )
    s.valid_object(
        "compression-zstd",
        "a data section compressed with zstd",
        f"{C}#members",
        np.arange(100, dtype="<i4"),
        compression="zstd",
        level="optional:zstd",
        writer=False,
    )
    doc = document(
        {"t": "list", "v": [arr("<f8", [2], [0, 16]), {"t": "bytes", "data": [16, 3]}]},
        struct.pack("<2d", 1.0, 2.0) + b"abc",
    )
    data = struct.pack("<2d", 1.0, 2.0) + b"abc"
    text = json.dumps(doc, indent=1).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo("data", date_time=(2020, 5, 17, 12, 30, 0)), data)
        info = zipfile.ZipInfo("schema.json", date_time=(2020, 5, 17, 12, 30, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, text)
        z.comment = b"sha256=" + hashlib.sha256(text).hexdigest().encode()
    s.valid(
        "layout-plain-zipfile",
        "a file written by a general zip library: data not aligned and "
        "written first, non-zero dates, pretty-printed JSON (writer rules a reader does not "
        "check)",
        f"{C}#reading",
        doc,
        data,
        buf.getvalue(),
    )
    depth_root: Any = {"t": "float", "v": "nan"}
    for _ in range(399):
        depth_root = {"t": "list", "v": [depth_root]}
    s.valid_doc(
        "limit-depth-at-limit",
        "nodes nested exactly 400 deep (the default max_depth): 399 lists around a float node",
        f"{L}#rule-limit-depth",
        depth_root,
        writer=False,
    )
    s.valid_doc(
        "limit-nodes-at-limit",
        "exactly max_nodes nodes (limit lowered to 50)",
        f"{L}#rule-limit-nodes",
        {"t": "list", "v": [{"t": "float", "v": "nan"}] * 49},
        limits={"max_nodes": 50},
    )
    s.valid_object(
        "signature",
        "a file with an input signature (metadata, not constructed)",
        f"{V}#signature",
        [1],
        sample=np.zeros((2, 3)),
        writer=False,
    )
    s.valid_doc(
        "signature-outputs",
        "a signature that records the model's outputs (names, dtypes, widths, columns)",
        f"{V}#rule-signature-outputs",
        {"t": "list", "v": [1]},
        extra={"signature": SIGNATURE_WITH_OUTPUTS},
        writer=False,
    )


# A classifier's signature as the reference writer records it for dump(clf, f, sample=X):
# two unnamed float64 columns; predict gives int64 labels, predict_proba one column per
# class, the classes naming the columns.
SIGNATURE_WITH_OUTPUTS: dict[str, Any] = {
    "features": [{"name": "x0", "dtype": "float64"}, {"name": "x1", "dtype": "float64"}],
    "named": False,
    "outputs": [
        {"name": "predict", "dtype": "int64"},
        {"name": "predict_proba", "dtype": "float64", "width": 2, "columns": [0, 1]},
        {"name": "decision_function", "dtype": "float64"},
    ],
}


def bad_text(schema: bytes, data: bytes = b"") -> bytes:
    return container(schema, data)


OK_SCHEMA = encode(document({"t": "list", "v": [1, 2]}))


def invalid_vectors(s: Suite) -> None:
    E = functools.partial(s.error, "invalid")
    ED = functools.partial(s.error_doc, "invalid")
    good = bad_text(OK_SCHEMA)
    # container
    E(
        "not-zip-empty",
        "an empty file",
        f"{C}#rule-container-eocd",
        b"",
        "E-CONTAINER-NOT-ZIP",
        classes=["reader", "auditor"],
    )
    E(
        "not-zip-text",
        "text that is not a zip archive",
        f"{C}#rule-container-eocd",
        b"this is not a model file\n",
        "E-CONTAINER-NOT-ZIP",
        classes=["reader", "auditor"],
    )
    eocd = good.rindex(b"PK\x05\x06")
    E(
        "multi-disk",
        "the end record says the central directory is on disk 1",
        f"{C}#rule-container-single-disk",
        patch(good, eocd + 6, "<H", 1),
        "E-CONTAINER-CORRUPT",
        classes=["reader", "auditor"],
    )
    cd = central_entries(good)[0]
    E(
        "central-signature",
        "a central directory entry with a wrong signature",
        f"{C}#rule-container-cd-entry",
        patch(good, cd, "<I", 0x02014B51),
        "E-CONTAINER-CORRUPT",
        classes=["reader", "auditor"],
    )
    E(
        "member-unknown",
        "an extra member named payload.py",
        f"{C}#rule-container-member-unknown",
        raw_zip([("schema.json", OK_SCHEMA), ("payload.py", b"import os")]),
        "E-CONTAINER-MEMBER-UNKNOWN",
        classes=["reader", "auditor"],
    )
    E(
        "member-directory",
        "a directory entry data/",
        f"{C}#rule-container-member-unknown",
        raw_zip([("schema.json", OK_SCHEMA), ("data/", b"")]),
        "E-CONTAINER-MEMBER-UNKNOWN",
        classes=["reader", "auditor"],
    )
    enc = patch(good, cd + 8, "<H", 1)
    enc = patch(enc, 6, "<H", 1)
    E(
        "encrypted",
        "schema.json flagged as encrypted (flag bit 0) in both headers",
        f"{C}#rule-container-encryption",
        enc,
        "E-CONTAINER-COMPRESSION",
        classes=["reader", "auditor"],
    )
    stored = raw_zip([("schema.json", OK_SCHEMA)])
    cd = central_entries(stored)[0]
    E(
        "method-bzip2",
        "schema.json with compression method 12 (bzip2) in both headers",
        f"{C}#rule-container-method",
        patch(patch(stored, cd + 10, "<H", 12), 8, "<H", 12),
        "E-CONTAINER-COMPRESSION",
        classes=["reader", "auditor"],
    )
    E(
        "method-zstd-schema",
        "schema.json with method 93 (zstd is allowed for data only)",
        f"{C}#rule-container-method",
        patch(patch(stored, cd + 10, "<H", 93), 8, "<H", 93),
        "E-CONTAINER-COMPRESSION",
        classes=["reader", "auditor"],
    )
    E(
        "local-name-mismatch",
        "the local header names the member schema.jsoN",
        f"{C}#rule-container-local-header",
        stored[:30] + b"schema.jsoN" + stored[41:],
        "E-CONTAINER-CORRUPT",
        classes=["reader", "auditor"],
    )
    E(
        "member-bounds",
        "schema.json's compressed size runs into the central directory",
        f"{C}#rule-container-member-bounds",
        patch(
            patch(stored, cd + 20, "<I", len(OK_SCHEMA) + 40), cd + 24, "<I", len(OK_SCHEMA) + 40
        ),
        "E-CONTAINER-CORRUPT",
        classes=["reader", "auditor"],
    )
    E(
        "stored-size",
        "a stored schema.json whose two sizes differ",
        f"{C}#rule-container-stored-size",
        patch(stored, cd + 24, "<I", len(OK_SCHEMA) - 1),
        "E-CONTAINER-CORRUPT",
        classes=["reader", "auditor"],
    )
    E(
        "schema-missing",
        "an archive with a data member and no schema.json",
        f"{C}#rule-container-schema-missing",
        raw_zip([("data", b"x" * 16)], comment=b""),
        "E-CONTAINER-MEMBER-MISSING",
        classes=["reader", "auditor"],
    )
    bad_stream = raw_zip([("schema.json", OK_SCHEMA)], method=zipfile.ZIP_DEFLATED)
    i = 30 + len("schema.json")
    E(
        "inflate-invalid",
        "schema.json's deflate stream is invalid (a reserved block type)",
        f"{C}#rule-container-inflate",
        bad_stream[:i] + b"\xff" + bad_stream[i + 1 :],
        "E-CONTAINER-CORRUPT",
        classes=["reader", "auditor"],
    )
    E(
        "integrity-comment-missing",
        "no archive comment",
        f"{C}#rule-integrity-schema",
        raw_zip([("schema.json", OK_SCHEMA)], comment=b""),
        "E-INTEGRITY-SCHEMA",
        classes=["reader", "auditor"],
    )
    E(
        "integrity-comment-uppercase",
        "the digest in the comment is upper-case hex",
        f"{C}#rule-integrity-schema",
        raw_zip(
            [("schema.json", OK_SCHEMA)],
            comment=b"sha256=" + hashlib.sha256(OK_SCHEMA).hexdigest().upper().encode(),
        ),
        "E-INTEGRITY-SCHEMA",
        classes=["reader", "auditor"],
    )
    data = bytes(16)
    doc = document(arr("<f8", [2], [0, 16]), data)
    E(
        "data-missing",
        "schema.json describes a data section; there is no data member",
        f"{C}#rule-container-data-missing",
        container(encode(doc)),
        "E-CONTAINER-MEMBER-MISSING",
        trusted=[],
    )
    plain = document({"t": "list", "v": []})
    E(
        "data-undescribed",
        "a data member that schema.json does not describe",
        f"{C}#rule-container-data-undescribed",
        raw_zip([("schema.json", encode(plain)), ("data", data)]),
        "E-CONTAINER-MEMBER-UNKNOWN",
    )
    doc = document(arr("<f8", [2], [0, 16]), data, compression="deflate")
    E(
        "data-compression-mismatch",
        "data.compression says deflate; the member is stored",
        f"{C}#rule-container-data-compression",
        container(encode(doc), data),
        "E-CONTAINER-COMPRESSION",
    )
    doc = document(arr("<f8", [2], [0, 16]), data)
    doc["data"]["size"] = 32
    E(
        "data-size-mismatch",
        "data.size is 32; the member holds 16 bytes",
        f"{C}#rule-container-data-size",
        container(encode(doc), data),
        "E-CONTAINER-CORRUPT",
    )
    doc = document(arr("<f8", [2], [0, 16]), data)
    doc["data"]["sha256"] = hashlib.sha256(b"other").hexdigest()
    E(
        "integrity-data",
        "the data section does not match data.sha256",
        f"{C}#rule-integrity-data",
        container(encode(doc), data),
        "E-INTEGRITY-DATA",
    )
    # JSON text
    E(
        "json-not-utf8",
        "schema.json is not UTF-8",
        f"{V}#rule-json-utf8",
        bad_text(
            OK_SCHEMA.replace(b"test", b"t\xffst").replace(b'"skship-gen-vectors"', b'"\xff"')
        ),
        "E-SCHEMA-JSON",
    )
    E(
        "json-nan-literal",
        "the non-JSON literal NaN",
        f"{V}#rule-json-utf8",
        bad_text(encode(document(0)).replace(b'"root":0', b'"root":NaN')),
        "E-SCHEMA-JSON",
    )
    E(
        "json-trailing-garbage",
        "bytes after the JSON text",
        f"{V}#rule-json-utf8",
        bad_text(OK_SCHEMA + b"}"),
        "E-SCHEMA-JSON",
    )
    E(
        "json-lone-surrogate",
        'an escaped lone surrogate "\\ud800" in a string',
        f"{V}#rule-json-utf8",
        bad_text(encode(document("x")).replace(b'"root":"x"', b'"root":"\\ud800"')),
        "E-SCHEMA-JSON",
    )
    E(
        "json-bom",
        "a UTF-8 byte order mark before the JSON text",
        f"{V}#rule-json-utf8",
        bad_text(b"\xef\xbb\xbf" + OK_SCHEMA),
        "E-SCHEMA-JSON",
    )
    E(
        "json-number-range",
        "a number outside the double range (1e400)",
        f"{V}#rule-json-number-range",
        bad_text(encode(document(0)).replace(b'"root":0', b'"root":1e400')),
        "E-SCHEMA-INVALID",
    )
    ED(
        "document-unknown-member",
        "an unknown top-level member",
        f"{V}#rule-document-schema",
        1,
        "E-SCHEMA-INVALID",
        extra={"comment": "hello"},
    )
    doc = document(1)
    del doc["root"]
    E(
        "document-missing-root",
        "no root member",
        f"{V}#rule-document-schema",
        bad_text(encode(doc)),
        "E-SCHEMA-INVALID",
    )
    ED(
        "document-bare-array",
        "a bare JSON array where a Value is expected",
        f"{V}#rule-document-schema",
        {"t": "list", "v": [[1, 2]]},
        "E-SCHEMA-INVALID",
    )
    ED(
        "document-unknown-kind",
        "an unknown node kind",
        f"{V}#rule-document-schema",
        {"t": "pickle", "v": "gASVAAAAAAAAAACMAm9zlC4="},
        "E-SCHEMA-INVALID",
    )
    ED(
        "signature-output-unknown-member",
        "a signature output with a member the spec does not define",
        f"{V}#rule-signature-outputs",
        {"t": "list", "v": [1]},
        "E-SCHEMA-INVALID",
        extra={
            "signature": dict(
                SIGNATURE_WITH_OUTPUTS,
                outputs=[{"name": "predict", "dtype": "int64", "unit": "m"}],
            )
        },
    )
    ED(
        "document-unknown-field",
        "a node with a field its kind does not define",
        f"{V}#node-kinds",
        {"t": "list", "v": [], "extra": 1},
        "E-SCHEMA-INVALID",
        rule="rule-document-schema",
    )
    E(
        "protocol-string",
        'protocol is the string "3"',
        f"{V}#rule-protocol",
        bad_text(encode(document(1)).replace(b'"protocol":3', b'"protocol":"3"')),
        "E-SCHEMA-INVALID",
    )
    E(
        "protocol-float",
        "protocol is 3.0",
        f"{V}#rule-protocol",
        bad_text(encode(document(1)).replace(b'"protocol":3', b'"protocol":3.0')),
        "E-SCHEMA-INVALID",
    )
    E(
        "int-range",
        "a plain integer of 2**63",
        f"{V}#rule-value-int-range",
        bad_text(encode(document(0)).replace(b'"root":0', b'"root":9223372036854775808')),
        "E-SCHEMA-INVALID",
    )
    ED(
        "dict-both-forms",
        "a dict with both v and items",
        f"{V}#rule-dict-form",
        {"t": "dict", "v": {}, "items": []},
        "E-SCHEMA-INVALID",
    )
    ED(
        "dict-no-form",
        "a dict with neither v nor items",
        f"{V}#rule-dict-form",
        {"t": "dict"},
        "E-SCHEMA-INVALID",
    )
    ED(
        "dict-pair-length",
        "an items pair with three elements",
        f"{V}#rule-dict-form",
        {"t": "dict", "items": [[1, 2, 3]]},
        "E-SCHEMA-INVALID",
    )
    ED(
        "shape-too-many-dims",
        "a shape of 33 dimensions",
        f"{V}#rule-shape",
        arr("<f8", [1] * 33, [0, 8]),
        "E-SCHEMA-INVALID",
        data=bytes(16),
    )
    ED(
        "shape-negative",
        "a negative dimension",
        f"{V}#rule-shape",
        arr("<f8", [-1], [0, 0]),
        "E-SCHEMA-INVALID",
        data=bytes(16),
    )
    ED(
        "sparse-component-ref",
        "a sparse component that is a ref, not an ndarray node",
        f"{V}#rule-sparse-arrays",
        {
            "t": "list",
            "v": [
                arr("<f8", [1], [0, 8], id=0),
                {
                    "t": "sparse",
                    "format": "csr",
                    "container": "matrix",
                    "shape": [1, 1],
                    "arrays": {
                        "data": {"t": "ref", "id": 0},
                        "indices": arr("<i4", [1], [16, 4]),
                        "indptr": arr("<i4", [2], [32, 8]),
                    },
                },
            ],
        },
        "E-SCHEMA-INVALID",
        data=bytes(48),
    )
    # values
    ED(
        "int-text-decimal",
        "an int node with decimal text",
        f"{V}#rule-int-text",
        {"t": "int", "v": "12"},
        "E-VALUE-INVALID",
    )
    ED(
        "int-text-uppercase",
        "an int node with upper-case hex digits",
        f"{V}#rule-int-text",
        {"t": "int", "v": "0xFF"},
        "E-VALUE-INVALID",
    )
    ED(
        "set-duplicate",
        "a set holding 1 and 1.0 (equal elements)",
        f"{V}#rule-set-elements",
        {"t": "set", "v": [1, 1.0]},
        "E-VALUE-INVALID",
    )
    ED(
        "set-unhashable",
        "a set holding a list",
        f"{V}#rule-set-elements",
        {"t": "set", "v": [{"t": "list", "v": []}]},
        "E-VALUE-INVALID",
    )
    ED(
        "dict-keys-collide",
        "items with keys 1 and true (equal keys)",
        f"{V}#rule-dict-keys",
        {"t": "dict", "items": [[1, "a"], [True, "b"]]},
        "E-VALUE-INVALID",
    )
    ED(
        "dict-key-unhashable",
        "an items key that is a dict",
        f"{V}#rule-dict-keys",
        {"t": "dict", "items": [[{"t": "dict", "v": {}}, 1]]},
        "E-VALUE-INVALID",
    )
    ED(
        "range-step-zero",
        "a range with step 0",
        f"{V}#rule-range-step",
        {"t": "range", "v": [0, 1, 0]},
        "E-VALUE-INVALID",
    )
    ED(
        "objarray-count",
        "an object array of shape [2, 2] with 3 elements",
        f"{V}#rule-objarray-count",
        {"t": "objarray", "shape": [2, 2], "v": [1, 2, 3]},
        "E-VALUE-INVALID",
    )
    ED(
        "npscalar-length",
        "an npscalar of dtype <f8 with 3 bytes",
        f"{V}#rule-npscalar",
        {"t": "npscalar", "dtype": "<f8", "b": "AAAA"},
        "E-VALUE-INVALID",
    )
    ED(
        "npscalar-base64",
        "an npscalar whose b is not base64",
        f"{V}#rule-npscalar",
        {"t": "npscalar", "dtype": "<f4", "b": "A*A="},
        "E-VALUE-INVALID",
    )
    ED(
        "sparse-names",
        "a csr node with a component called rows",
        f"{V}#rule-sparse-arrays",
        {
            "t": "sparse",
            "format": "csr",
            "container": "matrix",
            "shape": [1, 1],
            "arrays": {
                "data": arr("<f8", [1], [0, 8]),
                "rows": arr("<i4", [1], [16, 4]),
                "indptr": arr("<i4", [2], [32, 8]),
            },
        },
        "E-VALUE-INVALID",
        data=bytes(48),
    )
    # data references and dtypes
    d64 = bytes(64)
    ED(
        "data-size",
        "an array of 3 doubles over 16 bytes",
        f"{V}#rule-data-size",
        arr("<f8", [3], [0, 16]),
        "E-DATA-SIZE",
        data=d64,
    )
    ED(
        "data-range",
        "a data reference past the end of the section",
        f"{V}#rule-data-range",
        arr("<f8", [8], [16, 64]),
        "E-DATA-RANGE",
        data=d64,
    )
    ED(
        "data-range-negative",
        "a negative offset",
        f"{V}#rule-data-range",
        {"t": "bytes", "data": [-16, 0]},
        "E-DATA-RANGE",
        data=d64,
    )
    ED(
        "data-range-no-section",
        "a data reference in a file without a data section",
        f"{V}#rule-data-range",
        arr("<f8", [1], [0, 8]),
        "E-DATA-RANGE",
    )
    ED(
        "data-align",
        "an offset that is not a multiple of 16",
        f"{V}#rule-data-align",
        arr("<f8", [1], [8, 8]),
        "E-DATA-ALIGN",
        data=d64,
    )
    ED(
        "dtype-object",
        "an object dtype |O",
        f"{V}#rule-dtype",
        arr("|O", [1], [0, 8]),
        "E-DATA-DTYPE",
        data=d64,
    )
    ED(
        "dtype-structured-object",
        "a structured dtype with an object field",
        f"{V}#rule-dtype",
        arr([["a", "|O"]], [1], [0, 8]),
        "E-DATA-DTYPE",
        data=d64,
    )
    ED(
        "dtype-bad-size",
        "the dtype <i3",
        f"{V}#rule-dtype",
        arr("<i3", [1], [0, 3]),
        "E-DATA-DTYPE",
        data=d64,
    )
    ED(
        "dtype-native-order",
        "a dtype without an explicit byte order (=f8)",
        f"{V}#rule-dtype",
        arr("=f8", [1], [0, 8]),
        "E-DATA-DTYPE",
        data=d64,
    )
    ED(
        "dtype-bad-unit",
        "a datetime with an unknown unit <M8[foo]",
        f"{V}#rule-dtype",
        {"t": "dtype", "dtype": "<M8[foo]"},
        "E-DATA-DTYPE",
    )
    ED(
        "dtype-duplicate-field",
        "a structured dtype with two fields named a",
        f"{V}#rule-dtype",
        {"t": "dtype", "dtype": [["a", "<i4"], ["a", "<i4"]]},
        "E-DATA-DTYPE",
    )
    ED(
        "dtype-table-index",
        "a dtype index outside the dtype table",
        f"{V}#rule-dtype-table",
        arr(1, [1], [0, 4]),
        "E-DATA-DTYPE",
        data=d64,
        extra={"dtypes": ["<i4"]},
    )
    # ids, refs and the name index
    ED(
        "ref-unknown",
        "a ref to an id no node declares",
        f"{V}#rule-ref-unknown",
        {"t": "list", "v": [{"t": "ref", "id": 5}]},
        "E-REF-UNKNOWN",
    )
    ED(
        "ref-forward",
        "a ref to a node that comes later",
        f"{V}#rule-ref-unknown",
        {"t": "list", "v": [{"t": "ref", "id": 1}, {"t": "list", "v": [], "id": 1}]},
        "E-REF-UNKNOWN",
    )
    ED(
        "ref-duplicate-id",
        "two nodes declare id 1",
        f"{V}#rule-ref-duplicate-id",
        {"t": "list", "v": [{"t": "list", "v": [], "id": 1}, {"t": "list", "v": [], "id": 1}]},
        "E-REF-DUPLICATE-ID",
    )
    ED(
        "ref-immutable-cycle",
        "a tuple that contains itself through a list",
        f"{V}#rule-ref-immutable-cycle",
        {"t": "tuple", "id": 0, "v": [{"t": "list", "v": [{"t": "ref", "id": 0}]}]},
        "E-REF-IMMUTABLE-CYCLE",
    )
    ED(
        "ref-object-args-self",
        "an object whose __new__ arguments refer to the object",
        f"{V}#rule-ref-unknown",
        {"t": "object", "type": "fractions.Fraction", "id": 0, "args": [{"t": "ref", "id": 0}]},
        "E-REF-UNKNOWN",
        trusted=["fractions.Fraction"],
    )
    doc = document({"t": "type", "name": "builtins.int"})
    doc["names"] = {"builtins.float": "type"}
    E(
        "names-mismatch",
        "a name index that does not match the tree",
        f"{V}#rule-name-index",
        bad_text(encode(doc)),
        "E-SCHEMA-NAMES",
        trusted=["builtins.float", "builtins.int"],
    )
    root = {
        "t": "object",
        "type": "fractions.Fraction",
        "state": {"t": "type", "name": "http.HTTPStatus"},
        "args": [{"t": "enum", "type": "http.HTTPStatus", "name": "OK"}],
    }
    doc = document(root)
    doc["names"] = {"fractions.Fraction": "object", "http.HTTPStatus": "type"}
    E(
        "names-construction-order",
        "a name index that takes the kind of the first node in JSON "
        "text order (state comes before args in the text), not in construction order",
        f"{V}#rule-name-index",
        bad_text(encode(doc)),
        "E-SCHEMA-NAMES",
        trusted=["fractions.Fraction", "http.HTTPStatus"],
    )
    for label, name in (
        ("no-module", "eval"),
        ("punctuation", "os.system;rm"),
        ("non-ascii", "os.sуstem"),
    ):
        ED(
            f"name-not-qualified-{label}",
            f"a function node named {name!r}",
            f"{V}#rule-qualified-name",
            {"t": "function", "name": name},
            "E-SCHEMA-INVALID",
            trusted=[name],
        )
    ED(
        "ref-negative-id",
        "a ref to id -1",
        f"{V}#rule-ref-unknown",
        {"t": "list", "v": [{"t": "ref", "id": -1}]},
        "E-REF-UNKNOWN",
    )
    ED(
        "range-bound-int64",
        "a range whose stop is 2**63, beyond a plain JSON integer",
        f"{V}#rule-value-int-range",
        {"t": "range", "v": [0, 2**63, 1]},
        "E-SCHEMA-INVALID",
    )
    ED(
        "complex-part-without-t",
        "a complex part that is an object without t",
        f"{V}#rule-document-schema",
        {"t": "complex", "re": 1.0, "im": {"v": "-inf"}},
        "E-SCHEMA-INVALID",
    )
    # construction in Python (optional:python)
    py = "optional:python"
    ED(
        "trust-not-found",
        "a trusted name that does not exist",
        f"{S}#rule-trust-resolve",
        {"t": "type", "name": "fractions.NoSuchClass"},
        "E-TRUST-NOT-FOUND",
        level=py,
        trusted=["fractions.NoSuchClass"],
    )
    ED(
        "type-is-function",
        "a type node naming a function",
        f"{V}#rule-type-kind",
        {"t": "type", "name": "math.sqrt"},
        "E-TRUST-NOT-FOUND",
        level=py,
        trusted=["math.sqrt"],
    )
    ED(
        "enum-member-missing",
        "an Enum member that does not exist",
        f"{V}#rule-enum",
        {"t": "enum", "type": "http.HTTPStatus", "name": "NO_SUCH"},
        "E-VALUE-INVALID",
        level=py,
        trusted=["http.HTTPStatus"],
    )
    ED(
        "namedtuple-length",
        "a namedtuple with the wrong number of values",
        f"{V}#rule-namedtuple",
        {"t": "namedtuple", "type": "inspect.FullArgSpec", "v": [1]},
        "E-VALUE-INVALID",
        level=py,
        trusted=["inspect.FullArgSpec"],
    )
    ED(
        "partial-not-callable",
        "a partial whose func is an integer",
        f"{V}#rule-partial",
        {"t": "partial", "func": 1, "args": [], "kw": {}},
        "E-VALUE-INVALID",
        level=py,
    )
    ED(
        "construct-raises",
        "a reduce node whose class refuses its arguments (Fraction(1, 0))",
        f"{V}#node-reduce",
        {"t": "reduce", "type": "fractions.Fraction", "args": [1, 0]},
        "E-CONSTRUCT",
        level=py,
        rule="rule-construct",
        trusted=["fractions.Fraction"],
    )
    ED(
        "generator-state-out-of-range",
        "a PCG64 state whose increment is negative (numpy cannot hold it)",
        f"{V}#rule-generator-state",
        {
            "t": "generator",
            "bit_generator": "PCG64",
            "state": {
                "t": "dict",
                "v": {
                    "bit_generator": "PCG64",
                    "state": {"t": "dict", "v": {"state": 1, "inc": -1}},
                    "has_uint32": 0,
                    "uinteger": 0,
                },
            },
        },
        "E-VALUE-INVALID",
        level=py,
    )
    ED(
        "generator-state",
        "a generator whose state the bit generator refuses",
        f"{V}#rule-generator-state",
        {"t": "generator", "bit_generator": "PCG64", "state": {"t": "dict", "v": {"x": 1}}},
        "E-VALUE-INVALID",
        level=py,
    )
    # limits
    E(
        "limit-members",
        "nine members, one more than max_members",
        f"{L}#rule-limit-members",
        raw_zip([(f"m{i}", b"") for i in range(9)]),
        "E-LIMIT-MEMBERS",
        classes=["reader", "auditor"],
    )
    E(
        "limit-schema-bytes",
        "schema.json larger than max_schema_bytes (lowered to 64)",
        f"{L}#rule-limit-schema-bytes",
        good,
        "E-LIMIT-SCHEMA-BYTES",
        limits={"max_schema_bytes": 64},
        classes=["reader", "auditor"],
    )
    root: Any = 1
    for _ in range(401):
        root = {"t": "list", "v": [root]}
    ED(
        "limit-depth",
        "nodes nested 401 deep (max_depth is 400)",
        f"{L}#rule-limit-depth",
        root,
        "E-LIMIT-DEPTH",
    )
    ED(
        "limit-nodes",
        "51 nodes with max_nodes lowered to 50",
        f"{L}#rule-limit-nodes",
        {"t": "list", "v": [{"t": "float", "v": "nan"}] * 50},
        "E-LIMIT-NODES",
        limits={"max_nodes": 50},
    )
    ED(
        "limit-array-bytes",
        "a 64-byte array with max_array_bytes lowered to 32",
        f"{L}#rule-limit-array-bytes",
        arr("<f8", [8], [0, 64]),
        "E-LIMIT-ARRAY-BYTES",
        data=d64,
        limits={"max_array_bytes": 32},
    )
    ED(
        "limit-data-bytes",
        "a 64-byte data section with max_data_bytes lowered to 32",
        f"{L}#rule-limit-data-bytes",
        arr("<f8", [2], [0, 16]),
        "E-LIMIT-DATA-BYTES",
        data=d64,
        limits={"max_data_bytes": 32},
    )


def malicious_vectors(s: Suite) -> None:
    E = functools.partial(s.error, "malicious")
    ED = functools.partial(s.error_doc, "malicious")
    system = {"t": "function", "name": "os.system"}
    ED(
        "blanket-trust",
        "CVE-2024-37065: a file naming os.system, loaded without trusting it "
        "(no blanket-trust mode exists)",
        f"{S}#attack-blanket-trust",
        {"t": "partial", "func": system, "args": ["echo pwned"], "kw": {}},
        "E-TRUST-UNTRUSTED-TYPE",
        rule="rule-trust-check",
    )
    ED(
        "operator-node",
        "CVE-2025-54412: operator.methodcaller is an ordinary, untrusted function name",
        f"{S}#attack-operator-node",
        {
            "t": "partial",
            "func": {"t": "function", "name": "operator.methodcaller"},
            "args": ["system", "echo pwned"],
            "kw": {},
        },
        "E-TRUST-UNTRUSTED-TYPE",
        rule="rule-trust-check",
    )
    ED(
        "operator-attrgetter",
        "CVE-2025-54412: operator.attrgetter reaching os.system",
        f"{S}#attack-operator-node",
        {
            "t": "partial",
            "func": {"t": "function", "name": "operator.attrgetter"},
            "args": ["system"],
            "kw": {},
        },
        "E-TRUST-UNTRUSTED-TYPE",
        rule="rule-trust-check",
    )
    ED(
        "bound-method-node",
        "CVE-2025-54413: a bound-method node kind does not exist",
        f"{S}#attack-bound-method",
        {"t": "method", "obj": {"t": "type", "name": "builtins.object"}, "name": "__subclasses__"},
        "E-SCHEMA-INVALID",
        rule="rule-document-schema",
    )
    ED(
        "bound-method-name",
        "CVE-2025-54413: a method reached through a dotted function name is just an untrusted name",
        f"{S}#attack-bound-method",
        {"t": "function", "name": "builtins.object.__subclasses__"},
        "E-TRUST-UNTRUSTED-TYPE",
        rule="rule-trust-check",
    )
    ED(
        "loss-import-before-audit",
        "a loss-like object naming a module whose import has side "
        "effects (this): refused by the audit, nothing imported",
        f"{S}#attack-import-before-audit",
        {"t": "object", "type": "this.Loss"},
        "E-TRUST-UNTRUSTED-TYPE",
        rule="rule-trust-check",
    )
    ED(
        "bit-generator-name",
        "a generator whose bit generator is a qualified name",
        f"{S}#attack-bit-generator",
        {"t": "generator", "bit_generator": "os.system", "state": {"t": "dict", "v": {}}},
        "E-SCHEMA-INVALID",
        rule="rule-document-schema",
    )
    ED(
        "randomstate-bit-generator",
        "a RandomState whose state names builtins.eval as its bit generator",
        f"{S}#attack-bit-generator",
        {
            "t": "randomstate",
            "state": {
                "t": "dict",
                "v": {"bit_generator": "builtins.eval", "state": {"t": "dict", "v": {}}},
            },
        },
        "E-VALUE-INVALID",
        rule="rule-randomstate-state",
    )
    ED(
        "protocol-downgrade",
        "a protocol-3 container claiming protocol 2 to reach an older reader",
        f"{S}#attack-protocol-downgrade",
        {"t": "list", "v": []},
        "E-PROTOCOL-UNSUPPORTED",
        rule="rule-protocol",
        extra={"protocol": 2},
    )
    for older in (0, 1):
        ED(
            f"protocol-downgrade-{older}",
            f"a protocol-3 container claiming protocol {older} to reach an older reader",
            f"{S}#attack-protocol-downgrade",
            {"t": "list", "v": []},
            "E-PROTOCOL-UNSUPPORTED",
            rule="rule-protocol",
            extra={"protocol": older},
        )
    upstream = json.dumps(
        {
            "__class__": "list",
            "__module__": "builtins",
            "__loader__": "ListNode",
            "content": [],
            "protocol": 0,
            "_skops_version": "0.1",
        }
    ).encode()
    E(
        "protocol-upstream-0",
        "an upstream skops protocol-0 file (no digest comment)",
        f"{VER}#protocols-0-to-2",
        raw_zip([("schema.json", upstream)], comment=b""),
        "E-INTEGRITY-SCHEMA",
        rule="rule-integrity-schema",
        classes=["reader", "auditor"],
        # A reader of upstream files reads it (rule-upstream-read): see
        # format-upstream-0-valid-empty-list. The container claiming protocol 2 to reach
        # such a reader is protocol-downgrade above, which every reader refuses.
        unless=["optional:upstream"],
    )
    E(
        "protocol-upstream-true",
        "an upstream-shaped file whose protocol is JSON true: not 1, so not an upstream "
        "file for any reader, and refused as a protocol-3 container",
        f"{VER}#rule-upstream-read",
        raw_zip(
            [("schema.json", upstream.replace(b'"protocol": 0', b'"protocol": true'))], comment=b""
        ),
        "E-INTEGRITY-SCHEMA",
        rule="rule-integrity-schema",
        classes=["reader", "auditor"],
    )
    ED(
        "trust-in-file-field",
        "GHSA-w582-9x45-8mpx: a top-level trusted list in the document",
        f"{S}#attack-trust-in-file",
        {"t": "list", "v": [system]},
        "E-SCHEMA-INVALID",
        rule="rule-document-schema",
        extra={"trusted": ["os.system"]},
    )
    E(
        "trust-in-file-member",
        "GHSA-w582-9x45-8mpx: a trusted-types member in the archive",
        f"{S}#attack-trust-in-file",
        raw_zip([("schema.json", OK_SCHEMA), ("trusted_types.txt", b"os.system\n")]),
        "E-CONTAINER-MEMBER-UNKNOWN",
        rule="rule-container-member-unknown",
        classes=["reader", "auditor"],
    )
    ED(
        "names-hide-a-name",
        "a name index that omits os.system to fool a quick auditor",
        f"{V}#rule-name-index",
        {"t": "list", "v": [system]},
        "E-SCHEMA-NAMES",
        extra={"names": {}},
        trusted=["os.system"],
    )
    # tree indices (validators run while constructing: optional:python)
    from sklearn.tree import DecisionTreeClassifier

    X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]])
    tree = DecisionTreeClassifier(random_state=0).fit(X, [0, 1, 0, 1])
    doc, data, _ = of_object(tree)
    names = sorted(doc["names"])
    node = doc["root"]["state"]["v"]["tree_"]["state"]["v"]["nodes"]
    off = node["data"][0]
    for field_name, at, value, what in (
        ("left-child", 0, 10**6, "node 0's left child points far outside the tree"),
        ("child-cycle", 0, 0, "node 0's left child is node 0 itself (a cycle)"),
        ("feature", 16, 7, "node 0 splits on feature 7 of a 2-feature input"),
    ):
        bad = bytearray(data)
        struct.pack_into("<q", bad, off + at, value)
        d2 = json.loads(json.dumps(doc))
        d2["data"]["sha256"] = hashlib.sha256(bad).hexdigest()
        E(
            f"tree-{field_name}",
            f"a decision tree whose {what}",
            f"{S}#attack-tree-indices",
            container(encode(d2), bytes(bad)),
            "E-VALIDATION-INDEX",
            rule="rule-validate-tree",
            level="optional:python",
            trusted=names,
        )
    # decompression bombs
    bomb = raw_zip([("schema.json", b" " * (8 * 2**20))], method=zipfile.ZIP_DEFLATED)
    for sig, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        i = bomb.index(sig)
        bomb = patch(bomb, i + size_at, "<I", 100)
    E(
        "bomb-schema-inflates-past-size",
        "schema.json records 100 bytes; its deflate stream inflates to 8 MiB",
        f"{S}#attack-decompression-bomb",
        bomb,
        "E-CONTAINER-CORRUPT",
        rule="rule-container-inflate",
        classes=["reader", "auditor"],
    )
    tiny = raw_zip([("schema.json", OK_SCHEMA)], method=zipfile.ZIP_DEFLATED)
    for sig, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        tiny = patch(tiny, tiny.index(sig) + size_at, "<I", 300 * 2**20)
    E(
        "bomb-schema-recorded-size",
        "schema.json records 300 MiB, over the 256 MiB "
        "max_schema_bytes: refused before decompressing",
        f"{S}#attack-decompression-bomb",
        tiny,
        "E-LIMIT-SCHEMA-BYTES",
        rule="rule-limit-schema-bytes",
        classes=["reader", "auditor"],
    )
    zeros = bytes(8 * 2**20)
    doc = document({"t": "bytes", "data": [0, 100]}, bytes(100), compression="deflate")
    blob = raw_zip([("schema.json", encode(doc)), ("data", zeros)], method=zipfile.ZIP_DEFLATED)
    for sig, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        i = blob.index(sig)
        while i >= 0:
            nl = struct.unpack_from("<H", blob, i + (26 if sig == b"PK\x03\x04" else 28))[0]
            hl = 30 if sig == b"PK\x03\x04" else 46
            if blob[i + hl : i + hl + nl] == b"data":
                blob = patch(blob, i + size_at, "<I", 100)
            i = blob.find(sig, i + 4)
    E(
        "bomb-data-inflates-past-size",
        "the data member records 100 bytes; its stream inflates to 8 MiB",
        f"{S}#attack-decompression-bomb",
        blob,
        "E-CONTAINER-CORRUPT",
        rule="rule-container-data-size",
    )
    doc = document({"t": "bytes", "data": [0, 2**20]}, bytes(2**20), compression="deflate")
    E(
        "bomb-data-over-limit",
        "a 1 MiB data section with max_data_bytes lowered to 64 KiB: refused before decompressing",
        f"{S}#attack-decompression-bomb",
        container(encode(doc), bytes(2**20), "deflate"),
        "E-LIMIT-DATA-BYTES",
        rule="rule-limit-data-bytes",
        limits={"max_data_bytes": 65536},
    )
    # zip path traversal
    for name, member in (
        ("dotdot", "../schema.json"),
        ("absolute", "/etc/schema.json"),
        ("backslash", "..\\schema.json"),
        ("drive", "C:schema.json"),
    ):
        E(
            f"path-{name}",
            f"a member named {member}",
            f"{S}#attack-path-traversal",
            raw_zip([(member, OK_SCHEMA)]),
            "E-CONTAINER-PATH",
            rule="rule-container-path",
            classes=["reader", "auditor"],
        )
    # duplicates
    evil = encode(document({"t": "list", "v": [system]}))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dup = raw_zip([("schema.json", OK_SCHEMA), ("schema.json", evil)])
    E(
        "duplicate-members",
        "two members named schema.json, one harmless and one naming os.system",
        f"{S}#attack-duplicate-members",
        dup,
        "E-CONTAINER-MEMBER-DUPLICATE",
        rule="rule-container-member-duplicate",
        classes=["reader", "auditor"],
    )
    raw = encode(document({"t": "type", "name": "builtins.int"}))
    E(
        "duplicate-json-key",
        "a node with two name keys (builtins.int, then os.system)",
        f"{S}#attack-duplicate-members",
        bad_text(
            raw.replace(b'"name":"builtins.int"', b'"name":"builtins.int","name":"os.system"')
        ),
        "E-SCHEMA-DUPLICATE-KEY",
        rule="rule-json-duplicate-key",
        trusted=["builtins.int"],
    )
    # overlapping members and blobs
    data = bytes(32)
    doc = document(arr("<f8", [4], [0, 32]), data)
    blob = container(encode(doc), data)
    cd = central_entries(blob)
    covered = struct.unpack_from("<I", blob, cd[0] + 20)[0]  # schema.json's compressed size
    end = cd[0] - (30 + 11)  # keep it inside the archive: up to the central directory
    method = struct.unpack_from("<H", blob, cd[0] + 10)[0]
    if method == 0:
        blob = patch(blob, cd[0] + 20, "<II", end, end)
    else:
        blob = patch(blob, cd[0] + 20, "<I", end)
    del covered
    E(
        "overlapping-members",
        "schema.json's recorded size covers the data member's header and bytes",
        f"{S}#attack-overlap",
        blob,
        "E-CONTAINER-CORRUPT",
        rule="rule-container-member-overlap",
        classes=["reader", "auditor"],
    )
    two = {"t": "list", "v": [arr("<f8", [4], [0, 32]), arr("<f8", [2], [16, 16])]}
    ED(
        "overlapping-blobs",
        "two arrays over overlapping bytes",
        f"{S}#attack-overlap",
        two,
        "E-DATA-OVERLAP",
        data=bytes(64),
        rule="rule-data-overlap",
    )
    same = {"t": "list", "v": [arr("<i8", [2], [0, 16]), {"t": "bytearray", "data": [0, 16]}]}
    ED(
        "aliased-blobs",
        "an array and a bytearray over the same bytes (a change through one "
        "would change the other after validation)",
        f"{S}#attack-overlap",
        same,
        "E-DATA-OVERLAP",
        data=bytes(16),
        rule="rule-data-overlap",
    )
    ED(
        "offset-out-of-range",
        "an array that reads past the end of the data section",
        f"{S}#attack-overlap",
        arr("<f8", [4], [32, 32]),
        "E-DATA-RANGE",
        data=bytes(48),
        rule="rule-data-range",
    )
    ED(
        "shape-bytes-disagree",
        "a 1000x1000 float array over 64 bytes",
        f"{S}#attack-shape-size",
        arr("<f8", [1000, 1000], [0, 64]),
        "E-DATA-SIZE",
        data=bytes(64),
        rule="rule-data-size",
    )
    ED(
        "shape-overflow",
        "a shape whose element count overflows 64 bits, over 8 bytes",
        f"{S}#attack-shape-size",
        arr("<f8", [2**32, 2**32, 2], [0, 8]),
        "E-SCHEMA-INVALID",
        data=bytes(16),
        rule="rule-shape",
    )
    nested = b'{"t":"list","v":[' * 100_000 + b"1" + b"]}" * 100_000
    E(
        "deep-nesting",
        "list nodes nested 100 000 deep (a recursive parser would overflow its stack)",
        f"{S}#attack-deep-nesting",
        bad_text(encode(document(0)).replace(b'"root":0', b'"root":' + nested)),
        "E-LIMIT-DEPTH",
        rule="rule-limit-depth",
    )
    many = b'{"t":"list","v":[' + b",".join([b'{"t":"float","v":"nan"}'] * 2_000_000) + b"]}"
    E(
        "node-count",
        "2 000 001 nodes, one more than the default max_nodes",
        f"{S}#attack-node-count",
        container(encode(document(0)).replace(b'"root":0', b'"root":' + many)),
        "E-LIMIT-NODES",
        rule="rule-limit-nodes",
        level="recommended",
    )
    flipped = bytearray(raw_zip([("schema.json", OK_SCHEMA)]))  # stored: flip a digit inside
    i = bytes(flipped).index(b"[1,2]") + 1
    flipped[i] = ord("7")
    E(
        "integrity-schema",
        "one byte of schema.json changed after the digest was computed",
        f"{S}#attack-integrity",
        bytes(flipped),
        "E-INTEGRITY-SCHEMA",
        rule="rule-integrity-schema",
        classes=["reader", "auditor"],
    )
    d = bytearray(np.arange(8, dtype="<f8").tobytes())
    doc = document(arr("<f8", [8], [0, 64]), bytes(d))
    d[9] ^= 0x40
    E(
        "integrity-data",
        "one byte of the data section changed after the digest was computed",
        f"{S}#attack-integrity",
        container(encode(doc), bytes(d)),
        "E-INTEGRITY-DATA",
        rule="rule-integrity-data",
    )


def zip64_everywhere(blob: bytes) -> bytes:
    """The same archive with every size and offset moved to zip64 fields and zip64 end
    records, as a writer may do for a file of any size (readers must accept it)."""
    eocd = blob.rindex(b"PK\x05\x06")
    n, _cd_size, cd_off = struct.unpack_from("<HII", blob, eocd + 10)
    body = bytearray(blob[:cd_off])
    central = bytearray()
    pos = cd_off
    for _ in range(n):
        fixed = bytearray(blob[pos : pos + 46])
        nl, el, cl = struct.unpack_from("<HHH", fixed, 28)
        csize, usize = struct.unpack_from("<II", fixed, 20)
        (off,) = struct.unpack_from("<I", fixed, 42)
        name = blob[pos + 46 : pos + 46 + nl]
        extra = struct.pack("<HHQQQ", 1, 24, usize, csize, off)
        struct.pack_into("<II", fixed, 20, 0xFFFFFFFF, 0xFFFFFFFF)
        struct.pack_into("<H", fixed, 30, len(extra))
        struct.pack_into("<I", fixed, 42, 0xFFFFFFFF)
        central += fixed + name + extra
        pos += 46 + nl + el + cl
    z64_at = len(body) + len(central)
    record = struct.pack(
        "<IQHHIIQQQQ", 0x06064B50, 44, 0x033F, 45, 0, 0, n, n, len(central), len(body)
    )
    locator = struct.pack("<IIQI", 0x07064B50, 0, z64_at, 1)
    comment = blob[eocd + 22 :]
    end = (
        struct.pack(
            "<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, len(comment)
        )
        + comment
    )
    return bytes(body + central + record + locator + end)


def zip64_vectors(s: Suite) -> None:
    data = np.arange(4, dtype="<i8").tobytes()
    doc = document(arr("<i8", [4], [0, 32]), data)
    blob = zip64_everywhere(container(encode(doc), data))
    s.valid(
        "container-zip64",
        "a small file whose sizes, offsets and end records all use "
        "zip64 fields (allowed; readers must follow them)",
        f"{C}#rule-container-zip64-end",
        doc,
        data,
        blob,
        writer=False,
    )
    # zip64 end record announced (0xFFFF entries) but no locator before the end record
    eocd = blob.rindex(b"PK\x05\x06")
    no_locator = blob[: eocd - 20] + blob[eocd:]
    s.error(
        "invalid",
        "zip64-locator-missing",
        "the end record points to zip64 records that are not there",
        f"{C}#rule-container-zip64-end",
        no_locator,
        "E-CONTAINER-CORRUPT",
        classes=["reader", "auditor"],
    )
    # a central entry whose sizes are 0xFFFFFFFF without a zip64 extra field
    plain = container(encode(document({"t": "list", "v": [1, 2]})))
    cd = central_entries(plain)[0]
    stripped = patch(plain, cd + 20, "<II", 0xFFFFFFFF, 0xFFFFFFFF)
    s.error(
        "invalid",
        "zip64-extra-missing",
        "schema.json's sizes are 0xFFFFFFFF and its central entry has no zip64 field",
        f"{C}#rule-container-zip64-extra",
        stripped,
        "E-CONTAINER-CORRUPT",
        classes=["reader", "auditor"],
    )


def validator_vectors(s: Suite) -> None:
    """Values that trusted scikit-learn or scipy code would index without bounds checks
    (optional:python: only readers that construct Python objects run that code)."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.neighbors import KDTree
    from sklearn.tree import DecisionTreeRegressor

    from skship.format.decoder import parse_dtype

    py = "optional:python"

    def tampered(
        obj: Any, edit: Callable[[dict[str, Any], bytearray], None]
    ) -> tuple[bytes, list[str]]:
        doc, data, _ = of_object(obj)
        raw = bytearray(data)
        edit(doc, raw)
        doc["data"]["sha256"] = hashlib.sha256(raw).hexdigest()
        return container(encode(doc), bytes(raw)), sorted(doc["names"])

    X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]])
    y = np.array([0.0, 1.0, 0.0, 1.0])

    def wider(doc: dict[str, Any], raw: bytearray) -> None:
        doc["root"]["state"]["v"]["n_features_in_"] = 5

    blob, names = tampered(DecisionTreeRegressor(random_state=0).fit(X, y), wider)
    s.error(
        "malicious",
        "tree-estimator-width",
        "a tree estimator that accepts 5 features over a tree built for 2",
        f"{S}#attack-tree-indices",
        blob,
        "E-VALIDATION-INDEX",
        rule="rule-validate-tree-estimator",
        level=py,
        trusted=names,
    )

    rng = np.random.default_rng(SEED)
    Xh = rng.standard_normal((60, 2))
    hgb = HistGradientBoostingRegressor(max_iter=2, max_leaf_nodes=3, random_state=0)
    hgb.fit(Xh, Xh[:, 0])

    def far_child(doc: dict[str, Any], raw: bytearray) -> None:
        stack: list[Any] = [doc["root"]]
        while stack:
            v = stack.pop()
            if isinstance(v, dict):
                if v.get("type", "").endswith("TreePredictor"):
                    nodes = v["state"]["v"]["nodes"]
                    descr = nodes["dtype"]
                    dt = parse_dtype(doc["dtypes"][descr] if isinstance(descr, int) else descr)
                    struct.pack_into("<I", raw, nodes["data"][0] + dt.fields["left"][1], 10**6)
                    return
                stack.extend(v.values())
            elif isinstance(v, list):
                stack.extend(v)

    blob, names = tampered(hgb, far_child)
    s.error(
        "malicious",
        "hgb-child",
        "a histogram gradient boosting predictor whose root points to node 1000000",
        f"{S}#attack-tree-indices",
        blob,
        "E-VALIDATION-INDEX",
        rule="rule-validate-hgb",
        level=py,
        trusted=names,
    )

    # Lone predictors whose stored records differ from scikit-learn's layout; their
    # __setstate__ casts to PREDICTOR_RECORD_DTYPE, so what a check on the stored records
    # sees is not what predict reads.
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    def relaid_predictor(
        fields: list[tuple[str, Any]], tamper: Callable[[np.ndarray[Any, Any]], None]
    ) -> Any:
        predictor = copy.deepcopy(hgb._predictors[0][0])
        nodes = np.zeros(len(predictor.nodes), dtype=fields)
        for n, _ in fields:
            nodes[n] = predictor.nodes[n]
        tamper(nodes)
        predictor.nodes = nodes
        return predictor

    layout = [(n, PREDICTOR_RECORD_DTYPE.fields[n][0]) for n in PREDICTOR_RECORD_DTYPE.names or ()]
    names_ = [n for n, _ in layout]
    i, j = names_.index("left"), names_.index("depth")
    swapped = list(layout)
    swapped[i], swapped[j] = swapped[j], swapped[i]

    def deep(nodes: np.ndarray[Any, Any]) -> None:
        nodes["depth"] = 10**6

    def wide_leaf(nodes: np.ndarray[Any, Any]) -> None:
        nodes["is_leaf"] = 256
        nodes["left"] = nodes["right"] = 10**6

    for vid, fields, tamper, what in [
        (
            "hgb-predictor-layout",
            swapped,
            deep,
            "nodes swap the left and depth fields (cast by position on load, the unchecked "
            "depths would become children)",
        ),
        (
            "hgb-predictor-wide-flag",
            [(n, "<u2" if n == "is_leaf" else t) for n, t in layout],
            wide_leaf,
            "is_leaf field is 16-bit and holds 256 (a leaf to a check on the stored "
            "records, a split pointing to node 1000000 once cast to scikit-learn's 8-bit "
            "field)",
        ),
    ]:
        blob, names = tampered(relaid_predictor(fields, tamper), lambda doc, raw: None)
        s.error(
            "malicious",
            vid,
            f"a lone histogram gradient boosting predictor whose {what}",
            f"{S}#attack-tree-indices",
            blob,
            "E-VALIDATION-INDEX",
            rule="rule-validate-hgb",
            level=py,
            trusted=names,
        )

    def far_index(doc: dict[str, Any], raw: bytearray) -> None:
        idx_array = doc["root"]["state"]["v"][1]
        struct.pack_into("<q", raw, idx_array["data"][0], 10**6)

    blob, names = tampered(KDTree(Xh, leaf_size=10), far_index)
    s.error(
        "malicious",
        "kdtree-index",
        "a KDTree whose index array points past its data",
        f"{S}#attack-tree-indices",
        blob,
        "E-VALIDATION-INDEX",
        rule="rule-validate-binary-tree",
        level=py,
        trusted=names,
    )
    data = np.array([1.0], dtype="<f8").tobytes() + bytes(8)
    data += np.array([7], dtype="<i4").tobytes() + bytes(12)
    data += np.array([0, 1], dtype="<i4").tobytes()
    sparse = {
        "t": "sparse",
        "format": "csr",
        "container": "matrix",
        "shape": [1, 2],
        "arrays": {
            "data": arr("<f8", [1], [0, 8]),
            "indices": arr("<i4", [1], [16, 4]),
            "indptr": arr("<i4", [2], [32, 8]),
        },
    }
    s.error_doc(
        "malicious",
        "sparse-index",
        "a csr matrix with a column index of 7 in a 2-column matrix",
        f"{S}#rule-validate-sparse",
        sparse,
        "E-VALIDATION-INDEX",
        data=data,
        level=py,
    )
    masked = {"t": "masked", "data": arr("<f8", [3], [0, 24]), "mask": arr("|b1", [2], [32, 2])}
    s.error_doc(
        "invalid",
        "masked-shape",
        "a masked array whose mask has another shape",
        f"{V}#rule-masked",
        masked,
        "E-VALUE-INVALID",
        data=bytes(48),
        level=py,
    )
    s.error_doc(
        "invalid",
        "function-is-class",
        "a function node naming a class",
        f"{V}#rule-function-kind",
        {"t": "function", "name": "fractions.Fraction"},
        "E-TRUST-NOT-FOUND",
        level=py,
        trusted=["fractions.Fraction"],
    )
    s.error_doc(
        "malicious",
        "construct-reference-only",
        "an object node constructing "
        "builtins.type (a name trusted, if at all, only as a reference) to make a class",
        f"{S}#rule-trust-kinds",
        {
            "t": "object",
            "type": "builtins.type",
            "args": ["Evil", {"t": "tuple", "v": []}, {"t": "dict", "v": {}}],
        },
        "E-TRUST-UNTRUSTED-TYPE",
        rule="rule-trust-check",
    )


def future_vectors(s: Suite) -> None:
    E = functools.partial(s.error, "future")
    doc = {"protocol": 4, "writer": WRITER, "graph": {"nodes": [], "edges": []}, "chunks": 3}
    E(
        "protocol-4",
        "a protocol-4 document whose structure protocol 3 does not know",
        f"{VER}#newer-protocols",
        bad_text(encode(doc)),
        "E-PROTOCOL-UNSUPPORTED",
        rule="rule-protocol",
    )
    doc4 = document({"t": "list", "v": []})
    doc4["protocol"] = 4
    E(
        "protocol-4-like-3",
        "a protocol-4 document that otherwise looks like protocol 3",
        f"{VER}#newer-protocols",
        bad_text(encode(doc4)),
        "E-PROTOCOL-UNSUPPORTED",
        rule="rule-protocol",
    )
    E(
        "protocol-large",
        "protocol 1000",
        f"{VER}#newer-protocols",
        bad_text(encode(document(1)).replace(b'"protocol":3', b'"protocol":1000')),
        "E-PROTOCOL-UNSUPPORTED",
        rule="rule-protocol",
    )
    s.error_doc(
        "future",
        "extension-unknown",
        "an unknown must-understand extension",
        f"{VER}#extensions",
        1,
        "E-EXTENSION-UNKNOWN",
        rule="rule-extensions",
        extra={"extensions": ["chunked-data"]},
    )
    s.error_doc(
        "future",
        "extension-new-node-kind",
        "an unknown extension and the node kind it adds (the extension check comes first)",
        f"{VER}#extensions",
        {"t": "chunked", "chunks": [[0, 16]]},
        "E-EXTENSION-UNKNOWN",
        rule="rule-extensions",
        extra={"extensions": ["chunked-data"]},
    )
    s.error_doc(
        "future",
        "extension-new-field",
        "an unknown extension and the top-level field it adds",
        f"{VER}#extensions",
        1,
        "E-EXTENSION-UNKNOWN",
        rule="rule-extensions",
        extra={"extensions": ["x.provenance"], "provenance": {"by": "someone"}},
    )
    s.error_doc(
        "future",
        "field-without-extension",
        "a new top-level field without an extension: refused, never ignored",
        f"{VER}#extensions",
        1,
        "E-SCHEMA-INVALID",
        rule="rule-document-schema",
        extra={"provenance": {"by": "someone"}},
    )
    doc = document(arr("<f8", [2], [0, 16]), bytes(16), compression="lz4")
    E(
        "compression-unknown",
        "a data compression protocol 3 does not define (lz4)",
        f"{VER}#extensions",
        bad_text(encode(doc), bytes(16)),
        "E-SCHEMA-INVALID",
        rule="rule-document-schema",
    )


def xgboost_booster() -> Any:
    """A two-tree XGBoost booster, trained on fixed data with one thread (deterministic)."""
    import xgboost

    X = np.arange(24, dtype=np.float32).reshape(8, 3)
    y = (np.arange(8) >= 4).astype(np.float32)
    params = {"max_depth": 2, "nthread": 1, "seed": 0, "objective": "binary:logistic"}
    return xgboost.train(params, xgboost.DMatrix(X, label=y), num_boost_round=2)


def copy_document(doc: dict[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(doc))
    return copied


def ext_vectors(s: Suite) -> None:
    """ext nodes (values.md#node-ext): a handler is found by name only, never imported
    from the file. A reader without the handler refuses the file (core); the built-in
    xgboost handler's checks are level optional:xgboost."""
    ext_spec = f"{V}#node-ext"
    state = {"t": "dict", "v": {"model": "not built"}}
    s.valid_object(
        "ext-xgboost-booster",
        "an XGBoost Booster stored by the built-in xgboost type handler (UBJSON state)",
        ext_spec,
        xgboost_booster(),
        level="optional:xgboost",
    )
    s.error_doc(
        "future",
        "ext-handler-not-installed",
        "an ext node naming a type handler that no reader has installed",
        f"{V}#rule-ext-handler",
        {
            "t": "ext",
            "handler": "skship-conformance-absent",
            "type": "example.Model",
            "state": state,
        },
        "E-PLUGIN-NOT-INSTALLED",
    )
    s.error_doc(
        "malicious",
        "ext-handler-names-a-module",
        "an ext node whose handler is the name of a module (os): a reader looks handlers "
        "up by name and never imports one from the file",
        f"{V}#rule-ext-handler",
        {
            "t": "ext",
            "handler": "os",
            "type": "os.system",
            "state": {"t": "list", "v": ["echo pwned"]},
        },
        "E-PLUGIN-NOT-INSTALLED",
    )
    s.error_doc(
        "invalid",
        "ext-handler-pattern",
        "an ext node whose handler name breaks its pattern (upper case, a space)",
        f"{V}#rule-ext-handler",
        {"t": "ext", "handler": "No Such", "type": "example.Model", "state": None},
        "E-SCHEMA-INVALID",
    )
    s.error_doc(
        "malicious",
        "ext-xgboost-type-os-system",
        "an ext node of the xgboost handler naming os.system as its type: the handler "
        "does not list it, so nothing is imported or built",
        f"{V}#rule-ext-handler",
        {"t": "ext", "handler": "xgboost", "type": "os.system", "state": state},
        "E-PLUGIN-TYPE-UNKNOWN",
        level="optional:xgboost",
    )
    doc, data, _ = of_object(xgboost_booster())
    # The first tree's root: its left child, an int32 in the typed array left_children,
    # made to point far outside the tree (XGBoost would read out of bounds).
    at = data.index(b"left_children[$l#L") + len(b"left_children[$l#L") + 8
    far = bytearray(data)
    far[at : at + 4] = struct.pack(">i", 1 << 20)
    wild = copy_document(doc)
    wild["data"]["sha256"] = hashlib.sha256(far).hexdigest()
    s.error(
        "malicious",
        "ext-xgboost-child-out-of-range",
        "an XGBoost Booster whose tree points a child at node 2**20 of a 3-node tree: "
        "the handler's validation refuses it before XGBoost reads it",
        f"{V}#rule-ext-validate",
        container(encode(wild), bytes(far)),
        "E-PLUGIN-STATE-INVALID",
        level="optional:xgboost",
    )
    cut = data[: len(data) // 2]
    doc["root"]["state"]["v"]["ubj"]["data"] = [0, len(cut)]
    doc["data"].update(size=len(cut), sha256=hashlib.sha256(cut).hexdigest())
    s.error(
        "invalid",
        "ext-xgboost-state-truncated",
        "an XGBoost Booster whose UBJSON model is cut in half: the handler's validation "
        "refuses it before XGBoost parses it",
        f"{V}#rule-ext-validate",
        container(encode(doc), cut),
        "E-PLUGIN-STATE-INVALID",
        level="optional:xgboost",
    )


def _up(loader: str, qual: str, **fields: Any) -> dict[str, Any]:
    """A node in the shape upstream skops writes (tests/test_upstream.py crafts the same)."""
    module, _, cls = qual.rpartition(".")
    return {"__class__": cls, "__module__": module, "__loader__": loader, **fields}


def _up_json(value: Any) -> dict[str, Any]:
    return _up("JsonNode", "builtins.str", content=json.dumps(value), is_json=True)


def _up_list(*items: Any) -> dict[str, Any]:
    return _up("ListNode", "builtins.list", content=list(items))


def _up_dict(**items: Any) -> dict[str, Any]:
    keys = _up_list(*[_up("TypeNode", "builtins.str") for _ in items])
    return _up("DictNode", "builtins.dict", content=items, key_types=keys)


def upstream_file(root: dict[str, Any], protocol: int) -> bytes:
    """An upstream-style archive: schema.json only, no digest comment (deterministic)."""
    body = json.dumps({**root, "protocol": protocol, "_skops_version": "0.16.0"}).encode()
    return raw_zip([("schema.json", body)], comment=b"")


def upstream_vectors(s: Suite) -> None:
    """Upstream files (protocols 0 to 2) for readers that claim optional:upstream
    (versioning.md#reading-protocols-0-to-2): each attack under every protocol, since the
    protocol number must never choose weaker checks."""
    level = "optional:upstream"
    for p in UPSTREAM_PROTOCOLS:
        s.add(
            "valid",
            "empty-list",
            f"the smallest upstream file: an empty list, protocol {p}",
            f"{VER}#rule-upstream-read",
            upstream_file(_up_list(), p),
            level=level,
            upstream=p,
            expected={"tree": {"t": "list", "v": []}, "names": {}},
        )
        E = functools.partial(s.add, "malicious", level=level, upstream=p)
        method = _up(
            "MethodNode",
            "collections.OrderedDict",
            content={"func": "__reduce_ex__", "obj": _up_dict()},
        )
        E(
            "method-node",
            "CVE-2025-54413: a bound method (MethodNode), never loaded whatever is trusted",
            f"{VER}#rule-upstream-refuse",
            upstream_file(_up_list(method), p),
            code="E-UPSTREAM-UNSUPPORTED",
            trusted=["collections.OrderedDict.__reduce_ex__"],
        )
        E(
            "unknown-loader",
            "a node whose __loader__ no upstream release has",
            f"{VER}#rule-upstream-refuse",
            upstream_file(_up_list(_up("PickleNode", "builtins.list", content=[])), p),
            code="E-UPSTREAM-UNSUPPORTED",
        )
        E(
            "operator-outside-operator",
            "an OperatorFuncNode that names os instead of operator",
            f"{VER}#rule-upstream-translate",
            upstream_file(
                _up_list(_up("OperatorFuncNode", "os.system", attrs=_up_list(_up_json("x")))),
                p,
            ),
            code="E-UPSTREAM-NODE",
        )
        E(
            "trust-in-file",
            "GHSA-w582-9x45-8mpx: a trusted list inside the file, a key upstream never writes",
            f"{VER}#rule-upstream-no-trust-in-file",
            upstream_file(
                {**_up_list(_up("FunctionNode", "builtins.exec")), "trusted": ["builtins.exec"]},
                p,
            ),
            code="E-UPSTREAM-NODE",
            rule="rule-upstream-translate",
        )
        function = (
            _up("FunctionNode", "numpy.ufunc", content={"module_path": "os", "function": "system"})
            if p == 0
            else _up("FunctionNode", "os.system")
        )
        E(
            "function-untrusted",
            "CVE-2024-37065: a function node naming os.system, loaded without trusting it",
            f"{VER}#rule-upstream-translate",
            upstream_file(_up_list(function), p),
            code="E-TRUST-UNTRUSTED-TYPE",
            rule="rule-trust-check",
        )


def build_suite() -> Suite:
    suite = Suite()
    rng = np.random.default_rng(SEED)
    valid_vectors(suite, rng)
    invalid_vectors(suite)
    malicious_vectors(suite)
    future_vectors(suite)
    zip64_vectors(suite)
    validator_vectors(suite)
    ext_vectors(suite)
    upstream_vectors(suite)
    return suite


def _dump_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def write_suite(suite: Suite, out: Path) -> None:
    """Write every vector under ``out`` (conformance/format), replacing only the
    directories this script owns (the real upstream files are not touched)."""
    for owned in OWNED:
        shutil.rmtree(out / owned, ignore_errors=True)
    for v in suite.vectors:
        d = out / v["dir"] / v["case"]["id"]
        d.mkdir(parents=True)
        (d / "case.json").write_text(_dump_json(v["case"]), encoding="utf-8")
        (d / FILE).write_bytes(v["blob"])
        if v["expected"] is not None:
            # Compact: indenting a tree nested 400 deep would take megabytes.
            text = json.dumps(v["expected"], separators=(",", ":"), ensure_ascii=False) + "\n"
            (d / "expected.json").write_text(text, encoding="utf-8")


def differences(a: Path, b: Path) -> list[str]:
    out: list[str] = []

    def walk(cmp: filecmp.dircmp[str], rel: str) -> None:
        out.extend(f"only in {cmp.left}: {rel}{n}" for n in cmp.left_only)
        out.extend(f"only in {cmp.right}: {rel}{n}" for n in cmp.right_only)
        _, mismatch, errors = filecmp.cmpfiles(cmp.left, cmp.right, cmp.common_files, shallow=False)
        out.extend(f"differs: {rel}{n}" for n in mismatch + errors)
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{rel}{name}/")

    for owned in OWNED:
        if (a / owned).exists() != (b / owned).exists():
            out.append(f"only in one tree: {owned}")
            continue
        if (a / owned).exists():
            walk(filecmp.dircmp(str(a / owned), str(b / owned)), f"{owned}/")
    return out


def main(argv: list[str] | None = None, log: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare; write nothing")
    args = parser.parse_args(argv)
    suite = build_suite()
    if not args.check:
        write_suite(suite, FORMAT)
        log(f"wrote {len(suite.vectors)} vectors to {FORMAT.relative_to(ROOT)}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        write_suite(suite, Path(tmp))
        diff = differences(FORMAT, Path(tmp))
    for line in diff[:50]:
        log(line)
    if diff:
        log("the vectors differ from tools/gen_vectors.py's output; run it and commit the result")
        return 1
    log(f"{len(suite.vectors)} vectors match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
