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
    PluginError,
    SchemaError,
    UnsupportedProtocolError,
    ValidationError,
)
from skship.format.encoder import BIT_GENERATORS
from skship.format.limits import Limits
from skship.format.names import resolve
from skship.format.recursion import recursion_limit

__all__ = ["ARGS_ONLY", "Audit", "Builder", "audit", "decode_document", "parse_dtype"]

PROTOCOL = 3
_INT_LIMIT = 2**63
KNOWN_EXTENSIONS: frozenset[str] = frozenset()
_decoder = msgspec.json.Decoder(S.Document)
# Explicit byte order and size only: '<f8', '|b1', '>i4', '<U10', '|S3', '|V8',
# '<M8[ns]'. Native-order ('=') and single-letter codes vary between platforms.
_SIMPLE_DTYPE = re.compile(
    r"\A[<>|](?:[iufcbVSU][0-9]{1,9}|[mM]8(?:\[[0-9]{0,9}[a-zA-Z]{1,3}\])?)\Z", re.ASCII
)
_SHA256 = re.compile(r"\A[0-9a-f]{64}\Z")
_QUALNAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+\Z", re.ASCII)
_HEX_INT = re.compile(r"\A-?0x[0-9a-f]+\Z")
_HANDLER_NAME = re.compile(r"\A[a-z0-9][a-z0-9_.-]{0,63}\Z", re.ASCII)


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise SchemaError(f"a JSON object has the key {dup!r} twice", code="E-SCHEMA-DUPLICATE-KEY")
    return d


_canonical = msgspec.json.Encoder()


def _decode_json(decoder: msgspec.json.Decoder[Any], raw: bytes, limits: Limits) -> Any:
    """Decode with ``decoder``, mapping every failure to its error code."""
    try:
        return decoder.decode(raw)
    except RecursionError:
        raise LimitError(
            f"schema.json nests deeper than the limit of {limits.max_depth}", code="E-LIMIT-DEPTH"
        ) from None
    except msgspec.ValidationError as exc:
        # A newer protocol, an unknown extension or a duplicate key explains a schema
        # mismatch better than the mismatch itself.
        _check_protocol(raw)
        _check_duplicates(raw)
        raise SchemaError(f"schema.json does not follow the protocol-3 schema: {exc}") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise SchemaError(
            f"schema.json is not valid UTF-8 JSON: {exc}", code="E-SCHEMA-JSON"
        ) from None


def decode_document(raw: bytes, limits: Limits) -> S.Document:
    """Decode schema.json into Structs. Refuses invalid UTF-8/JSON, schema violations,
    duplicate keys, other protocols and unknown must-understand extensions."""
    with recursion_limit(limits.max_depth):
        doc: S.Document = _decode_json(_decoder, raw, limits)
        # Files in canonical form (every file skship writes) re-encode to the same
        # bytes, which proves they hold no duplicate keys; anything else gets the full,
        # slower check.
        if _canonical.encode(doc) != raw:
            _check_duplicates(raw)
    _check_protocol_number(doc.protocol)
    _check_header(doc)
    return doc


def _check_protocol_number(protocol: int) -> None:
    if protocol != PROTOCOL:
        raise UnsupportedProtocolError(
            f"the file uses protocol {protocol}; this reader implements protocol {PROTOCOL}. "
            "Upgrade skship to read it."
        )


def _check_header(doc: S.Document) -> None:
    _check_extensions(doc.extensions)
    if doc.data is not None and (doc.data.size < 0 or not _SHA256.match(doc.data.sha256)):
        raise SchemaError("data.size must be >= 0 and data.sha256 64 lowercase hex digits")


def _check_extensions(extensions: Any) -> None:
    if extensions == []:  # nearly every file
        return
    if not isinstance(extensions, list) or not all(isinstance(e, str) for e in extensions):
        return  # the schema check reports it
    if len(set(extensions)) != len(extensions):
        raise SchemaError("extensions lists a name twice")
    unknown = [e for e in extensions if e not in KNOWN_EXTENSIONS]
    if unknown:
        raise UnsupportedProtocolError(
            f"the file needs extension(s) this reader does not know: {', '.join(unknown)}",
            code="E-EXTENSION-UNKNOWN",
        )


