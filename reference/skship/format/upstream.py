"""Read files written by upstream skops (protocols 0, 1 and 2) as protocol-3 documents.

An upstream file is a zip of ``schema.json`` (a tree of ``{"__class__", "__module__",
"__loader__", "content", "__id__"}`` nodes) and one ``.npy`` member per array (``.npz``
per sparse matrix, ``.bin`` per bytes value). :func:`read_document` parses the zip with
our limits, translates the tree into an equivalent protocol-3 :class:`~skship._schema.Document`
and copies every array's bytes into a fresh, 16-byte aligned data section. Nothing named
in the file is imported here: the caller then runs the protocol-3 audit, the trust policy,
the validators and the Builder on the translation, exactly as for a protocol-3 file, so
no rule can be skipped by claiming an older protocol (spec/format/versioning.md).

Upstream node kinds whose meaning protocol 3 cannot express safely (bound methods,
``partial`` objects with a namespace, unknown loaders) are refused, not approximated.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import re
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np

from skship import _schema as S
from skship.errors import (
    ContainerError,
    FormatError,
    LimitError,
    SchemaError,
    UnsupportedProtocolError,
)
from skship.format.container import (
    _CENTRAL,
    _EOCD,
    _LOCAL,
    METHOD_DEFLATE,
    METHOD_STORED,
    _check_name,
    _zip64_values,
)
from skship.format.decoder import _reject_duplicates, parse_dtype
from skship.format.limits import Limits
from skship.format.recursion import recursion_limit

__all__ = ["UPSTREAM_PROTOCOLS", "claims_upstream", "read_document"]

UPSTREAM_PROTOCOLS = (0, 1, 2)
_SCHEMA = "schema.json"
_ALIGN = 16
_INT64 = 2**63
_ZIP64 = 0xFFFFFFFF
# Each upstream member is one array, bytes value or sparse matrix: far more members than
# a protocol-3 file has, but still bounded (a central directory entry costs us memory).
_MAX_MEMBERS_FACTOR = 8192
_BIT_GENERATORS = frozenset({"MT19937", "PCG64", "PCG64DXSM", "Philox", "SFC64"})
_RANDOM_STATE = frozenset({"numpy.random.mtrand.RandomState", "numpy.random.RandomState"})
_GENERATOR = frozenset({"numpy.random._generator.Generator", "numpy.random.Generator"})
_TREE = "sklearn.tree._tree.Tree"
# Where numpy 1.x put its ufuncs: upstream recorded that path; the public name is the same
# function under every numpy version, so we name it that way (nothing is imported here).
_NODE_KEYS = frozenset(
    {
        "__class__",
        "__module__",
        "__loader__",
        "__id__",
        "__reduce__",
        "content",
        "key_types",
        "type",
        "file",
        "is_json",
        "shape",
        "attrs",
    }
)
_UFUNC_MODULES = frozenset(
    {"numpy.core._multiarray_umath", "numpy._core._multiarray_umath", "numpy.core.umath"}
)
# Cython classes whose __module__ is the bare extension name; upstream recorded that.
_MODULE_ALIASES = {"_loss": "sklearn._loss._loss"}
# A tree's nodes before scikit-learn 1.3 (no missing_go_to_left): upgraded on reading,
# as scikit-learn's own Tree.__setstate__ upgrades old pickles.
_OLD_NODE_DESCR = [
    ["left_child", "<i8"],
    ["right_child", "<i8"],
    ["feature", "<i8"],
    ["threshold", "<f8"],
    ["impurity", "<f8"],
    ["n_node_samples", "<i8"],
    ["weighted_n_node_samples", "<f8"],
]
_NODE_DESCR = [*_OLD_NODE_DESCR, ["missing_go_to_left", "|u1"], ["", "|V7"]]
_SPARSE_ARRAYS = {
    "csr": ("data", "indices", "indptr"),
    "csc": ("data", "indices", "indptr"),
    "bsr": ("data", "indices", "indptr"),
    "coo": ("data", "row", "col"),
    "dia": ("data", "offsets"),
}


def _bad(msg: str) -> SchemaError:
    return SchemaError(msg, code="E-UPSTREAM-NODE")


def _unsupported(msg: str) -> SchemaError:
    return SchemaError(msg, code="E-UPSTREAM-UNSUPPORTED")


# ------------------------------------------------------------------------------ zip


@dataclass(frozen=True)
class _Member:
    name: str
    method: int
    crc: int
    start: int
    csize: int
    usize: int


class _Zip:
    """A defensively parsed zip: every check of the protocol-3 container that applies to a
    zip of many members (names, duplicates, overlaps, header agreement, bombs, limits)."""

    def __init__(
        self, buf: Any, limits: Limits, max_members: int, what: str, *, strict: bool = True
    ) -> None:
        self.view = memoryview(buf).cast("B")
        self.limits = limits
        self.what = what
        self.strict = strict  # False: only enough to find schema.json (see claims_upstream)
        self.members: dict[str, _Member] = {}
        self._parse(max_members)

    def _corrupt(self, msg: str, code: str = "E-CONTAINER-CORRUPT") -> ContainerError:
        return ContainerError(f"{self.what}: {msg}", code=code)

    def _parse(self, max_members: int) -> None:
        view = self.view
        n = view.nbytes
        tail_start = max(0, n - (_EOCD.size + 0xFFFF))
        tail = bytes(view[tail_start:])
        at = tail.rfind(b"PK\x05\x06")
        while at >= 0 and at + _EOCD.size > len(tail):
            at = tail.rfind(b"PK\x05\x06", 0, at)
        if at < 0:
            raise self._corrupt("not a zip archive", "E-CONTAINER-NOT-ZIP")
        (_, disk, cd_disk, n_disk, n_total, cd_size, cd_off, _) = _EOCD.unpack_from(tail, at)
        eocd_pos = tail_start + at
        if disk or cd_disk or n_disk != n_total:
            raise self._corrupt("multi-disk archives are not allowed")
        if n_total == 0xFFFF or cd_size == 0xFFFFFFFF or cd_off == 0xFFFFFFFF:
            raise self._corrupt("zip64 archives are not read from upstream skops files")
        if n_total > max_members and self.strict:
            raise LimitError(
                f"{self.what} has {n_total} members; the limit is {max_members}",
                code="E-LIMIT-MEMBERS",
            )
        if cd_off + cd_size > eocd_pos:
            raise self._corrupt("central directory lies outside the file")
        spans: list[tuple[int, int]] = []
        p = cd_off
        for _ in range(n_total):
            if p + _CENTRAL.size > cd_off + cd_size:
                raise self._corrupt("central directory is truncated")
            (sig, _, _, flags, method, _, _, crc, csize, usize, nlen, xlen, clen, *_rest) = (
                _CENTRAL.unpack_from(view, p)
            )
            loff = _rest[-1]
            if sig != 0x02014B50:
                raise self._corrupt("bad central directory entry signature")
            raw_name = bytes(view[p + 46 : p + 46 + nlen])
            want = [usize == _ZIP64, csize == _ZIP64, loff == _ZIP64]
            if any(want):  # numpy's savez (sparse members) writes zip64 entries
                extra = bytes(view[p + 46 + nlen : p + 46 + nlen + xlen])
                vals = iter(_zip64_values(extra, sum(want)))
                usize = next(vals) if want[0] else usize
                csize = next(vals) if want[1] else csize
                loff = next(vals) if want[2] else loff
            p += 46 + nlen + xlen + clen
            try:
                name = raw_name.decode("utf-8")
            except UnicodeDecodeError:
                raise self._corrupt("member name is not UTF-8", "E-CONTAINER-PATH") from None
            if not self.strict:
                if name == _SCHEMA and name not in self.members:
                    self._add(
                        view, name, raw_name, flags, method, crc, csize, usize, loff, cd_off, spans
                    )
                continue
            _check_name(name)
            if name in self.members:
                raise self._corrupt(
                    f"member {name!r} appears twice", "E-CONTAINER-MEMBER-DUPLICATE"
                )
            self._add(view, name, raw_name, flags, method, crc, csize, usize, loff, cd_off, spans)
        spans.sort()
        for (_, end), (nxt, _) in itertools.pairwise(spans):
            if nxt < end:
                raise self._corrupt("two members overlap (a zip bomb or a corrupted file)")

    def _add(
        self,
        view: memoryview,
        name: str,
        raw_name: bytes,
        flags: int,
        method: int,
        crc: int,
        csize: int,
        usize: int,
        loff: int,
        cd_off: int,
        spans: list[tuple[int, int]],
    ) -> None:
        if flags & 0x41:
            raise self._corrupt(f"member {name!r} is encrypted", "E-CONTAINER-COMPRESSION")
        if method not in (METHOD_STORED, METHOD_DEFLATE):
            raise self._corrupt(
                f"member {name!r} uses compression method {method}; only stored and "
                "deflate are read from upstream files",
                "E-CONTAINER-COMPRESSION",
            )
        if loff + _LOCAL.size > cd_off:
            raise self._corrupt(f"member {name!r} starts outside the archive")
        (lsig, _, lflags, lmethod, _, _, lcrc, lcsize, lusize, lnlen, lxlen) = _LOCAL.unpack_from(
            view, loff
        )
        if lsig != 0x04034B50 or lmethod != method or lflags != flags:
            raise self._corrupt(f"local header of {name!r} disagrees with the directory")
        if not flags & 0x08 and (
            lcrc != crc or lcsize not in (csize, _ZIP64) or lusize not in (usize, _ZIP64)
        ):
            raise self._corrupt(f"local header of {name!r} records other sizes or CRC")
        if bytes(view[loff + 30 : loff + 30 + lnlen]) != raw_name:
            raise self._corrupt(f"local header names {name!r} differently")
        start = loff + 30 + lnlen + lxlen
        if start + csize > cd_off:
            raise self._corrupt(f"member {name!r} runs past the central directory")
        if method == METHOD_STORED and csize != usize:
            raise self._corrupt(f"stored member {name!r} has different sizes")
        spans.append((loff, start + csize))
        self.members[name] = _Member(name, method, crc, start, csize, usize)

    def read(self, name: str, cap: int) -> bytes:
        m = self.members.get(name)
        if m is None:
            raise self._corrupt(
                f"the member {name!r} that schema.json refers to is absent",
                "E-CONTAINER-MEMBER-MISSING",
            )
        if m.usize > cap:
            raise LimitError(
                f"member {name!r} is {m.usize} bytes; the limit is {cap}",
                code="E-LIMIT-ARRAY-BYTES",
            )
        raw = self.view[m.start : m.start + m.csize]
        if m.method == METHOD_STORED:
            out = bytes(raw)
        else:
            d = zlib.decompressobj(-15)
            try:
                out = d.decompress(raw, m.usize + 1)  # never inflates past the recorded size
            except zlib.error as exc:
                raise self._corrupt(f"member {name!r} is not valid deflate data: {exc}") from None
            if len(out) != m.usize or not d.eof or d.unused_data:
                raise self._corrupt(f"member {name!r} does not decompress to its recorded size")
        if zlib.crc32(out) != m.crc:
            raise self._corrupt(f"member {name!r} does not match its CRC-32")
        return out


def _schema_bytes(z: _Zip, limits: Limits) -> bytes:
    if _SCHEMA not in z.members:
        raise ContainerError("schema.json is missing", code="E-CONTAINER-MEMBER-MISSING")
    if z.members[_SCHEMA].usize > limits.max_schema_bytes:
        raise LimitError(
            f"schema.json is {z.members[_SCHEMA].usize} bytes; the limit is "
            f"{limits.max_schema_bytes}",
            code="E-LIMIT-SCHEMA-BYTES",
        )
    return z.read(_SCHEMA, limits.max_schema_bytes)


def _check_protocol(protocol: Any) -> int:
    if type(protocol) is not int or protocol not in UPSTREAM_PROTOCOLS:
        # bool is not int here: True must not act as protocol 1.
        raise UnsupportedProtocolError(
            f"schema.json claims protocol {protocol!r}; upstream skops files use 0, 1 or 2"
        )
    return protocol


def _open(buf: Any, limits: Limits) -> tuple[_Zip, dict[str, Any], int, dict[int, int]]:
    """The parsed archive, schema.json (duplicate keys refused), its protocol, and how
    often each __id__ occurs (counted while parsing: no second walk)."""
    z = _Zip(buf, limits, limits.max_members * _MAX_MEMBERS_FACTOR, "the upstream archive")
    raw = _schema_bytes(z, limits)
    ids: dict[int, int] = {}

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        d = _reject_duplicates(items)
        uid = d.get("__id__")
        if type(uid) is int:
            ids[uid] = ids.get(uid, 0) + 1
        return d

    try:
        head = json.loads(raw, object_pairs_hook=pairs)
    except RecursionError:
        raise LimitError("schema.json nests too deeply", code="E-LIMIT-DEPTH") from None
    except FormatError:
        raise
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
        raise SchemaError(f"schema.json is not UTF-8 JSON: {exc}", code="E-SCHEMA-JSON") from None
    if not isinstance(head, dict):
        raise _bad("schema.json is not a JSON object")
    return z, head, _check_protocol(head.get("protocol")), ids


class _Head(msgspec.Struct):
    protocol: Any = None


_head_decoder = msgspec.json.Decoder(_Head)


def claims_upstream(buf: Any, limits: Limits) -> bool:
    """True if the bytes are a zip whose schema.json claims upstream protocol 0, 1 or 2.
    Only then is the upstream reader used; anything else keeps the protocol-3 error.

    Lenient on purpose: a file that is upstream-shaped but breaks a rule must get that
    rule's error from :func:`read_document`, not the protocol-3 reader's complaint."""
    try:
        z = _Zip(buf, limits, 2**31, "the upstream archive", strict=False)
        with recursion_limit(limits.max_depth * 3):
            _check_protocol(_head_decoder.decode(_schema_bytes(z, limits)).protocol)
    except (
        FormatError,
        msgspec.DecodeError,
        msgspec.ValidationError,
        RecursionError,
        UnicodeDecodeError,
    ):
        return False
    except (MemoryError, OverflowError, struct.error):
        return False
    return True


# ------------------------------------------------------------------------------ npy


def _npy(raw: bytes, what: str, limits: Limits) -> tuple[Any, list[int], bool, memoryview]:
    """Parse a .npy member with numpy's header parser (no pickles, no object dtypes)."""
    import io

    fast = _npy_fast(raw, limits)
    if fast is not None:
        return fast
    f = io.BytesIO(raw)
    try:
        major, minor = np.lib.format.read_magic(f)
        if (major, minor) == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=10000)
        elif major == 2 and minor == 0:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=10000)
        elif major == 3 and minor == 0:  # 2.0 with a UTF-8 header (non-latin-1 field names)
            shape, fortran, dtype = _npy3_header(f)
        else:
            raise ValueError(f"unknown .npy version {major}.{minor}")
    except (ValueError, TypeError, SyntaxError, OverflowError, struct.error, MemoryError) as exc:
        raise SchemaError(f"{what} is not a valid .npy file: {exc}", code="E-DATA-DTYPE") from None
    if dtype.hasobject:
        raise SchemaError(f"{what} holds Python objects (a pickle)", code="E-DATA-DTYPE")
    if any(type(s) is not int or s < 0 for s in shape) or len(shape) > 32:
        raise SchemaError(f"{what} has an invalid shape {shape!r}", code="E-DATA-SIZE")
    n = math.prod(shape) * dtype.itemsize
    body = memoryview(raw)[f.tell() :]
    if body.nbytes != n:
        raise SchemaError(
            f"{what} holds {body.nbytes} data bytes; its header says {n}", code="E-DATA-SIZE"
        )
    if n > limits.max_array_bytes:
        raise LimitError(f"{what} exceeds the per-array limit", code="E-LIMIT-ARRAY-BYTES")
    descr = np.lib.format.dtype_to_descr(dtype)
    return _listify(descr), list(shape), bool(fortran), body


