"""Read a protocol-3 document: decode, audit (imports nothing), then construct.

The audit walks the value tree iteratively, so a hostile nesting depth cannot blow
the stack; it enforces the depth and node limits, checks ids and refs, checks every
data reference against the data section, parses every dtype, and collects every
name the file would import. Construction runs only when every name is trusted.
"""

from __future__ import annotations

import base64
import binascii
import collections
import enum
import functools
import json
import math
import re
import sys
from collections.abc import Callable
from typing import Any

import msgspec
import numpy as np

from skship import _schema as S
from skship.errors import (
    ConstructionError,
    FormatError,
    LimitError,
    SchemaError,
    UnsupportedProtocolError,
    ValidationError,
)
from skship.format.encoder import BIT_GENERATORS
from skship.format.limits import Limits
from skship.format.names import resolve

__all__ = ["Audit", "Builder", "audit", "decode_document", "parse_dtype"]

PROTOCOL = 3
KNOWN_EXTENSIONS: frozenset[str] = frozenset()
_decoder = msgspec.json.Decoder(S.Document)
_SIMPLE_DTYPE = re.compile(r"\A[<>|=]?(?:[?bBhHiIlLqQpPefdgFDG]|[iufcbVSU]\d+|[mM]8(?:\[\d*[a-zA-Z]+\])?)\Z")
_HEX_INT = re.compile(r"\A-?0x[0-9a-f]+\Z")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise SchemaError(f"a JSON object has the key {dup!r} twice", code="E-SCHEMA-DUPLICATE-KEY")
    return d


def decode_document(raw: bytes, limits: Limits) -> S.Document:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SchemaError("schema.json is not UTF-8", code="E-SCHEMA-JSON") from None
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 3 * limits.max_depth + 200))
    try:
        try:
            json.loads(text, object_pairs_hook=_reject_duplicates)
        except RecursionError:
            raise LimitError(
                f"schema.json nests deeper than the limit of {limits.max_depth}",
                code="E-LIMIT-DEPTH",
            ) from None
        except ValueError as exc:
            if isinstance(exc, FormatError):
                raise
            raise SchemaError(f"schema.json is not valid JSON: {exc}", code="E-SCHEMA-JSON") from None
        try:
            doc = _decoder.decode(raw)
        except RecursionError:
            raise LimitError(
                f"schema.json nests deeper than the limit of {limits.max_depth}",
                code="E-LIMIT-DEPTH",
            ) from None
        except msgspec.ValidationError as exc:
            if "protocol" not in str(exc):
                _check_protocol(raw)
            raise SchemaError(f"schema.json does not follow the protocol-3 schema: {exc}") from None
        except msgspec.DecodeError as exc:
            raise SchemaError(f"schema.json is not valid JSON: {exc}", code="E-SCHEMA-JSON") from None
    finally:
        sys.setrecursionlimit(old)
    if doc.protocol != PROTOCOL:
        raise UnsupportedProtocolError(
            f"the file uses protocol {doc.protocol}; this reader implements protocol {PROTOCOL}. "
            "Upgrade skship to read it."
        )
    unknown = [e for e in doc.extensions if e not in KNOWN_EXTENSIONS]
    if unknown:
        raise UnsupportedProtocolError(
            f"the file needs extension(s) this reader does not know: {', '.join(unknown)}",
            code="E-EXTENSION-UNKNOWN",
        )
    return doc


def _check_protocol(raw: bytes) -> None:
    """A file from a newer protocol may not match our schema: say so, not 'invalid'."""
    try:
        head = msgspec.json.decode(raw, type=dict[str, Any])
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return
    p = head.get("protocol")
    if isinstance(p, int) and not isinstance(p, bool) and p != PROTOCOL:
        raise UnsupportedProtocolError(
            f"the file uses protocol {p}; this reader implements protocol {PROTOCOL}. "
            "Upgrade skship to read it."
        )


