"""The public API: dump, dumps, load, loads, get_untrusted_types."""

from __future__ import annotations

import mmap as _mmap
import os
import sys
import warnings
from collections.abc import Iterable
from functools import cache
from typing import IO, Any

import msgspec

from skship import __version__
from skship.errors import (
    InvalidArgumentError,
    UnsupportedTypeError,
    UntrustedTypesError,
    VersionMismatchWarning,
)
from skship.format.container import (
    DATA_MEMBER,
    DataVerifier,
    decode_data,
    parse_container,
    write_container,
)
from skship.format.limits import DEFAULT_LIMITS, Limits
from skship.format.recursion import recursion_limit

__all__ = ["dump", "dumps", "get_signature", "get_untrusted_types", "load", "loads"]

PathLike = str | os.PathLike[str]
_COMPRESSIONS = (None, "none", "deflate", "zstd")
_json = msgspec.json.Encoder()


@cache
def _environment() -> dict[str, str]:
    """Installed versions of Python and the libraries models depend on, read from
    package metadata: the same in every process, and nothing gets imported."""
    from importlib.metadata import PackageNotFoundError, version

    env = {"python": ".".join(map(str, sys.version_info[:3]))}
    for key, dist in (("numpy", "numpy"), ("scipy", "scipy"), ("sklearn", "scikit-learn")):
        try:
            env[key] = version(dist)
        except PackageNotFoundError:
            continue
    return env


def _signature(sample: Any) -> dict[str, Any]:
    from skship.format.signature import signature_of

    return signature_of(sample)


def _serialize(obj: Any, compression: str | None, sample: Any) -> list[Any]:
    from skship.format.encoder import Encoder

    if compression not in _COMPRESSIONS:
        raise InvalidArgumentError(
            f"compression must be one of None, 'deflate', 'zstd'; got {compression!r}"
        )
    comp = compression or "none"
    enc = Encoder()
    try:
        with recursion_limit(DEFAULT_LIMITS.max_depth):
            root = enc.encode(obj)
    except BaseException:
        enc.data.abandon()
        raise
    doc: dict[str, Any] = {
        "protocol": 3,
        "writer": {"name": "skship", "version": __version__},
        "environment": _environment(),
        "names": dict(sorted(enc.names.items())),
    }
    if enc.dtypes:
        doc["dtypes"] = enc.dtypes
    doc["root"] = root
    parts = enc.data.parts
    if enc.data.size:
        sha, crc = enc.data.digests()
        doc["data"] = {
            "member": DATA_MEMBER,
            "compression": comp,
            "size": enc.data.size,
            "sha256": sha,
        }
    else:
        crc = 0
    if sample is not None:
        doc["signature"] = _signature(sample)
    try:
        with recursion_limit(DEFAULT_LIMITS.max_depth):
            schema = _json.encode(doc)
    except (TypeError, ValueError, msgspec.EncodeError) as exc:
        raise UnsupportedTypeError(
            f"a value cannot be written as JSON ({exc}); strings must be valid Unicode "
            "without lone surrogates"
        ) from None
    out: list[Any] = []
    write_container(out, schema, parts if enc.data.size else None, enc.data.size, crc, comp)
    return out


def dumps(obj: Any, *, compression: str | None = None, sample: Any = None) -> bytes:
    """Serialize ``obj`` to protocol-3 bytes. Equal object state gives equal bytes.

    ``compression``: None (default; arrays can be memory-mapped), ``"deflate"`` or
    ``"zstd"`` (needs ``skship[zstd]``). ``sample``: input rows (a DataFrame or 2-d
    array) whose feature names and dtypes are recorded as the model's signature.
    """
    return b"".join(_serialize(obj, compression, sample))


def dump(
    obj: Any, file: PathLike | IO[bytes], *, compression: str | None = None, sample: Any = None
) -> None:
    """Write ``obj`` to a path or binary file object. See :func:`dumps`."""
    pieces = _serialize(obj, compression, sample)
    if isinstance(file, str | os.PathLike):
        with open(file, "wb") as f:
            f.writelines(pieces)
    else:
        file.writelines(pieces)


def _policy(trusted: Any) -> Any:
    from skship.format.trust import make_policy

    return make_policy(trusted)


def _read(buf: Any, trusted: Any, limits: Limits | None, verify: bool, copy: bool) -> Any:
    from skship.format.decoder import Builder, audit, decode_document
    from skship.format.nodes.sklearn_ import STATE_COPIED_BY_TYPE
    from skship.format.registry import generic_validators, validators

    limits = limits or DEFAULT_LIMITS
    policy = _policy(trusted)
    pc = parse_container(buf, limits)
    doc = decode_document(pc.schema, limits)
    found = audit(doc, limits)
    untrusted = policy.untrusted(found.names)
    if untrusted:
        raise UntrustedTypesError(untrusted)
    data: Any = b""
    verifier = None
    if doc.data is not None:
        data = decode_data(pc, doc.data.compression, doc.data.size, limits)
        if verify:
            verifier = DataVerifier(data, doc.data.sha256)
    elif pc.data is not None:
        from skship.errors import ContainerError

        raise ContainerError(
            "the archive has a data member that schema.json does not describe",
            code="E-CONTAINER-MEMBER-UNKNOWN",
        )
    builder = Builder(
        data,
        validators(),
        list(generic_validators()),
        # Stored data is then a view of the caller's buffer; decompressed data is ours.
        copy_arrays=copy and doc.data is not None and doc.data.compression == "none",
        # Skipping a copy is safe only when nobody can change the bytes after validation.
        copies_state=STATE_COPIED_BY_TYPE if isinstance(buf, bytes) else frozenset(),
        dtypes=found.dtypes,
    )
    try:
        with recursion_limit(limits.max_depth):
            obj = builder.build(doc.root)
    except BaseException:
        if verifier is not None:
            verifier.check()  # a corrupted file explains the failure better
        raise
    if verifier is not None:
        verifier.check()
    _warn_versions(doc.environment.sklearn)
    return obj