class _Index(msgspec.Struct, frozen=True):
    """The parts of schema.json that get_untrusted_types reads (the rest is skipped)."""

    protocol: int
    names: dict[str, str]
    extensions: list[str] = []


_index_decoder = msgspec.json.Decoder(_Index)


def read_name_index(raw: bytes, limits: Limits) -> dict[str, str]:
    """The document's name index, without building the value tree."""
    with recursion_limit(limits.max_depth):
        head: _Index = _decode_json(_index_decoder, raw, limits)
    _check_protocol_number(head.protocol)
    _check_extensions(head.extensions)
    return head.names


def _check_duplicates(raw: bytes) -> None:
    try:
        json.loads(raw, object_pairs_hook=_reject_duplicates)
    except RecursionError:
        raise LimitError("schema.json nests too deeply", code="E-LIMIT-DEPTH") from None
    except FormatError:
        raise
    except ValueError:
        pass  # not JSON at all: the caller reports its own error


def _check_protocol(raw: bytes) -> None:
    """Called when schema.json does not match our schema: a newer protocol or an
    unknown extension is the real reason, and gets its own code."""
    try:
        head = msgspec.json.decode(raw, type=dict[str, Any])
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, UnicodeDecodeError):
        return
    p = head.get("protocol")
    if isinstance(p, int) and not isinstance(p, bool):
        _check_protocol_number(p)
    _check_extensions(head.get("extensions", []))


_DTYPES: dict[str, np.dtype[Any]] = {}
_STRUCTURED: dict[bytes, np.dtype[Any]] = {}


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
            raise SchemaError(
                f"dtype {descr!r} is not a valid .npy descr", code="E-DATA-DTYPE"
            ) from None
        if dt.kind in "fc" and dt.itemsize > (8 if dt.kind == "f" else 16):
            raise SchemaError(f"dtype {descr!r} (long double) is not portable", code="E-DATA-DTYPE")
        if len(_DTYPES) < 4096:
            _DTYPES[descr] = dt
        return dt
    key = _canonical.encode(descr)
    cached = _STRUCTURED.get(key)
    if cached is not None:
        return cached
    _check_descr_list(descr, 0)
    try:
        dt = np.lib.format.descr_to_dtype(_tuplify(descr))
    except (TypeError, ValueError, KeyError, IndexError):
        raise SchemaError(
            f"dtype {descr!r} is not a valid .npy descr", code="E-DATA-DTYPE"
        ) from None
    if dt.hasobject:
        raise SchemaError("object dtypes are not allowed here", code="E-DATA-DTYPE")
    if len(_STRUCTURED) < 4096:
        _STRUCTURED[key] = dt
    return dt


def _check_descr_list(descr: Any, depth: int) -> None:
    if depth > 16 or not isinstance(descr, list) or not descr:
        raise SchemaError("a structured dtype descr must be a non-empty list", code="E-DATA-DTYPE")
    for field in descr:
        if not isinstance(field, list) or len(field) not in (2, 3):
            raise SchemaError(
                "a structured dtype field must be [name, descr(, shape)]", code="E-DATA-DTYPE"
            )
        name, sub = field[0], field[1]
        if not isinstance(name, str):
            raise SchemaError("a structured dtype field name must be a string", code="E-DATA-DTYPE")
        if isinstance(sub, str):
            if not _SIMPLE_DTYPE.match(sub):
                raise SchemaError(f"dtype {sub!r} is not a valid .npy descr", code="E-DATA-DTYPE")
        else:
            _check_descr_list(sub, depth + 1)
        if len(field) == 3 and not (
            isinstance(field[2], list) and all(type(i) is int and 0 <= i < 2**31 for i in field[2])
        ):
            raise SchemaError(
                "a structured dtype field shape must be a list of ints", code="E-DATA-DTYPE"
            )


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
    """What the audit found: names to import, node count, and the parsed dtype table."""

    __slots__ = ("data_bytes", "dtypes", "extensions", "names", "nodes")

    def __init__(self) -> None:
        self.names: dict[str, str] = {}  # name -> node kind that names it
        self.nodes = 0
        self.data_bytes = 0  # bytes of the data section that nodes refer to
        self.dtypes: list[np.dtype[Any]] = []
        # (handler, type) of every ext node, first occurrence first
        self.extensions: dict[tuple[str, str], None] = {}