# The header numpy's writer produces for simple dtypes (np.save, every upstream release):
# read without ast.literal_eval; anything else takes numpy's own parser.
_NPY_HEADER = re.compile(
    rb"\{'descr': '([<>|][a-zA-Z][0-9]{1,9})', 'fortran_order': (True|False), "
    rb"'shape': \(((?:[0-9]{1,18}, ?)*(?:[0-9]{1,18})?)\), \} *\n\Z"
)


def _npy_fast(raw: bytes, limits: Limits) -> tuple[Any, list[int], bool, memoryview] | None:
    if raw[:8] != b"\x93NUMPY\x01\x00" or len(raw) < 10:
        return None
    (hlen,) = struct.unpack_from("<H", raw, 8)
    m = _NPY_HEADER.match(raw, 10, 10 + hlen)
    if m is None:
        return None
    descr = m.group(1).decode("ascii")
    try:
        dtype = parse_dtype(descr)
    except FormatError:
        return None  # numpy's parser decides, and says what is wrong
    shape = [int(x) for x in m.group(3).replace(b" ", b"").split(b",") if x]
    n = math.prod(shape) * dtype.itemsize
    body = memoryview(raw)[10 + hlen :]
    if body.nbytes != n or len(shape) > 32:
        return None
    if n > limits.max_array_bytes:
        raise LimitError("an array exceeds the per-array limit", code="E-LIMIT-ARRAY-BYTES")
    return descr, shape, m.group(2) == b"True", body