def _warn_versions(saved: str | None) -> None:
    if saved is None:
        return
    mod = sys.modules.get("sklearn")
    if mod is None:
        return
    current = getattr(mod, "__version__", None)
    if current is not None and current != saved:
        warnings.warn(
            f"this file was saved with scikit-learn {saved} and is being loaded with "
            f"scikit-learn {current}; predictions may differ. Re-save it under {current} "
            "once you have checked them.",
            VersionMismatchWarning,
            stacklevel=4,
        )


def loads(
    data: bytes | bytearray | memoryview,
    *,
    trusted: Iterable[Any] | None = None,
    limits: Limits | None = None,
    verify: bool = True,
) -> Any:
    """Load an object from protocol-3 bytes.

    The file is audited before anything is imported: every type or function it names
    must be in the default trusted set or in ``trusted`` (names, types or functions),
    else :class:`skship.errors.UntrustedTypesError` is raised and nothing is built.
    ``verify`` checks the data section's sha256 (on a second core, while building).
    """
    # One copy of the data section, so arrays are writable (as pickle's are) and later
    # writes to a caller's buffer cannot reach them.
    return _read(data, trusted, limits, verify, copy=True)


def load(
    file: PathLike | IO[bytes],
    *,
    trusted: Iterable[Any] | None = None,
    mmap: bool = False,
    limits: Limits | None = None,
    verify: bool = True,
) -> Any:
    """Load an object from a path or binary file. See :func:`loads`.

    ``mmap=True`` (paths of uncompressed files only) maps the file copy-on-write:
    arrays are views of the page cache, shared between processes, and writable
    without touching the file.
    """
    if mmap:
        if not isinstance(file, str | os.PathLike):
            raise InvalidArgumentError("mmap=True needs a path to a file")
        with open(file, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                return _read(b"", trusted, limits, verify, copy=True)
            mm = _mmap.mmap(f.fileno(), 0, access=_mmap.ACCESS_COPY)
        return _read(mm, trusted, limits, verify, copy=False)
    if isinstance(file, str | os.PathLike):
        with open(file, "rb") as f:
            buf = bytearray(os.fstat(f.fileno()).st_size)
            n = f.readinto(buf)
            del buf[n:]
    else:
        buf = bytearray(file.read())
    # The buffer is ours alone: arrays are writable views of it, with no second copy.
    return _read(buf, trusted, limits, verify, copy=False)


def get_untrusted_types(
    file: PathLike | IO[bytes] | bytes | bytearray | memoryview,
    *,
    trusted: Iterable[Any] | None = None,
    limits: Limits | None = None,
) -> list[str]:
    """The names the file would import that are not trusted (sorted).

    Reads the zip headers and the name index at the top of schema.json: no array
    bytes, no imports, no walk of the value tree. :func:`load` checks that the index
    matches the tree, so a file whose index hides a name can never be loaded.
    """
    from skship.format.decoder import read_name_index

    limits = limits or DEFAULT_LIMITS
    buf: Any
    if isinstance(file, bytes | bytearray | memoryview):
        buf = file
    elif isinstance(file, str | os.PathLike):
        with open(file, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            buf = _mmap.mmap(f.fileno(), 0, access=_mmap.ACCESS_READ) if size else b""
    else:
        buf = file.read()
    pc = parse_container(buf, limits)
    untrusted: list[str] = _policy(trusted).untrusted(read_name_index(pc.schema, limits))
    return untrusted


def get_signature(
    file: PathLike | IO[bytes] | bytes | bytearray | memoryview,
    *,
    limits: Limits | None = None,
) -> dict[str, Any] | None:
    """The input signature that ``dump(..., sample=X)`` recorded, or None.

    Reads schema.json only: nothing is imported or built, so it is safe on any file.
    """
    from skship.format.decoder import decode_document

    limits = limits or DEFAULT_LIMITS
    buf: Any
    if isinstance(file, bytes | bytearray | memoryview):
        buf = file
    elif isinstance(file, str | os.PathLike):
        with open(file, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            buf = _mmap.mmap(f.fileno(), 0, access=_mmap.ACCESS_READ) if size else b""
    else:
        buf = file.read()
    doc = decode_document(parse_container(buf, limits).schema, limits)
    if doc.signature is None:
        return None
    signature: dict[str, Any] = msgspec.to_builtins(doc.signature)
    return signature
