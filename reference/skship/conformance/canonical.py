"""The canonical tree of a protocol-3 document (spec/conformance.md#canonical-tree).

What a reader decodes, written as language-neutral JSON: ids renumbered in construction
order, dict forms unified, integers and floats tagged where JSON alone is ambiguous,
array contents as dtype + shape + the sha256 of their C-order bytes. Standard library
only: the generator, the runner and the reference harness all use it, and nothing here
imports numpy.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import sys
from typing import Any

INLINE_BYTES = 64
_SAFE_INT = 2**53
_DT = re.compile(r"\A[<>|]([iufcbVSU])([0-9]+)\Z|\A[<>|][mM]8(\[[0-9]*[a-zA-Z]+\])?\Z")


def canonical_int(x: int) -> Any:
    return x if -_SAFE_INT < x < _SAFE_INT else {"t": "int", "v": str(x)}


def canonical_float(x: float) -> Any:
    if math.isnan(x):
        v: Any = "nan"
    elif math.isinf(x):
        v = "inf" if x > 0 else "-inf"
    else:
        v = x
    return {"t": "float", "v": v}


def itemsize(descr: Any) -> int:
    """Bytes per element of a (resolved) descr."""
    if isinstance(descr, str):
        m = _DT.match(descr)
        if m is None:
            raise ValueError(f"not a protocol-3 dtype: {descr!r}")
        if m.group(1) is None:
            return 8
        n = int(m.group(2))
        return 4 * n if m.group(1) == "U" else n
    total = 0
    for field in descr:
        count = 1
        for d in field[2] if len(field) == 3 else []:
            count *= d
        total += itemsize(field[1]) * count
    return total


def c_order(blob: bytes, shape: list[int], size: int) -> bytes:
    """Fortran-order element bytes rearranged into C order."""
    if len(shape) < 2 or size == 0:
        return blob
    n = 1
    for d in shape:
        n *= d
    if n == 0:
        return blob
    out = bytearray(len(blob))
    strides_f = []
    acc = 1
    for d in shape:
        strides_f.append(acc)
        acc *= d
    index = [0] * len(shape)
    for k in range(n):
        f = sum(i * s for i, s in zip(index, strides_f, strict=True))
        out[k * size : (k + 1) * size] = blob[f * size : (f + 1) * size]
        for axis in range(len(shape) - 1, -1, -1):
            index[axis] += 1
            if index[axis] < shape[axis]:
                break
            index[axis] = 0
    return bytes(out)


def blob_fields(blob: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {"nbytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    if len(blob) <= INLINE_BYTES:
        out["hex"] = blob.hex()
    return out


_CHILDREN_FIELDS = {
    "masked": ("data", "mask", "fill_value"),
    "generator": ("state",),
    "randomstate": ("state",),
}


class _Canon:
    def __init__(self, root: Any, dtypes: list[Any], data: bytes) -> None:
        self.dtypes = dtypes
        self.data = data
        self.referenced: set[int] = set()
        self.ids: dict[int, int] = {}
        stack = [root]
        while stack:
            v = stack.pop()
            if isinstance(v, dict):
                if v.get("t") == "ref":
                    self.referenced.add(v["id"])
                stack.extend(v.values())
            elif isinstance(v, list):
                stack.extend(v)

    def descr(self, d: Any) -> Any:
        return self.dtypes[d] if isinstance(d, int) else d

    def blob(self, ref: list[int]) -> bytes:
        off, n = ref
        return self.data[off : off + n]

    def value(self, v: Any) -> Any:
        if v is None or isinstance(v, bool | str):
            return v
        if isinstance(v, int):
            return canonical_int(v)
        if isinstance(v, float):
            return canonical_float(v)
        return self.node(v)

    def values(self, vs: list[Any]) -> list[Any]:
        return [self.value(x) for x in vs]

    def number(self, v: Any) -> Any:
        if isinstance(v, dict):
            return self.node(v)
        return canonical_float(float(v))

    def items(self, node: dict[str, Any]) -> list[Any]:
        if node.get("v") is not None:
            return [[k, self.value(x)] for k, x in node["v"].items()]
        return [[self.value(k), self.value(x)] for k, x in node["items"]]

    def node(self, n: dict[str, Any]) -> Any:
        t = n["t"]
        out: dict[str, Any] = {"t": t}
        declared = None if t == "ref" else n.get("id")
        if declared is not None and declared in self.referenced:
            # Numbered when the node is met: the canonical id follows construction order.
            self.ids[declared] = len(self.ids)
        if t == "ref":
            return {"t": "ref", "id": self.ids.get(n["id"], -1)}
        if t == "float":
            out["v"] = n["v"]
        elif t == "int":
            text = n["v"]
            x = -int(text[3:], 16) if text.startswith("-") else int(text[2:], 16)
            return canonical_int(x)
        elif t == "complex":
            out["re"] = self.number(n["re"])
            out["im"] = self.number(n["im"])
        elif t in ("bytes", "bytearray"):
            out.update(blob_fields(self.blob(n["data"])))
        elif t in ("list", "tuple", "set", "frozenset", "slice"):
            out["v"] = self.values(n["v"])
        elif t == "range":
            out["v"] = [canonical_int(x) for x in n["v"]]
        elif t in ("dict", "odict"):
            out["items"] = self.items(n)
        elif t == "defaultdict":
            out["factory"] = self.value(n["factory"])
            out["items"] = self.items(n)
        elif t == "enum":
            out["type"], out["name"] = n["type"], n["name"]
        elif t in ("type", "function"):
            out["name"] = n["name"]
        elif t == "namedtuple":
            out["type"] = n["type"]
            out["v"] = self.values(n["v"])
        elif t == "ndarray":
            descr = self.descr(n["dtype"])
            blob = self.blob(n["data"])
            if n.get("order") == "F":
                blob = c_order(blob, n["shape"], itemsize(descr))
            out["dtype"], out["shape"] = descr, list(n["shape"])
            out.update(blob_fields(blob))
        elif t == "objarray":
            out["shape"] = list(n["shape"])
            out["v"] = self.values(n["v"])
        elif t == "npscalar":
            out["dtype"] = self.descr(n["dtype"])
            out["hex"] = base64.b64decode(n["b"]).hex()
        elif t == "dtype":
            out["dtype"] = self.descr(n["dtype"])
        elif t == "partial":
            out["func"] = self.value(n["func"])
            out["args"] = self.values(n["args"])
            out["kw"] = {k: self.value(x) for k, x in n["kw"].items()}
        elif t in _CHILDREN_FIELDS:
            if t == "generator":
                out["bit_generator"] = n["bit_generator"]
            for field in _CHILDREN_FIELDS[t]:
                if n.get(field) is not None:
                    out[field] = self.value(n[field])
        elif t == "sparse":
            out["format"], out["container"] = n["format"], n["container"]
            out["shape"] = list(n["shape"])
            out["arrays"] = {k: self.node(a) for k, a in n["arrays"].items()}
        elif t == "ext":
            out["handler"], out["type"] = n["handler"], n["type"]
            out["state"] = self.value(n["state"])
        elif t in ("object", "reduce"):
            out["type"] = n["type"]
            args = self.values(n.get("args") or [])
            if args or t == "reduce":
                out["args"] = args
            if n.get("state") is not None:
                out["state"] = self.value(n["state"])
            if t == "object":
                items = [[self.value(k), self.value(x)] for k, x in n.get("items") or []]
                elems = self.values(n.get("elems") or [])
                if items:
                    out["items"] = items
                if elems:
                    out["elems"] = elems
        else:
            raise ValueError(f"unknown node kind {t!r}")
        if declared is not None and declared in self.ids:
            out["id"] = self.ids[declared]
        return out


def canonical_tree(document: dict[str, Any], data: bytes) -> Any:
    """The canonical tree of a decoded (valid) document and its data section."""
    # A valid tree nests up to max_depth (400) nodes, three Python frames each.
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 4000))
    try:
        return _Canon(document["root"], document.get("dtypes") or [], data).value(document["root"])
    finally:
        sys.setrecursionlimit(old)


def same(a: Any, b: Any) -> bool:
    """Equality of canonical trees: strict on JSON types, numeric on tagged floats
    (the sign of zero counts), and order-free on set and frozenset elements."""
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if isinstance(x, dict) and isinstance(y, dict):
            if x.keys() != y.keys():
                return False
            if x.get("t") == "float" and set(x) == {"t", "v"}:
                if not _same_float(x["v"], y["v"]):
                    return False
            elif x.get("t") in ("set", "frozenset") and isinstance(x.get("v"), list):
                if not _same_elements(x["v"], y["v"]):
                    return False
                stack.extend((x[k], y[k]) for k in x if k != "v")
            else:
                stack.extend((x[k], y[k]) for k in x)
        elif isinstance(x, list) and isinstance(y, list):
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y, strict=True))
        elif type(x) is not type(y) or x != y:
            return False
    return True


def _same_elements(a: Any, b: Any) -> bool:
    if not isinstance(b, list) or len(a) != len(b):
        return False
    rest = list(b)
    for x in a:
        hit = next((i for i, y in enumerate(rest) if same(x, y)), None)
        if hit is None:
            return False
        rest.pop(hit)
    return True


def _same_float(a: Any, b: Any) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return bool(a == b)
    if not isinstance(a, int | float) or not isinstance(b, int | float):
        return False
    return bool(float(a) == float(b) and math.copysign(1, a) == math.copysign(1, b))
