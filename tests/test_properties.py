"""Hypothesis properties of the protocol-3 reader and writer.

- round trip: ``loads(dumps(x))`` equals ``x`` (types exact, nan == nan) and shares
  objects exactly where ``x`` does, cycles included; for every compression and for
  memory-mapped loads;
- ``get_untrusted_types`` lists exactly the names a default load refuses;
- every written ``schema.json`` validates against ``schemas/format/3``;
- ``dumps`` is deterministic: twice, across ``copy.deepcopy`` and across a round trip;
- arbitrary bytes and mutated valid files (bytes flipped, truncated, spliced;
  ``schema.json`` edited or the data section changed with the recorded sha256s fixed, so
  the deeper checks are reached) raise only ``skship.errors.FormatError`` subclasses,
  and quickly; so do valid files under tight limits (``LimitError``).

The values come from the public strategies in ``skship.testing.strategies``.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import signal
import struct
import tempfile
import time
import warnings
import zlib
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from hypothesis import assume, given, reject, settings
from hypothesis import strategies as st

import skship
from skship.errors import (
    FormatError,
    LimitError,
    UnsupportedTypeError,
    UntrustedTypesError,
    VersionMismatchWarning,
)
from skship.format.container import decode_data, parse_container, write_container
from skship.format.limits import DEFAULT_LIMITS, Limits
from skship.testing import strategies as sst

TRUSTED = sst.TRUSTED
LOAD_SECONDS = 5.0  # a refusal of a small file takes milliseconds; this only catches hangs

# ------------------------------------------------------------------------------ helpers


class Hang(Exception):
    """A load ran past LOAD_SECONDS."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block with Hang after ``seconds`` (and fail if it was swallowed)."""

    def on_alarm(signum: int, frame: Any) -> None:
        raise Hang(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    start = time.perf_counter()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    elapsed = time.perf_counter() - start
    assert elapsed < seconds, f"took {elapsed:.1f} s (a Hang was swallowed)"


def assert_refused_cleanly(blob: bytes) -> None:
    """Reading ``blob`` either works or raises a FormatError subclass; never anything
    else, never for long. Checks loads and get_untrusted_types."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VersionMismatchWarning)
        with time_limit(LOAD_SECONDS), contextlib.suppress(FormatError):
            skship.loads(blob, trusted=TRUSTED)
        with time_limit(LOAD_SECONDS), contextlib.suppress(FormatError):
            skship.get_untrusted_types(blob)


def unpack(blob: bytes) -> tuple[dict[str, Any], bytes | None, str]:
    """schema.json (parsed), the uncompressed data section, and its compression."""
    pc = parse_container(blob, DEFAULT_LIMITS)
    doc = json.loads(pc.schema)
    info = doc.get("data")
    if not info:
        return doc, None, "none"
    data = decode_data(pc, info["compression"], info["size"], DEFAULT_LIMITS)
    return doc, bytes(data), info["compression"]


def pack(schema: bytes, data: bytes | None, compression: str) -> bytes:
    """A container around the given members, with the archive comment's sha256 fixed."""
    out: list[Any] = []
    size = 0 if data is None else len(data)
    crc = zlib.crc32(data or b"")
    write_container(out, schema, None if data is None else [data], size, crc, compression)
    return b"".join(out)


def encode_json(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def dump_or_reject(x: Any, compression: str | None = None) -> bytes:
    """A valid file to mutate. Values the writer refuses are test_round_trip's business,
    not the fuzzers'."""
    try:
        return skship.dumps(x, compression=compression)
    except UnsupportedTypeError:
        reject()


@cache
def schema_validator() -> Any:
    from skship.format.schemas import validator

    return validator("format/3/document")


# Values with more data-section content, for the mutation properties.
data_rich = st.one_of(
    sst.values(max_leaves=6),
    sst.sparse_matrices(),
    sst.numpy_arrays(),
    sst.shared_values(sst.values(max_leaves=3)),
)

# Values naming types, functions and enum members, with shared parts: for the edits
# that should reach the trust check and the reference resolution.
name_rich = sst.shared_values(
    st.one_of(sst.callables(), sst.enum_members(), sst.partials(), sst.containers())
)

# ------------------------------------------------------------------------ round trips


@settings(max_examples=400)
@given(sst.values())
def test_round_trip(x: Any) -> None:
    blob = skship.dumps(x)
    y = skship.loads(blob, trusted=TRUSTED)
    assert sst.equal(y, x)
    assert sst.same_identity_structure(x, y)


@settings(max_examples=100)
@given(st.one_of(sst.values(), name_rich))
def test_untrusted_types_are_listed_and_refused(x: Any) -> None:
    """get_untrusted_types names exactly what a default load refuses: here, only the
    strategies' own classes and the few functions outside the default trust."""
    blob = dump_or_reject(x)
    untrusted = skship.get_untrusted_types(blob)
    assert set(untrusted) <= set(TRUSTED)
    if untrusted:
        with pytest.raises(UntrustedTypesError) as info:
            skship.loads(blob)
        assert info.value.types == sorted(untrusted)
    else:
        assert sst.equal(skship.loads(blob), x)
    assert skship.get_untrusted_types(blob, trusted=untrusted) == []


@settings(max_examples=200)
@given(
    st.one_of(
        sst.shared_values(sst.values(max_leaves=4)),
        sst.cyclic_values(sst.values(max_leaves=4)),
    )
)
def test_shared_objects_and_cycles_keep_identity(x: Any) -> None:
    y = skship.loads(skship.dumps(x), trusted=TRUSTED)
    assert sst.same_identity_structure(x, y)
    assert sst.equal(y, x)


@settings(max_examples=80)
@given(data_rich, st.sampled_from([None, "deflate", "zstd"]))
def test_compression_round_trip(x: Any, compression: str | None) -> None:
    blob = skship.dumps(x, compression=compression)
    y = skship.loads(blob, trusted=TRUSTED)
    assert sst.equal(y, x)
    assert sst.same_identity_structure(x, y)
    doc, _, used = unpack(blob)
    if doc.get("data"):
        assert used == (compression or "none")
    # Compression changes the data member only: schema.json's value tree is the same.
    plain, _, _ = unpack(skship.dumps(x))
    assert doc["root"] == plain["root"]


@settings(max_examples=60)
@given(data_rich)
def test_memory_mapped_load_round_trip(x: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "value.skops")
        skship.dump(x, path)
        y = skship.load(path, trusted=TRUSTED, mmap=True)
        assert sst.equal(y, x)
        assert sst.same_identity_structure(x, y)
        del y  # release the mapping before the directory goes


# ------------------------------------------------------------------------ the schema


def _innermost(error: Any) -> list[Any]:
    """The deepest failures under an anyOf/oneOf error: the useful part of its message."""
    leaves, stack = [], [error]
    while stack:
        e = stack.pop()
        if e.context:
            stack.extend(e.context)
        else:
            leaves.append(e)
    depth = max(len(e.absolute_path) for e in leaves)
    return [e for e in leaves if len(e.absolute_path) == depth]


@settings(max_examples=150)
@given(sst.values())
def test_schema_json_validates(x: Any) -> None:
    doc, _, _ = unpack(skship.dumps(x))
    errors = list(schema_validator().iter_errors(doc))
    report = [
        f"{inner.message[:200]} at {list(inner.absolute_path)}"
        for error in errors
        for inner in _innermost(error)[:3]
    ]
    assert not errors, "\n".join(report)


# --------------------------------------------------------------------- determinism


@settings(max_examples=150)
@given(sst.values())
def test_dumps_is_deterministic(x: Any) -> None:
    blob = skship.dumps(x)
    assert skship.dumps(x) == blob
    y = skship.loads(blob, trusted=TRUSTED)
    assert skship.dumps(y) == blob, "the loaded value dumps differently"
    try:
        c = copy.deepcopy(x)
    except RecursionError:  # numpy cannot deepcopy an object array that holds itself
        return
    # deepcopy is not always faithful (padding bytes, object-array cycles); compare
    # only when it produced an equal value.
    if sst.equal(c, x) and sst.same_identity_structure(x, c):
        assert skship.dumps(c) == blob, "a deep copy dumps differently"


# ---------------------------------------------------------- refusing bad input cleanly


def _eocd(count: int, cd_size: int, cd_offset: int, comment: bytes) -> bytes:
    return (
        struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, cd_size, cd_offset, len(comment))
        + comment
    )


@st.composite
def zipish_bytes(draw: st.DrawFn) -> bytes:
    """Random bytes that end in an end-of-central-directory record, so the reader gets
    past "not a zip" into the central directory and local headers."""
    body = draw(st.binary(max_size=300))
    n = len(body)
    comment = draw(
        st.one_of(
            st.binary(max_size=80),
            st.just(b"sha256=" + hashlib.sha256(body).hexdigest().encode()),
        )
    )
    count = draw(st.sampled_from([0, 1, 2, 3, 0xFFFF]))
    cd_offset = draw(st.one_of(st.integers(0, n), st.integers(0, 2**32 - 1)))
    cd_size = draw(st.one_of(st.integers(0, n), st.integers(0, 2**32 - 1)))
    return body + _eocd(count, cd_size, cd_offset, comment)


@settings(max_examples=400)
@given(
    st.one_of(st.binary(max_size=500), st.binary().map(lambda b: b"PK\x03\x04" + b), zipish_bytes())
)
def test_arbitrary_bytes_raise_only_format_errors(blob: bytes) -> None:
    assert_refused_cleanly(blob)


def _tight(small: int, default: int) -> st.SearchStrategy[int]:
    return st.one_of(st.just(default), st.integers(0, small))


@settings(max_examples=100)
@given(
    data_rich,
    st.builds(
        Limits,
        max_depth=_tight(6, DEFAULT_LIMITS.max_depth),
        max_nodes=_tight(20, DEFAULT_LIMITS.max_nodes),
        max_schema_bytes=_tight(4000, DEFAULT_LIMITS.max_schema_bytes),
        max_data_bytes=_tight(300, DEFAULT_LIMITS.max_data_bytes),
        max_array_bytes=_tight(100, DEFAULT_LIMITS.max_array_bytes),
        max_members=_tight(2, DEFAULT_LIMITS.max_members),
    ),
)
def test_tight_limits_refuse_cleanly(x: Any, limits: Limits) -> None:
    """Under small limits a valid file loads (and equals the value) or is refused with a
    LimitError; nothing else."""
    blob = dump_or_reject(x)
    try:
        with time_limit(LOAD_SECONDS):
            y = skship.loads(blob, trusted=TRUSTED, limits=limits)
    except LimitError:
        return
    assert sst.equal(y, x)


@st.composite
def mutated_bytes(draw: st.DrawFn) -> bytes:
    blob = dump_or_reject(
        draw(data_rich), compression=draw(st.sampled_from([None, None, "deflate", "zstd"]))
    )
    how = draw(st.sampled_from(["flip", "truncate", "splice", "insert", "repeat"]))
    n = len(blob)
    if how == "flip":
        out = bytearray(blob)
        for _ in range(draw(st.integers(1, 4))):
            out[draw(st.integers(0, n - 1))] ^= draw(st.integers(1, 255))
        return bytes(out)
    if how == "truncate":
        return blob[: draw(st.integers(0, n - 1))]
    i = draw(st.integers(0, n))
    j = draw(st.integers(i, n))
    if how == "splice":
        return blob[:i] + draw(st.binary(max_size=40)) + blob[j:]
    if how == "insert":
        return blob[:i] + draw(st.binary(min_size=1, max_size=40)) + blob[i:]
    return blob[:j] + blob[i:]  # a region repeated


@settings(max_examples=300)
@given(mutated_bytes())
def test_mutated_files_raise_only_format_errors(blob: bytes) -> None:
    assert_refused_cleanly(blob)


TAGS = [
    "float", "int", "complex", "bytes", "bytearray", "list", "tuple", "set", "frozenset",
    "dict", "odict", "defaultdict", "slice", "range", "enum", "namedtuple", "ndarray",
    "objarray", "npscalar", "dtype", "type", "function", "partial", "generator",
    "randomstate", "sparse", "object", "reduce", "ref",
]  # fmt: skip
FIELDS = [
    "t", "v", "id", "data", "dtype", "shape", "order", "type", "name", "re", "im", "items",
    "factory", "func", "args", "kw", "state", "bit_generator", "format", "container",
    "arrays", "b", "elems", "indices", "indptr", "offsets", "row", "col",
]  # fmt: skip
STRINGS = [
    *TAGS, *FIELDS, "", "nan", "inf", "-inf", "0x10", "-0x8000000000000000", "12",
    "<f8", ">i4", "|b1", "|O", "<U0", "<U3", "|S0", "|V0", "<M8[ns]", "<M8[xyz]", "f8", "<c16",
    "C", "F", "K", "csr", "csc", "coo", "bsr", "dia", "lil", "dok", "matrix", "array",
    "MT19937", "PCG64", "Philox", "SFC64", "RED", "LOW", "__class__", "AAAA", "=====",
    "os.system", "builtins.eval", "numpy.load", "builtins.len", "math.sqrt",
    "skship.testing.strategies.Color", "skship.testing.strategies.Point", "numpy.float64",
    "builtins.int", "collections.OrderedDict", "numpy.random.PCG64",
]  # fmt: skip
INTS = [-1, 0, 1, 2, 3, 7, 15, 16, 17, 64, 2**31, 2**32, 2**63 - 1, -(2**63), 10**6, 10**12]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(INTS),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(STRINGS),
    st.text(max_size=6),
)
json_values = st.recursive(
    json_scalars,
    lambda c: st.one_of(
        st.lists(c, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=4)), c, max_size=3),
        st.fixed_dictionaries({"t": st.sampled_from(TAGS)}, optional=dict.fromkeys(FIELDS[1:], c)),
    ),
    max_leaves=8,
)


