"""Turn a Python object graph into a protocol-3 value tree plus a data section.

One pass, depth first, in the order the objects are reached (dict insertion order,
list order, set elements sorted by their encoding), so equal object graphs give equal
bytes. Every non-scalar object is remembered by identity: a second occurrence is
written as ``{"t": "ref", "id": N}`` and the first occurrence gains ``"id": N``.
"""

from __future__ import annotations

import base64
import collections
import copyreg
import enum
import functools
import itertools
import math
import types
from collections.abc import Callable
from typing import Any

import msgspec
import numpy as np

from skship.errors import SkshipError, UnsupportedTypeError
from skship.format.container import DataSection
from skship.format.limits import DEFAULT_LIMITS
from skship.format.names import qualified_name
from skship.format.registry import handler_for_type

__all__ = ["BIT_GENERATORS", "Encoder", "dtype_descr"]

BIT_GENERATORS = frozenset({"MT19937", "PCG64", "PCG64DXSM", "Philox", "SFC64"})
_INT_MAX = 2**63
_NoneType = type(None)
_json = msgspec.json.Encoder()


_NAMES: dict[type, str] = {}
_CHECKED_DESCRS: dict[np.dtype[Any], Any] = {}
_NEWOBJ = getattr(copyreg, "__newobj__")  # noqa: B009 - typeshed does not declare it


def dtype_descr(dt: np.dtype[Any]) -> Any:
    """The .npy header descr of a dtype (a string, or a list for structured dtypes).
    Not cached here: Encoder._descr caches the checked result per dtype."""
    if dt.fields is None and dt.subdtype is None:
        return dt.str
    return _listify(np.lib.format.dtype_to_descr(dt))


def _listify(x: Any) -> Any:
    if isinstance(x, tuple | list):
        return [_listify(i) for i in x]
    return x


class _Building:
    """Marks an immutable value whose node is open: a ref to it would be a cycle
    that cannot be rebuilt."""

    __slots__ = ()


_BUILDING = _Building()