def dtype_of(descr: Any, table: list[np.dtype[Any]]) -> np.dtype[Any]:
    """The dtype a node names: inline, or by index into the document's dtype table."""
    if type(descr) is int:
        if not 0 <= descr < len(table):
            raise SchemaError(f"dtype index {descr} is not in the dtype table", code="E-DATA-DTYPE")
        return table[descr]
    return parse_dtype(descr)


(
    _K_REF,
    _K_SEQ,
    _K_DICT,
    _K_ARRAY,
    _K_BYTES,
    _K_DTYPE,
    _K_OBJECT,
    _K_PARTIAL,
    _K_STATE,
    _K_SPARSE,
    _K_SLICE,
    _K_COMPLEX,
    _K_LEAF,
    _K_MASKED,
    _K_EXT,
) = range(15)
_AUDIT_KIND: dict[type, int] = {
    S.Ref: _K_REF,
    S.List: _K_SEQ,
    S.Tuple: _K_SEQ,
    S.Set: _K_SEQ,
    S.FrozenSet: _K_SEQ,
    S.NamedTuple: _K_SEQ,
    S.ObjectArray: _K_SEQ,
    S.Dict: _K_DICT,
    S.OrderedDict: _K_DICT,
    S.DefaultDict: _K_DICT,
    S.Array: _K_ARRAY,
    S.Bytes: _K_BYTES,
    S.ByteArray: _K_BYTES,
    S.NumpyScalar: _K_DTYPE,
    S.Dtype: _K_DTYPE,
    S.Object: _K_OBJECT,
    S.Reduce: _K_OBJECT,
    S.Partial: _K_PARTIAL,
    S.Generator: _K_STATE,
    S.RandomState: _K_STATE,
    S.Sparse: _K_SPARSE,
    S.Slice: _K_SLICE,
    S.Complex: _K_COMPLEX,
    S.MaskedArray: _K_MASKED,
    S.Extension: _K_EXT,
    S.Float: _K_LEAF,
    S.Int: _K_LEAF,
    S.Range: _K_SLICE,  # its bounds meet the int64 check like any integer
    S.Enum: _K_LEAF,
    S.Type: _K_LEAF,
    S.Function: _K_LEAF,
}
_KIND_NAME: dict[type, str] = {
    S.Type: "type",
    S.Function: "function",
    S.Enum: "enum",
    S.NamedTuple: "namedtuple",
    S.Object: "object",
    S.Reduce: "reduce",
}
_NAME_ATTR: dict[type, str] = {
    S.Type: "name",
    S.Function: "name",
    S.Enum: "type",
    S.NamedTuple: "type",
    S.Object: "type",
    S.Reduce: "type",
}
_SCALARS = (type(None), bool, int, float, str)
_SCALAR_TYPES = frozenset(_SCALARS)
_SHAPE_SIZES: dict[tuple[int, ...], int] = {}  # shapes that passed _check_shape
# Collections at least this long are first scanned in C (``set(map(type, ...))``): when
# every element is a scalar, the audit and the builder take them whole.
_BULK = 16


def _scalars_only(values: Any) -> bool:
    """True if every element of ``values`` is a JSON scalar, and every int in it is in
    the int64 range (else SchemaError, as the audit reports any such int)."""
    types = set(map(type, values))
    if not types <= _SCALAR_TYPES:
        return False
    if int in types:
        ints = values if len(types) == 1 else [x for x in values if type(x) is int]
        if not (min(ints) > -_INT_LIMIT and max(ints) < _INT_LIMIT):
            bad = next(x for x in ints if not -_INT_LIMIT < x < _INT_LIMIT)
            raise SchemaError(f"integer {bad} is outside the int64 range; use an int node")
    return True