def _npy3_header(f: Any) -> tuple[Any, bool, np.dtype[Any]]:
    """The header of a .npy 3.0 file (numpy's reader for it is private)."""
    import ast

    (hlen,) = struct.unpack("<I", f.read(4))
    if hlen > 10000:
        raise ValueError("the .npy header is too large")
    d = ast.literal_eval(f.read(hlen).decode("utf-8"))
    if not isinstance(d, dict) or set(d) != {"descr", "fortran_order", "shape"}:
        raise ValueError("the .npy header is not a dict of descr, fortran_order and shape")
    if not isinstance(d["shape"], tuple) or not isinstance(d["fortran_order"], bool):
        raise ValueError("the .npy header has an invalid shape or fortran_order")
    return d["shape"], d["fortran_order"], np.lib.format.descr_to_dtype(d["descr"])


def _json_text(text: str) -> Any:
    """A JsonNode's value: msgspec for speed, the json module for what only Python's
    JSON writes (NaN, Infinity, numbers out of float range)."""
    try:
        return msgspec.json.decode(text)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return json.loads(text)


def _listify(descr: Any) -> Any:
    if isinstance(descr, str):
        return descr
    return [[f[0], _listify(f[1]), *([list(f[2])] if len(f) == 3 else [])] for f in descr]


