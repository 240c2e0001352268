"""Write upstream skops protocol 2, for consumers that still run upstream skops.

The object is encoded exactly as for protocol 3 (so the same values are refused), and
the protocol-3 tree is then translated node by node into upstream's ``schema.json``
tree plus one ``.npy`` member per array: the inverse of :mod:`skship.format.upstream`
(spec/format/versioning.md#writing-protocol-2). Output is deterministic: member names
are counters, not ``id()`` values, and zip times are fixed.
"""

from __future__ import annotations

import base64
import io
import json
import math
import warnings
import zipfile
from typing import Any

import numpy as np

from skship import __version__
from skship.errors import UnsupportedTypeError
from skship.format.decoder import parse_dtype

__all__ = ["write_protocol2"]

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
# Types upstream reads with TreeNode; every other reduce with state goes through the
# generic LossNode reader (constructor(*args), then __setstate__), as upstream's own
# losses do.
_TREE = "sklearn.tree._tree.Tree"


def _split(name: str) -> tuple[str, str]:
    mod, _, cls = name.rpartition(".")
    return mod, cls


def _node(loader: str, name: str, **fields: Any) -> dict[str, Any]:
    mod, cls = _split(name)
    return {"__class__": cls, "__module__": mod, "__loader__": loader, **fields}


def _json(value: Any) -> dict[str, Any]:
    # Upstream's JsonNode: the value as JSON text (NaN and Infinity as Python writes them).
    return {
        "__class__": type(value).__name__,
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
    }


def _npy(arr: np.ndarray[Any, Any]) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():  # non-latin-1 field names need .npy 3.0: say nothing
        warnings.filterwarnings("ignore", "Stored array in format", UserWarning)
        np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _nest(items: list[Any], shape: list[int]) -> list[Any]:
    if len(shape) <= 1:
        return items
    n = math.prod(shape[1:])
    return [
        _node("ListNode", "builtins.list", content=_nest(items[i * n : (i + 1) * n], shape[1:]))
        for i in range(shape[0])
    ]


