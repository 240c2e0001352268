"""Build hostile or unusual protocol-3 files for tests: a schema.json of our choosing
with correct hashes (so the deeper checks are reached), or a raw zip of our choosing."""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
from typing import Any

import msgspec

# The spec's name index (rule-name-index), as the conformance tools compute it.
from skship.conformance.tree import name_index
from skship.format.container import DataSection, write_container

ENV = {"python": "3.11.0", "numpy": "2.0.0", "scipy": "1.14.0"}


def document(root: Any, data: bytes = b"", **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "protocol": 3,
        "writer": {"name": "test", "version": "0"},
        "environment": ENV,
        "names": name_index(root),
        "root": root,
    }
    if data:
        doc["data"] = {
            "member": "data",
            "compression": "none",
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    doc.update(extra)
    return doc


def build(doc: dict[str, Any] | bytes, data: bytes = b"", compression: str = "none") -> bytes:
    """A well-formed container around ``doc`` (a dict, or raw schema.json bytes)."""
    schema = doc if isinstance(doc, bytes) else msgspec.json.encode(doc)
    out: list[Any] = []
    if data:
        section = DataSection()
        section.add(memoryview(data))
        _, crc = section.digests()
        write_container(out, schema, [data], len(data), crc, compression)
    else:
        write_container(out, schema, None, 0, 0, compression)
    return b"".join(out)


def file_with(root: Any, data: bytes = b"", **extra: Any) -> bytes:
    return build(document(root, data, **extra), data)


def raw_zip(
    members: list[tuple[str, bytes]], comment: bytes | None = None, method: int = zipfile.ZIP_STORED
) -> bytes:
    """A zip written by the standard library, with whatever members we like."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as z:
        for name, body in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            z.writestr(info, body)
        if comment is None:
            schema = dict(members).get("schema.json", b"")
            comment = b"sha256=" + hashlib.sha256(schema).hexdigest().encode()
        z.comment = comment
    return buf.getvalue()


def patch_member_size(blob: bytes, member: str, new_usize: int) -> bytes:
    """Rewrite the uncompressed size of a member in its local and central headers."""
    b = bytearray(blob)
    name = member.encode()
    # (signature, offset of the size field, offset of the name length, header length)
    for sig, size_at, nlen_at, head in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        i = b.find(sig)
        while i >= 0:
            nlen = struct.unpack_from("<H", b, i + nlen_at)[0]
            if bytes(b[i + head : i + head + nlen]) == name:
                struct.pack_into("<I", b, i + size_at, new_usize)
            i = b.find(sig, i + 4)
    return bytes(b)