def audit(doc: S.Document, limits: Limits) -> Audit:
    """Walk the tree without importing anything; raise on any structural problem."""
    result = Audit()
    table = result.dtypes = [parse_dtype(d) for d in doc.dtypes]
    data_size = doc.data.size if doc.data is not None else 0
    spans: list[tuple[int, int]] = []
    declared: set[int] = set()
    stack: list[tuple[Any, int]] = [(doc.root, 1)]
    max_depth, max_nodes = limits.max_depth, limits.max_nodes
    names = result.names
    count = 0
    push = stack.append
    scalar_types = _SCALAR_TYPES
    n_table = len(table)
    shapes = _SHAPE_SIZES
    max_array = limits.max_array_bytes
    while stack:
        v, depth = stack.pop()
        t = type(v)
        if t in scalar_types:
            if t is int and not -_INT_LIMIT < v < _INT_LIMIT:
                raise SchemaError(f"integer {v} is outside the int64 range; use an int node")
            continue
        count += 1
        if count > max_nodes:
            raise LimitError(f"the file has more than {max_nodes} nodes", code="E-LIMIT-NODES")
        if depth > max_depth:
            raise LimitError(f"values nest deeper than {max_depth} levels", code="E-LIMIT-DEPTH")
        kind = _AUDIT_KIND[t]
        if kind == _K_REF:
            continue  # checked during construction, in document order
        node_id = getattr(v, "id", None)
        if node_id is not None:
            if node_id < 0:
                raise SchemaError(f"node id {node_id} is negative")
            if node_id in declared:
                raise SchemaError(f"two nodes declare id {node_id}", code="E-REF-DUPLICATE-ID")
            declared.add(node_id)
        name_attr = _NAME_ATTR.get(t)
        if name_attr is not None:
            name = getattr(v, name_attr)
            if (kind == _K_OBJECT and t is not S.NamedTuple) or name not in names:
                names[name] = _KIND_NAME[t]
        d = depth + 1
        if kind == _K_ARRAY:  # the commonest node: checks inlined, shapes cached
            descr = v.dtype
            dt = table[descr] if type(descr) is int and 0 <= descr < n_table else None
            if dt is None:
                dt = dtype_of(descr, table)
            shape = v.shape
            key = tuple(shape)
            size = shapes.get(key)
            if size is None:
                _check_shape(shape)
                size = math.prod(shape)
                if len(shapes) < 4096:
                    shapes[key] = size
            off, n = span = v.data
            if n != size * dt.itemsize:
                raise SchemaError(
                    f"an array of shape {v.shape} and dtype {dt} needs {size * dt.itemsize} "
                    f"bytes, but its data reference holds {n}",
                    code="E-DATA-SIZE",
                )
            if off < 0 or n < 0 or off % 16 or off + n > data_size or n > max_array:
                _check_ref(off, n, data_size, limits)
            spans.append(span)
        elif kind == _K_SEQ:
            if len(v.v) < _BULK or not _scalars_only(v.v):
                for c in reversed(v.v):
                    tc = type(c)
                    if tc not in scalar_types:
                        push((c, d))
                    elif tc is int and not -_INT_LIMIT < c < _INT_LIMIT:
                        raise SchemaError(
                            f"integer {c} is outside the int64 range; use an int node"
                        )
            if t is S.ObjectArray:
                _check_shape(v.shape)
                if math.prod(v.shape) != len(v.v):
                    raise SchemaError(
                        "an object array has a different number of elements than its shape says",
                        code="E-VALUE-INVALID",
                    )
        elif kind == _K_DICT:
            if (v.v is None) == (v.items is None):
                raise SchemaError("a dict node needs exactly one of 'v' and 'items'")
            if v.items is not None:
                for k, x in reversed(v.items):
                    push((x, d))
                    push((k, d))
            else:
                values = list(v.v.values())
                if len(values) < _BULK or not _scalars_only(values):
                    for x in reversed(values):
                        tx = type(x)
                        if tx not in scalar_types:
                            push((x, d))
                        elif tx is int and not -_INT_LIMIT < x < _INT_LIMIT:
                            raise SchemaError(
                                f"integer {x} is outside the int64 range; use an int node"
                            )
            if t is S.DefaultDict:
                push((v.factory, d))
        elif kind == _K_BYTES:
            off, n = v.data
            _check_ref(off, n, data_size, limits)
            spans.append((off, n))
        elif kind == _K_DTYPE:
            dtype_of(v.dtype, table)
        elif kind == _K_OBJECT:
            if t is S.Object:
                for c in reversed(v.elems or ()):
                    push((c, d))
                for k, x in reversed(v.items or ()):
                    push((x, d))
                    push((k, d))
            if v.state is not None:
                push((v.state, d))
            for c in reversed(v.args or ()):
                push((c, d))
        elif kind == _K_PARTIAL:
            for x in reversed(list(v.kw.values())):
                push((x, d))
            for c in reversed(v.args):
                push((c, d))
            push((v.func, d))
        elif kind == _K_STATE:
            push((v.state, d))
        elif kind == _K_SPARSE:
            for x in v.arrays.values():
                if type(x) is not S.Array:
                    raise SchemaError("every array of a sparse node must be an ndarray node")
                push((x, d))
        elif kind == _K_SLICE:
            for c in v.v:
                push((c, d))
        elif kind == _K_COMPLEX:
            if type(v.re) is S._TagRequired or type(v.im) is S._TagRequired:
                raise SchemaError("a complex part is a number or a float node, nothing else")
            push((v.im, d))
            push((v.re, d))
        elif kind == _K_MASKED:
            push((v.fill_value, d))
            push((v.mask, d))
            push((v.data, d))
        elif kind == _K_EXT:
            if not _HANDLER_NAME.match(v.handler) or not _QUALNAME.match(v.type):
                raise SchemaError(
                    f"ext node: {v.handler[:80]!r} is not a handler name or "
                    f"{v.type[:80]!r} not a qualified name"
                )
            result.extensions[(v.handler, v.type)] = None
            push((v.state, d))
    result.nodes = count
    for name in names:
        if not _QUALNAME.match(name):
            raise SchemaError(f"{name[:80]!r} is not a qualified Python name")
    if names != doc.names:
        hidden = sorted(set(names) - set(doc.names))
        raise SchemaError(
            "the name index does not match the names in the value tree"
            + (f" (not indexed: {', '.join(hidden[:5])})" if hidden else ""),
            code="E-SCHEMA-NAMES",
        )
    result.data_bytes = _check_overlap(spans)
    if result.extensions:
        # Found among the installed handlers by the name the file records; nothing the
        # file names is imported. Refused here, before anything is built.
        from skship.format.registry import check

        for handler_name, type_name in result.extensions:
            check(handler_name, type_name)
    if doc.data is not None and not spans and doc.data.size:
        pass  # a data section nobody references is allowed (padding-only is harmless)
    return result


