"""The zip container of a protocol-3 file: deterministic writing, defensive reading.

Layout (spec/format/container.md): member ``schema.json`` (stored or deflated), then
member ``data`` (the data section; stored, deflate or zstd) whose first byte sits at a
multiple of 64 in the file, then the central directory. The archive comment is
``sha256=<hex of schema.json>``. Every header field that could vary between runs
(times, attributes, extra fields) is fixed, so equal input gives equal bytes.

We write and parse zip headers ourselves rather than through :mod:`zipfile`: the
standard library cannot write zstd members or align a member, and on reading we must
see duplicate names, overlapping members and inconsistent headers that zipfile
silently tolerates.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import re
import struct
import sys
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any, NamedTuple

from skship.errors import ContainerError, IntegrityError, LimitError, SkshipError
from skship.format.limits import Limits

__all__ = [
    "DATA_MEMBER",
    "SCHEMA_MEMBER",
    "DataSection",
    "MemberInfo",
    "ParsedContainer",
    "decode_data",
    "parse_container",
    "write_container",
]

SCHEMA_MEMBER = "schema.json"
DATA_MEMBER = "data"
FILE_ALIGN = 64
BLOB_ALIGN = 16
METHOD_STORED = 0
METHOD_DEFLATE = 8
METHOD_ZSTD = 93
METHODS = {"none": METHOD_STORED, "deflate": METHOD_DEFLATE, "zstd": METHOD_ZSTD}
_DOS_DATE = 0x0021  # 1980-01-01
_DOS_TIME = 0
_MADE_BY = (3 << 8) | 63  # unix, spec 6.3
_EXT_ATTR = 0o100644 << 16
_ALIGN_EXTRA_ID = 0xD935  # the id zipalign uses for padding
_ZIP64_LIMIT = 0xFFFFFFFF
_COMMENT_RE = re.compile(rb"\Asha256=([0-9a-f]{64})\Z")

try:  # zlib-ng's crc32 is ~5x faster than zlib's; the value is the same.
    from zlib_ng.zlib_ng import crc32 as _crc32
except ImportError:  # pragma: no cover - optional speed-up
    _crc32 = zlib.crc32

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_EOCD = struct.Struct("<IHHHHIIH")
_EOCD64 = struct.Struct("<IQHHIIQQQQ")
_EOCD64_LOC = struct.Struct("<IIQI")


class DataSection:
    """Collects blobs at 16-byte-aligned offsets; the bytes are never concatenated
    until written, so a dump copies each array once."""

    __slots__ = ("padded", "parts", "size")

    def __init__(self) -> None:
        self.parts: list[Any] = []
        self.size = 0
        # (index in parts, dtype) of structured blobs whose padding is still to be
        # zeroed (Encoder(defer_padding=True))
        self.padded: list[tuple[int, Any]] = []

    def zero_padding(self) -> None:
        """Zero the padding of every blob listed in ``padded`` (a copy where a padding
        byte is set), so that the parts are the section's final bytes."""
        if self.padded:
            self.parts[:] = _zeroed(self.parts, self.padded)[0]
            self.padded = []

    def add(self, buf: Any) -> tuple[int, int]:
        """Append a C-contiguous buffer (a memoryview, bytes, or a 1-d uint8 array)."""
        size = self.size
        pad = -size % BLOB_ALIGN
        if pad:
            self.parts.append(_ZEROS[pad])
            size += pad
        n = buf.nbytes if type(buf) is not bytes else len(buf)
        if n:
            self.parts.append(buf)
        self.size = size + n
        return size, n

    def digests(self) -> tuple[str, int]:
        """sha256 (hex) and CRC-32 of the whole section.

        A section of many small blobs (a boosted model's hundreds of node arrays) is
        joined first: one call each to sha256 and CRC-32 over one buffer costs less
        than two calls per blob (437 blobs: 0.50 -> 0.45 ms). A large section, or one
        of a few blobs, is hashed blob by blob: the copy would cost more than the
        calls it saves."""
        if len(self.parts) > _JOIN_PARTS and self.size <= _JOIN_TO_HASH:
            return _digests([b"".join(self.parts)])
        return _digests(self.parts)


_JOIN_TO_HASH = 4 << 20
_JOIN_PARTS = 32  # below this, the copy a join makes costs more than the calls it saves


_ZEROS = [b"\0" * i for i in range(BLOB_ALIGN)]


