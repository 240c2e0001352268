#!/usr/bin/env python3
"""A minimal, independent reader of the protocol-3 model file, written from spec/ alone.

Standard library only: no numpy, no skship. It implements the reader conformance class at
the core level: the container (spec/format/container.md), the JSON document and node
kinds (values.md), the load algorithm, audit and trust check (security.md) and the limits
(limits.md). Instead of Python objects it "constructs" the canonical tree that
spec/conformance.md defines, which is what the conformance runner compares.

Run as a harness (harness protocol 1, JSON lines on stdin/stdout):

    skship conformance run --harness "python3 conformance/examples/minimal_reader/minimal_reader.py" --classes reader
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import struct
import sys
import zlib

# --------------------------------------------------------------------------- errors


class Refusal(Exception):
    """A refused file: ``code`` is the error code from spec/format/errors.md."""

    def __init__(self, code, message):
        super().__init__(f"[{code}] {message}")
        self.code = code


DEFAULT_LIMITS = {
    "max_members": 8,
    "max_schema_bytes": 256 * 2**20,
    "max_depth": 400,
    "max_nodes": 2_000_000,
    "max_array_bytes": 8 * 2**30,
    "max_data_bytes": 16 * 2**30,
}

# ------------------------------------------------------------------------ container

EOCD_SIG = b"PK\x05\x06"
FULL = 0xFFFFFFFF


def corrupt(msg):
    return Refusal("E-CONTAINER-CORRUPT", msg)


def bad_path(name):
    return (
        name.startswith(("/", "\\"))
        or "\\" in name
        or ".." in name.split("/")
        or (len(name) >= 2 and name[1] == ":")
        or "\0" in name
    )


def parse_container(buf, limits):
    """Returns {name: (method, compressed bytes, uncompressed size)} and the comment."""
    n = len(buf)
    start = max(0, n - (22 + 65535))
    at = buf.rfind(EOCD_SIG, start)
    while at >= 0 and at + 22 > n:
        at = buf.rfind(EOCD_SIG, start, at)
    if at < 0:
        raise Refusal("E-CONTAINER-NOT-ZIP", "no end of central directory record")
    disk, cd_disk, here, total, cd_size, cd_off, clen = struct.unpack_from("<HHHHIIH", buf, at + 4)
    comment = buf[at + 22 : at + 22 + clen]
    if disk != 0 or cd_disk != 0 or here != total:
        raise corrupt("multi-disk archive")
    end_limit = at
    if total == 0xFFFF or cd_size == FULL or cd_off == FULL:
        loc = at - 20
        if loc < 0 or buf[loc : loc + 4] != b"PK\x06\x07":
            raise corrupt("missing zip64 locator")
        (rec,) = struct.unpack_from("<Q", buf, loc + 8)
        if rec + 56 > loc or buf[rec : rec + 4] != b"PK\x06\x06":
            raise corrupt("bad zip64 end record")
        total, cd_size, cd_off = struct.unpack_from("<QQQ", buf, rec + 32)
        end_limit = rec
    if cd_off + cd_size > end_limit:
        raise corrupt("central directory out of bounds")
    if total > limits["max_members"]:
        raise Refusal("E-LIMIT-MEMBERS", f"{total} members, limit {limits['max_members']}")
    members = {}
    spans = []
    pos = cd_off
    cd_end = cd_off + cd_size
    for _ in range(total):
        if pos + 46 > cd_end or buf[pos : pos + 4] != b"PK\x01\x02":
            raise corrupt("bad central directory entry")
        (flags, method, _t, _d, _crc, csize, usize, nlen, elen, clen2, _dn, _ia, _ea, off) = (
            struct.unpack_from("<HHHHIIIHHHHHII", buf, pos + 8)
        )
        raw_name = buf[pos + 46 : pos + 46 + nlen]
        extra = buf[pos + 46 + nlen : pos + 46 + nlen + elen]
        pos += 46 + nlen + elen + clen2
        try:
            name = raw_name.decode("utf-8")
        except UnicodeDecodeError:
            raise Refusal("E-CONTAINER-PATH", "member name is not UTF-8") from None
        if bad_path(name):
            raise Refusal("E-CONTAINER-PATH", f"member name {name!r}")
        if name in members:
            raise Refusal("E-CONTAINER-MEMBER-DUPLICATE", f"two members named {name!r}")
        if name not in ("schema.json", "data"):
            raise Refusal("E-CONTAINER-MEMBER-UNKNOWN", f"member {name!r}")
        if flags & 0x41:
            raise Refusal("E-CONTAINER-COMPRESSION", "encrypted member")
        if method not in (0, 8, 93) or (method == 93 and name == "schema.json"):
            raise Refusal("E-CONTAINER-COMPRESSION", f"method {method} for {name}")
        wanted = [f for f, v in (("u", usize), ("c", csize), ("o", off)) if v == FULL]
        if wanted:
            values = zip64_values(extra, len(wanted))
            got = dict(zip(wanted, values))
            usize, csize, off = got.get("u", usize), got.get("c", csize), got.get("o", off)
        if off + 30 > cd_off or buf[off : off + 4] != b"PK\x03\x04":
            raise corrupt("bad local header")
        lflags, lmethod = struct.unpack_from("<HH", buf, off + 6)
        lnlen, lelen = struct.unpack_from("<HH", buf, off + 26)
        if lmethod != method or (lflags & 0x41) != (flags & 0x41):
            raise corrupt("local header disagrees")
        if buf[off + 30 : off + 30 + lnlen] != raw_name:
            raise corrupt("local header name disagrees")
        body = off + 30 + lnlen + lelen
        if body + csize > cd_off:
            raise corrupt("member runs past the central directory")
        if method == 0 and csize != usize:
            raise corrupt("stored member with two sizes")
        spans.append((off, body + csize))
        members[name] = (method, body, csize, usize)
    spans.sort()
    for (a0, a1), (b0, _b1) in zip(spans, spans[1:]):
        if b0 < a1:
            raise corrupt("members overlap")
    return members, comment


def zip64_values(extra, count):
    p = 0
    while p + 4 <= len(extra):
        hid, size = struct.unpack_from("<HH", extra, p)
        if hid == 1:
            if size < 8 * count:
                break
            return list(struct.unpack_from(f"<{count}Q", extra, p + 4))
        p += 4 + size
    raise corrupt("missing zip64 field")


def member_bytes(buf, member, cap_size):
    method, body, csize, usize = member
    raw = buf[body : body + csize]
    if method == 0:
        return bytes(raw)
    if method == 93:
        raise Refusal("E-CONTAINER-COMPRESSION", "this reader does not implement zstd")
    d = zlib.decompressobj(-15)
    try:
        out = d.decompress(raw, cap_size + 1)
    except zlib.error as exc:
        raise corrupt(f"invalid deflate stream: {exc}") from None
    if not d.eof or len(out) != cap_size:
        raise corrupt("deflate stream does not produce the recorded size")
    return out


# ------------------------------------------------------------------------- JSON text


class _DuplicateKey(Exception):
    pass


def _pairs(pairs):
    d = dict(pairs)
    if len(d) != len(pairs):
        raise _DuplicateKey()
    return d


def _no_constant(name):
    raise ValueError(f"non-JSON literal {name}")


class _OutOfRange(Exception):
    pass


def _float(text):
    x = float(text)
    if math.isinf(x):
        raise _OutOfRange(text)
    return x


def decode_json(raw):
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal("E-SCHEMA-JSON", "schema.json is not UTF-8") from None
    if text.startswith("\ufeff"):
        raise Refusal("E-SCHEMA-JSON", "byte order mark")
    dup = False
    try:
        doc = json.loads(text, object_pairs_hook=_pairs, parse_constant=_no_constant,
                         parse_float=_float)
    except _DuplicateKey:
        dup = True
        doc = None
    except _OutOfRange:
        # Out-of-range numbers are a schema error, but a newer protocol explains more.
        doc = json.loads(text, parse_float=float)
        check_protocol(doc)
        raise Refusal("E-SCHEMA-INVALID", "a number outside the double range") from None
    except RecursionError:
        raise Refusal("E-LIMIT-DEPTH", "schema.json nests too deeply to parse") from None
    except ValueError as exc:
        raise Refusal("E-SCHEMA-JSON", f"not JSON: {exc}") from None
    if dup:
        try:
            lax = json.loads(text)
        except RecursionError:
            raise Refusal("E-LIMIT-DEPTH", "schema.json nests too deeply to parse") from None
        check_protocol(lax)
        raise Refusal("E-SCHEMA-DUPLICATE-KEY", "a JSON object has a key twice")
    return doc


def check_protocol(doc):
    if isinstance(doc, dict) and "protocol" in doc:
        p = doc["protocol"]
        if type(p) is int and p != 3:
            raise Refusal("E-PROTOCOL-UNSUPPORTED", f"protocol {p}; this reader reads 3")


# ----------------------------------------------------------------- document schema


def invalid(msg):
    return Refusal("E-SCHEMA-INVALID", msg)


def is_int(x):
    return type(x) is int


def is_num(x):
    return type(x) in (int, float)


TOP = {"protocol", "writer", "environment", "dtypes", "names", "root", "data", "signature",
       "extensions"}
NAMED_KINDS = {"object", "reduce", "type", "function", "enum", "namedtuple"}
HEX64 = re.compile(r"\A[0-9a-f]{64}\Z")


def check_document(doc):
    if not isinstance(doc, dict):
        raise invalid("the document is not an object")
    check_protocol(doc)
    if "protocol" in doc and not is_int(doc["protocol"]):
        raise invalid("protocol is not an integer")
    ext = doc.get("extensions", [])
    if isinstance(ext, list) and all(isinstance(e, str) for e in ext):
        if len(set(ext)) != len(ext):
            raise invalid("extensions lists a name twice")
        if ext:
            raise Refusal("E-EXTENSION-UNKNOWN", f"unknown extensions {ext}")
    else:
        raise invalid("extensions must be an array of strings")
    for key in doc:
        if key not in TOP:
            raise invalid(f"unknown member {key!r}")
    for key in ("protocol", "writer", "environment", "names", "root"):
        if key not in doc:
            raise invalid(f"missing member {key!r}")
    w = doc["writer"]
    if not (isinstance(w, dict) and set(w) == {"name", "version"}
            and all(isinstance(v, str) for v in w.values())):
        raise invalid("writer must be {name, version}")
    env = doc["environment"]
    if not isinstance(env, dict):
        raise invalid("environment must be an object")
    for key in ("python", "numpy", "scipy", "sklearn"):
        if key in env and not (env[key] is None or isinstance(env[key], str)):
            raise invalid(f"environment.{key} must be a string or null")
    if not isinstance(doc.get("dtypes", []), list):
        raise invalid("dtypes must be an array")
    names = doc["names"]
    if not (isinstance(names, dict) and all(v in NAMED_KINDS for v in names.values())):
        raise invalid("names must map names to named kinds")
    data = doc.get("data")
    if data is not None:
        if not (isinstance(data, dict) and set(data) == {"member", "compression", "size", "sha256"}):
            raise invalid("data must have member, compression, size, sha256")
        if data["member"] != "data" or data["compression"] not in ("none", "deflate", "zstd"):
            raise invalid("data.member must be 'data', compression none/deflate/zstd")
        if not is_int(data["size"]) or data["size"] < 0:
            raise invalid("data.size must be a non-negative integer")
        if not (isinstance(data["sha256"], str) and HEX64.match(data["sha256"])):
            raise invalid("data.sha256 must be 64 lower-case hex digits")
    sig = doc.get("signature")
    if sig is not None and not (isinstance(sig, dict)
                                and set(sig) <= {"features", "named", "outputs"}
                                and isinstance(sig.get("features"), list)
                                and isinstance(sig.get("named"), bool)):
        raise invalid("signature must be {features, named[, outputs]}")
    outputs = sig.get("outputs") if sig is not None else None
    if outputs is not None:
        if not isinstance(outputs, list):
            raise invalid("signature.outputs must be an array or null")
        for out in outputs:  # rule-signature-outputs
            if not (isinstance(out, dict) and {"name", "dtype"} <= set(out)
                    and set(out) <= {"name", "dtype", "width", "columns"}
                    and isinstance(out["name"], str) and isinstance(out["dtype"], str)):
                raise invalid("a signature output must be {name, dtype[, width, columns]}")


# -------------------------------------------------------------------------- dtypes

SIMPLE = re.compile(r"\A[<>|](?:([iufcbVSU])([0-9]{1,9})|[mM]8(?:\[([0-9]*)([a-zA-Z]+)\])?)\Z")
SIZES = {"b": {1}, "i": {1, 2, 4, 8}, "u": {1, 2, 4, 8}, "f": {2, 4, 8}, "c": {8, 16}}
UNITS = {"Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as"}


def bad_dtype(msg):
    return Refusal("E-DATA-DTYPE", msg)


def dtype_size(descr, depth=0):
    """Validates a descr (rule-dtype) and returns its itemsize."""
    if isinstance(descr, str):
        m = SIMPLE.match(descr)
        if m is None:
            raise bad_dtype(f"dtype {descr!r}")
        code, digits, _mult, unit = m.groups()
        if code is None:
            if unit is not None and unit not in UNITS:
                raise bad_dtype(f"datetime unit {unit!r}")
            return 8
        n = int(digits)
        if code in SIZES and n not in SIZES[code]:
            raise bad_dtype(f"dtype {descr!r}")
        return 4 * n if code == "U" else n
    if not isinstance(descr, list) or not descr or depth > 16:
        raise bad_dtype("a structured dtype must be a non-empty array of fields")
    total = 0
    seen = set()
    for field in descr:
        if not isinstance(field, list) or len(field) not in (2, 3) or not isinstance(field[0], str):
            raise bad_dtype("a field must be [name, descr] or [name, descr, shape]")
        count = 1
        if len(field) == 3:
            shape = field[2]
            if not isinstance(shape, list) or not all(is_int(d) and 0 <= d < 2**31 for d in shape):
                raise bad_dtype("a field shape must be an array of integers")
            for d in shape:
                count *= d
        if field[0]:
            if field[0] in seen:
                raise bad_dtype(f"two fields named {field[0]!r}")
            seen.add(field[0])
        total += dtype_size(field[1], depth + 1) * count
    return total


# ---------------------------------------------------------------------------- audit

ID_KINDS = {"bytes", "bytearray", "list", "tuple", "set", "frozenset", "dict", "odict",
            "defaultdict", "namedtuple", "ndarray", "objarray", "masked", "partial", "generator",
            "randomstate", "sparse", "object", "reduce", "ext"}
FIELDS = {
    "float": ({"v"}, set()), "int": ({"v"}, set()), "complex": ({"re", "im"}, set()),
    "bytes": ({"data"}, set()), "bytearray": ({"data"}, set()),
    "list": ({"v"}, set()), "tuple": ({"v"}, set()), "set": ({"v"}, set()),
    "frozenset": ({"v"}, set()), "dict": (set(), {"v", "items"}), "odict": (set(), {"v", "items"}),
    "defaultdict": ({"factory"}, {"v", "items"}), "slice": ({"v"}, set()),
    "range": ({"v"}, set()), "enum": ({"type", "name"}, set()),
    "namedtuple": ({"type", "v"}, set()), "ndarray": ({"dtype", "shape", "data"}, {"order"}),
    "objarray": ({"shape", "v"}, set()), "masked": ({"data", "mask"}, {"fill_value"}),
    "npscalar": ({"dtype", "b"}, set()), "dtype": ({"dtype"}, set()),
    "type": ({"name"}, set()), "function": ({"name"}, set()),
    "partial": ({"func", "args", "kw"}, set()), "generator": ({"bit_generator", "state"}, set()),
    "randomstate": ({"state"}, set()), "sparse": ({"format", "container", "shape", "arrays"}, set()),
    "object": ({"type"}, {"args", "state", "items", "elems"}), "reduce": ({"type", "args"}, {"state"}),
    "ext": ({"handler", "type", "state"}, set()), "ref": ({"id"}, set()),
}
HANDLER = re.compile(r"\A[a-z0-9][a-z0-9_.-]{0,63}\Z", re.ASCII)
# The type handlers this reader has: none. It builds no Python objects, so a file with an
# ext node is refused (values.md#rule-ext-handler), as by any reader without that handler.
HANDLERS = {}
BIT_GENERATORS = {"MT19937", "PCG64", "PCG64DXSM", "Philox", "SFC64"}
SPARSE_ARRAYS = {
    "csr": {"data", "indices", "indptr"}, "csc": {"data", "indices", "indptr"},
    "bsr": {"data", "indices", "indptr"}, "dia": {"data", "offsets"},
    "coo": {"data", "row", "col"}, "lil": {"data", "row", "col"}, "dok": {"data", "row", "col"},
}
QUALNAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+\Z", re.ASCII)
HEX_INT = re.compile(r"\A-?0x[0-9a-f]+\Z")
BASE64 = re.compile(r"\A(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z")
NAMING = {"type": "name", "function": "name", "enum": "type", "namedtuple": "type",
          "object": "type", "reduce": "type"}


def children(node):
    """A node's child Values in construction order (values.md#ids-and-refs)."""
    t = node["t"]
    if t in ("list", "tuple", "set", "frozenset", "slice", "namedtuple", "objarray"):
        return list(node["v"])
    if t in ("dict", "odict", "defaultdict"):
        out = [node["factory"]] if t == "defaultdict" else []
        if node.get("v") is not None:
            return out + list(node["v"].values())
        return out + [x for pair in node["items"] for x in pair]
    if t == "complex":
        return [node["re"], node["im"]]
    if t == "partial":
        return [node["func"], *node["args"], *node["kw"].values()]
    if t == "masked":
        return [node["data"], node["mask"], node.get("fill_value")]
    if t in ("generator", "randomstate", "ext"):
        return [node["state"]]
    if t == "sparse":
        return list(node["arrays"].values())
    if t == "object":
        items = [x for pair in node.get("items") or [] for x in pair]
        return [*(node.get("args") or []), node.get("state"), *items, *(node.get("elems") or [])]
    if t == "reduce":
        return [*node["args"], node.get("state")]
    return []