def _check_shape(shape: list[int]) -> None:
    if len(shape) > 32 or any(type(s) is not int or not 0 <= s < 2**62 for s in shape):
        raise SchemaError(f"shape {shape[:40]} is not a list of at most 32 non-negative ints")
    if 0 not in shape and math.prod(shape) >= 2**62:
        raise SchemaError(f"shape {shape} has too many elements")


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


def _check_overlap(spans: list[tuple[int, int]]) -> int:
    """Refuse overlapping data references; return how many bytes they cover."""
    spans = sorted(s for s in spans if s[1])
    end = total = 0
    for off, n in spans:
        if off < end:
            raise SchemaError(
                f"data reference at {off} overlaps the one before it", code="E-DATA-OVERLAP"
            )
        end = off + n
        total += n
    return total


# -------------------------------------------------------------------------- construct


class _Open:
    """Placeholder for an immutable value whose node is still being built."""

    __slots__ = ()


_OPEN = _Open()


class _ArgsOnly:
    """Passed as the state when validators run before construction, on the args."""

    __slots__ = ()


ARGS_ONLY = _ArgsOnly()
Validator = Callable[[str, Any, Any], None]


class Builder:
    """Builds Python objects from an audited tree. Only trusted names are resolved."""

    def __init__(
        self,
        data: Any,
        validators: dict[str, Validator],
        generic: list[Validator],
        *,
        copy_arrays: bool = False,
        copies_state: frozenset[str] = frozenset(),
        dtypes: list[np.dtype[Any]] | None = None,
    ) -> None:
        self.data = data
        self.dtypes = dtypes or []
        self.memo: dict[int, Any] = {}
        self.validators = validators
        self.generic = generic
        # ``data`` is a view of the caller's buffer: arrays get their own copy, except
        # inside the state of types whose __setstate__ copies it anyway (a Tree).
        self.copy_arrays = copy_arrays
        self.copies_state = copies_state

    def build(self, v: Any) -> Any:
        if type(v) in _SCALARS:
            return v
        return _KINDS[type(v)](self, v)

    def _register(self, node: Any, obj: Any) -> None:
        if node.id is not None:
            self.memo[node.id] = obj

    # -- scalars
    def _float(self, v: S.Float) -> float:
        return float(v.v)

    def _int(self, v: S.Int) -> int:
        if not _HEX_INT.match(v.v):
            raise SchemaError(
                f"{v.v[:40]!r} is not signed hexadecimal integer text", code="E-VALUE-INVALID"
            )
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
        if len(v.v) >= _BULK and _scalars_only(v.v):
            obj.extend(v.v)  # scalars build to themselves
            return obj
        build, scalar = self.build, _SCALAR_TYPES
        obj.extend([c if type(c) in scalar else build(c) for c in v.v])
        return obj

    def _tuple(self, v: S.Tuple) -> tuple[Any, ...]:
        if len(v.v) >= _BULK and _scalars_only(v.v):
            obj = tuple(v.v)
        else:
            self._register(v, _OPEN)
            build, scalar = self.build, _SCALAR_TYPES
            obj = tuple([c if type(c) in scalar else build(c) for c in v.v])
        self._register(v, obj)
        return obj

    def _set(self, v: S.Set) -> set[Any]:
        obj: set[Any] = set()
        self._register(v, obj)
        items = [self.build(c) for c in v.v]
        try:
            obj.update(items)
        except TypeError as exc:
            raise SchemaError(
                f"a set element is not hashable: {exc}", code="E-VALUE-INVALID"
            ) from None
        if len(obj) != len(items):
            raise SchemaError("a set holds the same element twice", code="E-VALUE-INVALID")
        return obj

    def _frozenset(self, v: S.FrozenSet) -> frozenset[Any]:
        self._register(v, _OPEN)
        items = [self.build(c) for c in v.v]
        try:
            obj = frozenset(items)
        except TypeError as exc:
            raise SchemaError(
                f"a frozenset element is not hashable: {exc}", code="E-VALUE-INVALID"
            ) from None
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
                raise SchemaError(
                    "a defaultdict factory must be callable or null", code="E-VALUE-INVALID"
                )
            obj = collections.defaultdict(factory)
        self._register(v, obj)
        build = self.build
        if v.v is not None:
            if len(v.v) >= _BULK and _scalars_only(list(v.v.values())):
                obj.update(v.v)  # scalars build to themselves
            else:
                scalar = _SCALAR_TYPES
                for k, x in v.v.items():
                    obj[k] = x if type(x) in scalar else build(x)
        else:
            for kv, x in v.items or ():
                key = build(kv)
                try:
                    if key in obj:
                        raise SchemaError(
                            f"a dict holds the key {key!r} twice", code="E-VALUE-INVALID"
                        )
                except TypeError:
                    raise SchemaError(
                        f"dict key {key!r} is not hashable", code="E-VALUE-INVALID"
                    ) from None
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
                f"trusted name {name!r} cannot be imported in this environment",
                code="E-TRUST-NOT-FOUND",
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
            raise SchemaError(
                f"{v.type} has no member {v.name!r}", code="E-VALUE-INVALID"
            ) from None

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
            raise SchemaError(
                "a partial's func must be a type or function node", code="E-VALUE-INVALID"
            )
        obj = functools.partial(
            func, *[self.build(a) for a in v.args], **{k: self.build(x) for k, x in v.kw.items()}
        )
        self._register(v, obj)
        return obj

    # -- numpy
    def _array(self, v: S.Array) -> np.ndarray[Any, Any]:
        descr = v.dtype
        dtypes = self.dtypes
        dt = (
            dtypes[descr]
            if type(descr) is int and 0 <= descr < len(dtypes)
            else dtype_of(descr, dtypes)
        )
        off = v.data[0]
        shape = tuple(v.shape)
        count = shape[0] if len(shape) == 1 else math.prod(shape)
        if dt.itemsize == 0 or count == 0:
            try:
                arr = np.zeros(shape, dtype=dt)
            except (ValueError, MemoryError):
                raise SchemaError(
                    f"an empty array of shape {shape} is too large", code="E-VALUE-INVALID"
                ) from None
        else:
            if self.copy_arrays:
                # numpy's allocator (huge pages for large arrays: twice as fast as a
                # bytearray). Byte for byte: structured dtypes go through uint8, so
                # their padding is copied too.
                if dt.names is None:
                    flat = np.frombuffer(self.data, dtype=dt, count=count, offset=off).copy()
                else:
                    raw = np.frombuffer(self.data, np.uint8, count * dt.itemsize, off)
                    flat = raw.copy().view(dt)
            else:
                flat = np.frombuffer(self.data, dtype=dt, count=count, offset=off)
            if len(shape) == 1:
                arr = flat
            else:
                arr = flat.reshape(shape[::-1]).T if v.order == "F" else flat.reshape(shape)
        self._register(v, arr)
        return arr

    def _objarray(self, v: S.ObjectArray) -> np.ndarray[Any, Any]:
        try:
            arr = np.empty(tuple(v.shape), dtype=object)
        except (ValueError, MemoryError):
            raise SchemaError(
                f"an object array of shape {v.shape} is too large", code="E-VALUE-INVALID"
            ) from None
        self._register(v, arr)
        flat = arr.reshape(-1)
        if _scalars_only(v.v):  # strings, as categories and vocabularies hold
            flat[:] = v.v
            return arr
        build = self.build
        for i, c in enumerate(v.v):
            flat[i] = build(c)
        return arr

    def _masked(self, v: S.MaskedArray) -> Any:
        self._register(v, _OPEN)
        data, mask = self.build(v.data), self.build(v.mask)
        if not isinstance(data, np.ndarray) or not isinstance(mask, np.ndarray):
            raise SchemaError("a masked array needs array data and mask", code="E-VALUE-INVALID")
        if mask.dtype != np.ma.make_mask_descr(data.dtype) or mask.shape != data.shape:
            raise SchemaError(
                "a masked array's mask must be bool and shaped like its data",
                code="E-VALUE-INVALID",
            )
        try:
            with np.errstate(all="ignore"):  # numpy's default fill overflows float16
                obj = np.ma.MaskedArray(data, mask=mask)
                if v.fill_value is not None:
                    fill = self.build(v.fill_value)
                    if (
                        isinstance(fill, np.ndarray)
                        and fill.shape == ()
                        and fill.dtype == data.dtype
                    ):
                        setattr(obj, "_fill_value", fill)  # noqa: B010 - as stored, padding included
                    else:
                        obj.fill_value = fill
        except (TypeError, ValueError, OverflowError) as exc:
            raise SchemaError(f"invalid masked array: {exc}", code="E-VALUE-INVALID") from None
        self._register(v, obj)
        return obj

    def _npscalar(self, v: S.NumpyScalar) -> Any:
        dt = dtype_of(v.dtype, self.dtypes)
        try:
            raw = base64.b64decode(v.b, validate=True)
        except (binascii.Error, ValueError):
            raise SchemaError(
                "npscalar bytes are not valid base64", code="E-VALUE-INVALID"
            ) from None
        if len(raw) != dt.itemsize:
            raise SchemaError(
                f"a {dt} scalar needs {dt.itemsize} bytes, got {len(raw)}", code="E-VALUE-INVALID"
            )
        return np.frombuffer(raw, dtype=dt, count=1)[0] if dt.itemsize else np.zeros((), dt)[()]

    def _dtype(self, v: S.Dtype) -> np.dtype[Any]:
        return dtype_of(v.dtype, self.dtypes)

    def _generator(self, v: S.Generator) -> Any:
        bg = getattr(np.random, v.bit_generator)()
        obj = np.random.Generator(bg)
        self._register(v, obj)
        state = self.build(v.state)
        try:
            bg.state = state
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise SchemaError(
                f"invalid {v.bit_generator} state: {exc}", code="E-VALUE-INVALID"
            ) from None
        return obj

    def _randomstate(self, v: S.RandomState) -> Any:
        state = self.build(v.state)
        name = state.get("bit_generator") if isinstance(state, dict) else None
        if name not in BIT_GENERATORS:
            raise SchemaError(
                f"RandomState over unknown bit generator {name!r}", code="E-VALUE-INVALID"
            )
        obj = np.random.RandomState(getattr(np.random, name)())
        try:
            obj.set_state(state)
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
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
        self._validate(v.type, args, ARGS_ONLY)
        try:
            obj = cls.__new__(cls, *args)
        except Exception as exc:
            raise ConstructionError(
                f"{v.type}.__new__ refused the stored arguments: {exc}"
            ) from None
        self._register(v, obj)
        # Build in document order (refs depend on it), apply in pickle's order:
        # list and dict items first, then the state.
        state = self.build(v.state) if v.state is not None else None
        items = (
            [(self.build(k), self.build(x)) for k, x in v.items] if v.items is not None else None
        )
        elems = [self.build(c) for c in v.elems] if v.elems is not None else None
        self._validate(v.type, args, state)
        try:
            if elems is not None:
                obj.extend(elems)
            if items is not None:
                for k, x in items:
                    obj[k] = x
        except Exception as exc:
            raise ConstructionError(f"{v.type} refused its stored items: {exc}") from None
        if v.state is not None:
            _setstate(obj, state, v.type)
        return obj

    def _reduce(self, v: S.Reduce) -> Any:
        cls = self._resolve(v.type, "type")
        self._register(v, _OPEN)
        args = [self.build(a) for a in v.args]
        self._validate(v.type, args, ARGS_ONLY)
        try:
            obj = cls(*args)
        except Exception as exc:
            raise ConstructionError(f"{v.type} refused the stored arguments: {exc}") from None
        self._register(v, obj)
        copying = self.copy_arrays
        if copying and v.type in self.copies_state:
            self.copy_arrays = False
        try:
            state = self.build(v.state) if v.state is not None else None
        finally:
            self.copy_arrays = copying
        self._validate(v.type, args, state)
        if v.state is not None:
            _setstate(obj, state, v.type)
        return obj

    def _ext(self, v: S.Extension) -> Any:
        from skship.format.registry import handler

        h = handler(v.handler)  # the audit checked it is installed and handles v.type
        self._register(v, _OPEN)
        state = self.build(v.state)
        what = f"the type handler {v.handler!r}"
        try:
            h.validate(v.type, state)
        except FormatError:
            raise
        except ImportError as exc:
            raise PluginError(
                f"{what} needs a package that is not installed: {exc}",
                code="E-DEPENDENCY-MISSING",
            ) from None
        except Exception as exc:
            raise ValidationError(
                f"{what} refused the stored state of {v.type}: {exc}",
                code="E-PLUGIN-STATE-INVALID",
            ) from None
        try:
            obj = h.construct(v.type, state)
        except FormatError:
            raise
        except ImportError as exc:
            raise PluginError(
                f"{what} needs a package that is not installed: {exc}",
                code="E-DEPENDENCY-MISSING",
            ) from None
        except Exception as exc:
            raise ConstructionError(f"{what} could not build {v.type}: {exc}") from None
        cls = type(obj)
        if f"{cls.__module__}.{cls.__qualname__}" != v.type:
            raise ConstructionError(
                f"{what} built a {cls.__module__}.{cls.__qualname__}, not the {v.type} "
                "the file names"
            )
        self._register(v, obj)
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


