"""Read a model file's document (any protocol) for the tools that look inside it.

``inspect``, ``audit``, ``diff`` and ``upgrade`` work on the parsed document and never
construct anything. Protocol 3 is parsed here; protocols 0-2 (upstream skops) are
translated into an equivalent protocol-3 document by ``skship.format.upstream``.
"""

from __future__ import annotations

import io
import mmap as _mmap
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

import msgspec

from skship import _schema as S
from skship.errors import FormatError, UnsupportedProtocolError
from skship.format.limits import DEFAULT_LIMITS, Limits

PathLike = str | os.PathLike[str]
Source = PathLike | IO[bytes] | bytes | bytearray | memoryview
UPSTREAM_PROTOCOLS = (0, 1, 2)


@dataclass(frozen=True)
class ModelFile:
    """A parsed document and a way to get its data section (read only when asked)."""

    doc: S.Document
    protocol: int  # as recorded in the file (0-2 for upstream skops files)
    size: int  # bytes of the file
    data: Callable[[], Any]  # the data section (verified), for diff and upgrade


def read_bytes(source: Source) -> Any:
    """A bytes-like view of the whole file; paths are memory-mapped (nothing is read
    until a byte is touched, so inspecting a large file reads only its headers)."""
    if isinstance(source, bytes | bytearray | memoryview):
        return source
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            return _mmap.mmap(f.fileno(), 0, access=_mmap.ACCESS_READ) if size else b""
    return source.read()


class _Head(msgspec.Struct):
    protocol: int


def upstream_protocol(buf: Any, limits: Limits) -> int | None:
    """The protocol of an upstream skops zip (0-2), or None when it is not one."""
    try:
        with zipfile.ZipFile(io.BytesIO(memoryview(buf))) as zf:
            info = zf.getinfo("schema.json")
            if info.file_size > limits.max_schema_bytes:
                return None
            with zf.open(info) as member:
                raw = member.read(limits.max_schema_bytes + 1)
        protocol = msgspec.json.decode(raw, type=_Head).protocol
    except Exception:
        return None  # not an upstream file: the protocol-3 error explains it better
    return protocol if protocol in UPSTREAM_PROTOCOLS else None


def read_model_file(source: Source, limits: Limits | None = None) -> ModelFile:
    """Parse a model file of any protocol, reading no array bytes."""
    from skship.format.container import DataVerifier, decode_data, parse_container
    from skship.format.decoder import decode_document

    limits = limits or DEFAULT_LIMITS
    buf = read_bytes(source)
    size = memoryview(buf).nbytes
    try:
        pc = parse_container(buf, limits)
        doc = decode_document(pc.schema, limits)
    except FormatError:
        protocol = upstream_protocol(buf, limits)
        if protocol is None:
            raise
        return _read_upstream(buf, protocol, size, limits)

    def data() -> Any:
        if doc.data is None:
            return b""
        section = decode_data(pc, doc.data.compression, doc.data.size, limits)
        DataVerifier(section, doc.data.sha256).check()
        return section

    return ModelFile(doc, doc.protocol, size, data)


def _read_upstream(buf: Any, protocol: int, size: int, limits: Limits) -> ModelFile:
    try:
        from skship.format.upstream import read_document  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        raise UnsupportedProtocolError(
            f"the file is an upstream skops file of protocol {protocol}; this skship cannot "
            "read protocols 0-2 (it lacks skship.format.upstream)"
        ) from None
    doc, section = read_document(buf, limits)
    return ModelFile(doc, protocol, size, lambda: section)