def check_value_form(v):
    if v is None or isinstance(v, (bool, str)):
        return False
    if is_int(v):
        if not -(2**63) < v < 2**63:
            raise invalid("a plain integer outside the int64 range")
        return False
    if isinstance(v, float):
        return False
    if isinstance(v, dict) and isinstance(v.get("t"), str):
        return True
    raise invalid("a bare array or an object without 't' where a Value is expected")


def value_list(x, what):
    if not isinstance(x, list):
        raise invalid(f"{what} must be an array")
    return x


def check_data_ref(ref, state, limits):
    if not (isinstance(ref, list) and len(ref) == 2 and all(is_int(i) for i in ref)):
        raise invalid("a data reference must be [offset, nbytes]")
    off, n = ref
    if off < 0 or n < 0 or off + n > state["size"]:
        raise Refusal("E-DATA-RANGE", f"data reference {ref} outside {state['size']} bytes")
    if off % 16:
        raise Refusal("E-DATA-ALIGN", f"offset {off} is not a multiple of 16")
    if n > limits["max_array_bytes"]:
        raise Refusal("E-LIMIT-ARRAY-BYTES", f"{n} bytes, limit {limits['max_array_bytes']}")
    if n:
        state["spans"].append((off, off + n))
    return n


def resolve_dtype(d, state):
    if is_int(d):
        if not 0 <= d < len(state["dtypes"]):
            raise bad_dtype(f"dtype index {d} outside the table")
        return state["dtypes"][d]
    if isinstance(d, (str, list)):
        return d, dtype_size(d)
    raise invalid("a dtype must be a descr or an index")


