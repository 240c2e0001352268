"""Walk an (audited) protocol-3 value tree in document order, naming every node by its
path in Python terms: ``steps[1][1].estimators_[3].tree_``.

Nothing is imported or built, and no array byte is read: the walk sees only the parsed
``schema.json``. Used by inspect, audit (path-scoped trust), diff and upgrade.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from skship import _schema as S

__all__ = ["Entry", "Segment", "format_path", "parse_path", "walk"]

# A path segment: ("attr", name), ("index", position, length) or ("key", key).
Segment = tuple[Any, ...]

_KIND_OF_NAME: dict[type, tuple[str, str]] = {
    S.Object: ("object", "type"),
    S.Reduce: ("reduce", "type"),
    S.Type: ("type", "name"),
    S.Function: ("function", "name"),
    S.Enum: ("enum", "type"),
    S.NamedTuple: ("namedtuple", "type"),
}
_SCALAR_NODE = {type(None): "null", bool: "bool", int: "int", float: "float", str: "str"}
_IDENT = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(slots=True)
class Entry:
    """One node (or inline scalar) of the tree."""

    path: str
    segments: tuple[Segment, ...]
    parent: int  # index of the parent entry, -1 for the root
    node: str  # the node kind ("object", "ndarray", ...) or the scalar's JSON type
    name: str | None = None  # the qualified name the node names, if any
    naming_kind: str | None = None  # how it names it (object, reduce, type, ...)
    value: Any = None  # scalars, ints, floats, enum members, numpy scalars, strings
    has_value: bool = False
    dtype: Any = None  # .npy descr of arrays and numpy scalars
    shape: list[int] | None = None
    data: tuple[int, int] | None = None  # (offset, length) into the data section
    order: str | None = None  # "C" or "F" for arrays
    variant: str | None = None  # a sparse node's format and container, e.g. "csr array"
    nbytes: int = 0  # data-section bytes of this node and everything under it
    id: int | None = None
    ref: int | None = None  # id this ref points to
    ref_path: str | None = None
    attribute_of_object: bool = False  # an attribute of an object's state (estimators)
    children: list[int] = field(default_factory=list)


def format_path(segments: tuple[Segment, ...]) -> str:
    out: list[str] = []
    for seg in segments:
        if seg[0] == "attr":
            out.append(f".{seg[1]}" if out else str(seg[1]))
        elif seg[0] == "index":
            out.append(f"[{seg[1]}]")
        else:
            out.append(f"[{seg[1]!r}]")
    return "".join(out)


_PATH_TOKEN = re.compile(
    r"""\.?(?P<attr>[A-Za-z_][A-Za-z0-9_]*(?:\(\))?)|\[(?P<index>-?[0-9]+)\]"""
    r"""|\[(?P<key>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\]|\[(?P<star>\*)\]"""
)


def parse_path(text: str) -> tuple[Segment, ...] | None:
    """Segments of a path pattern (``steps[-1]``, ``named_steps['clf']``, ``[*]`` for any
    position), or None when the text is not a path. The root is the empty path."""
    import ast

    segments: list[Segment] = []
    pos = 0
    while pos < len(text):
        m = _PATH_TOKEN.match(text, pos)
        if m is None or (m.group("attr") and text[pos] != "." and pos):
            return None
        if m.group("attr"):
            segments.append(("attr", m.group("attr")))
        elif m.group("index"):
            segments.append(("index", int(m.group("index"))))
        elif m.group("key"):
            segments.append(("key", ast.literal_eval(m.group("key"))))
        else:
            segments.append(("index", "*"))
        pos = m.end()
    return tuple(segments)


def path_matches(pattern: tuple[Segment, ...], segments: tuple[Segment, ...]) -> bool:
    """Whether ``segments`` lies at or under ``pattern``. Negative indices count from
    the end of their list; ``*`` matches any position or key."""
    if len(segments) < len(pattern):
        return False
    for want, have in zip(pattern, segments, strict=False):
        if want[0] == "index" and want[1] == "*":
            if have[0] not in ("index", "key"):
                return False
            continue
        if want[0] != have[0]:
            return False
        if want[0] == "index":
            index, length = have[1], have[2]
            if want[1] != index and want[1] + length != index:
                return False
        elif want[1] != have[1]:
            return False
    return True


def _scalar(v: Any) -> tuple[str, Any]:
    return _SCALAR_NODE[type(v)], v


def _npscalar(v: S.NumpyScalar, dtypes: list[Any]) -> Any:
    import numpy as np

    from skship.format.decoder import dtype_of

    try:
        raw = base64.b64decode(v.b, validate=True)
        dt = dtype_of(v.dtype, dtypes)
        if dt.fields is not None or len(raw) != dt.itemsize:
            return None
        item = np.frombuffer(raw, dtype=dt)[0].item()
    except Exception:
        return None
    if isinstance(item, bool | int | float | str):
        return item if not isinstance(item, float) or item == item else "nan"
    return repr(item)


def walk(doc: S.Document, dtypes: list[Any] | None = None) -> list[Entry]:
    """Every node of ``doc`` in document order (call ``decoder.audit`` first: the walk
    assumes a well-formed tree). ``dtypes`` is the audit's parsed dtype table."""
    entries: list[Entry] = []
    id_path: dict[int, str] = {}
    table = dtypes or []
    # (value, segments, parent index, attribute-of-object)
    stack: list[tuple[Any, tuple[Segment, ...], int, bool]] = [(doc.root, (), -1, False)]
    while stack:
        v, segs, parent, is_attr = stack.pop()
        index = len(entries)
        t = type(v)
        e = Entry(format_path(segs), segs, parent, "", attribute_of_object=is_attr)
        entries.append(e)
        if parent >= 0:
            entries[parent].children.append(index)
        if t in _SCALAR_NODE:
            e.node, e.value = _scalar(v)
            e.has_value = True
            continue
        e.node = t.__struct_config__.tag  # type: ignore[attr-defined]
        e.id = getattr(v, "id", None) if t is not S.Ref else None
        if e.id is not None:
            id_path[e.id] = e.path
        naming = _KIND_OF_NAME.get(t)
        if naming is not None:
            e.naming_kind = naming[0]
            e.name = getattr(v, naming[1])
        children: list[tuple[Any, tuple[Segment, ...], bool]] = []

        def add(child: Any, seg: Segment, attr: bool = False) -> None:
            children.append((child, (*segs, seg), attr))  # noqa: B023

        def add_item(i: int, n: int, k: Any, x: Any) -> None:
            # a key that is not a scalar has no literal: name both by position
            if type(k) in _SCALAR_NODE:
                add(x, ("key", k))
                return
            at = ("index", i, n)
            children.append((k, (*segs, ("attr", "keys()"), at), False))  # noqa: B023
            children.append((x, (*segs, ("attr", "values()"), at), False))  # noqa: B023

        def seq(values: list[Any]) -> None:
            n = len(values)
            for i, c in enumerate(values):
                add(c, ("index", i, n))

        def mapping(node: Any, attrs: bool) -> None:
            if node.v is not None:
                for k, x in node.v.items():
                    if attrs and _IDENT.match(k):
                        add(x, ("attr", k), True)
                    else:
                        add(x, ("key", k))
                return
            n = len(node.items or ())
            for i, (k, x) in enumerate(node.items or ()):
                add_item(i, n, k, x)

        if t is S.Ref:
            e.ref = v.id
            e.ref_path = id_path.get(v.id)
        elif t in (S.List, S.Tuple, S.Set, S.FrozenSet, S.NamedTuple, S.ObjectArray):
            seq(v.v)
            if t is S.ObjectArray:
                e.shape = list(v.shape)
        elif t in (S.Dict, S.OrderedDict, S.DefaultDict):
            if t is S.DefaultDict:
                add(v.factory, ("attr", "default_factory"))
            mapping(v, False)
        elif t is S.Array:
            e.dtype = _descr(v.dtype, doc)
            e.shape = list(v.shape)
            e.data = (v.data[0], v.data[1])
            e.nbytes = v.data[1]
            e.order = v.order
        elif t in (S.Bytes, S.ByteArray):
            e.data = (v.data[0], v.data[1])
            e.nbytes = v.data[1]
        elif t is S.NumpyScalar:
            e.dtype = _descr(v.dtype, doc)
            e.value = _npscalar(v, table)
            e.has_value = True
        elif t is S.Dtype:
            e.dtype = _descr(v.dtype, doc)
            e.value = e.dtype if isinstance(e.dtype, str) else None
            e.has_value = True
        elif t is S.Int:
            e.value = int(v.v, 16) if v.v.lstrip("-").startswith("0x") else v.v
            e.has_value = True
        elif t is S.Float:
            e.value, e.has_value = v.v, True
        elif t is S.Range:
            e.value, e.has_value = list(v.v), True
        elif t is S.Enum:
            e.value, e.has_value = v.name, True
        elif t in (S.Object, S.Reduce):
            if t is S.Reduce:
                for i, c in enumerate(v.args):
                    add(c, ("attr", f"__reduce__()[1][{i}]"))
            else:
                for i, c in enumerate(v.args or ()):
                    add(c, ("attr", f"__getnewargs__()[{i}]"))
            state = v.state
            if type(state) is S.Dict:
                mapping(state, True)
            elif state is not None:
                add(state, ("attr", "__getstate__()"))
            if t is S.Object:
                n = len(v.elems or ())
                for i, c in enumerate(v.elems or ()):
                    add(c, ("index", i, n))
                n = len(v.items or ())
                for i, (k, x) in enumerate(v.items or ()):
                    add_item(i, n, k, x)
        elif t is S.Partial:
            add(v.func, ("attr", "func"))
            n = len(v.args)
            for i, c in enumerate(v.args):
                add(c, ("attr", f"args[{i}]"))
            for k, x in v.kw.items():
                add(x, ("attr", f"keywords[{k!r}]"))
        elif t is S.Generator:
            add(v.state, ("attr", "bit_generator.state"))
        elif t is S.RandomState:
            add(v.state, ("attr", "get_state()"))
        elif t is S.Sparse:
            e.shape = list(v.shape)
            e.variant = f"{v.format} {v.container}"
            for k, x in v.arrays.items():
                add(x, ("attr", k))
        elif t is S.Slice:
            for part, c in zip(("start", "stop", "step"), v.v, strict=True):
                add(c, ("attr", part))
        elif t is S.Complex:
            add(v.re, ("attr", "real"))
            add(v.im, ("attr", "imag"))
        elif t is S.MaskedArray:
            add(v.data, ("attr", "data"))
            add(v.mask, ("attr", "mask"))
            add(v.fill_value, ("attr", "fill_value"))
        for child, csegs, attr in reversed(children):
            stack.append((child, csegs, index, attr))
    for i in range(len(entries) - 1, 0, -1):
        entries[entries[i].parent].nbytes += entries[i].nbytes
    return entries


def _descr(d: Any, doc: S.Document) -> Any:
    if type(d) is int:
        return doc.dtypes[d] if 0 <= d < len(doc.dtypes) else d
    return d


def iter_names(entries: list[Entry]) -> Iterator[Entry]:
    """The entries that name a type or function, in document order."""
    return (e for e in entries if e.name is not None)