class Encoder:
    def __init__(self, defer_padding: bool = False) -> None:
        """With ``defer_padding``, a structured array whose records have padding is
        added to the data section as it is and listed in ``data.padded``: whoever
        copies the section into place zeroes the padding there, while the bytes are in
        cache (``write_stored_bytes``), or calls ``data.zero_padding()`` first. Testing
        the padding during the walk read every tree node from memory one more time."""
        self.data = DataSection()
        self._defer_padding = defer_padding
        self.names: dict[str, str] = {}
        self.dtypes: list[Any] = []
        self._dtype_index: dict[np.dtype[Any], int] = {}
        self._descrs: dict[np.dtype[Any], Any] = {}  # dtype -> what _descr returns
        # id(obj) -> [node dict, obj, open_immutable]; obj kept alive so ids stay unique
        self._memo: dict[int, list[Any]] = {}
        self._next_id = 0
        self._depth = 0
        # The reader counts leaf nodes (a float node, a type node) as a level too.
        self._max_depth = DEFAULT_LIMITS.max_depth - 1
        self._exact: dict[type, Callable[[Any], Any]] = {
            _NoneType: _ident,
            bool: _ident,
            str: _ident,
            int: self._int,
            float: self._float,
            list: self._list,
            tuple: self._tuple,
            dict: self._dict,
            set: self._set,
            frozenset: self._set,
            bytes: self._bytes,
            bytearray: self._bytes,
            complex: self._complex,
            slice: self._slice,
            range: self._range,
            np.ndarray: self._ndarray,
            collections.OrderedDict: self._dict,
            collections.defaultdict: self._dict,
            functools.partial: self._partial,
        }

    # -- entry -----------------------------------------------------------------------

    def encode(self, obj: Any) -> Any:
        handler = self._exact.get(type(obj))
        if handler is not None:
            return handler(obj)
        return self._other(obj)

    # -- memo ------------------------------------------------------------------------

    def _seen(self, obj: Any) -> dict[str, Any] | None:
        entry = self._memo.get(id(obj))
        if entry is None:
            return None
        return self._ref(entry)

    def _ref(self, entry: list[Any]) -> dict[str, Any]:
        node = entry[0]
        if entry[2]:
            raise UnsupportedTypeError(
                f"a {type(entry[1]).__name__} contains itself; protocol 3 (like any format "
                "without code) cannot rebuild a cycle through an immutable value"
            )
        if "id" not in node:
            node["id"] = self._next_id
            self._next_id += 1
        return {"t": "ref", "id": node["id"]}

    def _open(self, obj: Any, node: dict[str, Any], immutable: bool = False) -> None:
        self._memo[id(obj)] = [node, obj, immutable]
        self._depth += 1
        if self._depth > self._max_depth:
            raise UnsupportedTypeError(
                f"the object nests deeper than {self._max_depth} levels, more than a "
                "reader accepts by default"
            )

    def _close(self, obj: Any) -> None:
        self._depth -= 1
        self._memo[id(obj)][2] = False

    # -- scalars ---------------------------------------------------------------------

    def _int(self, x: int) -> Any:
        if -_INT_MAX < x < _INT_MAX:
            return x
        return {"t": "int", "v": hex(x)}

    def _float(self, x: float) -> Any:
        if math.isfinite(x):
            return x
        return {"t": "float", "v": "nan" if x != x else ("inf" if x > 0 else "-inf")}

    def _complex(self, x: complex) -> Any:
        return {"t": "complex", "re": self._float(x.real), "im": self._float(x.imag)}

    def _slice(self, x: slice) -> Any:
        return {"t": "slice", "v": [self.encode(x.start), self.encode(x.stop), self.encode(x.step)]}

    def _range(self, x: range) -> Any:
        v = [x.start, x.stop, x.step]
        if not all(-_INT_MAX < i < _INT_MAX for i in v):
            raise UnsupportedTypeError("a range with bounds outside the int64 range")
        return {"t": "range", "v": v}

    # -- containers ------------------------------------------------------------------

    def _list(self, x: list[Any]) -> Any:
        entry = self._memo.get(id(x))
        if entry is not None:
            return self._ref(entry)
        node: dict[str, Any] = {"t": "list"}
        self._open(x, node)
        node["v"] = list(x) if _all_plain(x) else self._values(x)
        self._close(x)
        return node

    def _tuple(self, x: tuple[Any, ...]) -> Any:
        entry = self._memo.get(id(x))
        if entry is not None:
            return self._ref(entry)
        node: dict[str, Any] = {"t": "tuple"}
        self._open(x, node, immutable=True)
        node["v"] = list(x) if _all_plain(x) else self._values(x)
        self._close(x)
        return node

    def _values(self, x: Any) -> list[Any]:
        enc = self.encode
        return [v if type(v) in _IDENT else enc(v) for v in x]

    def _set(self, x: set[Any] | frozenset[Any]) -> Any:
        ref = self._seen(x)
        if ref is not None:
            return ref
        node: dict[str, Any] = {"t": "set" if type(x) is set else "frozenset"}
        self._open(x, node, immutable=type(x) is frozenset)
        # Order the elements by an encoding that does not depend on the memo (so not
        # on hash order), then encode them in that order: ids and refs then follow
        # document order whatever PYTHONHASHSEED is.
        keyed = sorted(((_sort_key(i), n, i) for n, i in enumerate(x)), key=lambda k: k[0])
        for a, b in itertools.pairwise(keyed):
            if a[0] == b[0]:
                raise UnsupportedTypeError("a set holds two elements with the same encoding")
        node["v"] = [self.encode(i) for _, _, i in keyed]
        self._close(x)
        return node

    def _dict(self, x: dict[Any, Any]) -> Any:
        ref = self._seen(x)
        if ref is not None:
            return ref
        t = type(x)
        node: dict[str, Any] = {
            "t": "dict"
            if t is dict
            else ("odict" if t is collections.OrderedDict else "defaultdict")
        }
        self._open(x, node, immutable=t is collections.defaultdict)
        if t is collections.defaultdict:
            node["factory"] = self.encode(x.default_factory)  # type: ignore[attr-defined]
            self._memo[id(x)][2] = False
        self._dict_body(x, node)
        self._close(x)
        return node

    def _dict_body(self, x: dict[Any, Any], node: dict[str, Any]) -> None:
        enc = self.encode
        if set(map(type, x)) <= _STR:
            vals = x.values()
            if _all_plain(vals):
                node["v"] = dict(x)
            else:
                node["v"] = {k: v if type(v) in _IDENT else enc(v) for k, v in x.items()}
        else:
            node["items"] = [[enc(k), enc(v)] for k, v in x.items()]

    def _bytes(self, x: bytes | bytearray) -> Any:
        ref = self._seen(x)
        if ref is not None:
            return ref
        node: dict[str, Any] = {"t": type(x).__name__}
        self._open(x, node, immutable=type(x) is bytes)
        node["data"] = list(self.data.add(memoryview(x).cast("B")))
        self._close(x)
        return node

    def _partial(self, x: functools.partial[Any]) -> Any:
        ref = self._seen(x)
        if ref is not None:
            return ref
        if x.__dict__:
            raise UnsupportedTypeError("a functools.partial with attributes set on it")
        node: dict[str, Any] = {"t": "partial"}
        self._open(x, node, immutable=True)
        node["func"] = self.encode(x.func)
        node["args"] = [self.encode(a) for a in x.args]
        node["kw"] = {k: self.encode(v) for k, v in x.keywords.items()}
        self._close(x)
        return node

    # -- numpy -----------------------------------------------------------------------

    def _array_node(self, x: np.ndarray[Any, Any]) -> Any:
        """An array node that is never a ref (sparse and masked parts must be inline)."""
        return self._ndarray(x.view() if self._memo.get(id(x)) is not None else x)

    def _ndarray(self, x: np.ndarray[Any, Any]) -> Any:
        entry = self._memo.get(id(x))
        if entry is not None:
            return self._ref(entry)
        dt = x.dtype
        if dt.hasobject:
            if dt.fields is not None or dt.subdtype is not None:
                raise UnsupportedTypeError("structured arrays with object fields")
            node = {"t": "objarray", "shape": list(x.shape)}
            self._open(x, node)
            enc = self.encode
            node["v"] = [enc(i) for i in x.ravel(order="C").tolist()] if x.ndim else [enc(x.item())]
            self._close(x)
            return node
        # A leaf: no _open/_close (nothing inside can refer back to it), only the
        # depth check and the memo entry they would make.
        if self._depth >= self._max_depth:
            self._open(x, {})
        descr = self._descrs.get(dt)
        if descr is None:
            descr = self._descrs[dt] = self._descr(dt)
        flags = x.flags
        if flags.c_contiguous:
            flat = x if x.ndim == 1 else x.reshape(-1)
            order = None
        elif flags.f_contiguous:
            flat = x.T.reshape(-1)
            order = "F"
        else:
            flat = np.ascontiguousarray(x).reshape(-1)
            order = None
        deferred = False
        if dt.fields is not None:
            if self._defer_padding and flat.size and _padding_runs(dt):
                deferred = True
            else:
                flat = _zero_padding(flat)
        node = {
            "t": "ndarray",
            "dtype": descr,
            "shape": list(x.shape),
            "data": list(self.data.add(flat.view(np.uint8))),
        }
        if deferred:
            self.data.padded.append((len(self.data.parts) - 1, dt))
        if order is not None:
            node["order"] = order
        self._memo[id(x)] = [node, x, False]
        return node

    def _masked(self, x: np.ma.MaskedArray[Any, Any]) -> Any:
        ref = self._seen(x)
        if ref is not None:
            return ref
        node: dict[str, Any] = {"t": "masked"}
        self._open(x, node, immutable=True)
        node["data"] = self._array_node(np.asarray(x.data))
        node["mask"] = self._array_node(np.ma.getmaskarray(x))
        # Only a fill value other than the dtype's default: numpy computes (and caches)
        # the default lazily, and for small ints it does not even fit the dtype, so the
        # reader recomputes it. Comparing with a fresh array's default keeps the output
        # the same whether or not something has looked at x.fill_value yet.
        fill = getattr(x, "_fill_value", None)  # None until set or first looked at
        if fill is not None:
            with np.errstate(all="ignore"):  # numpy's default for float16 overflows
                default = np.ma.MaskedArray(np.empty(0, dtype=x.dtype)).fill_value
            if not _same_value(np.asarray(fill), np.asarray(default)):
                node["fill_value"] = self.encode(fill)
        self._close(x)
        return node

    def _descr(self, dt: np.dtype[Any]) -> Any:
        """A dtype as written in a node: its descr string, or for a structured dtype
        its index in the document's dtype table (each layout is written once)."""
        index = self._dtype_index.get(dt)
        if index is not None:
            return index
        descr = _CHECKED_DESCRS.get(dt)
        if descr is None:
            descr = self._check_descr(dt)
            if len(_CHECKED_DESCRS) < 4096:
                _CHECKED_DESCRS[dt] = descr
        if isinstance(descr, str):
            return descr
        self._dtype_index[dt] = index = len(self.dtypes)
        self.dtypes.append(descr)
        return index

    def _check_descr(self, dt: np.dtype[Any]) -> Any:
        if dt.subdtype is not None and dt.fields is None:
            raise UnsupportedTypeError(f"sub-array dtype {dt} (use an array of the base dtype)")
        if _has_titles(dt):
            raise UnsupportedTypeError(f"structured dtype {dt} with field titles")
        if _has_longdouble(dt):
            raise UnsupportedTypeError(f"dtype {dt}: long double is not portable between platforms")
        return dtype_descr(dt)

    def _npscalar(self, x: np.generic) -> Any:
        arr = np.asarray(x)
        if arr.dtype.hasobject:
            raise UnsupportedTypeError("numpy object scalars")
        return {
            "t": "npscalar",
            "dtype": self._descr(arr.dtype),
            "b": base64.b64encode(record_bytes(arr)).decode("ascii"),
        }

    def _generator(self, x: np.random.Generator) -> Any:
        ref = self._seen(x)
        if ref is not None:
            return ref
        bg = x.bit_generator
        name = type(bg).__name__
        if name not in BIT_GENERATORS or type(bg).__module__.split(".")[0] != "numpy":
            raise UnsupportedTypeError(f"numpy Generator over bit generator {name!r}")
        node: dict[str, Any] = {"t": "generator", "bit_generator": name}
        self._open(x, node)
        node["state"] = self.encode(bg.state)
        self._close(x)
        return node

    def _randomstate(self, x: np.random.RandomState) -> Any:
        ref = self._seen(x)
        if ref is not None:
            return ref
        node: dict[str, Any] = {"t": "randomstate"}
        self._open(x, node)
        node["state"] = self.encode(x.get_state(legacy=False))
        self._close(x)
        return node

    # -- scipy -----------------------------------------------------------------------

    def _sparse(self, x: Any) -> Any:
        from scipy import sparse

        ref = self._seen(x)
        if ref is not None:
            return ref
        fmt = x.format
        container = "array" if isinstance(x, sparse.sparray) else "matrix"
        expected = getattr(sparse, f"{fmt}_{container}", None)
        if type(x) is not expected:
            raise UnsupportedTypeError(
                f"{type(x).__qualname__} (a subclass of a scipy sparse type)"
            )
        node: dict[str, Any] = {
            "t": "sparse",
            "format": fmt,
            "container": container,
            "shape": list(x.shape),
        }
        self._open(x, node)
        if fmt in ("csr", "csc", "bsr"):
            parts = {"data": x.data, "indices": x.indices, "indptr": x.indptr}
        elif fmt == "dia":
            parts = {"data": x.data, "offsets": x.offsets}
        else:
            coo = x if fmt == "coo" else x.tocoo()
            parts = {"data": coo.data, "row": coo.row, "col": coo.col}
        node["arrays"] = {k: self._array_node(np.asarray(v)) for k, v in parts.items()}
        self._close(x)
        return node

    # -- everything else -------------------------------------------------------------

    def _other(self, obj: Any) -> Any:
        t = type(obj)
        handler = handler_for_type(t)
        if handler is not None:
            return self._ext(obj, t, handler)
        if isinstance(obj, np.generic):
            self._exact[t] = self._npscalar  # decided by the type alone
            return self._npscalar(obj)
        if isinstance(obj, np.ndarray):
            if t is np.memmap:
                return self._ndarray(np.asarray(obj))
            if t is np.ma.MaskedArray:
                return self._masked(obj)  # type: ignore[arg-type]
            raise UnsupportedTypeError(f"ndarray subclass {t.__module__}.{t.__qualname__}")
        if isinstance(obj, np.dtype):
            return {"t": "dtype", "dtype": self._descr(obj)}
        if isinstance(obj, type):
            return {"t": "type", "name": self._named(obj, "type")}
        if isinstance(obj, enum.Enum):
            return {"t": "enum", "type": self._named(t, "enum"), "name": obj.name}
        if t is np.random.Generator:
            return self._generator(obj)
        if t is np.random.RandomState:
            return self._randomstate(obj)
        if t.__module__.startswith("scipy.sparse") and hasattr(obj, "format"):
            return self._sparse(obj)
        if _is_function(obj):
            return {"t": "function", "name": self._named(obj, "function")}
        if isinstance(obj, tuple) and hasattr(t, "_fields"):
            return self._namedtuple(obj)
        if t.__name__ not in _FUNCTION_TYPES and not t.__module__.startswith("scipy.sparse"):
            # Every test above looked at the type alone: later instances go straight
            # to _object (for this dump; a handler registered later is seen next time).
            self._exact[t] = self._object
        return self._object(obj)

    def _ext(self, obj: Any, cls: type, name: str) -> Any:
        """An object whose type a registered handler saves: the handler's state, in an
        ext node the reader gives back to the same handler."""
        from skship.format.registry import handler

        ref = self._seen(obj)
        if ref is not None:
            return ref
        type_name = f"{cls.__module__}.{cls.__qualname__}"
        node: dict[str, Any] = {"t": "ext", "handler": name, "type": type_name}
        # Open and immutable: the object does not exist on the reading side until the
        # handler has built it from the whole state, so its state cannot refer to it.
        self._open(obj, node, immutable=True)
        try:
            state = handler(name).save(obj)
        except SkshipError:
            raise
        except Exception as exc:
            raise UnsupportedTypeError(
                f"the type handler {name!r} cannot save this {type_name}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        node["state"] = self.encode(state)
        self._close(obj)
        return node

    def _named(self, obj: Any, kind: str) -> str:
        """The qualified name of ``obj``, recorded in the document's name index."""
        name = self._name(obj)
        if kind in _CONSTRUCTING or name not in self.names:
            self.names[name] = kind
        return name

    def _name(self, obj: Any) -> str:
        name = _NAMES.get(obj) if isinstance(obj, type) else None
        if name is None:
            name = qualified_name(obj)
            if name is not None and isinstance(obj, type):
                _NAMES[obj] = name
        if name is None:
            raise UnsupportedTypeError(
                f"{obj!r} cannot be found again by its name (a lambda, a local or nested "
                "definition, or a bound method); define it at module level"
            )
        return name

    def _namedtuple(self, x: tuple[Any, ...]) -> Any:
        ref = self._seen(x)
        if ref is not None:
            return ref
        node: dict[str, Any] = {"t": "namedtuple", "type": self._named(type(x), "namedtuple")}
        self._open(x, node, immutable=True)
        node["v"] = [self.encode(i) for i in x]
        self._close(x)
        return node

    def _object(self, obj: Any) -> Any:
        ref = self._seen(obj)
        if ref is not None:
            return ref
        cls = type(obj)
        try:
            rv = obj.__reduce_ex__(4)
        except Exception as exc:
            raise UnsupportedTypeError(
                f"{cls.__module__}.{cls.__qualname__} cannot be saved: {exc}"
            ) from exc
        if isinstance(rv, str) or not isinstance(rv, tuple) or len(rv) < 2:
            raise UnsupportedTypeError(
                f"{cls.__module__}.{cls.__qualname__} reduces to a global name; "
                "save the type or function it stands for instead"
            )
        func, args = rv[0], rv[1]
        state = rv[2] if len(rv) > 2 else None
        listitems = rv[3] if len(rv) > 3 else None
        dictitems = rv[4] if len(rv) > 4 else None
        fname = getattr(func, "__name__", "")
        node: dict[str, Any]
        if func is _NEWOBJ and args and args[0] is cls:
            node = {"t": "object", "type": self._named(cls, "object")}
            new_args = args[1:]
        elif func is cls:
            node = {"t": "reduce", "type": self._named(cls, "reduce")}
            new_args = args
        elif fname.startswith("__pyx_unpickle") and len(args) == 3 and args[0] is cls:
            # Cython's generated pickling: rebuilt by cls.__new__ + __setstate_cython__.
            node = {"t": "object", "type": self._named(cls, "object")}
            new_args, state = (), args[2]
        elif _has_own_state_methods(cls):
            node = {"t": "object", "type": self._named(cls, "object")}
            new_args, state = (), obj.__getstate__()
            listitems = dictitems = None
        else:
            raise UnsupportedTypeError(
                f"{cls.__module__}.{cls.__qualname__}: its __reduce__ returns {func!r}, "
                "which protocol 3 cannot store without running that function at load time; "
                "register a handler for the type (see 'Supporting your own types')"
            )
        if node["t"] == "reduce" and (listitems is not None or dictitems is not None):
            raise UnsupportedTypeError(
                f"{cls.__module__}.{cls.__qualname__} reduces with list or dict items, "
                "which a reduce node cannot carry"
            )
        # While its arguments are encoded the object does not exist yet on the reading
        # side, so a ref to it from inside them could not be rebuilt.
        self._open(obj, node, immutable=True)
        if node["t"] == "reduce" or new_args:
            node["args"] = [self.encode(a) for a in new_args]
        self._memo[id(obj)][2] = False
        # Keys in the schema's field order (state, items, elems), which is also the
        # document order that ids and refs follow.
        if state is not None:
            node["state"] = self.encode(state)
        if dictitems is not None:
            node["items"] = [[self.encode(k), self.encode(v)] for k, v in dictitems]
        if listitems is not None:
            node["elems"] = [self.encode(i) for i in listitems]
        self._close(obj)
        return node


def _ident(x: Any) -> Any:
    return x


_STR = frozenset({str})
# Values written as themselves whatever they are; ints and floats only within range.
_IDENT = frozenset({str, bool, _NoneType})
_SCALARS = frozenset({str, bool, _NoneType, int, float})


def _all_plain(values: Any) -> bool:
    """Whether every value is written as itself (a string, bool, None, an int within
    int64 or a finite float), so a container's values need no walk one by one."""
    types = set(map(type, values))
    if not types <= _SCALARS:
        return False
    if int in types:
        ints = values if len(types) == 1 else [v for v in values if type(v) is int]
        if not (min(ints) > -_INT_MAX and max(ints) < _INT_MAX):
            return False
    if float in types:
        floats = values if len(types) == 1 else [v for v in values if type(v) is float]
        if not all(map(math.isfinite, floats)):
            return False
    return True


_PLAIN = (str, int, float, bool, type(None))
_CONSTRUCTING = frozenset({"object", "reduce"})


def _sort_key(x: Any) -> bytes:
    """The canonical encoding of a set element, made by a fresh encoder."""
    if (
        type(x) in _PLAIN
        and (type(x) is not float or math.isfinite(x))
        and (type(x) is not int or -_INT_MAX < x < _INT_MAX)
    ):
        return _json.encode(x)
    enc = Encoder()
    key = _json.encode(enc.encode(x))
    if enc.dtypes:  # structured dtypes inside: their layout decides, not their index
        key += b"\0" + _json.encode(enc.dtypes)
    if enc.data.size:  # bytes or arrays inside: their contents decide, not just offsets
        key += b"\0" + b"".join(bytes(p) for p in enc.data.parts)
    return key


_FUNCTION_TYPES = frozenset(
    {
        "function",
        "builtin_function_or_method",
        "ufunc",
        "cython_function_or_method",
        "_ArrayFunctionDispatcher",
        "fused_cython_function",
    }
)


def _is_function(obj: Any) -> bool:
    return type(obj).__name__ in _FUNCTION_TYPES and (
        getattr(obj, "__self__", None) is None or isinstance(obj.__self__, types.ModuleType)
    )


def _same_value(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> bool:
    """Equal dtype and values, field by field (padding bytes of structured values are
    junk, so bytes cannot be compared)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.names:
        return all(_same_value(a[name], b[name]) for name in a.dtype.names)
    try:
        return bool(np.array_equal(a, b, equal_nan=True))
    except TypeError:  # strings and bytes have no NaN
        return bool(np.array_equal(a, b))


def _has_titles(dt: np.dtype[Any]) -> bool:
    if dt.fields is None:
        return dt.subdtype is not None and _has_titles(dt.subdtype[0])
    return any(len(f) > 2 or _has_titles(f[0]) for f in dt.fields.values())


def _has_longdouble(dt: np.dtype[Any]) -> bool:
    if dt.fields is not None:
        return any(_has_longdouble(f[0]) for f in dt.fields.values())
    if dt.subdtype is not None:
        return _has_longdouble(dt.subdtype[0])
    return dt.kind in "fc" and dt.itemsize > (8 if dt.kind == "f" else 16)


def _has_own_state_methods(cls: type) -> bool:
    return getattr(cls, "__setstate__", None) is not None and getattr(
        cls, "__getstate__", None
    ) is not getattr(object, "__getstate__", None)


_PADDING: dict[np.dtype[Any], list[tuple[int, int]]] = {}


def _padding_runs(dt: np.dtype[Any]) -> list[tuple[int, int]]:
    """The byte ranges [start, stop) of a structured dtype's record that no field
    covers (alignment padding, gaps, unused tail)."""
    runs = _PADDING.get(dt)
    if runs is not None:
        return runs
    used = np.zeros(dt.itemsize, dtype=bool)

    def mark(d: np.dtype[Any], base: int) -> None:
        if d.fields is not None:
            for f in d.fields.values():
                mark(f[0], base + f[1])
        elif d.subdtype is not None and d.subdtype[0].fields is not None:
            sub, shape = d.subdtype
            for i in range(math.prod(shape)):
                mark(sub, base + i * sub.itemsize)
        else:
            used[base : base + d.itemsize] = True

    mark(dt, 0)
    edges = np.flatnonzero(np.diff(np.concatenate(([1], used.view(np.int8), [1]))))
    runs = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    if len(_PADDING) < 1024:
        _PADDING[dt] = runs
    return runs


def record_bytes(a: np.ndarray[Any, Any]) -> bytes:
    """An array's bytes as a file holds them: in its memory order, padding bytes of
    structured records zero."""
    raw = a.tobytes(order="A")
    if a.dtype.fields is None or not _padding_runs(a.dtype):
        return raw
    return _zero_padding(np.frombuffer(raw, dtype=a.dtype)).tobytes()


def _zero_padding(flat: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``flat`` (1-d, C-contiguous, structured) with every padding byte zero: padding
    holds whatever memory was there before (equal records could give unequal files,
    and stale process memory would leak into the file). Arrays whose padding is
    already zero, as scikit-learn's tree nodes usually are, are not copied."""
    runs = _padding_runs(flat.dtype)
    if not runs or flat.size == 0:
        return flat
    if not _padding_is_zero(flat, runs):
        clean = flat.copy()
        rows = clean.view(np.uint8).reshape(clean.size, clean.dtype.itemsize)
        for a, b in runs:
            rows[:, a:b] = 0
        return clean
    return flat


_PADDING_WORDS: dict[np.dtype[Any], list[tuple[int, int]]] = {}
_U64 = np.dtype("<u8")


def _padding_is_zero(flat: np.ndarray[Any, Any], runs: list[tuple[int, int]]) -> bool:
    """Whether every padding byte of ``flat`` is zero. Records of a multiple of 8 bytes
    are read as little-endian 64-bit words: the OR of each word column that holds
    padding, masked to its padding bytes, is one strided pass without temporaries
    (the byte-wise test made a (records x run) temporary per run)."""
    itemsize = flat.dtype.itemsize
    if itemsize % 8:
        rows = flat.view(np.uint8).reshape(flat.size, itemsize)
        return not any(rows[:, a:b].any() for a, b in runs)
    words = _PADDING_WORDS.get(flat.dtype)
    if words is None:
        masks: dict[int, int] = {}
        for a, b in runs:
            for i in range(a, b):
                masks[i // 8] = masks.get(i // 8, 0) | (0xFF << (8 * (i % 8)))
        words = sorted(masks.items())
        if len(_PADDING_WORDS) < 1024:
            _PADDING_WORDS[flat.dtype] = words
    table = flat.view(_U64).reshape(flat.size, itemsize // 8)
    return not any(int(np.bitwise_or.reduce(table[:, k])) & mask for k, mask in words)