_DTYPES: dict[str, np.dtype[Any]] = {}


def parse_dtype(descr: Any) -> np.dtype[Any]:
    """A dtype from its .npy descr, refusing object dtypes and anything malformed."""
    if isinstance(descr, str):
        cached = _DTYPES.get(descr)
        if cached is not None:
            return cached
        if not _SIMPLE_DTYPE.match(descr):
            raise SchemaError(f"dtype {descr!r} is not a valid .npy descr", code="E-DATA-DTYPE")
        try:
            dt = np.dtype(descr)
        except (TypeError, ValueError):
            raise SchemaError(f"dtype {descr!r} is not a valid .npy descr", code="E-DATA-DTYPE") from None
        _DTYPES[descr] = dt
        return dt
    _check_descr_list(descr, 0)
    try:
        dt = np.lib.format.descr_to_dtype(_tuplify(descr))
    except (TypeError, ValueError, KeyError, IndexError):
        raise SchemaError(f"dtype {descr!r} is not a valid .npy descr", code="E-DATA-DTYPE") from None
    if dt.hasobject:
        raise SchemaError("object dtypes are not allowed here", code="E-DATA-DTYPE")
    return dt


def _check_descr_list(descr: Any, depth: int) -> None:
    if depth > 16 or not isinstance(descr, list) or not descr:
        raise SchemaError("a structured dtype descr must be a non-empty list", code="E-DATA-DTYPE")
    for field in descr:
        if not isinstance(field, list) or len(field) not in (2, 3):
            raise SchemaError("a structured dtype field must be [name, descr(, shape)]", code="E-DATA-DTYPE")
        name, sub = field[0], field[1]
        if not isinstance(name, str):
            raise SchemaError("a structured dtype field name must be a string", code="E-DATA-DTYPE")
        if isinstance(sub, str):
            if not _SIMPLE_DTYPE.match(sub):
                raise SchemaError(f"dtype {sub!r} is not a valid .npy descr", code="E-DATA-DTYPE")
        else:
            _check_descr_list(sub, depth + 1)
        if len(field) == 3 and not (
            isinstance(field[2], list)
            and all(type(i) is int and 0 <= i < 2**31 for i in field[2])
        ):
            raise SchemaError("a structured dtype field shape must be a list of ints", code="E-DATA-DTYPE")


def _tuplify(descr: Any) -> Any:
    if isinstance(descr, list):
        return [tuple(_tuplify_field(f)) for f in descr]
    return descr


def _tuplify_field(field: list[Any]) -> list[Any]:
    out = [field[0], _tuplify(field[1])]
    if len(field) == 3:
        out.append(tuple(field[2]))
    return out


# ------------------------------------------------------------------------------ audit


class Audit:
    """What the audit found: names to import, node count, and the checked data refs."""

    __slots__ = ("names", "nodes")

    def __init__(self) -> None:
        self.names: dict[str, str] = {}  # name -> node kind that names it
        self.nodes = 0


_NAMED = (S.Type, S.Function, S.Enum, S.NamedTuple, S.Object, S.Reduce)
_SCALARS = (type(None), bool, int, float, str)