class _Writer:
    def __init__(self, data: bytes, dtypes: list[Any]) -> None:
        self.data = data
        self.dtypes = [parse_dtype(d) for d in dtypes]
        self.members: dict[str, bytes] = {}
        self.by_id: dict[int, dict[str, Any] | None] = {}  # our id -> its node (None: open)

    def _dtype(self, descr: Any) -> np.dtype[Any]:
        return self.dtypes[descr] if type(descr) is int else parse_dtype(descr)

    def _member(self, suffix: str, raw: bytes) -> str:
        name = f"{len(self.members)}.{suffix}"
        self.members[name] = raw
        return name

    def _array(self, v: dict[str, Any]) -> np.ndarray[Any, Any]:
        dt = self._dtype(v["dtype"])
        off, n = v["data"]
        shape = tuple(v["shape"])
        flat = np.frombuffer(
            self.data, dtype=dt, count=n // dt.itemsize if dt.itemsize else 0, offset=off
        )
        if dt.itemsize == 0:
            return np.zeros(shape, dtype=dt)
        return flat.reshape(shape[::-1]).T if v.get("order") == "F" else flat.reshape(shape)

    def _unsupported(self, what: str) -> UnsupportedTypeError:
        return UnsupportedTypeError(f"protocol 2 (upstream skops) cannot represent {what}")

    def value(self, v: Any) -> dict[str, Any]:
        if v is None or type(v) in (bool, int, float, str):
            return _json(v)
        t = v["t"]
        if t == "ref":
            target = self.by_id.get(v["id"])
            if target is None:
                raise self._unsupported("an object that contains itself (a cycle)")
            return target  # the same node again, with the same __id__: upstream shares it
        ident = v.get("id")
        if ident is not None:
            self.by_id[ident] = None
        node = self._translate(t, v)
        if ident is not None:
            node["__id__"] = ident + 1  # upstream skips a falsy __id__
            self.by_id[ident] = node
        return node

    def _seq(self, items: list[Any]) -> list[dict[str, Any]]:
        return [self.value(c) for c in items]

    def _tuple(self, items: list[Any]) -> dict[str, Any]:
        return _node("TupleNode", "builtins.tuple", content=self._seq(items))

    def _dict(self, v: dict[str, Any], name: str = "builtins.dict") -> dict[str, Any]:
        if v.get("v") is not None:
            pairs = [(k, x) for k, x in v["v"].items()]
        else:
            pairs = [(self._key(k), x) for k, x in v.get("items") or []]
        content: dict[str, Any] = {}
        key_types = []
        for k, x in pairs:
            key, ktype = k if isinstance(k, tuple) else (k, "builtins.str")
            if key in content:
                raise self._unsupported(f"dict keys that are equal as text ({key!r})")
            content[key] = self.value(x)
            key_types.append(_node("TypeNode", ktype))
        return _node(
            "DictNode",
            name,
            content=content,
            key_types=_node("ListNode", "builtins.list", content=key_types),
        )

    def _key(self, k: Any) -> tuple[str, str]:
        if type(k) is str:
            return k, "builtins.str"
        if type(k) is bool:
            return str(k), "builtins.bool"
        if type(k) is int:
            return str(k), "builtins.int"
        if type(k) is float:
            return repr(k), "builtins.float"
        if isinstance(k, dict) and k.get("t") == "npscalar":
            dt = self._dtype(k["dtype"])
            if dt.kind in "iu":
                val = np.frombuffer(base64.b64decode(k["b"]), dtype=dt)[0]
                return str(int(val)), f"numpy.{dt.type.__name__}"
        raise self._unsupported(f"a dict key of kind {k.get('t') if isinstance(k, dict) else k!r}")

    def _translate(self, t: str, v: dict[str, Any]) -> dict[str, Any]:
        if t in ("float", "int"):
            return _json(float(v["v"]) if t == "float" else int(v["v"], 16))
        if t == "list":
            return _node("ListNode", "builtins.list", content=self._seq(v["v"]))
        if t == "tuple":
            return self._tuple(v["v"])
        if t == "set":
            return _node("SetNode", "builtins.set", content=self._seq(v["v"]))
        if t == "frozenset":
            return _node(
                "ConstructorFromReduceNode",
                "builtins.frozenset",
                content=self._tuple([{"t": "list", "v": v["v"]}]),
            )
        if t == "complex":
            return _node(
                "ConstructorFromReduceNode",
                "builtins.complex",
                content=self._tuple([v["re"], v["im"]]),
            )
        if t == "range":
            return _node("ConstructorFromReduceNode", "builtins.range", content=self._tuple(v["v"]))
        if t == "dict":
            return self._dict(v)
        if t == "odict":
            return self._dict(v, "collections.OrderedDict")
        if t == "defaultdict":
            return _node(
                "DefaultDictNode",
                "collections.defaultdict",
                content={"main": self._dict(v), "default_factory": self.value(v["factory"])},
            )
        if t == "slice":
            a, b, c = v["v"]
            if not all(x is None or type(x) is int for x in (a, b, c)):
                raise self._unsupported("a slice with bounds other than integers")
            return _node("SliceNode", "builtins.slice", content={"start": a, "stop": b, "step": c})
        if t in ("bytes", "bytearray"):
            off, n = v["data"]
            loader = "BytesNode" if t == "bytes" else "BytearrayNode"
            return _node(
                loader, f"builtins.{t}", file=self._member("bin", self.data[off : off + n])
            )
        if t == "type":
            return _node("TypeNode", v["name"])
        if t == "function":
            return _node("FunctionNode", v["name"])
        if t == "partial":
            return _node(
                "PartialNode",
                "functools.partial",
                content={
                    "func": self.value(v["func"]),
                    "args": self._tuple(v["args"]),
                    "kwds": self._dict({"v": v["kw"]}),
                    "namespace": _json(None),
                },
            )
        if t == "namedtuple":
            return _node("TupleNode", v["type"], content=self._seq(v["v"]))
        if t == "ndarray":
            arr = self._array(v)
            return _node(
                "NdArrayNode", "numpy.ndarray", type="numpy", file=self._member("npy", _npy(arr))
            )
        if t == "objarray":
            shape = v["shape"]
            items = _nest(self._seq(v["v"]), shape)  # upstream stores obj.tolist()
            return _node(
                "NdArrayNode",
                "numpy.ndarray",
                type="json",
                content=items,
                shape=self._tuple(list(shape)),
            )
        if t == "npscalar":
            dt = self._dtype(v["dtype"])
            arr = np.frombuffer(base64.b64decode(v["b"]), dtype=dt).reshape(())
            return _node(
                "NdArrayNode",
                f"numpy.{dt.type.__name__}",
                type="numpy",
                file=self._member("npy", _npy(arr)),
            )
        if t == "dtype":
            empty = np.zeros(0, dtype=self._dtype(v["dtype"]))
            inner = _node(
                "NdArrayNode", "numpy.ndarray", type="numpy", file=self._member("npy", _npy(empty))
            )
            return _node("DTypeNode", "numpy.dtype", content=inner)
        if t == "masked":
            if v.get("fill_value") is not None:
                raise self._unsupported("a masked array with a fill value")
            return _node(
                "MaskedArrayNode",
                "numpy.ma.core.MaskedArray",
                content={"data": self.value(v["data"]), "mask": self.value(v["mask"])},
            )
        if t == "randomstate":
            return _node(
                "RandomStateNode", "numpy.random.mtrand.RandomState", content=self.value(v["state"])
            )
        if t == "generator":
            seed = {
                "t": "dict",
                "v": {
                    "entropy": 0,
                    "spawn_key": {"t": "tuple", "v": []},
                    "pool_size": 4,
                    "n_children_spawned": 0,
                },
            }
            return _node(
                "RandomGeneratorNode",
                "numpy.random._generator.Generator",
                content={"bit_generator": self.value(v["state"]), "seed_seq": self.value(seed)},
            )
        if t == "sparse":
            return self._sparse(v)
        if t == "object":
            return self._object(v)
        if t == "reduce":
            return self._reduce(v)
        raise self._unsupported(f"a {t} node")

    def _object(self, v: dict[str, Any]) -> dict[str, Any]:
        name = v["type"]
        if v.get("args"):
            raise self._unsupported(f"{name}: an object built with __new__ arguments")
        if v.get("items") is not None:
            if v.get("state") is not None or v.get("elems") is not None:
                raise self._unsupported(f"{name}: a dict subclass with attributes")
            return self._dict({"items": v["items"]}, name)
        if v.get("elems") is not None:
            if v.get("state") is not None:
                raise self._unsupported(f"{name}: a list subclass with attributes")
            return _node("ListNode", name, content=self._seq(v["elems"]))
        node = _node("ObjectNode", name)
        if v.get("state") is not None:
            node["content"] = self.value(v["state"])
        return node

    def _reduce(self, v: dict[str, Any]) -> dict[str, Any]:
        name = v["type"]
        state = v.get("state")
        if state is None:
            return _node("ConstructorFromReduceNode", name, content=self._tuple(v["args"]))
        loader = "TreeNode" if name == _TREE else "LossNode"
        return _node(
            loader,
            name,
            __reduce__={"args": self._tuple(v["args"])},
            content=self.value(state),
        )

    def _sparse(self, v: dict[str, Any]) -> dict[str, Any]:
        fmt = v["format"]
        if fmt not in ("csr", "csc", "bsr", "coo", "dia"):
            raise self._unsupported(f"a {fmt} sparse matrix")
        arrays = {k: self._array(a) for k, a in v["arrays"].items()}
        buf = io.BytesIO()
        # The members scipy.sparse.save_npz writes, uncompressed.
        members = {"format": np.array(fmt.encode()), "shape": np.array(v["shape"]), **arrays}
        np.savez(buf, **members)  # type: ignore[arg-type]
        return _node(
            "SparseMatrixNode",
            f"scipy.sparse._{fmt}.{fmt}_{v['container']}",
            type="scipy",
            file=self._member("npz", buf.getvalue()),
        )


def write_protocol2(root: Any, data: bytes, dtypes: list[Any]) -> bytes:
    """An upstream protocol-2 file for a protocol-3 value tree and its data section."""
    w = _Writer(data, dtypes)
    tree = w.value(root)
    schema = {**tree, "protocol": 2, "_skops_version": f"skship-{__version__}"}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as z:
        for name, raw in w.members.items():
            z.writestr(zipfile.ZipInfo(name, _FIXED_TIME), raw)
        z.writestr(zipfile.ZipInfo("schema.json", _FIXED_TIME), json.dumps(schema, indent=1))
    return out.getvalue()