_KINDS: dict[type, Callable[[Builder, Any], Any]] = {
    S.Float: Builder._float,
    S.Int: Builder._int,
    S.Complex: Builder._complex,
    S.Bytes: Builder._bytes,
    S.ByteArray: Builder._bytes,
    S.List: Builder._list,
    S.Tuple: Builder._tuple,
    S.Set: Builder._set,
    S.FrozenSet: Builder._frozenset,
    S.Dict: Builder._dict,
    S.OrderedDict: Builder._dict,
    S.DefaultDict: Builder._dict,
    S.Slice: Builder._slice,
    S.Range: Builder._range,
    S.Enum: Builder._enum,
    S.NamedTuple: Builder._namedtuple,
    S.Array: Builder._array,
    S.ObjectArray: Builder._objarray,
    S.MaskedArray: Builder._masked,
    S.NumpyScalar: Builder._npscalar,
    S.Dtype: Builder._dtype,
    S.Type: Builder._type,
    S.Function: Builder._function,
    S.Partial: Builder._partial,
    S.Generator: Builder._generator,
    S.RandomState: Builder._randomstate,
    S.Sparse: Builder._sparse,
    S.Object: Builder._object,
    S.Reduce: Builder._reduce,
    S.Extension: Builder._ext,
    S.Ref: Builder._ref,
}


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