def audit(doc: S.Document, limits: Limits) -> Audit:
    """Walk the tree without importing anything; raise on any structural problem."""
    result = Audit()
    data_size = doc.data.size if doc.data is not None else 0
    spans: list[tuple[int, int]] = []
    declared: set[int] = set()
    stack: list[tuple[Any, int]] = [(doc.root, 1)]
    max_depth, max_nodes = limits.max_depth, limits.max_nodes
    names = result.names
    count = 0
    push = stack.append
    while stack:
        v, depth = stack.pop()
        if type(v) in _SCALARS:
            continue
        count += 1
        if count > max_nodes:
            raise LimitError(f"the file has more than {max_nodes} nodes", code="E-LIMIT-NODES")
        if depth > max_depth:
            raise LimitError(f"values nest deeper than {max_depth} levels", code="E-LIMIT-DEPTH")
        node_id = getattr(v, "id", None)
        if node_id is not None and type(v) is not S.Ref:
            if node_id in declared:
                raise SchemaError(f"two nodes declare id {node_id}", code="E-REF-DUPLICATE-ID")
            declared.add(node_id)
        d = depth + 1
        t = type(v)
        if t is S.Ref:
            continue  # checked during construction, in document order
        if isinstance(v, _NAMED):
            name = v.name if t in (S.Type, S.Function) else v.type  # type: ignore[union-attr]
            names.setdefault(name, t.__name__.lower())
        if t in (S.List, S.Tuple, S.Set, S.FrozenSet, S.NamedTuple, S.ObjectArray):
            for c in reversed(v.v):  # type: ignore[union-attr]
                push((c, d))
            if t is S.ObjectArray:
                _check_shape(v.shape)  # type: ignore[union-attr]
                if math.prod(v.shape) != len(v.v):  # type: ignore[union-attr]
                    raise SchemaError(
                        "an object array has a different number of elements than its shape says",
                        code="E-VALUE-INVALID",
                    )
        elif t in (S.Dict, S.OrderedDict, S.DefaultDict):
            if (v.v is None) == (v.items is None):  # type: ignore[union-attr]
                raise SchemaError("a dict node needs exactly one of 'v' and 'items'")
            if v.items is not None:  # type: ignore[union-attr]
                for k, x in reversed(v.items):  # type: ignore[union-attr]
                    push((x, d))
                    push((k, d))
            else:
                for x in reversed(list(v.v.values())):  # type: ignore[union-attr]
                    push((x, d))
            if t is S.DefaultDict:
                push((v.factory, d))  # type: ignore[union-attr]
        elif t is S.Array:
            dt = parse_dtype(v.dtype)  # type: ignore[union-attr]
            _check_shape(v.shape)  # type: ignore[union-attr]
            off, n = v.data  # type: ignore[union-attr]
            want = math.prod(v.shape) * dt.itemsize  # type: ignore[union-attr]
            if n != want:
                raise SchemaError(
                    f"an array of shape {v.shape} and dtype {dt} needs {want} bytes, "  # type: ignore[union-attr]
                    f"but its data reference holds {n}",
                    code="E-DATA-SIZE",
                )
            _check_ref(off, n, data_size, limits)
            spans.append((off, n))
        elif t in (S.Bytes, S.ByteArray):
            off, n = v.data  # type: ignore[union-attr]
            _check_ref(off, n, data_size, limits)
            spans.append((off, n))
        elif t in (S.NumpyScalar, S.Dtype):
            dt = parse_dtype(v.dtype)  # type: ignore[union-attr]
        elif t in (S.Object, S.Reduce):
            if v.state is not None:  # type: ignore[union-attr]
                push((v.state, d))  # type: ignore[union-attr]
            if t is S.Object:
                for k, x in reversed(v.items or ()):  # type: ignore[union-attr]
                    push((x, d))
                    push((k, d))
                for c in reversed(v.elems or ()):  # type: ignore[union-attr]
                    push((c, d))
            for c in reversed(v.args or ()):  # type: ignore[union-attr]
                push((c, d))
        elif t is S.Partial:
            for x in reversed(list(v.kw.values())):  # type: ignore[union-attr]
                push((x, d))
            for c in reversed(v.args):  # type: ignore[union-attr]
                push((c, d))
            push((v.func, d))  # type: ignore[union-attr]
        elif t in (S.Generator, S.RandomState):
            push((v.state, d))  # type: ignore[union-attr]
        elif t is S.Sparse:
            for x in v.arrays.values():  # type: ignore[union-attr]
                if type(x) is not S.Array:
                    raise SchemaError("every array of a sparse node must be an ndarray node")
                push((x, d))
        elif t is S.Slice:
            for c in v.v:  # type: ignore[union-attr]
                push((c, d))
        elif t is S.Complex:
            push((v.re, d))  # type: ignore[union-attr]
            push((v.im, d))  # type: ignore[union-attr]
    result.nodes = count
    _check_overlap(spans)
    if doc.data is not None and not spans and doc.data.size:
        pass  # a data section nobody references is allowed (padding-only is harmless)
    return result