def check_shape(shape):
    if not (isinstance(shape, list) and len(shape) <= 32
            and all(is_int(s) and 0 <= s < 2**62 for s in shape)):
        raise invalid("shape must be at most 32 integers in [0, 2**62)")
    count = 1
    for s in shape:
        count *= s
    if 0 not in shape and count >= 2**62:
        raise invalid("shape has too many elements")
    return count


def check_node(n, state, limits):
    t = n["t"]
    if t not in FIELDS:
        raise invalid(f"unknown node kind {t!r}")
    required, optional = FIELDS[t]
    allowed = required | optional | {"t"} | ({"id"} if t in ID_KINDS else set())
    for k in n:
        if k not in allowed:
            raise invalid(f"{t} node with unknown field {k!r}")
    for k in required:
        if k not in n:
            raise invalid(f"{t} node without {k!r}")
    if t != "ref" and n.get("id") is not None:
        i = n["id"]
        if not is_int(i) or i < 0:
            raise invalid("id must be a non-negative integer")
        if i in state["ids"]:
            raise Refusal("E-REF-DUPLICATE-ID", f"id {i} declared twice")
        state["ids"].add(i)
    if t == "ref" and not is_int(n["id"]):
        raise invalid("ref id must be an integer")  # a negative one is E-REF-UNKNOWN later
    if t in NAMING:
        name = n[NAMING[t]]
        if not isinstance(name, str):
            raise invalid("a qualified name must be a string")
        if name not in state["names"] or (t in ("object", "reduce")
                                          and state["names"][name] not in ("object", "reduce")):
            state["names"][name] = t
    if t == "float" and n["v"] not in ("nan", "inf", "-inf"):
        raise invalid("float node v must be nan, inf or -inf")
    elif t == "int":
        if not isinstance(n["v"], str):
            raise invalid("int node v must be a string")
        if not HEX_INT.match(n["v"]):
            raise Refusal("E-VALUE-INVALID", f"int text {n['v']!r}")
    elif t == "complex":
        for part in (n["re"], n["im"]):
            if not (is_num(part) or (isinstance(part, dict) and part.get("t") == "float")):
                raise invalid("complex parts must be numbers or float nodes")
    elif t in ("bytes", "bytearray"):
        check_data_ref(n["data"], state, limits)
    elif t in ("list", "tuple", "set", "frozenset", "namedtuple"):
        value_list(n["v"], "v")
    elif t in ("dict", "odict", "defaultdict"):
        has_v, has_items = n.get("v") is not None, n.get("items") is not None
        if has_v == has_items:
            raise invalid("a dict needs exactly one of v and items")
        if has_v and not isinstance(n["v"], dict):
            raise invalid("dict v must be an object")
        if has_items and not all(isinstance(p, list) and len(p) == 2
                                 for p in value_list(n["items"], "items")):
            raise invalid("items must be [key, value] pairs")
    elif t == "slice":
        if len(value_list(n["v"], "v")) != 3:
            raise invalid("slice v must have three elements")
    elif t == "range":
        v = n["v"]
        if not (isinstance(v, list) and len(v) == 3
                and all(is_int(x) and -(2**63) < x < 2**63 for x in v)):
            raise invalid("range v must be three int64 integers")
        if v[2] == 0:
            raise Refusal("E-VALUE-INVALID", "range step 0")
    elif t == "enum" and not isinstance(n["name"], str):
        raise invalid("enum name must be a string")
    elif t == "ndarray":
        descr, size = resolve_dtype(n["dtype"], state)
        count = check_shape(n["shape"])
        if n.get("order", "C") not in ("C", "F"):
            raise invalid("order must be C or F")
        nbytes = check_data_ref(n["data"], state, limits)
        if nbytes != count * size:
            raise Refusal("E-DATA-SIZE", f"{nbytes} bytes for shape {n['shape']} of {descr!r}")
    elif t == "objarray":
        count = check_shape(n["shape"])
        if len(value_list(n["v"], "v")) != count:
            raise Refusal("E-VALUE-INVALID", "object array element count")
    elif t == "npscalar":
        _descr, size = resolve_dtype(n["dtype"], state)
        b = n["b"]
        if not isinstance(b, str):
            raise invalid("npscalar b must be a string")
        if not BASE64.match(b) or len(base64.b64decode(b)) != size:
            raise Refusal("E-VALUE-INVALID", "npscalar bytes")
    elif t == "dtype":
        resolve_dtype(n["dtype"], state)
    elif t == "partial":
        value_list(n["args"], "args")
        if not isinstance(n["kw"], dict):
            raise invalid("partial kw must be an object")
    elif t == "ext":
        if not (isinstance(n["handler"], str) and HANDLER.match(n["handler"])):
            raise invalid("ext handler does not match its pattern")
        if not (isinstance(n["type"], str) and QUALNAME.match(n["type"])):
            raise invalid("ext type is not a qualified name")
        state["ext"].append((n["handler"], n["type"]))
    elif t == "generator" and n["bit_generator"] not in BIT_GENERATORS:
        raise invalid(f"bit generator {n['bit_generator']!r}")
    elif t == "sparse":
        if n["format"] not in SPARSE_ARRAYS or n["container"] not in ("matrix", "array"):
            raise invalid("sparse format or container")
        shape = n["shape"]
        if not (isinstance(shape, list) and len(shape) == 2 and all(is_int(s) and s >= 0 for s in shape)):
            raise invalid("sparse shape")
        arrays = n["arrays"]
        if not isinstance(arrays, dict) or not all(isinstance(a, dict) and a.get("t") == "ndarray"
                                                   for a in arrays.values()):
            raise invalid("sparse components must be ndarray nodes")
        if set(arrays) != SPARSE_ARRAYS[n["format"]]:
            raise Refusal("E-VALUE-INVALID", f"sparse components {sorted(arrays)}")
    elif t in ("object", "reduce"):
        if t == "reduce" or n.get("args") is not None:
            value_list(n["args"], "args")
        if t == "object":
            if n.get("items") is not None and not all(
                    isinstance(p, list) and len(p) == 2 for p in value_list(n["items"], "items")):
                raise invalid("items must be [key, value] pairs")
            if n.get("elems") is not None:
                value_list(n["elems"], "elems")