def _locations(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _locations(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _locations(v, (*path, i))


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        doc = doc[p]
    return doc


NAMES = [
    "os.system", "builtins.eval", "numpy.load", "builtins.len", "math.sqrt", "numpy.float64",
    "builtins.int", "builtins.list", "collections.OrderedDict", "numpy.random.PCG64",
    "skship.testing.strategies.Color", "skship.testing.strategies.Point",
    "skship.testing.strategies.Level", "numpy.exp", "numpy.ndarray", "numpy.dtype",
    "sklearn.tree._tree.Tree", "sklearn.linear_model.LogisticRegression",
    "scipy.sparse.csr_matrix", "numpy.nonexistent", "no.such.module", "builtins", ".", "",
]  # fmt: skip
DESCRS = [
    "<f8", ">i4", "|b1", "|u1", "<f2", ">c8", "|O", "<U0", "<U3", "|S0", "|S2", "|V0", "|V3",
    "<M8[ns]", ">m8[3ms]", "<M8[xyz]", "<M8", "f8", "<i16", "<f16", "?", "garbage", "",
    [["a", "<i4"]], [["a", "<i4", [2]]], [["", "|V4"], ["a", "<f8"]], [["a", [["b", "|u1"]]]],
    [["a", "<i4"], ["a", "<i4"]], [["a", "<i4", [-1]]], [], [["a"]], [[1, "<i4"]],
]  # fmt: skip
# Plausible replacements, chosen by the name of the member being edited, so that edits
# get past the JSON Schema into the reader's own checks (refs, data refs, dtypes, trust).
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "t": st.sampled_from(TAGS),
    "id": st.integers(-1, 6),
    "data": st.tuples(
        st.sampled_from([0, 16, 32, 48, 64, 8, 1, -16, 2**40]),
        st.sampled_from([0, 1, 8, 16, 17, 2**40]),
    ).map(list),
    "shape": st.lists(st.sampled_from([0, 1, 2, 3, 5, -1, 2**31, 2**62]), max_size=3),
    "dtype": st.sampled_from(DESCRS),
    "type": st.sampled_from(NAMES),
    "name": st.sampled_from([*NAMES, "RED", "LOW", "MISSING", "__class__", "name"]),
    "b": st.sampled_from(
        ["", "AA==", "AAAA", "AAAAAAAAAAA=", "AAAAAAAAAAAAAAAAAAAAAA==", "!!!", "A"]
    ),
    "format": st.sampled_from(["csr", "csc", "coo", "bsr", "dia", "lil", "dok", "bogus"]),
    "container": st.sampled_from(["matrix", "array", "frame"]),
    "bit_generator": st.sampled_from(["MT19937", "PCG64", "PCG64DXSM", "Philox", "SFC64", "Bogus"]),
    "order": st.sampled_from(["C", "F", "K", "A"]),
    "factory": st.one_of(st.none(), st.sampled_from(NAMES).map(lambda n: {"t": "type", "name": n})),
    "size": st.sampled_from([0, 1, 15, 16, 17, 2**31, 2**62]),
    "compression": st.sampled_from(["none", "deflate", "zstd", "lzma"]),
    "protocol": st.sampled_from([2, 3, 4]),
    "extensions": st.lists(st.sampled_from(["x-future", "masked"]), max_size=2),
}
INT_TEXT = ["nan", "inf", "-inf", "12", "-0", "0x10", "1e5", "9" * 30, "-" + "9" * 30, "", "abc"]


def _tweak(draw: st.DrawFn, path: tuple[Any, ...], target: Any) -> Any:
    """A replacement for ``target`` that looks like what could be there."""
    keys = [p for p in path if isinstance(p, str)]
    key = keys[-1] if keys else None
    if key in PLAUSIBLE and (key != "data" or isinstance(path[-1], str)):
        return draw(PLAUSIBLE[key])
    if key == "data" and isinstance(target, int):  # one number of a data ref
        return draw(st.sampled_from([0, 1, 8, 15, 16, 32, -1, 2**40]))
    if key == "v" and isinstance(target, str):  # the text of an int or float node
        return draw(st.sampled_from(INT_TEXT))
    if isinstance(target, bool) or target is None:
        return draw(json_scalars)
    if isinstance(target, int):
        return draw(st.one_of(st.sampled_from(INTS), st.integers(-3, 3).map(lambda d: target + d)))
    if isinstance(target, float):
        return draw(st.sampled_from([0, 1, -1.5, 1e308, target * 2]))
    if isinstance(target, str):
        return draw(
            st.one_of(st.sampled_from(STRINGS), st.just(target[:-1]), st.just(target + "x"))
        )
    return draw(json_values)


def mutate_json(draw: st.DrawFn, doc: Any) -> Any:
    """Apply one edit somewhere in the JSON tree."""
    doc = copy.deepcopy(doc)
    paths = list(_locations(doc))
    in_tree = [p for p in paths if p[:1] == ("root",)]
    named = [p for p in in_tree if p[-1] in ("name", "type", "id")]
    # Mostly edit the value tree: the header is small and its checks are shallow; now
    # and then a name or a reference id, which lead to the trust check and the refs.
    if named and draw(st.integers(0, 3)) == 0:
        path = draw(st.sampled_from(named))
    else:
        path = draw(st.sampled_from(in_tree if in_tree and draw(st.integers(0, 5)) else paths))
    target = _at(doc, path)
    op = draw(st.sampled_from(["tweak", "tweak", "tweak", "replace", "delete", "add", "copy"]))
    new: Any = None
    if op == "tweak":
        new = _tweak(draw, path, target)
        op = "replace"
    elif op == "copy":
        new = copy.deepcopy(_at(doc, draw(st.sampled_from(paths))))
        op = "replace"
    elif op == "replace":
        new = draw(json_values)
    if op == "replace":
        if not path:
            return new
        _at(doc, path[:-1])[path[-1]] = new
    elif op == "delete" and path:
        del _at(doc, path[:-1])[path[-1]]
    elif op == "add":
        if isinstance(target, dict):
            target[draw(st.sampled_from(FIELDS))] = draw(json_values)
        elif isinstance(target, list):
            target.insert(draw(st.integers(0, len(target))), draw(json_values))
    return doc


_NAMING = {"object": "type", "reduce": "type", "enum": "type", "namedtuple": "type",
           "type": "name", "function": "name"}  # fmt: skip


def reindex_names(doc: Any) -> None:
    """Rebuild the document's name index from its tree (the writer's rule: the first
    node naming a name gives its kind, except that object and reduce nodes win), so
    that edited names reach the trust check instead of stopping at E-SCHEMA-NAMES."""
    if not isinstance(doc, dict) or not isinstance(doc.get("names"), dict):
        return
    names: dict[str, str] = {}
    stack = [doc.get("root")]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(reversed(node))
        elif isinstance(node, dict):
            tag, member = node.get("t"), _NAMING.get(str(node.get("t")))
            name = node.get(member) if member else None
            if isinstance(name, str) and (tag in ("object", "reduce") or name not in names):
                names[name] = str(tag)
            stack.extend(reversed([v for k, v in node.items() if k != "dtype"]))
    doc["names"] = names


@st.composite
def files_with_edited_schema(draw: st.DrawFn) -> bytes:
    """Valid files whose schema.json was edited (as JSON, or as text), then repacked with
    the archive comment's sha256 recomputed so the edit reaches the decoder."""
    doc, data, compression = unpack(dump_or_reject(draw(st.one_of(data_rich, name_rich))))
    if draw(st.integers(0, 4)) == 0:
        text = bytearray(encode_json(doc))
        for _ in range(draw(st.integers(1, 3))):
            text[draw(st.integers(0, len(text) - 1))] = draw(
                st.sampled_from(b'{}[]",:0123456789-.eE\\ tnx')
            )
        return pack(bytes(text), data, compression)
    for _ in range(draw(st.integers(1, 3))):
        doc = mutate_json(draw, doc)
    if draw(st.booleans()):
        reindex_names(doc)
    return pack(encode_json(doc), data, compression)


@settings(max_examples=500)
@given(files_with_edited_schema())
def test_edited_schema_json_raises_only_format_errors(blob: bytes) -> None:
    assert_refused_cleanly(blob)


@st.composite
def files_with_edited_data(draw: st.DrawFn) -> bytes:
    """Valid files whose data section was changed (array bytes, sparse indices, bytes
    values...) with schema.json's data sha256 and size fixed to match."""
    doc, data, compression = unpack(dump_or_reject(draw(data_rich)))
    assume(data)
    assert data is not None
    out = bytearray(data)
    how = draw(st.sampled_from(["flip", "flip", "fill", "truncate"]))
    if how == "flip":
        for _ in range(draw(st.integers(1, 8))):
            out[draw(st.integers(0, len(out) - 1))] ^= draw(st.integers(1, 255))
    elif how == "fill":
        i = draw(st.integers(0, len(out) - 1))
        j = draw(st.integers(i, len(out)))
        out[i:j] = bytes([draw(st.sampled_from([0x00, 0x7F, 0x80, 0xFF]))]) * (j - i)
    else:
        del out[draw(st.integers(0, len(out) - 1)) :]
    doc["data"]["sha256"] = hashlib.sha256(out).hexdigest()
    doc["data"]["size"] = len(out)
    return pack(encode_json(doc), bytes(out), compression)


@settings(max_examples=300)
@given(files_with_edited_data())
def test_edited_data_section_raises_only_format_errors(blob: bytes) -> None:
    assert_refused_cleanly(blob)


@settings(max_examples=20)
@given(data_rich)
def test_repacking_an_unedited_file_gives_the_same_bytes(x: Any) -> None:
    """The helpers above rebuild files exactly, so edits are the only difference."""
    blob = dump_or_reject(x)
    doc, data, compression = unpack(blob)
    pc = parse_container(blob, DEFAULT_LIMITS)
    assert pack(pc.schema, data, compression) == blob
    assert json.loads(pc.schema) == doc


@pytest.mark.parametrize(
    "root",
    [
        '{"t":"list","v":[' * 100_000 + "]}" * 100_000,
        "[" * 100_000 + "]" * 100_000,
        '{"t":"dict","v":{"a":' * 100_000 + "null" + "}}" * 100_000,
        '{"t":"complex","re":' * 50_000 + "1.0" + ',"im":0.0}' * 50_000,
    ],
    ids=["nested-lists", "nested-json-arrays", "nested-dicts", "nested-complex"],
)
def test_deep_nesting_is_refused_cleanly(root: str) -> None:
    base, _, _ = unpack(skship.dumps(None))
    text = encode_json(base).replace(b'"root":null', b'"root":' + root.encode())
    assert text != encode_json(base)
    with pytest.raises(FormatError), time_limit(LOAD_SECONDS):
        skship.loads(pack(text, None, "none"))