def _zeroed(parts: Sequence[Any], padded: Sequence[tuple[int, Any]]) -> tuple[list[Any], bool]:
    """``parts`` with the listed structured blobs' padding zeroed, and whether any
    blob had a padding byte set (only those are copied)."""
    import numpy as np

    from skship.format.encoder import _zero_padding

    out = list(parts)
    changed = False
    for i, dt in padded:
        records = np.asarray(out[i]).view(dt)
        clean = _zero_padding(records)
        if clean is not records:
            out[i] = clean.view(np.uint8)
            changed = True
    return out, changed


def _zero_padding_in_place(region: Any, dt: Any) -> bool:
    """Zero the padding bytes of the records of dtype ``dt`` in the writable uint8
    array ``region``; whether any was set."""
    from skship.format.encoder import _padding_is_zero, _padding_runs

    runs = _padding_runs(dt)
    if _padding_is_zero(region.view(dt), runs):
        return False
    rows = region.reshape(-1, dt.itemsize)
    for a, b in runs:
        rows[:, a:b] = 0
    return True


def _digests(parts: Sequence[Any]) -> tuple[str, int]:
    h = hashlib.sha256()
    crc = 0
    for p in parts:
        h.update(p)
        crc = _crc32(p, crc)
    return h.hexdigest(), crc


class Hasher:
    """sha256 and CRC-32 of a list of buffers, computed on another thread.

    hashlib and zlib release the GIL for large buffers, and the thread that starts
    this one then spends its time in GIL-free copies, compression or msgspec, so
    the digests cost little wall time on a second core. It starts only once the
    object graph has been walked: while the walk runs Python code, each of the
    thread's GIL requests would wait a whole switch interval (5 ms)."""

    def __init__(self, parts: Sequence[Any], crc: bool = True) -> None:
        self._result: list[Any] = []
        self._thread = threading.Thread(target=self._run, args=(parts, crc), daemon=True)
        self._thread.start()

    def _run(self, parts: Sequence[Any], crc: bool) -> None:
        if crc:
            self._result += _digests(parts)
            return
        h = hashlib.sha256()
        for p in parts:
            h.update(p)
        self._result += [h.hexdigest(), None]

    def result(self) -> tuple[str, int]:
        """sha256 (hex) and CRC-32; the CRC is None when the thread was told to
        leave it to the caller (who can compute it alongside a copy)."""
        self._thread.join()
        return self._result[0], self._result[1]


def _sha256_parts(parts: Sequence[Any], out: list[str]) -> None:
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    out.append(h.hexdigest())


def compress_parts(parts: Sequence[Any], compression: str) -> list[bytes]:
    if compression == "deflate":
        # Level 3, as joblib's compress=3: most of level 6's ratio at twice the speed.
        c = zlib.compressobj(3, zlib.DEFLATED, -15, 9)
        chunks = [c.compress(p) for p in parts]
        chunks.append(c.flush())
        return [b for b in chunks if b]
    if compression == "zstd":
        try:
            import zstandard
        except ImportError as exc:  # pragma: no cover - exercised without the extra
            raise SkshipError(
                "zstd compression needs the 'zstandard' package: pip install 'skship[zstd]'",
                code="E-DEPENDENCY-MISSING",
            ) from exc
        cobj = zstandard.ZstdCompressor(level=3, write_checksum=False).compressobj()
        chunks = [cobj.compress(p) for p in parts]
        chunks.append(cobj.flush())
        return [b for b in chunks if b]
    raise ValueError(compression)


def _local_header(
    name: bytes, method: int, crc: int, csize: int, usize: int, extra: bytes
) -> bytes:
    return (
        _LOCAL.pack(
            0x04034B50,
            63 if method == METHOD_ZSTD else 45,
            0,
            method,
            _DOS_TIME,
            _DOS_DATE,
            crc,
            csize,
            usize,
            len(name),
            len(extra),
        )
        + name
        + extra
    )


def _zip64_extra(*values: int) -> bytes:
    return struct.pack("<HH", 0x0001, 8 * len(values)) + b"".join(
        struct.pack("<Q", v) for v in values
    )


class _Entry(NamedTuple):
    name: bytes
    method: int
    crc: int
    csize: int
    usize: int
    offset: int


def _deflate(schema: bytes) -> bytes:
    c = zlib.compressobj(3, zlib.DEFLATED, -15, 9)
    return c.compress(schema) + c.flush()