def audit(doc, limits):
    """Step 5: walk every node with an explicit stack; returns the collected names."""
    data = doc.get("data")
    state = {"ids": set(), "names": {}, "spans": [], "size": data["size"] if data else 0,
             "dtypes": [], "ext": []}
    for d in doc.get("dtypes", []):
        if not isinstance(d, (str, list)):
            raise bad_dtype("a dtype table entry must be a descr")
        state["dtypes"].append((d, dtype_size(d)))
    nodes = 0
    stack = [(doc["root"], 1)]
    while stack:
        v, depth = stack.pop()
        if not check_value_form(v):
            continue
        if depth > limits["max_depth"]:
            raise Refusal("E-LIMIT-DEPTH", f"nodes nest deeper than {limits['max_depth']}")
        nodes += 1
        if nodes > limits["max_nodes"]:
            raise Refusal("E-LIMIT-NODES", f"more than {limits['max_nodes']} nodes")
        check_node(v, state, limits)
        if v["t"] in ("sparse",):
            kids = list(v["arrays"].values())
        elif v["t"] == "complex":
            kids = [p for p in (v["re"], v["im"]) if isinstance(p, dict)]
        else:
            kids = children(v)
        stack.extend((k, depth + 1) for k in reversed(kids))
    spans = sorted(state["spans"])
    for (a0, a1), (b0, _b1) in zip(spans, spans[1:]):
        if b0 < a1:
            raise Refusal("E-DATA-OVERLAP", "two data references overlap")
    names = dict(sorted(state["names"].items()))
    for name in names:
        if not QUALNAME.match(name):
            raise invalid(f"{name!r} is not a qualified name")
    if names != doc["names"]:
        raise Refusal("E-SCHEMA-NAMES", "the name index differs from the names in the tree")
    for handler, type_name in state["ext"]:  # looked up by name only, never imported
        if handler not in HANDLERS:
            raise Refusal("E-PLUGIN-NOT-INSTALLED", f"no type handler {handler!r}")
        if type_name not in HANDLERS[handler]:
            raise Refusal("E-PLUGIN-TYPE-UNKNOWN", f"{handler!r} does not handle {type_name!r}")
    return names, state


