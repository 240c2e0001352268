"""The public API: dump, dumps, load, loads, get_untrusted_types."""

from __future__ import annotations

import gc
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
    FormatError,
    InvalidArgumentError,
    UnsupportedTypeError,
    UntrustedTypesError,
    VersionMismatchWarning,
)
from skship.format.container import (
    DATA_MEMBER,
    DataVerifier,
    ParsedContainer,
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


def _signature(sample: Any, model: Any) -> dict[str, Any]:
    from skship.format.signature import signature_of

    return signature_of(sample, model)


_LARGE = 1 << 20  # data sections from this size are hashed on another thread


def _serialize(
    obj: Any, compression: str | None, sample: Any, protocol: int = 3, whole: bool = False
) -> list[Any]:
    """The file as a list of pieces to write in order; with ``whole``, as one piece
    (a large stored file is then assembled in place rather than joined)."""
    from skship.format.container import (
        Hasher,
        schema_member_with_hole,
        write_stored_bytes,
    )
    from skship.format.encoder import Encoder

    if compression not in _COMPRESSIONS:
        raise InvalidArgumentError(
            f"compression must be one of None, 'deflate', 'zstd'; got {compression!r}"
        )
    if protocol not in (2, 3) or type(protocol) is not int:
        raise InvalidArgumentError(
            f"protocol must be 3 (the default) or 2 (for upstream skops); got {protocol!r}"
        )
    if protocol == 2 and (compression not in (None, "none") or sample is not None):
        raise InvalidArgumentError("protocol=2 files take neither compression nor sample")
    comp = compression or "none"
    # A large stored file is copied into place by write_stored_bytes, which zeroes
    # structured records' padding there; every other path zeroes it after the walk.
    in_place = whole and comp == "none" and protocol == 3
    enc = Encoder(defer_padding=in_place)
    # The walk allocates a node per object and frees none of them: the cyclic
    # collector would scan the whole heap every few thousand nodes for nothing.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    hasher = None
    try:
        with recursion_limit(DEFAULT_LIMITS.max_depth):
            root = enc.encode(obj)
            if protocol == 2:
                from skship.format.protocol2 import write_protocol2

                return [write_protocol2(root, b"".join(enc.data.parts), enc.dtypes)]
            parts = enc.data.parts
            size = enc.data.size
            if size < _LARGE:
                enc.data.zero_padding()
            if size >= _LARGE:
                # Filled in place, the CRC-32 is computed as the data is copied: the
                # thread then has only the sha256 to do, the longest task of a dump.
                hasher = Hasher(parts, crc=not (whole and comp == "none"))
            head, tail = _document(enc, obj, root, comp, sample)
    except BaseException:
        if hasher is not None:  # let the thread finish before the parts go away
            hasher.result()
        raise
    finally:
        if gc_was_enabled:
            gc.enable()
    out: list[Any] = []
    if not size:
        write_container(out, head[:-1] + tail, None, 0, 0, comp)
        return out
    prefix, suffix = head[: -3 - 64], head[-3:-1] + tail
    if hasher is None:
        sha, crc = enc.data.digests()
        write_container(out, prefix + sha.encode() + suffix, parts, size, crc, comp)
        return out
    if whole and comp == "none":
        return [write_stored_bytes(prefix, suffix, parts, size, hasher, enc.data.padded)]
    # A large file is laid out the same way whether it is returned whole or written
    # in pieces, so dump and dumps give the same bytes.
    method, body, hole = schema_member_with_hole(prefix, suffix, size, comp)
    sha, crc = hasher.result()
    digest = sha.encode()
    member = (method, body[:hole] + digest + body[hole + 64 :])
    write_container(out, prefix + digest + suffix, parts, size, crc, comp, member)
    return out


def _document(enc: Any, obj: Any, root: Any, comp: str, sample: Any) -> tuple[bytes, bytes]:
    """schema.json as ``head[:-1] + tail``: ``head`` is the document up to its data
    member, ending with the placeholder digest when there is one; ``tail`` closes
    it, with the signature when there is one."""
    from skship.format.container import DIGEST_HOLE

    doc: dict[str, Any] = {
        "protocol": 3,
        "writer": {"name": "skship", "version": __version__},
        "environment": _environment(),
        "names": dict(sorted(enc.names.items())),
    }
    if enc.dtypes:
        doc["dtypes"] = enc.dtypes
    doc["root"] = root
    if enc.data.size:
        # The digest is filled in once known, so the JSON ends with it; the
        # signature, which follows in the document, is spliced in after.
        doc["data"] = {
            "member": DATA_MEMBER,
            "compression": comp,
            "size": enc.data.size,
            "sha256": DIGEST_HOLE.decode(),
        }
    signature = None if sample is None else _signature(sample, obj)
    try:
        head = _json.encode(doc)
        tail = b"}"
        if signature is not None:
            tail = b',"signature":' + _json.encode(signature) + tail
    except (TypeError, ValueError, msgspec.EncodeError) as exc:
        raise UnsupportedTypeError(
            f"a value cannot be written as JSON ({exc}); strings must be valid Unicode "
            "without lone surrogates"
        ) from None
    return head, tail


def dumps(
    obj: Any, *, compression: str | None = None, sample: Any = None, protocol: int = 3
) -> bytes:
    """Serialize ``obj`` to protocol-3 bytes. Equal object state gives equal bytes.

    ``compression``: None (default; arrays can be memory-mapped), ``"deflate"`` or
    ``"zstd"`` (needs ``skship[zstd]``). ``sample``: input rows (a DataFrame or 2-d
    array) whose feature names and dtypes are recorded as the model's signature.
    ``protocol=2`` writes upstream skops's protocol 2 instead, for consumers that still
    load with ``skops.io`` (no digest, no signature; see the upstream guide).
    """
    pieces = _serialize(obj, compression, sample, protocol, whole=True)
    return pieces[0] if len(pieces) == 1 and type(pieces[0]) is bytes else b"".join(pieces)


def dump(
    obj: Any,
    file: PathLike | IO[bytes],
    *,
    compression: str | None = None,
    sample: Any = None,
    protocol: int = 3,
) -> None:
    """Write ``obj`` to a path or binary file object. See :func:`dumps`."""
    pieces = _serialize(obj, compression, sample, protocol)
    if isinstance(file, str | os.PathLike):
        with open(file, "wb") as f:
            f.writelines(pieces)
    else:
        file.writelines(pieces)


def _policy(trusted: Any) -> Any:
    if trusted is None:
        return _default_policy()
    from skship.format.trust import make_policy

    return make_policy(trusted)


@cache
def _default_policy() -> Any:
    from skship.format.trust import make_policy

    return make_policy(None)


def _default_judge(doc: Any, found: Any) -> list[str]:
    untrusted: list[str] = _policy(None).untrusted(found.names)
    return untrusted


def _trust_judge(trusted: Any, policy: Any) -> Any:
    """A function (doc, audit) -> untrusted names. Built before the file is read, so a
    bad ``trusted=`` or policy is reported before anything about the file."""
    if policy is None:
        if trusted is None:
            return _default_judge
        names_policy = _policy(trusted)
        return lambda doc, found: names_policy.untrusted(found.names)
    # A policy may trust a name at some paths only: judge every node where it is named.
    from skship._tree import walk
    from skship.policy import make_policy

    full = make_policy(policy, trusted)
    return lambda doc, found: sorted({u.name for u in full.untrusted_uses(walk(doc, found.dtypes))})


@cache
def _reader() -> Any:
    """The reading machinery, imported on the first load (``import skship`` stays light)
    and then looked up once per load rather than imported again by every call."""
    from types import SimpleNamespace

    from skship.format import decoder
    from skship.format.nodes.sklearn_ import STATE_COPIED_BY_TYPE
    from skship.format.registry import generic_validators, validators

    return SimpleNamespace(
        Builder=decoder.Builder,
        audit=decoder.audit,
        decode_document=decoder.decode_document,
        STATE_COPIED_BY_TYPE=STATE_COPIED_BY_TYPE,
        generic_validators=generic_validators,
        validators=validators,
    )


def _read(
    buf: Any, trusted: Any, limits: Limits | None, verify: bool, copy: bool, policy: Any = None
) -> Any:
    r = _reader()
    Builder, audit, decode_document = r.Builder, r.audit, r.decode_document
    STATE_COPIED_BY_TYPE, generic_validators, validators = (
        r.STATE_COPIED_BY_TYPE,
        r.generic_validators,
        r.validators,
    )

    limits = limits or DEFAULT_LIMITS
    judge = _trust_judge(trusted, policy)
    pc: ParsedContainer | None
    try:
        pc = parse_container(buf, limits)
    except FormatError:
        upstream = _upstream_document(buf, limits)
        if upstream is None:
            raise
        doc, data = upstream
        pc = None
    else:
        doc = decode_document(pc.schema, limits)
    found = audit(doc, limits)
    untrusted = judge(doc, found)
    if untrusted:
        raise UntrustedTypesError(untrusted)
    verifier = None
    if pc is None:
        pass  # an upstream file: ``data`` is the section we built, private and writable
    elif doc.data is not None:
        data = decode_data(pc, doc.data.compression, doc.data.size, limits)
        if verify:
            verifier = DataVerifier(data, doc.data.sha256)
    else:
        data = b""
    if pc is not None and doc.data is None and pc.data is not None:
        from skship.errors import ContainerError

        raise ContainerError(
            "the archive has a data member that schema.json does not describe",
            code="E-CONTAINER-MEMBER-UNKNOWN",
        )
    # Stored data is then a view of the caller's buffer; decompressed data is ours.
    copy_arrays = (
        copy and pc is not None and doc.data is not None and doc.data.compression == "none"
    )
    # Skipping a copy is safe only when nobody can change the bytes after validation.
    copies_state = STATE_COPIED_BY_TYPE if pc is None or isinstance(buf, bytes) else frozenset()
    if (
        copy_arrays
        and 2 * found.data_bytes >= memoryview(data).nbytes
        and copies_state.isdisjoint(found.names)
    ):
        # Every array needs a copy and arrays fill most of the section: one copy of the
        # whole section (numpy's allocator, huge pages for large ones), and arrays are
        # views of it, as load(path) makes them of its private buffer.
        import numpy as np

        data = np.frombuffer(data, np.uint8).copy()
        copy_arrays = False
    builder = Builder(
        data,
        validators(),
        list(generic_validators()),
        copy_arrays=copy_arrays,
        copies_state=copies_state,
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


def _upstream_document(buf: Any, limits: Limits) -> tuple[Any, Any] | None:
    """An upstream skops file (protocol 0, 1 or 2) translated into a protocol-3 document
    and its data section, which then meet every check a protocol-3 file meets; None if
    the bytes are not such a file (the caller keeps its protocol-3 error)."""
    from skship.format.upstream import claims_upstream, read_document

    if not claims_upstream(buf, limits):
        return None
    return read_document(buf, limits)


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
    policy: Any = None,
) -> Any:
    """Load an object from protocol-3 bytes (or a file written by upstream skops,
    protocols 0 to 2, which gets exactly the same checks).

    The file is audited before anything is imported: every type or function it names
    must be in the default trusted set or in ``trusted`` (names, types or functions),
    else :class:`skship.errors.UntrustedTypesError` is raised and nothing is built.
    ``verify`` checks the data section's sha256 (on a second core, while building).
    ``policy``: a :class:`skship.policy.Policy` or the path of a TOML policy file, which
    can also trust names by module or only at a path of the model (as ``skship audit
    --policy`` does); ``trusted`` names are added to it.
    """
    # One copy of the data section, so arrays are writable (as pickle's are) and later
    # writes to a caller's buffer cannot reach them.
    return _read(data, trusted, limits, verify, copy=True, policy=policy)


def load(
    file: PathLike | IO[bytes],
    *,
    trusted: Iterable[Any] | None = None,
    mmap: bool = False,
    limits: Limits | None = None,
    verify: bool = True,
    policy: Any = None,
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
                return _read(b"", trusted, limits, verify, copy=True, policy=policy)
            mm = _mmap.mmap(f.fileno(), 0, access=_mmap.ACCESS_COPY)
        return _read(mm, trusted, limits, verify, copy=False, policy=policy)
    if isinstance(file, str | os.PathLike):
        with open(file, "rb") as f:
            buf = bytearray(os.fstat(f.fileno()).st_size)
            n = f.readinto(buf)
            del buf[n:]
    else:
        buf = bytearray(file.read())
    # The buffer is ours alone: arrays are writable views of it, with no second copy.
    return _read(buf, trusted, limits, verify, copy=False, policy=policy)


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
    A file from upstream skops (protocol 0, 1 or 2) is translated first, as
    :func:`load` translates it, so both always name the same types.
    """
    from skship._files import read_bytes
    from skship.format.decoder import read_name_index

    limits = limits or DEFAULT_LIMITS
    buf = read_bytes(file)  # paths are memory-mapped: only the headers are read
    try:
        pc = parse_container(buf, limits)
    except FormatError:
        upstream = _upstream_document(buf, limits)
        if upstream is None:
            raise
        names = upstream[0].names
    else:
        names = read_name_index(pc.schema, limits)
    untrusted: list[str] = _policy(trusted).untrusted(names)
    return untrusted


def get_signature(
    file: PathLike | IO[bytes] | bytes | bytearray | memoryview,
    *,
    limits: Limits | None = None,
) -> dict[str, Any] | None:
    """The input signature that ``dump(..., sample=X)`` recorded, or None.

    Reads schema.json only: nothing is imported or built, so it is safe on any file.
    """
    from skship._files import read_bytes
    from skship.format.decoder import decode_document

    limits = limits or DEFAULT_LIMITS
    buf = read_bytes(file)  # paths are memory-mapped: only the headers are read
    doc = decode_document(parse_container(buf, limits).schema, limits)
    if doc.signature is None:
        return None
    signature: dict[str, Any] = msgspec.to_builtins(doc.signature)
    return signature