def _check_shape(shape: list[int]) -> None:
    if any(type(s) is not int or s < 0 for s in shape) or len(shape) > 64:
        raise SchemaError(f"shape {shape} is not a list of at most 64 non-negative ints")


def _check_ref(off: int, n: int, size: int, limits: Limits) -> None:
    if off < 0 or n < 0:
        raise SchemaError("a data reference has a negative offset or length", code="E-DATA-RANGE")
    if off % 16:
        raise SchemaError(f"data offset {off} is not a multiple of 16", code="E-DATA-ALIGN")
    if off + n > size:
        raise SchemaError(
            f"data reference [{off}, {n}] runs past the data section of {size} bytes",
            code="E-DATA-RANGE",
        )
    if n > limits.max_array_bytes:
        raise LimitError(
            f"an array of {n} bytes exceeds the per-array limit of {limits.max_array_bytes}",
            code="E-LIMIT-ARRAY-BYTES",
        )


def _check_overlap(spans: list[tuple[int, int]]) -> None:
    spans = sorted(s for s in spans if s[1])
    end = 0
    for off, n in spans:
        if off < end:
            raise SchemaError(f"data reference at {off} overlaps the one before it", code="E-DATA-OVERLAP")
        end = off + n


# -------------------------------------------------------------------------- construct


class _Open:
    """Placeholder for an immutable value whose node is still being built."""

    __slots__ = ()


_OPEN = _Open()
Validator = Callable[[str, Any, Any], None]