# -------------------------------------------------------- construction (canonical tree)

SAFE = 2**53
UNHASHABLE = {"list", "set", "dict", "odict", "defaultdict", "bytearray", "ndarray", "objarray",
              "masked", "sparse"}
OPEN_WHILE_BUILT = {"tuple", "frozenset", "namedtuple", "partial", "sparse", "masked"}


def c_int(x):
    return x if -SAFE < x < SAFE else {"t": "int", "v": str(x)}


def c_float(x):
    if math.isnan(x):
        return {"t": "float", "v": "nan"}
    if math.isinf(x):
        return {"t": "float", "v": "inf" if x > 0 else "-inf"}
    return {"t": "float", "v": x}


def to_c_order(blob, shape, size):
    n = 1
    for d in shape:
        n *= d
    if len(shape) < 2 or n == 0 or size == 0:
        return blob
    out = bytearray(len(blob))
    fstrides, acc = [], 1
    for d in shape:
        fstrides.append(acc)
        acc *= d
    idx = [0] * len(shape)
    for k in range(n):
        f = sum(i * s for i, s in zip(idx, fstrides))
        out[k * size:(k + 1) * size] = blob[f * size:(f + 1) * size]
        for ax in range(len(shape) - 1, -1, -1):
            idx[ax] += 1
            if idx[ax] < shape[ax]:
                break
            idx[ax] = 0
    return bytes(out)