SCHEMA_STORE_OVER = 16 << 10
PROBE_BYTES = 8 << 10
PROBE_RATIO = 0.3
_DIGEST_KEY = b'"sha256":"'


def deflates_schema(
    json_size: int, data_size: int, compression: str, text: bytes = b"", before: int = 0
) -> bool:
    """Whether the reference writer tries to deflate schema.json at all (it then
    keeps the deflated bytes only when they are shorter).

    Deflating JSON costs about as much per byte as the whole of a dump of a small
    model. A long schema.json (over 16 KiB, over an eighth of a stored data section)
    is therefore probed first: the middle 8 KiB of the text before the data digest
    (``text[:before]``) is deflated at level 1, and the whole is deflated only when
    the probe shrinks to 30% or less. Tree-heavy documents (node dicts, repeated
    keys) shrink to about 10% and are deflated, as their size matters; a text
    model's vocabulary shrinks to about 45% and is stored, being slow to deflate
    for little gain. Compressed dumps always deflate it."""
    if compression != "none" or json_size <= SCHEMA_STORE_OVER or json_size * 8 <= data_size:
        return True
    mid = before // 2
    probe = text[max(0, mid - PROBE_BYTES // 2) : min(before, mid + PROBE_BYTES // 2)]
    if not probe:
        return False
    c = zlib.compressobj(1, zlib.DEFLATED, -15, 9)
    return len(c.compress(probe) + c.flush()) <= PROBE_RATIO * len(probe)


def _before_digest(schema: bytes, data_size: int) -> int:
    """The length of schema.json's text before its data digest (all of it without a
    data member)."""
    i = schema.rfind(_DIGEST_KEY) if data_size else -1
    return len(schema) if i < 0 else i


def schema_member(
    schema: bytes, data_size: int = 0, compression: str = "none"
) -> tuple[int, bytes]:
    """schema.json's method and bytes: deflated when :func:`deflates_schema` says
    to try and the result is strictly shorter."""
    if deflates_schema(
        len(schema), data_size, compression, schema, _before_digest(schema, data_size)
    ):
        deflated = _deflate(schema)
        if len(deflated) < len(schema):
            return METHOD_DEFLATE, deflated
    return METHOD_STORED, schema


def write_container(
    out: IO[bytes] | list[Any],
    schema: bytes,
    data_parts: Sequence[Any] | None,
    data_size: int,
    data_crc: int,
    compression: str,
    member: tuple[int, bytes] | None = None,
) -> None:
    """Write the archive to a binary stream, or append its pieces to a list.

    ``member`` is schema.json's (method, bytes) when the caller has made them
    already; by default they are made here."""
    method = METHODS[compression]
    if member is None:
        member = schema_member(schema, data_size, compression)
    if data_parts is None:
        head, tail = _frame(schema, member, None, 0, 0, method)
        pieces = head + tail
    else:
        body = data_parts if method == METHOD_STORED else compress_parts(data_parts, compression)
        csize = sum(memoryview(p).nbytes for p in body)
        head, tail = _frame(schema, member, csize, data_size, data_crc, method)
        pieces = [*head, *body, *tail]
    if isinstance(out, list):
        out.extend(pieces)
    else:
        for p in pieces:
            out.write(p)


def _frame(
    schema: bytes,
    member: tuple[int, bytes],
    csize: int | None,
    data_size: int,
    data_crc: int,
    method: int,
) -> tuple[list[Any], list[Any]]:
    """Every byte of the archive except the data member's bytes: the pieces before
    them and the pieces after them (``csize`` None: no data member)."""
    pieces: list[Any] = []
    pos = 0
    entries: list[_Entry] = []

    # schema.json: deflated when it pays (always for anything but the smallest files).
    name = SCHEMA_MEMBER.encode()
    s_crc = _crc32(schema)
    s_method, s_body = member
    entries.append(_Entry(name, s_method, s_crc, len(s_body), len(schema), pos))
    pieces.append(_local_header(name, s_method, s_crc, len(s_body), len(schema), b""))
    pieces.append(s_body)
    pos += 30 + len(name) + len(s_body)

    head = pieces
    pieces = []
    if csize is not None:
        name = DATA_MEMBER.encode()
        z64 = csize >= _ZIP64_LIMIT or data_size >= _ZIP64_LIMIT
        extra = _zip64_extra(data_size, csize) if z64 else b""
        hdr_len = 30 + len(name) + len(extra)
        pad = -(pos + hdr_len + 6) % FILE_ALIGN
        extra += struct.pack("<HHH", _ALIGN_EXTRA_ID, 2 + pad, FILE_ALIGN) + b"\0" * pad
        entries.append(_Entry(name, method, data_crc, csize, data_size, pos))
        hdr = _local_header(
            name,
            method,
            data_crc,
            _ZIP64_LIMIT if z64 else csize,
            _ZIP64_LIMIT if z64 else data_size,
            extra,
        )
        head.append(hdr)
        pos += len(hdr) + csize

    cd_start = pos
    for e in entries:
        vals = []
        if e.usize >= _ZIP64_LIMIT or e.csize >= _ZIP64_LIMIT:
            vals += [e.usize, e.csize]
        if e.offset >= _ZIP64_LIMIT:
            vals.append(e.offset)
        extra = _zip64_extra(*vals) if vals else b""
        # APPNOTE 4.5.3: a zip64 field is present exactly when its header field is
        # 0xFFFFFFFF, so when the sizes move to the extra field both do.
        big = e.usize >= _ZIP64_LIMIT or e.csize >= _ZIP64_LIMIT
        cd = (
            _CENTRAL.pack(
                0x02014B50,
                _MADE_BY,
                63 if e.method == METHOD_ZSTD else 45,
                0,
                e.method,
                _DOS_TIME,
                _DOS_DATE,
                e.crc,
                _ZIP64_LIMIT if big else e.csize,
                _ZIP64_LIMIT if big else e.usize,
                len(e.name),
                len(extra),
                0,
                0,
                0,
                _EXT_ATTR,
                _ZIP64_LIMIT if e.offset >= _ZIP64_LIMIT else e.offset,
            )
            + e.name
            + extra
        )
        pieces.append(cd)
        pos += len(cd)
    cd_size = pos - cd_start
    if cd_start >= _ZIP64_LIMIT:
        eocd64_at = pos
        pieces.append(
            _EOCD64.pack(
                0x06064B50, 44, _MADE_BY, 45, 0, 0, len(entries), len(entries), cd_size, cd_start
            )
        )
        pieces.append(_EOCD64_LOC.pack(0x07064B50, 0, eocd64_at, 1))
    comment = b"sha256=" + hashlib.sha256(schema).hexdigest().encode()
    pieces.append(
        _EOCD.pack(
            0x06054B50,
            0,
            0,
            len(entries),
            len(entries),
            cd_size,
            min(cd_start, _ZIP64_LIMIT),
            len(comment),
        )
        + comment
    )
    return head, pieces


# ------------------------------------------------------------- writing large files

DIGEST_HOLE = b"0" * 64  # stands for the data section's sha256 until it is known
_STORED_64 = b"\0" + struct.pack("<HH", 64, 0xFFFF ^ 64)  # a stored block of 64 bytes


def schema_member_with_hole(
    prefix: bytes, suffix: bytes, data_size: int, compression: str
) -> tuple[int, bytes, int]:
    """schema.json's method and bytes for the JSON ``prefix + <64 bytes> + suffix``,
    laid out so that the 64 bytes sit verbatim at a known offset of the member:
    returns (method, bytes with DIGEST_HOLE there, offset).

    Deflated, the stream is three runs of blocks: ``prefix`` (ended by a full
    flush, so nothing after refers back into it), one stored block holding the 64
    bytes, then ``suffix``. Its length does not depend on those 64 bytes, so the
    whole file can be laid out (and the data section copied into place) before the
    data section's digest is known."""
    before = len(prefix) - len(_DIGEST_KEY) if prefix.endswith(_DIGEST_KEY) else len(prefix)
    if not deflates_schema(len(prefix) + 64 + len(suffix), data_size, compression, prefix, before):
        return METHOD_STORED, prefix + DIGEST_HOLE + suffix, len(prefix)
    c = zlib.compressobj(3, zlib.DEFLATED, -15, 9)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    tail = c.compress(suffix) + c.flush()
    deflated = b"".join((head, _STORED_64, DIGEST_HOLE, tail))
    if len(deflated) < len(prefix) + 64 + len(suffix):
        return METHOD_DEFLATE, deflated, len(head) + len(_STORED_64)
    return METHOD_STORED, prefix + DIGEST_HOLE + suffix, len(prefix)


def write_stored_bytes(
    prefix: bytes,
    suffix: bytes,
    parts: Sequence[Any],
    size: int,
    hasher: Hasher | None = None,
    padded: Sequence[tuple[int, Any]] = (),
) -> bytes:
    """The whole file for a stored data section, as one bytes object written once.

    schema.json is ``prefix + <data sha256 hex> + suffix``. The digest is computed
    on another thread while the data section is copied into its final place; then
    the digest, the CRC-32s and the archive comment are filled in. On CPython the
    result is a bytes object allocated uninitialised and filled before anyone else
    sees it (the same thing ``bytes.join`` does in C), so a large file is copied
    once.

    ``padded`` lists the parts (index, structured dtype) whose padding bytes are to
    be zeroed: each is tested right after its copy, in cache, and zeroed in place.
    The thread hashes the parts as they are, so in the rare file where a padding
    byte was set the section is hashed again once it is final."""
    if hasher is None:
        hasher = Hasher(parts, crc=False)
    method, body, hole = schema_member_with_hole(prefix, suffix, size, "none")
    # Lay out with placeholder digests: every length is already final.
    placeholder = prefix + DIGEST_HOLE + suffix
    head, tail = _frame(placeholder, (method, body), size, size, 0, METHOD_STORED)
    data_at = sum(len(p) for p in head)
    total = data_at + size + sum(len(p) for p in tail)
    out = _new_bytes(total)
    if out is None:  # not CPython: assemble the pieces once the digest is known
        sha, crc = hasher.result()
        parts, changed = _zeroed(parts, padded)
        if changed:
            sha, crc = _digests(parts)
        if crc is None:
            crc = 0
            for p in parts:
                crc = _crc32(p, crc)
        digest = sha.encode()
        member = (method, body[:hole] + digest + body[hole + 64 :])
        head, tail = _frame(prefix + digest + suffix, member, size, size, crc, METHOD_STORED)
        return b"".join([*head, *parts, *tail])
    buf, view = out
    pos = data_at
    crc = 0
    pending = dict(padded)
    dirty = False
    for i, p in enumerate(parts):
        n = len(p) if type(p) is bytes else p.nbytes
        view[pos : pos + n] = p if type(p) is not bytes else memoryview(p)
        if pending and i in pending:
            region = view[pos : pos + n]
            dirty |= _zero_padding_in_place(region, pending[i])
            crc = _crc32(region, crc)
        else:
            crc = _crc32(p, crc)
        pos += n
    sha, hasher_crc = hasher.result()
    if dirty:  # the thread hashed padding bytes the file does not hold
        sha = hashlib.sha256(view[data_at : data_at + size]).hexdigest()
    elif hasher_crc is not None:
        crc = hasher_crc
    digest = sha.encode()
    member = (method, body[:hole] + digest + body[hole + 64 :])
    head, tail = _frame(prefix + digest + suffix, member, size, size, crc, METHOD_STORED)
    pos = 0
    for p in head:
        view[pos : pos + len(p)] = memoryview(p)
        pos += len(p)
    pos += size
    for p in tail:
        view[pos : pos + len(p)] = memoryview(p)
        pos += len(p)
    del view
    return buf


def _new_bytes(n: int) -> tuple[bytes, Any] | None:
    """A new, not yet shared bytes object of length ``n`` and a writable uint8 array
    over its contents; None where that needs more than CPython's C API offers."""
    api = _bytes_api()
    if api is None or n < 2:  # CPython shares its empty and one-byte bytes objects
        return None
    new, as_string = api
    import numpy as np

    buf = new(None, n)
    addr = as_string(buf)
    # No madvise(MADV_HUGEPAGE) here, although it made a first 60 MB dump 30% faster:
    # once memory is fragmented (any long-lived process, e.g. a notebook holding a few
    # models), the kernel compacts memory synchronously on each fault of a madvised
    # region, and the same dump took 150-180 ms instead of 57 (THP defrag "madvise").
    # Its pages are faulted in by one madvise(MADV_POPULATE_WRITE) call rather than
    # one fault per 4 KiB page as the copy reaches them: the same zeroed 4 KiB pages
    # (no huge pages, so no compaction), a fifth less time for a 60 MB copy.
    _populate(addr, n)
    # An array interface rather than a ctypes array type: ctypes caches one type per
    # length, which would grow with every differently sized dump.
    view = np.asarray(_RawMemory(addr, n))
    return buf, view


_PAGE = 4096
_MADV_POPULATE_WRITE = 23  # Linux 5.14+; older kernels answer EINVAL, and nothing changes
_POPULATE_OVER = 1 << 20


def _populate(addr: int, n: int) -> None:
    """Fault in the whole pages of [addr, addr + n) for writing, where Linux can."""
    madvise = _madvise()
    if madvise is None or n < _POPULATE_OVER:
        return
    start = -(-addr // _PAGE) * _PAGE
    end = (addr + n) // _PAGE * _PAGE
    if end > start:
        madvise(start, end - start, _MADV_POPULATE_WRITE)  # a hint: the result is ignored


@functools.cache
def _madvise() -> Any:
    if not sys.platform.startswith("linux"):  # pragma: no cover
        return None
    try:
        madvise = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):  # pragma: no cover
        return None
    madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    madvise.restype = ctypes.c_int
    return madvise


class _RawMemory:
    """Describes ``n`` writable bytes at ``addr`` to numpy; whoever uses the array
    keeps the memory's owner alive."""

    __slots__ = ("__array_interface__",)

    def __init__(self, addr: int, n: int) -> None:
        self.__array_interface__ = {
            "data": (addr, False),
            "shape": (n,),
            "typestr": "|u1",
            "version": 3,
        }


@functools.cache
def _bytes_api() -> tuple[Any, Any] | None:
    if sys.implementation.name != "cpython":  # pragma: no cover
        return None
    try:
        new = ctypes.pythonapi.PyBytes_FromStringAndSize
        new.restype = ctypes.py_object
        new.argtypes = (ctypes.c_char_p, ctypes.c_ssize_t)
        as_string = ctypes.pythonapi.PyBytes_AsString
        as_string.restype = ctypes.c_void_p
        as_string.argtypes = (ctypes.py_object,)
    except AttributeError:  # pragma: no cover
        return None
    return new, as_string


# ---------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class MemberInfo:
    name: str
    method: int
    crc: int
    start: int  # first byte of the member's (compressed) data in the file
    csize: int
    usize: int


@dataclass(frozen=True)
class ParsedContainer:
    buf: Any  # bytes-like over the whole file
    schema: bytes
    data: MemberInfo | None


def _corrupt(msg: str, code: str = "E-CONTAINER-CORRUPT") -> ContainerError:
    return ContainerError(msg, code=code)


def _check_name(name: str) -> None:
    if (
        name.startswith(("/", "\\"))
        or "\\" in name
        or ".." in name.split("/")
        or (len(name) >= 2 and name[1] == ":")
        or "\0" in name
    ):
        raise _corrupt(f"member name {name!r} is not a plain relative name", "E-CONTAINER-PATH")


def _zip64_values(extra: bytes, want: int) -> list[int]:
    i = 0
    while i + 4 <= len(extra):
        hid, size = struct.unpack_from("<HH", extra, i)
        if hid == 0x0001:
            body = extra[i + 4 : i + 4 + size]
            if len(body) < 8 * want:
                raise _corrupt("zip64 extra field is too short")
            return list(struct.unpack_from(f"<{want}Q", body))
        i += 4 + size
    raise _corrupt("a size says zip64 but the entry has no zip64 extra field")


def parse_container(buf: Any, limits: Limits) -> ParsedContainer:
    """Parse and check the zip structure; return schema.json's bytes (integrity
    verified) and where the data member lies. Reads no data-section bytes."""
    view = memoryview(buf)
    n = view.nbytes
    # The last signature with room for a record after it, searched in the last 4 KiB
    # first (a file we write has a 71-byte comment): the same record a search of the
    # whole 64 KiB window finds, without copying that window on every load.
    for window in (4096, _EOCD.size + 0xFFFF):
        tail_start = max(0, n - window)
        tail = bytes(view[tail_start:])
        at = tail.rfind(b"PK\x05\x06")
        while at >= 0 and at + _EOCD.size > len(tail):
            at = tail.rfind(b"PK\x05\x06", 0, at)
        if at >= 0 or tail_start == 0:
            break
    if at < 0:
        raise _corrupt(
            "not a zip archive: no end-of-central-directory record", "E-CONTAINER-NOT-ZIP"
        )
    (_, disk, cd_disk, n_disk, n_total, cd_size, cd_off, clen) = _EOCD.unpack_from(tail, at)
    comment = tail[at + _EOCD.size : at + _EOCD.size + clen]
    eocd_pos = tail_start + at
    if disk != 0 or cd_disk != 0 or n_disk != n_total:
        raise _corrupt("multi-disk archives are not allowed")
    if n_total == 0xFFFF or cd_size == _ZIP64_LIMIT or cd_off == _ZIP64_LIMIT:
        loc = eocd_pos - _EOCD64_LOC.size
        if loc < 0 or bytes(view[loc : loc + 4]) != b"PK\x06\x07":
            raise _corrupt("zip64 sentinel values without a zip64 locator")
        _, _, eocd64_pos, _ = _EOCD64_LOC.unpack_from(view, loc)
        if (
            eocd64_pos + _EOCD64.size > loc
            or bytes(view[eocd64_pos : eocd64_pos + 4]) != b"PK\x06\x06"
        ):
            raise _corrupt("zip64 end record is missing or out of range")
        (_, _, _, _, _, _, _, n_total, cd_size, cd_off) = _EOCD64.unpack_from(view, eocd64_pos)
        cd_end_limit = eocd64_pos
    else:
        cd_end_limit = eocd_pos
    if n_total > limits.max_members:
        raise LimitError(
            f"the archive has {n_total} members; the limit is {limits.max_members}",
            code="E-LIMIT-MEMBERS",
        )
    if cd_off + cd_size > cd_end_limit:
        raise _corrupt("central directory lies outside the file")

    members: dict[str, MemberInfo] = {}
    spans: list[tuple[int, int]] = []
    p = cd_off
    for _ in range(n_total):
        if p + _CENTRAL.size > cd_off + cd_size:
            raise _corrupt("central directory is truncated")
        (sig, _, _, flags, method, _, _, crc, csize, usize, nlen, xlen, clen2, _, _, _, loff) = (
            _CENTRAL.unpack_from(view, p)
        )
        if sig != 0x02014B50:
            raise _corrupt("bad central directory entry signature")
        raw_name = bytes(view[p + 46 : p + 46 + nlen])
        extra = bytes(view[p + 46 + nlen : p + 46 + nlen + xlen])
        p += 46 + nlen + xlen + clen2
        try:
            name = raw_name.decode("utf-8")
        except UnicodeDecodeError:
            raise _corrupt("member name is not UTF-8", "E-CONTAINER-PATH") from None
        _check_name(name)
        if name in members:
            raise _corrupt(f"member {name!r} appears twice", "E-CONTAINER-MEMBER-DUPLICATE")
        if name not in (SCHEMA_MEMBER, DATA_MEMBER):
            raise _corrupt(
                f"member {name!r} is not defined by protocol 3", "E-CONTAINER-MEMBER-UNKNOWN"
            )
        if flags & 0x41:
            raise _corrupt(f"member {name!r} is encrypted", "E-CONTAINER-COMPRESSION")
        if method not in (METHOD_STORED, METHOD_DEFLATE, METHOD_ZSTD) or (
            name == SCHEMA_MEMBER and method == METHOD_ZSTD
        ):
            raise _corrupt(
                f"member {name!r} uses compression method {method}", "E-CONTAINER-COMPRESSION"
            )
        want = [usize == _ZIP64_LIMIT, csize == _ZIP64_LIMIT, loff == _ZIP64_LIMIT]
        if any(want):
            vals = iter(_zip64_values(extra, sum(want)))
            usize = next(vals) if want[0] else usize
            csize = next(vals) if want[1] else csize
            loff = next(vals) if want[2] else loff
        if loff + _LOCAL.size > cd_off:
            raise _corrupt(f"member {name!r} starts outside the archive")
        (lsig, _, lflags, lmethod, _, _, lcrc, lcsize, lusize, lnlen, lxlen) = _LOCAL.unpack_from(
            view, loff
        )
        if lsig != 0x04034B50 or lmethod != method or lflags != flags:
            raise _corrupt(f"local header of {name!r} disagrees with the central directory")
        if not flags & 0x08 and (
            lcrc != crc
            or lcsize not in (csize, _ZIP64_LIMIT)
            or lusize not in (usize, _ZIP64_LIMIT)
        ):
            raise _corrupt(
                f"local header of {name!r} records other sizes or CRC than the central directory"
            )
        if bytes(view[loff + 30 : loff + 30 + lnlen]) != raw_name:
            raise _corrupt(f"local header names {name!r} differently")
        start = loff + 30 + lnlen + lxlen
        if start + csize > cd_off:
            raise _corrupt(f"member {name!r} runs past the start of the central directory")
        if method == METHOD_STORED and csize != usize:
            raise _corrupt(f"stored member {name!r} has different sizes")
        for a, b in spans:
            if loff < b and a < start + csize:
                raise _corrupt(f"member {name!r} overlaps another member")
        spans.append((loff, start + csize))
        members[name] = MemberInfo(name, method, crc, start, csize, usize)

    if SCHEMA_MEMBER not in members:
        raise _corrupt("schema.json is missing", "E-CONTAINER-MEMBER-MISSING")
    s = members[SCHEMA_MEMBER]
    if s.usize > limits.max_schema_bytes:
        raise LimitError(
            f"schema.json is {s.usize} bytes; the limit is {limits.max_schema_bytes}",
            code="E-LIMIT-SCHEMA-BYTES",
        )
    schema = _inflate(view[s.start : s.start + s.csize], s, limits.max_schema_bytes)
    m = _COMMENT_RE.match(comment)
    if m is None:
        raise IntegrityError(
            "the archive comment does not record schema.json's sha256", code="E-INTEGRITY-SCHEMA"
        )
    if hashlib.sha256(schema).hexdigest().encode() != m.group(1):
        raise IntegrityError(
            "schema.json does not match its recorded sha256: the file is corrupted",
            code="E-INTEGRITY-SCHEMA",
        )
    return ParsedContainer(buf, schema, members.get(DATA_MEMBER))


def _inflate(raw: memoryview, info: MemberInfo, cap: int) -> bytes:
    if info.method == METHOD_STORED:
        return bytes(raw)
    d = zlib.decompressobj(-15)
    try:
        out = d.decompress(raw, info.usize + 1)
    except zlib.error as exc:
        raise _corrupt(f"member {info.name!r} is not valid deflate data: {exc}") from None
    if len(out) != info.usize or not d.eof or d.unused_data:
        raise _corrupt(f"member {info.name!r} does not decompress to exactly its recorded size")
    return out


def decode_data(pc: ParsedContainer, compression: str, size: int, limits: Limits) -> Any:
    """Return the data section as a buffer: stored data as a view of the file (the
    builder decides which arrays to copy), compressed data freshly decompressed."""
    info = pc.data
    if info is None:
        raise _corrupt(
            "schema.json refers to a data member that is absent", "E-CONTAINER-MEMBER-MISSING"
        )
    if size > limits.max_data_bytes:
        raise LimitError(
            f"the data section is {size} bytes; the limit is {limits.max_data_bytes}",
            code="E-LIMIT-DATA-BYTES",
        )
    if METHODS[compression] != info.method:
        raise _corrupt(
            f"schema.json says compression {compression!r} but the member uses method {info.method}",
            "E-CONTAINER-COMPRESSION",
        )
    if info.usize != size:
        raise _corrupt(f"data member holds {info.usize} bytes but schema.json says {size}")
    raw = memoryview(pc.buf)[info.start : info.start + info.csize]
    if info.method == METHOD_STORED:
        return raw
    if info.method == METHOD_DEFLATE:
        return bytearray(_inflate(raw, info, size))
    try:
        import zstandard
    except ImportError as exc:  # pragma: no cover
        raise _corrupt(
            "the data section is zstd-compressed; install 'skship[zstd]' to read it",
            "E-CONTAINER-COMPRESSION",
        ) from exc
    out = bytearray()
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=False)
        while len(out) <= size:  # bounded: never inflate past the declared size
            chunk = reader.read(min(1 << 24, size + 1 - len(out)))
            if not chunk:
                break
            out += chunk
    except zstandard.ZstdError as exc:
        raise _corrupt(f"the data section is not valid zstd data: {exc}") from None
    if len(out) != size:
        raise _corrupt("the data section does not decompress to exactly its recorded size")
    return out


class DataVerifier:
    """Checks the data section's sha256 on another core while the objects are built."""

    def __init__(self, data: Any, expected: str) -> None:
        self._data = data
        self._expected = expected
        self._result: list[str] = []
        self._thread: threading.Thread | None = None
        if memoryview(data).nbytes > (1 << 20):
            self._thread = threading.Thread(target=_sha256_parts, args=([data], self._result))
            self._thread.start()

    def check(self) -> None:
        if self._thread is not None:
            self._thread.join()
        else:
            _sha256_parts([self._data], self._result)
        if self._result[0] != self._expected:
            raise IntegrityError(
                "the data section does not match its recorded sha256: the file is corrupted",
                code="E-INTEGRITY-DATA",
            )