class Builder:
    """Builds Python objects from an audited tree. Only trusted names are resolved."""

    def __init__(self, data: Any, validators: dict[str, Validator], generic: list[Validator]) -> None:
        self.data = data
        self.memo: dict[int, Any] = {}
        self.validators = validators
        self.generic = generic
        self.kinds: dict[type, Callable[[Any], Any]] = {
            S.Float: self._float,
            S.Int: self._int,
            S.Complex: self._complex,
            S.Bytes: self._bytes,
            S.ByteArray: self._bytes,
            S.List: self._list,
            S.Tuple: self._tuple,
            S.Set: self._set,
            S.FrozenSet: self._frozenset,
            S.Dict: self._dict,
            S.OrderedDict: self._dict,
            S.DefaultDict: self._dict,
            S.Slice: self._slice,
            S.Range: self._range,
            S.Enum: self._enum,
            S.NamedTuple: self._namedtuple,
            S.Array: self._array,
            S.ObjectArray: self._objarray,
            S.NumpyScalar: self._npscalar,
            S.Dtype: self._dtype,
            S.Type: self._type,
            S.Function: self._function,
            S.Partial: self._partial,
            S.Generator: self._generator,
            S.RandomState: self._randomstate,
            S.Sparse: self._sparse,
            S.Object: self._object,
            S.Reduce: self._reduce,
            S.Ref: self._ref,
        }

    def build(self, v: Any) -> Any:
        if type(v) in _SCALARS:
            return v
        return self.kinds[type(v)](v)

    def _register(self, node: Any, obj: Any) -> None:
        if node.id is not None:
            self.memo[node.id] = obj

    # -- scalars
    def _float(self, v: S.Float) -> float:
        return float(v.v)

    def _int(self, v: S.Int) -> int:
        if not _HEX_INT.match(v.v):
            raise SchemaError(f"{v.v[:40]!r} is not signed hexadecimal integer text", code="E-VALUE-INVALID")
        return int(v.v, 16)

    def _complex(self, v: S.Complex) -> complex:
        re_, im = self.build(v.re), self.build(v.im)
        if type(re_) is not float or type(im) is not float:
            raise SchemaError("complex parts must be floats", code="E-VALUE-INVALID")
        return complex(re_, im)

    def _bytes(self, v: S.Bytes | S.ByteArray) -> Any:
        off, n = v.data
        view = memoryview(self.data)[off : off + n]
        obj: Any = bytes(view) if type(v) is S.Bytes else bytearray(view)
        self._register(v, obj)
        return obj

    # -- containers
    def _list(self, v: S.List) -> list[Any]:
        obj: list[Any] = []
        self._register(v, obj)
        build = self.build
        obj.extend([build(c) for c in v.v])
        return obj

    def _tuple(self, v: S.Tuple) -> tuple[Any, ...]:
        self._register(v, _OPEN)
        build = self.build
        obj = tuple([build(c) for c in v.v])
        self._register(v, obj)
        return obj

    def _set(self, v: S.Set) -> set[Any]:
        obj: set[Any] = set()
        self._register(v, obj)
        items = [self.build(c) for c in v.v]
        try:
            obj.update(items)
        except TypeError as exc:
            raise SchemaError(f"a set element is not hashable: {exc}", code="E-VALUE-INVALID") from None
        if len(obj) != len(items):
            raise SchemaError("a set holds the same element twice", code="E-VALUE-INVALID")
        return obj

    def _frozenset(self, v: S.FrozenSet) -> frozenset[Any]:
        self._register(v, _OPEN)
        items = [self.build(c) for c in v.v]
        try:
            obj = frozenset(items)
        except TypeError as exc:
            raise SchemaError(f"a frozenset element is not hashable: {exc}", code="E-VALUE-INVALID") from None
        if len(obj) != len(items):
            raise SchemaError("a frozenset holds the same element twice", code="E-VALUE-INVALID")
        self._register(v, obj)
        return obj

    def _dict(self, v: S.Dict | S.OrderedDict | S.DefaultDict) -> dict[Any, Any]:
        obj: dict[Any, Any]
        if type(v) is S.Dict:
            obj = {}
        elif type(v) is S.OrderedDict:
            obj = collections.OrderedDict()
        else:
            self._register(v, _OPEN)
            factory = self.build(v.factory)  # type: ignore[union-attr]
            if factory is not None and not callable(factory):
                raise SchemaError("a defaultdict factory must be callable or null", code="E-VALUE-INVALID")
            obj = collections.defaultdict(factory)
        self._register(v, obj)
        build = self.build
        if v.v is not None:
            for k, x in v.v.items():
                obj[k] = build(x)
        else:
            for k, x in v.items or ():
                key = build(k)
                try:
                    if key in obj:
                        raise SchemaError(f"a dict holds the key {key!r} twice", code="E-VALUE-INVALID")
                except TypeError:
                    raise SchemaError(f"dict key {key!r} is not hashable", code="E-VALUE-INVALID") from None
                obj[key] = build(x)
        return obj

    def _slice(self, v: S.Slice) -> slice:
        a, b, c = (self.build(x) for x in v.v)
        return slice(a, b, c)

    def _range(self, v: S.Range) -> range:
        try:
            return range(*v.v)
        except ValueError as exc:
            raise SchemaError(f"invalid range: {exc}", code="E-VALUE-INVALID") from None

    # -- named things (all audited before we get here)
    def _resolve(self, name: str, kind: str) -> Any:
        try:
            obj = resolve(name)
        except Exception:
            raise FormatError(
                f"trusted name {name!r} cannot be imported in this environment", code="E-TRUST-NOT-FOUND"
            ) from None
        if kind == "type" and not isinstance(obj, type):
            raise FormatError(f"{name!r} is not a type", code="E-TRUST-NOT-FOUND")
        if kind == "function" and (isinstance(obj, type) or not callable(obj)):
            raise FormatError(f"{name!r} is not a function", code="E-TRUST-NOT-FOUND")
        return obj

    def _type(self, v: S.Type) -> Any:
        return self._resolve(v.name, "type")

    def _function(self, v: S.Function) -> Any:
        return self._resolve(v.name, "function")

    def _enum(self, v: S.Enum) -> Any:
        cls = self._resolve(v.type, "type")
        if not issubclass(cls, enum.Enum):
            raise FormatError(f"{v.type!r} is not an Enum", code="E-TRUST-NOT-FOUND")
        try:
            return cls[v.name]
        except KeyError:
            raise SchemaError(f"{v.type} has no member {v.name!r}", code="E-VALUE-INVALID") from None

    def _namedtuple(self, v: S.NamedTuple) -> Any:
        cls = self._resolve(v.type, "type")
        if not (issubclass(cls, tuple) and hasattr(cls, "_fields")):
            raise FormatError(f"{v.type!r} is not a namedtuple", code="E-TRUST-NOT-FOUND")
        self._register(v, _OPEN)
        items = [self.build(c) for c in v.v]
        if len(items) != len(cls._fields):
            raise SchemaError(f"{v.type} takes {len(cls._fields)} fields", code="E-VALUE-INVALID")
        obj = tuple.__new__(cls, items)
        self._register(v, obj)
        return obj

    def _partial(self, v: S.Partial) -> Any:
        self._register(v, _OPEN)
        func = self.build(v.func)
        if not callable(func):
            raise SchemaError("a partial's func must be a type or function node", code="E-VALUE-INVALID")
        obj = functools.partial(func, *[self.build(a) for a in v.args], **{k: self.build(x) for k, x in v.kw.items()})
        self._register(v, obj)
        return obj

    # -- numpy
    def _array(self, v: S.Array) -> np.ndarray[Any, Any]:
        dt = parse_dtype(v.dtype)
        off, n = v.data
        shape = tuple(v.shape)
        count = math.prod(shape)
        if dt.itemsize == 0 or count == 0:
            arr = np.zeros(shape, dtype=dt)
        else:
            flat = np.frombuffer(self.data, dtype=dt, count=count, offset=off)
            arr = flat.reshape(shape[::-1]).T if v.order == "F" else flat.reshape(shape)
        self._register(v, arr)
        return arr

    def _objarray(self, v: S.ObjectArray) -> np.ndarray[Any, Any]:
        arr = np.empty(tuple(v.shape), dtype=object)
        self._register(v, arr)
        flat = arr.reshape(-1)
        build = self.build
        for i, c in enumerate(v.v):
            flat[i] = build(c)
        return arr

    def _npscalar(self, v: S.NumpyScalar) -> Any:
        dt = parse_dtype(v.dtype)
        try:
            raw = base64.b64decode(v.b, validate=True)
        except (binascii.Error, ValueError):
            raise SchemaError("npscalar bytes are not valid base64", code="E-VALUE-INVALID") from None
        if len(raw) != dt.itemsize:
            raise SchemaError(f"a {dt} scalar needs {dt.itemsize} bytes, got {len(raw)}", code="E-VALUE-INVALID")
        return np.frombuffer(raw, dtype=dt, count=1)[0] if dt.itemsize else np.zeros((), dt)[()]

    def _dtype(self, v: S.Dtype) -> np.dtype[Any]:
        return parse_dtype(v.dtype)

    def _generator(self, v: S.Generator) -> Any:
        bg = getattr(np.random, v.bit_generator)()
        obj = np.random.Generator(bg)
        self._register(v, obj)
        state = self.build(v.state)
        try:
            bg.state = state
        except (TypeError, ValueError, KeyError) as exc:
            raise SchemaError(f"invalid {v.bit_generator} state: {exc}", code="E-VALUE-INVALID") from None
        return obj

    def _randomstate(self, v: S.RandomState) -> Any:
        state = self.build(v.state)
        name = state.get("bit_generator") if isinstance(state, dict) else None
        if name not in BIT_GENERATORS:
            raise SchemaError(f"RandomState over unknown bit generator {name!r}", code="E-VALUE-INVALID")
        obj = np.random.RandomState(getattr(np.random, name)())
        try:
            obj.set_state(state)
        except (TypeError, ValueError, KeyError) as exc:
            raise SchemaError(f"invalid RandomState state: {exc}", code="E-VALUE-INVALID") from None
        self._register(v, obj)
        return obj

    def _sparse(self, v: S.Sparse) -> Any:
        from skship.format.nodes.scipy_ import build_sparse

        self._register(v, _OPEN)
        arrays = {k: self._array(x) for k, x in v.arrays.items()}  # type: ignore[arg-type]
        obj = build_sparse(v.format, v.container, v.shape, arrays)
        self._register(v, obj)
        return obj

    # -- objects
    def _validate(self, name: str, args: Any, state: Any) -> None:
        check = self.validators.get(name)
        if check is not None:
            check(name, args, state)
        for g in self.generic:
            g(name, args, state)

    def _object(self, v: S.Object) -> Any:
        cls = self._resolve(v.type, "type")
        args = [self.build(a) for a in v.args] if v.args else []
        try:
            obj = cls.__new__(cls, *args)
        except Exception as exc:
            raise ConstructionError(f"{v.type}.__new__ refused the stored arguments: {exc}") from None
        self._register(v, obj)
        try:
            if v.elems is not None:
                obj.extend([self.build(c) for c in v.elems])
            if v.items is not None:
                for k, x in v.items:
                    obj[self.build(k)] = self.build(x)
        except FormatError:
            raise
        except Exception as exc:
            raise ConstructionError(f"{v.type} refused its stored items: {exc}") from None
        if v.state is not None:
            state = self.build(v.state)
            self._validate(v.type, args, state)
            _setstate(obj, state, v.type)
        return obj

    def _reduce(self, v: S.Reduce) -> Any:
        cls = self._resolve(v.type, "type")
        self._register(v, _OPEN)
        args = [self.build(a) for a in v.args]
        self._validate(v.type, args, None)
        try:
            obj = cls(*args)
        except Exception as exc:
            raise ConstructionError(f"{v.type} refused the stored arguments: {exc}") from None
        self._register(v, obj)
        if v.state is not None:
            state = self.build(v.state)
            self._validate(v.type, args, state)
            _setstate(obj, state, v.type)
        return obj

    def _ref(self, v: S.Ref) -> Any:
        try:
            obj = self.memo[v.id]
        except KeyError:
            raise SchemaError(
                f"ref to id {v.id}, which no node before it declares", code="E-REF-UNKNOWN"
            ) from None
        if obj is _OPEN:
            raise SchemaError(
                f"ref to id {v.id}, an immutable value still being built (a cycle that cannot be rebuilt)",
                code="E-REF-IMMUTABLE-CYCLE",
            )
        return obj


def _setstate(obj: Any, state: Any, name: str) -> None:
    """pickle's BUILD: __setstate__ if the type has one, else update __dict__/slots."""
    try:
        setstate = getattr(obj, "__setstate__", None)
        if setstate is not None:
            setstate(state)
            return
        cy = getattr(obj, "__setstate_cython__", None)
        if cy is not None:
            cy(state)
            return
        slotstate = None
        if isinstance(state, tuple) and len(state) == 2:
            state, slotstate = state
        if state:
            if not isinstance(state, dict):
                raise TypeError("state is not a dict")
            inst_dict = obj.__dict__
            for k, x in state.items():
                if type(k) is not str:
                    raise TypeError("attribute names must be strings")
                inst_dict[sys.intern(k)] = x
        if slotstate:
            if not isinstance(slotstate, dict):
                raise TypeError("slot state is not a dict")
            for k, x in slotstate.items():
                setattr(obj, k, x)
    except FormatError:
        raise
    except Exception as exc:
        raise ConstructionError(f"{name} refused its stored state: {exc}") from None