def blob_fields(blob):
    out = {"nbytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    if len(blob) <= 64:
        out["hex"] = blob.hex()
    return out


class Builder:
    """Builds the canonical tree in construction order, tracking when each id becomes
    available (values.md#ids-and-refs) so refs are checked as a Python reader would."""

    def __init__(self, doc, data):
        self.data = data
        self.table = doc.get("dtypes", [])
        self.registered = {}  # file id -> (canonical value, hash key or None)
        self.open = set()
        self.canon_ids = {}
        self.referenced = set()
        stack = [doc["root"]]
        while stack:
            v = stack.pop()
            if isinstance(v, dict):
                if v.get("t") == "ref":
                    self.referenced.add(v["id"])
                stack.extend(v.values())
            elif isinstance(v, list):
                stack.extend(v)

    # A "key" models Python equality and hashability: None for unhashable values,
    # else a hashable token equal exactly when the Python values would be equal.
    def build(self, v):
        if v is None or isinstance(v, str):
            return v, ("v", v)
        if isinstance(v, bool) or is_int(v):
            return (v if isinstance(v, bool) else c_int(v)), ("n", int(v))
        if isinstance(v, float):
            key = ("nan", object()) if math.isnan(v) else (("n", int(v)) if v.is_integer() else ("n", v))
            return c_float(v), key
        return self.node(v)

    def descr(self, d):
        return self.table[d] if is_int(d) else d

    def blob(self, ref):
        return self.data[ref[0]:ref[0] + ref[1]]

    def declare(self, n):
        i = n.get("id")
        if n["t"] != "ref" and i is not None and i in self.referenced:
            self.canon_ids[i] = len(self.canon_ids)
            return i
        return None

    def register(self, i, out, key):
        if i is not None:
            self.open.discard(i)
            self.registered[i] = (out, key)

    def items(self, n):
        if n.get("v") is not None:
            return [[k, self.build(x)[0]] for k, x in n["v"].items()]
        out, seen = [], set()
        for k, x in n["items"]:
            kc, kk = self.build(k)
            if kk is None:
                raise Refusal("E-VALUE-INVALID", "an unhashable dict key")
            if kk in seen:
                raise Refusal("E-VALUE-INVALID", "two equal dict keys")
            seen.add(kk)
            out.append([kc, self.build(x)[0]])
        return out

    def node(self, n):
        t = n["t"]
        if t == "ref":
            i = n["id"]
            if i in self.registered:
                return {"t": "ref", "id": self.canon_ids.get(i, -1)}, self.registered[i][1]
            if i in self.open:
                raise Refusal("E-REF-IMMUTABLE-CYCLE", f"ref to open node {i}")
            raise Refusal("E-REF-UNKNOWN", f"ref to id {i}, not yet registered")
        i = self.declare(n)
        out = {"t": t}
        ident = ("id", object())  # identity-equal only (objects, functions, ...)
        key = ident
        if t in OPEN_WHILE_BUILT and i is not None:
            self.open.add(i)
        if t in ("list", "set", "dict", "odict", "objarray", "generator") and i is not None:
            self.register(i, out, None if t in UNHASHABLE else ident)
        if t in ("bytes", "bytearray"):
            out.update(blob_fields(self.blob(n["data"])))
            key = ("b", bytes(self.blob(n["data"]))) if t == "bytes" else None
        elif t == "float":
            out["v"] = n["v"]
            key = ("nan", object()) if n["v"] == "nan" else ("n", math.inf if n["v"] == "inf" else -math.inf)
        elif t == "int":
            text = n["v"]
            x = -int(text[3:], 16) if text.startswith("-") else int(text[2:], 16)
            return c_int(x), ("n", x)
        elif t == "complex":
            parts = []
            for p in (n["re"], n["im"]):
                parts.append(self.build(p)[0] if isinstance(p, dict) else c_float(float(p)))
            out["re"], out["im"] = parts
            re_, im_ = (float(p["v"]) if isinstance(p["v"], str) else p["v"] for p in parts)
            key = ("n", re_ if not re_.is_integer() else int(re_)) if im_ == 0 else ("c", re_, im_)
        elif t in ("list", "tuple", "slice", "namedtuple", "objarray"):
            built = [self.build(x) for x in n["v"]]
            out["v"] = [c for c, _ in built]
            if t == "namedtuple":
                out = {"t": t, "type": n["type"], "v": out["v"]}
            if t == "objarray":
                out = {"t": t, "shape": list(n["shape"]), "v": out["v"]}
            if t == "tuple":
                keys = [k for _, k in built]
                key = None if None in keys else ("tuple", tuple(keys))
            elif t in ("list", "objarray"):
                key = None
            elif t == "slice":
                key = None  # slices are unhashable before Python 3.12
        elif t in ("set", "frozenset"):
            out["v"], keys = [], set()
            for x in n["v"]:
                c, k = self.build(x)
                if k is None:
                    raise Refusal("E-VALUE-INVALID", "an unhashable set element")
                if k in keys:
                    raise Refusal("E-VALUE-INVALID", "two equal set elements")
                keys.add(k)
                out["v"].append(c)
            key = None if t == "set" else ("set", frozenset(keys))
        elif t in ("dict", "odict"):
            out["items"] = self.items(n)
            key = None
        elif t == "defaultdict":
            if i is not None:
                self.open.add(i)
            out["factory"] = self.build(n["factory"])[0]
            self.register(i, out, None)
            out["items"] = self.items(n)
            key = None
        elif t == "range":
            out["v"] = [c_int(x) for x in n["v"]]
            key = ("range", tuple(n["v"]))
        elif t == "enum":
            out["type"], out["name"] = n["type"], n["name"]
            key = ("enum", n["type"], n["name"])
        elif t in ("type", "function"):
            out["name"] = n["name"]
            key = ("name", n["name"])
        elif t == "ndarray":
            descr = self.descr(n["dtype"])
            blob = self.blob(n["data"])
            if n.get("order") == "F":
                blob = to_c_order(blob, n["shape"], dtype_size(descr))
            out["dtype"], out["shape"] = descr, list(n["shape"])
            out.update(blob_fields(blob))
            key = None
        elif t == "npscalar":
            out["dtype"] = self.descr(n["dtype"])
            out["hex"] = base64.b64decode(n["b"]).hex()
            key = ("npscalar", json.dumps(out["dtype"]), out["hex"])
        elif t == "dtype":
            out["dtype"] = self.descr(n["dtype"])
            key = ("dtype", json.dumps(out["dtype"]))
        elif t == "partial":
            out["func"] = self.build(n["func"])[0]
            out["args"] = [self.build(x)[0] for x in n["args"]]
            out["kw"] = {k: self.build(x)[0] for k, x in n["kw"].items()}
        elif t == "masked":
            for field in ("data", "mask", "fill_value"):
                if n.get(field) is not None:
                    out[field] = self.build(n[field])[0]
            key = None
        elif t == "generator":
            out["bit_generator"] = n["bit_generator"]
            out["state"] = self.build(n["state"])[0]
        elif t == "randomstate":
            state = n["state"]
            out["state"] = self.build(state)[0]
            bg = None
            if isinstance(state, dict) and state.get("t") == "dict":
                entries = state["v"].items() if state.get("v") is not None else state["items"]
                bg = next((v for k, v in entries if k == "bit_generator"), None)
            if bg not in BIT_GENERATORS:
                raise Refusal("E-VALUE-INVALID", f"RandomState bit generator {bg!r}")
        elif t == "sparse":
            out["format"], out["container"] = n["format"], n["container"]
            out["shape"] = list(n["shape"])
            out["arrays"] = {k: self.build(a)[0] for k, a in n["arrays"].items()}
            key = None
        elif t in ("object", "reduce"):
            out["type"] = n["type"]
            if t == "reduce" and i is not None:
                self.open.add(i)
            args = [self.build(x)[0] for x in n.get("args") or []]
            if args or t == "reduce":
                out["args"] = args
            self.register(i, out, ident)
            if n.get("state") is not None:
                out["state"] = self.build(n["state"])[0]
            if t == "object":
                items = [[self.build(k)[0], self.build(x)[0]] for k, x in n.get("items") or []]
                elems = [self.build(x)[0] for x in n.get("elems") or []]
                if items:
                    out["items"] = items
                if elems:
                    out["elems"] = elems
        if i is not None:
            out["id"] = self.canon_ids[i]
            if i not in self.registered or t in OPEN_WHILE_BUILT or t == "randomstate":
                self.register(i, out, key)
        return out, key


# ------------------------------------------------------------------------- the reader


def audit_file(path, limits):
    """Steps 2 to 5 of the load algorithm: what an auditor does. Reads no data bytes."""
    with open(path, "rb") as f:
        buf = f.read()
    members, comment = parse_container(buf, limits)  # step 2
    if "schema.json" not in members:
        raise Refusal("E-CONTAINER-MEMBER-MISSING", "no schema.json")
    usize = members["schema.json"][3]
    if usize > limits["max_schema_bytes"]:
        raise Refusal("E-LIMIT-SCHEMA-BYTES", f"schema.json is {usize} bytes")
    raw = member_bytes(buf, members["schema.json"], usize)
    digest = hashlib.sha256(raw).hexdigest()  # step 3
    if comment != b"sha256=" + digest.encode():
        raise Refusal("E-INTEGRITY-SCHEMA", "the archive comment does not match schema.json")
    doc = decode_json(raw)  # step 4
    check_document(doc)
    _check_strings(doc)
    names, _state = audit(doc, limits)  # step 5
    return buf, members, doc, names


def read(path, trusted, limits):
    """The load algorithm (security.md#load-algorithm); returns the canonical tree."""
    limits = {**DEFAULT_LIMITS, **(limits or {})}
    policy = set(trusted)  # step 1: this reader's default trusted set is empty
    buf, members, doc, names = audit_file(path, limits)
    untrusted = sorted(set(names) - policy)  # step 6
    if untrusted:
        raise Refusal("E-TRUST-UNTRUSTED-TYPE", f"untrusted names: {untrusted}")
    data_desc = doc.get("data")  # step 7
    data = b""
    if data_desc is None:
        if "data" in members:
            raise Refusal("E-CONTAINER-MEMBER-UNKNOWN", "an undescribed data member")
    else:
        if "data" not in members:
            raise Refusal("E-CONTAINER-MEMBER-MISSING", "no data member")
        if data_desc["size"] > limits["max_data_bytes"]:
            raise Refusal("E-LIMIT-DATA-BYTES", f"data section of {data_desc['size']} bytes")
        method = members["data"][0]
        if method != {"none": 0, "deflate": 8, "zstd": 93}[data_desc["compression"]]:
            raise Refusal("E-CONTAINER-COMPRESSION", "the data member's method differs")
        if members["data"][3] != data_desc["size"]:
            raise corrupt("the data member's size differs from data.size")
        data = member_bytes(buf, members["data"], data_desc["size"])
        # step 9, made before construction (allowed: a reader MAY check it earlier)
        if hashlib.sha256(data).hexdigest() != data_desc["sha256"]:
            raise Refusal("E-INTEGRITY-DATA", "the data section does not match data.sha256")
    tree, _key = Builder(doc, data).build(doc["root"])  # step 8
    return tree


def _check_strings(doc):
    """Escaped lone surrogates decode to strings that are not Unicode: E-SCHEMA-JSON."""
    stack = [doc]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            items = [v]
        elif isinstance(v, dict):
            items = list(v)
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
            continue
        else:
            continue
        for s in items:
            try:
                s.encode("utf-8")
            except UnicodeEncodeError:
                raise Refusal("E-SCHEMA-JSON", "a string with a lone surrogate") from None


# ---------------------------------------------------------------------- the harness


def handle(request):
    cmd = request.get("cmd")
    if cmd == "start":
        return {"status": "result", "name": "minimal-reader", "version": "1",
                "classes": ["reader", "auditor"], "levels": ["core"]}
    if cmd == "stop":
        return {"status": "result"}
    if cmd == "audit":
        try:
            limits = {**DEFAULT_LIMITS, **(request.get("limits") or {})}
            names = audit_file(request["file"], limits)[3]
        except Refusal as err:
            return {"status": "error", "code": err.code, "message": str(err)}
        return {"status": "result", "names": names}
    if cmd != "read":
        return {"status": "skip", "reason": f"{cmd} is not implemented"}
    try:
        tree = read(request["file"], request.get("trusted", []), request.get("limits"))
    except Refusal as err:
        return {"status": "error", "code": err.code, "message": str(err)}
    return {"status": "result", "tree": tree}


def main():
    # Construction recurses once per node level (at most max_depth, checked by the audit).
    sys.setrecursionlimit(20000)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        sys.stdout.write(json.dumps(handle(request)) + "\n")
        sys.stdout.flush()
        if request.get("cmd") == "stop":
            break


if __name__ == "__main__":
    main()