# ------------------------------------------------------------------------------ translate


class _Translator:
    def __init__(self, z: _Zip, protocol: int, limits: Limits, ids: dict[int, int]) -> None:
        self.z = z
        self.protocol = protocol
        self.limits = limits
        self.shared = ids  # upstream __id__ -> how often it occurs
        self.our_id: dict[int, tuple[int, str]] = {}  # upstream id -> (our id, signature)
        self.names: dict[str, str] = {}
        self.chunks: list[bytes | memoryview] = []
        self.size = 0
        self.nodes = 0
        self.in_tree = False

    # -- helpers
    def _data(self, body: bytes | memoryview) -> tuple[int, int]:
        pad = -self.size % _ALIGN
        if pad:
            self.chunks.append(b"\0" * pad)
            self.size += pad
        off = self.size
        n = memoryview(body).nbytes
        if off + n > self.limits.max_data_bytes:
            raise LimitError(
                f"the arrays add up to more than {self.limits.max_data_bytes} bytes",
                code="E-LIMIT-DATA-BYTES",
            )
        self.chunks.append(body)
        self.size += n
        return off, n

    def _name(self, name: str, kind: str) -> str:
        # The protocol-3 audit recomputes this index and refuses any difference.
        if kind in ("object", "reduce") or name not in self.names:
            self.names[name] = kind
        return name

    @staticmethod
    def _qual(node: dict[str, Any]) -> str:
        mod = node["__module__"]
        return f"{_MODULE_ALIASES.get(mod, mod)}.{node['__class__']}"

    def _tree_array(self, descr: Any, shape: list[int], body: memoryview) -> tuple[Any, Any]:
        """Bring a tree's arrays from older scikit-learn releases to today's layout:
        nodes gain missing_go_to_left (0, as scikit-learn does for old pickles) and a
        classifier's values become class fractions (scikit-learn >= 1.4) if they are
        counts. Both are no-ops on files from current releases."""
        if descr == _OLD_NODE_DESCR and len(shape) == 1:
            old = np.frombuffer(body, dtype=parse_dtype(descr))
            new = np.zeros(old.shape, dtype=parse_dtype(_NODE_DESCR))
            for field, _ in _OLD_NODE_DESCR:
                new[field] = old[field]
            return _NODE_DESCR, memoryview(new.tobytes())
        if descr == "<f8" and len(shape) == 3 and shape[2] > 1 and shape[0]:
            values = np.frombuffer(body, dtype="<f8").reshape(shape)
            sums = values.sum(axis=2, keepdims=True)
            if not np.allclose(sums[sums > 0], 1.0):
                with np.errstate(invalid="ignore", divide="ignore"):
                    frac = np.where(sums > 0, values / np.where(sums > 0, sums, 1), 0.0)
                return descr, memoryview(np.ascontiguousarray(frac, dtype="<f8").tobytes())
        return descr, body

    # -- entry
    def value(self, node: Any, depth: int) -> Any:
        if depth > self.limits.max_depth:
            raise LimitError(
                f"values nest deeper than {self.limits.max_depth} levels", code="E-LIMIT-DEPTH"
            )
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise LimitError(
                f"the file has more than {self.limits.max_nodes} nodes", code="E-LIMIT-NODES"
            )
        if not isinstance(node, dict):
            raise _bad(f"expected a node object, found {type(node).__name__}")
        loader, cls, mod = node.get("__loader__"), node.get("__class__"), node.get("__module__")
        if not isinstance(loader, str) or not isinstance(cls, str) or not isinstance(mod, str):
            raise _bad("a node lacks string __loader__, __class__ and __module__ fields")
        uid = node.get("__id__")
        if uid is not None and type(uid) is not int:
            raise _bad("a node's __id__ is not an integer")
        extra = node.keys() - _NODE_KEYS
        if extra:
            # A trust list or any other instruction inside the file is never obeyed
            # (GHSA-w582-9x45-8mpx): unknown keys are refused, not ignored.
            raise _bad(f"a node has keys upstream skops never writes: {sorted(extra)[:5]}")
        sig = f"{loader}|{mod}|{cls}"
        if uid is not None and uid in self.our_id:
            ours, first_sig = self.our_id[uid]
            if first_sig != sig:
                raise _bad(f"two nodes share __id__ {uid} but are of different kinds")
            if ours >= 0:
                return S.Ref(id=ours)
        handler = _LOADERS.get(loader)
        if handler is None:
            raise _unsupported(f"upstream node kind {loader!r} is not supported")
        ident: int | None = None
        if uid is not None and self.shared.get(uid, 0) > 1 and loader in _REFERABLE:
            ident = len(self.our_id)
            self.our_id[uid] = (ident, sig)
        elif uid is not None:
            self.our_id.setdefault(uid, (-1 - len(self.our_id), sig))
        return handler(self, node, depth + 1, ident)

    def _content(self, node: dict[str, Any], key: str = "content") -> Any:
        if key not in node:
            raise _bad(f"a {node['__loader__']} has no {key!r}")
        return node[key]

    def _children(self, node: dict[str, Any], depth: int) -> list[Any]:
        content = self._content(node)
        if not isinstance(content, list):
            raise _bad(f"a {node['__loader__']}'s content is not a list")
        return [self.value(c, depth) for c in content]

    def _seq(self, node: Any, depth: int, loader: str) -> list[Any]:
        """The items of a node that must be a (builtins) list or tuple node."""
        if not isinstance(node, dict) or node.get("__loader__") != loader:
            raise _bad(f"expected a {loader} here")
        return self._children(node, depth)

    # -- JSON scalars
    def json(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        content = self._content(node)
        if not isinstance(content, str):
            raise _bad("a JsonNode's content is not a JSON string")
        try:
            value = _json_text(content)
        except RecursionError:
            raise LimitError("a JSON value nests too deeply", code="E-LIMIT-DEPTH") from None
        except ValueError as exc:
            raise _bad(f"a JsonNode's content is not JSON: {exc}") from None
        return self._plain(value, depth)

    def _plain(self, value: Any, depth: int) -> Any:
        if depth > self.limits.max_depth:
            raise LimitError("a JSON value nests too deeply", code="E-LIMIT-DEPTH")
        if value is None or type(value) in (bool, str):
            return value
        if type(value) is int:
            return value if -_INT64 < value < _INT64 else S.Int(v=hex(value))
        if type(value) is float:
            if math.isfinite(value):
                return value
            return S.Float(v="nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
        if type(value) is list:
            return S.List(v=[self._plain(x, depth + 1) for x in value])
        if type(value) is dict:
            return S.Dict(v={k: self._plain(x, depth + 1) for k, x in value.items()})
        raise _bad(f"unexpected JSON value {type(value).__name__}")

    # -- containers
    def list_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        qual = self._qual(node)
        items = self._children(node, depth)
        if qual == "builtins.list":
            return S.List(v=items, id=ident)
        return S.Object(type=self._name(qual, "object"), elems=items, id=ident)

    def tuple_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        qual = self._qual(node)
        if qual == "builtins.tuple":
            return S.Tuple(v=self._children(node, depth), id=ident)
        self._name(qual, "namedtuple")
        return S.NamedTuple(type=qual, v=self._children(node, depth), id=ident)

    def set_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        qual = self._qual(node)
        if qual == "builtins.set":
            return S.Set(v=self._children(node, depth), id=ident)
        if qual == "builtins.frozenset":
            return S.FrozenSet(v=self._children(node, depth), id=ident)
        raise _unsupported(f"a set of type {qual} is not supported")

    def _keys(self, node: dict[str, Any], depth: int, n: int) -> list[str]:
        """The key types of a DictNode, each a TypeNode; only plain key types are read."""
        kt = self._content(node, "key_types")
        if not isinstance(kt, dict) or kt.get("__loader__") != "ListNode":
            raise _bad("a DictNode's key_types is not a list node")
        types = kt.get("content")
        if not isinstance(types, list) or len(types) != n:
            raise _bad("a DictNode has a different number of keys and key types")
        out = []
        for t in types:
            if not isinstance(t, dict) or t.get("__loader__") != "TypeNode":
                raise _bad("a dict key type is not a type node")
            out.append(f"{t.get('__module__')}.{t.get('__class__')}")
        self.nodes += n + 1
        return out

    def _key(self, key: str, ktype: str) -> Any:
        try:
            if ktype == "builtins.str":
                return key
            if ktype == "builtins.int":
                return self._plain(int(key, 10), 0)
            if ktype == "builtins.float":
                return self._plain(float(key), 0)
            if ktype == "builtins.bool" and key in ("True", "False"):
                return key == "True"
            if ktype.startswith("numpy.") and ktype.count(".") == 1:
                dt = np.dtype(ktype[6:]) if ktype[6:].isidentifier() else None
                if dt is not None and dt.kind in "iub" and not dt.hasobject:
                    val = np.array(int(key, 10) if dt.kind != "b" else key == "True", dtype=dt)
                    descr: str = np.lib.format.dtype_to_descr(dt)  # type: ignore[assignment]
                    return S.NumpyScalar(dtype=descr, b=base64.b64encode(val.tobytes()).decode())
        except (ValueError, TypeError, OverflowError):
            raise _bad(f"dict key {key[:40]!r} is not a valid {ktype}") from None
        raise _unsupported(f"dict keys of type {ktype} are not supported")

    def dict_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        qual = self._qual(node)
        content = self._content(node)
        if not isinstance(content, dict):
            raise _bad("a DictNode's content is not an object")
        ktypes = self._keys(node, depth, len(content))
        if all(k == "builtins.str" for k in ktypes):
            v: dict[str, Any] | None = {k: self.value(x, depth) for k, x in content.items()}
            items = None
        else:
            v = None
            items = [
                (self._key(k, kt), self.value(x, depth))
                for (k, x), kt in zip(content.items(), ktypes, strict=True)
            ]
        if qual == "builtins.dict" or qual.endswith("._DictWithDeprecatedKeys"):
            return S.Dict(v=v, items=items, id=ident)
        if qual == "collections.OrderedDict":
            return S.OrderedDict(v=v, items=items, id=ident)
        self._name(qual, "object")
        pairs: list[Any] = items if items is not None else list((v or {}).items())
        return S.Object(type=qual, items=pairs, id=ident)

    def defaultdict_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        content = self._content(node)
        if not isinstance(content, dict) or set(content) != {"main", "default_factory"}:
            raise _bad("a DefaultDictNode needs main and default_factory")
        factory = self.value(content["default_factory"], depth)
        main = self.value(content["main"], depth)
        if type(main) is not S.Dict:
            raise _bad("a DefaultDictNode's main is not a dict")
        return S.DefaultDict(factory=factory, v=main.v, items=main.items, id=ident)

    def dictdeprecated_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        content = self._content(node)
        if not isinstance(content, dict) or "main" not in content:
            raise _bad("a _DictWithDeprecatedKeysNode needs main")
        main = self.value(content["main"], depth)
        if type(main) is not S.Dict:
            raise _bad("a _DictWithDeprecatedKeysNode's main is not a dict")
        return S.Dict(v=main.v, items=main.items, id=ident)

    def bytes_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        name = node.get("file")
        if not isinstance(name, str):
            raise _bad("a BytesNode has no file")
        ref = self._data(self.z.read(name, self.limits.max_array_bytes))
        if node["__loader__"] == "BytearrayNode":
            return S.ByteArray(data=ref, id=ident)
        return S.Bytes(data=ref, id=ident)

    def slice_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        c = self._content(node)
        if not isinstance(c, dict) or set(c) != {"start", "stop", "step"}:
            raise _bad("a SliceNode needs start, stop and step")
        parts = [c["start"], c["stop"], c["step"]]
        if not all(p is None or type(p) is int for p in parts):
            raise _bad("slice bounds must be integers or null")
        a, b, s = (self._plain(p, depth) for p in parts)
        return S.Slice(v=(a, b, s))

    # -- named things (recorded in the name index; the audit and trust policy decide)
    def function_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        if self.protocol == 0 and isinstance(node.get("content"), dict):
            c = node["content"]
            mod, fn = c.get("module_path"), c.get("function")
            if not isinstance(mod, str) or not isinstance(fn, str):
                raise _bad("a protocol-0 FunctionNode needs module_path and function")
        else:
            mod, fn = node["__module__"], node["__class__"]
        if mod in _UFUNC_MODULES:
            mod = "numpy"
        return S.Function(name=self._name(f"{mod}.{fn}", "function"))

    def type_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        return S.Type(name=self._name(self._qual(node), "type"))

    def method_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        # CVE-2025-54413: a bound method calls code of the file's choosing on a trusted
        # object. Protocol 3 has no such node, so no trust list can allow it.
        c = node.get("content")
        func = c.get("func") if isinstance(c, dict) else None
        raise _unsupported(
            f"the file stores a bound method ({self._qual(node)}.{func}); bound methods are "
            "never loaded"
        )

    def operator_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        # CVE-2025-54412: the operator callable is named, and audited, like any other type.
        if node["__module__"] != "operator" or node["__class__"] not in (
            "attrgetter",
            "itemgetter",
            "methodcaller",
        ):
            raise _bad(f"an OperatorFuncNode names {self._qual(node)}")
        qual = self._name(self._qual(node), "reduce")
        args = self._seq(self._content(node, "attrs"), depth, "TupleNode")
        return S.Reduce(type=qual, args=args, id=ident)

    def partial_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        c = self._content(node)
        if not isinstance(c, dict) or set(c) != {"func", "args", "kwds", "namespace"}:
            raise _bad("a PartialNode needs func, args, kwds and namespace")
        func = self.value(c["func"], depth)
        args = self._seq(c["args"], depth, "TupleNode")
        kwds = self.value(c["kwds"], depth)
        ns = self.value(c["namespace"], depth)
        if not (type(kwds) is S.Dict and kwds.v is not None) and kwds is not None:
            raise _bad("a partial's kwds must be a dict with string keys")
        if ns is not None and not (type(ns) is S.Dict and not ns.v and not ns.items):
            raise _unsupported("a partial with attributes (a namespace) is not supported")
        kw = kwds.v if type(kwds) is S.Dict and kwds.v is not None else {}
        return S.Partial(func=func, args=args, kw=kw, id=ident)

    def object_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        qual = self._name(self._qual(node), "object")
        if "content" not in node:
            return S.Object(type=qual, id=ident)
        return S.Object(type=qual, state=self.value(node["content"], depth), id=ident)

    def reduce_from_ctor_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        qual = self._qual(node)
        args = self._seq(self._content(node), depth, "TupleNode")
        if qual == "builtins.frozenset" and len(args) == 1 and type(args[0]) is S.List:
            return S.FrozenSet(v=args[0].v, id=ident)
        if qual == "builtins.complex" and len(args) == 2:
            return S.Complex(re=args[0], im=args[1])
        if qual == "builtins.range" and len(args) == 3 and all(type(a) is int for a in args):
            return S.Range(v=(args[0], args[1], args[2]))
        self._name(qual, "reduce")
        return S.Reduce(type=qual, args=args, id=ident)

    def _reduce(self, node: dict[str, Any], depth: int, ident: int | None, qual: str) -> Any:
        red = self._content(node, "__reduce__")
        if not isinstance(red, dict) or "args" not in red:
            raise _bad(f"a {node['__loader__']} has no __reduce__ args")
        self._name(qual, "reduce")
        args = self._seq(red["args"], depth, "TupleNode")
        state = self.value(self._content(node), depth)
        if type(state) is S.Dict and not state.v and not state.items:
            state = None  # upstream skips __setstate__ for empty state
        return S.Reduce(type=qual, args=args, state=state, id=ident)

    def tree_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        if self._qual(node) != _TREE:
            raise _bad(f"a TreeNode names {self._qual(node)}")
        outer, self.in_tree = self.in_tree, True
        try:
            return self._reduce(node, depth, ident, _TREE)
        finally:
            self.in_tree = outer

    def loss_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        # Upstream's SGDNode imported this module while *parsing* (before its audit);
        # here it is only a name that the audit and the trust policy check.
        return self._reduce(node, depth, ident, self._qual(node))

    def quantile_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        return self._reduce(
            node, depth, ident, "quantile_forest._quantile_forest_fast.QuantileForest"
        )

    # -- numpy
    def ndarray_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        kind = node.get("type")
        qual = self._qual(node)
        if kind == "json":
            if qual != "numpy.ndarray":
                raise _unsupported(f"an object array of type {qual} is not supported")
            shape = self.value(self._content(node, "shape"), depth)
            if type(shape) is not S.Tuple or not all(type(s) is int for s in shape.v):
                raise _bad("an object array's shape is not a tuple of integers")
            items = self._children(node, depth)
            for _ in range(len(shape.v) - 1):
                flat = []
                for it in items:
                    if type(it) is not S.List:
                        raise _bad("an object array's rows are not lists")
                    flat.extend(it.v)
                items = flat
            return S.ObjectArray(shape=[x for x in shape.v if type(x) is int], v=items, id=ident)
        if kind != "numpy":
            raise _bad(f"an NdArrayNode has unknown type {kind!r}")
        name = node.get("file")
        if not isinstance(name, str):
            raise _bad("an NdArrayNode has no file")
        descr, shape, fortran, body = _npy(
            self.z.read(name, self.limits.max_array_bytes + 65536), repr(name), self.limits
        )
        if node["__module__"] == "numpy" and node["__class__"] != "ndarray":
            # A numpy scalar (np.generic): its class must be the dtype's own scalar type.
            dt = parse_dtype(descr)
            tname = dt.type.__name__
            if shape or node["__class__"] not in {tname, tname + "_", tname.rstrip("_")}:
                raise _bad(f"a numpy scalar of class {qual} holds a {dt} array of {shape}")
            return S.NumpyScalar(dtype=descr, b=base64.b64encode(bytes(body)).decode())
        if self.in_tree and not fortran:
            descr, body = self._tree_array(descr, shape, body)
        arr = S.Array(
            dtype=descr, shape=shape, data=self._data(body), order="F" if fortran else "C"
        )
        if qual == "numpy.ndarray":
            return S.Array(dtype=descr, shape=shape, data=arr.data, order=arr.order, id=ident)
        # An ndarray subclass (numpy.matrix, ...): built from the array, if trusted.
        return S.Reduce(type=self._name(qual, "reduce"), args=[arr], id=ident)

    def masked_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        c = self._content(node)
        if not isinstance(c, dict) or set(c) != {"data", "mask"}:
            raise _bad("a MaskedArrayNode needs data and mask")
        data = self.value(c["data"], depth)
        mask = self.value(c["mask"], depth)
        if type(data) is not S.Array:
            raise _bad("a masked array's data is not an array")
        if type(mask) is S.NumpyScalar:  # numpy.ma.nomask: an all-False mask
            if base64.b64decode(mask.b) != b"\0":
                raise _bad("a masked array's scalar mask is not False")
            n = math.prod(data.shape)
            mask = S.Array(dtype="|b1", shape=list(data.shape), data=self._data(bytes(n)))
        return S.MaskedArray(data=data, mask=mask, id=ident)

    def dtype_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        arr = self.value(self._content(node), depth)
        if type(arr) is not S.Array:
            raise _bad("a DTypeNode's content is not an array")
        return S.Dtype(dtype=arr.dtype)

    def randomstate_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        if self._qual(node) not in _RANDOM_STATE:
            raise _bad(f"a RandomStateNode names {self._qual(node)}")
        return S.RandomState(state=self.value(self._content(node), depth), id=ident)

    def generator_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        if self._qual(node) not in _GENERATOR:
            raise _bad(f"a RandomGeneratorNode names {self._qual(node)}")
        c = self._content(node)
        if not isinstance(c, dict) or "bit_generator" not in c:
            raise _bad("a RandomGeneratorNode needs bit_generator")
        raw = c["bit_generator"]
        # Protocol 0 stored the state as plain JSON, later protocols as nodes.
        state = self._plain(raw, depth) if self.protocol == 0 else self.value(raw, depth)
        # The bit generator's class name is data chosen by the file: only numpy's own
        # bit generators are accepted, never a name to import.
        name = state.v.get("bit_generator") if type(state) is S.Dict and state.v else None
        if name not in _BIT_GENERATORS:
            raise _bad(f"a Generator over bit generator {name!r}, which is not numpy's own")
        # Protocol 2's seed sequence only matters for spawn(); it is not kept.
        return S.Generator(bit_generator=name, state=state, id=ident)  # type: ignore[arg-type]

    # -- scipy
    def sparse_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        if node.get("type") != "scipy" or not isinstance(node.get("file"), str):
            raise _bad("a SparseMatrixNode needs type 'scipy' and a file")
        cls = node["__class__"]
        fmt, _, kind = cls.partition("_")
        if not node["__module__"].startswith("scipy.sparse") or kind not in ("matrix", "array"):
            raise _bad(f"a SparseMatrixNode names {self._qual(node)}")
        raw = self.z.read(node["file"], self.limits.max_array_bytes * 4)
        inner = _Zip(raw, self.limits, 16, f"sparse member {node['file']!r}")
        arrays: dict[str, Any] = {}
        parsed = {}
        for member in inner.members:
            if not member.endswith(".npy"):
                raise _bad(f"sparse member holds {member!r}")
            parsed[member[:-4]] = _npy(
                inner.read(member, self.limits.max_array_bytes + 65536), member, self.limits
            )
        fmt_arr = parsed.get("format")
        if (
            fmt_arr is None
            or fmt_arr[1] != []
            or bytes(fmt_arr[3]).rstrip(b"\0").decode("ascii", "replace") != fmt
        ):
            raise _bad(f"sparse member's format does not say {fmt!r}")
        shape_arr = parsed.get("shape")
        if shape_arr is None or shape_arr[1] != [2]:
            raise _bad("sparse member has no shape of two integers")
        shape_dtype = parse_dtype(shape_arr[0])
        if shape_dtype.kind not in "iu":
            raise _bad("a sparse matrix's shape is not integers")
        shape = np.frombuffer(bytes(shape_arr[3]), dtype=shape_dtype)
        if (shape < 0).any() or (shape >= 2**62).any():
            raise _bad("a sparse matrix's shape is out of range")
        if fmt not in _SPARSE_ARRAYS or set(parsed) - {"format", "shape"} != set(
            _SPARSE_ARRAYS[fmt]
        ):
            raise _unsupported(f"sparse format {fmt!r} with members {sorted(parsed)}")
        for key in _SPARSE_ARRAYS[fmt]:
            descr, shp, fortran, body = parsed[key]
            arrays[key] = S.Array(
                dtype=descr, shape=shp, data=self._data(body), order="F" if fortran else "C"
            )
        return S.Sparse(
            format=fmt,  # type: ignore[arg-type]
            container=kind,  # type: ignore[arg-type]
            shape=(int(shape[0]), int(shape[1])),
            arrays=arrays,
            id=ident,
        )

    def cached_(self, node: dict[str, Any], depth: int, ident: int | None) -> Any:
        uid = node.get("__id__")
        found = self.our_id.get(uid) if type(uid) is int else None
        if found is None or found[0] < 0:
            raise SchemaError(f"a CachedNode refers to unknown id {uid!r}", code="E-REF-UNKNOWN")
        return S.Ref(id=found[0])


_LOADERS: dict[str, Any] = {
    "JsonNode": _Translator.json,
    "ListNode": _Translator.list_,
    "TupleNode": _Translator.tuple_,
    "SetNode": _Translator.set_,
    "DictNode": _Translator.dict_,
    "DefaultDictNode": _Translator.defaultdict_,
    "_DictWithDeprecatedKeysNode": _Translator.dictdeprecated_,
    "BytesNode": _Translator.bytes_,
    "BytearrayNode": _Translator.bytes_,
    "SliceNode": _Translator.slice_,
    "FunctionNode": _Translator.function_,
    "TypeNode": _Translator.type_,
    "MethodNode": _Translator.method_,
    "OperatorFuncNode": _Translator.operator_,
    "PartialNode": _Translator.partial_,
    "ObjectNode": _Translator.object_,
    "ConstructorFromReduceNode": _Translator.reduce_from_ctor_,
    "ReduceNode": _Translator.loss_,
    "TreeNode": _Translator.tree_,
    "SGDNode": _Translator.loss_,
    "LossNode": _Translator.loss_,
    "QuantileForestNode": _Translator.quantile_,
    "NdArrayNode": _Translator.ndarray_,
    "MaskedArrayNode": _Translator.masked_,
    "DTypeNode": _Translator.dtype_,
    "RandomStateNode": _Translator.randomstate_,
    "RandomGeneratorNode": _Translator.generator_,
    "SparseMatrixNode": _Translator.sparse_,
    "CachedNode": _Translator.cached_,
}
# Loaders whose translation can carry an id, so a second occurrence becomes a ref.
_REFERABLE = frozenset(
    {
        "ListNode",
        "TupleNode",
        "SetNode",
        "DictNode",
        "DefaultDictNode",
        "BytesNode",
        "BytearrayNode",
        "PartialNode",
        "ObjectNode",
        "ConstructorFromReduceNode",
        "ReduceNode",
        "TreeNode",
        "SGDNode",
        "LossNode",
        "QuantileForestNode",
        "NdArrayNode",
        "MaskedArrayNode",
        "RandomStateNode",
        "RandomGeneratorNode",
        "SparseMatrixNode",
    }
)


def _sklearn_version(root: Any) -> str | None:
    """Upstream files record no environment; an estimator at the root records the
    scikit-learn release that fitted it, which is what the version warning needs."""
    state = root.state if type(root) is S.Object else None
    if type(state) is S.Dict and state.v is not None:
        version = state.v.get("_sklearn_version")
        if isinstance(version, str) and len(version) < 64:
            return version
    return None


def read_document(buf: Any, limits: Limits) -> tuple[S.Document, bytes]:
    """Translate an upstream skops file into a protocol-3 document and its data section.

    Imports nothing named in the file. The caller must audit the document
    (:func:`skship.format.decoder.audit`) before building it, as for any protocol-3 file.
    """
    z, header, protocol, ids = _open(buf, limits)
    version = header.get("_skops_version")
    head = {k: v for k, v in header.items() if k not in ("protocol", "_skops_version")}
    tr = _Translator(z, protocol, limits, ids)
    with recursion_limit(limits.max_depth * 3):
        try:
            root = tr.value(head, 1)
        except RecursionError:
            raise LimitError("schema.json nests too deeply", code="E-LIMIT-DEPTH") from None
    # Ours alone, and writable: arrays are views of it, as with a protocol-3 load.
    data = bytearray(b"".join(tr.chunks))
    doc = S.Document(
        protocol=3,
        writer=S.Writer(name="skops", version=version if isinstance(version, str) else "unknown"),
        environment=S.Environment(sklearn=_sklearn_version(root)),
        names=dict(sorted(tr.names.items())),  # type: ignore[arg-type]
        root=root,
        data=S.DataInfo(
            member="data",
            compression="none",
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        if data
        else None,
    )
    return doc, data  # type: ignore[return-value]
