"""Typed errors and warnings, each with a stable code from the spec's error registry.

Every refusal of a file raises a subclass of :class:`FormatError`; the ``code``
attribute is stable across releases (see ``spec/format/errors.md``) and is what
tooling and conformance runners compare. Messages are for people and may change.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CODES",
    "CONTRACTS",
    "CardError",
    "ConstructionError",
    "ContainerError",
    "FormatError",
    "HubError",
    "IntegrityError",
    "InvalidArgumentError",
    "LimitError",
    "OnnxConversionError",
    "OnnxVerificationError",
    "PickleScanError",
    "PluginError",
    "PolicyError",
    "SchemaError",
    "SkshipError",
    "UnsupportedProtocolError",
    "UnsupportedTypeError",
    "UntrustedGlobalsError",
    "UntrustedTypesError",
    "ValidationError",
    "VersionMismatchWarning",
    "contract_of",
]

# The error registry: code -> one-line meaning. spec/format/errors.md is generated
# from (and tested against) this table.
CODES: dict[str, str] = {
    "E-CONTAINER-NOT-ZIP": "the bytes are not a zip archive (no end of central directory record)",
    "E-CONTAINER-MEMBER-MISSING": "a required member (schema.json, or data when referenced) is absent",
    "E-CONTAINER-MEMBER-UNKNOWN": "a member that protocol 3 does not define is present",
    "E-CONTAINER-MEMBER-DUPLICATE": "two members have the same name",
    "E-CONTAINER-PATH": "a member name is absolute, contains '..', a backslash or a drive letter",
    "E-CONTAINER-COMPRESSION": "a member uses a compression method or flag the spec does not allow",
    "E-CONTAINER-CORRUPT": "zip headers are inconsistent (local and central headers disagree, "
    "offsets outside the file, truncated data, or sizes that do not match)",
    "E-INTEGRITY-SCHEMA": "the sha256 of schema.json does not match the one recorded in the archive",
    "E-INTEGRITY-DATA": "the sha256 of the data section does not match schema.json",
    "E-SCHEMA-JSON": "schema.json is not UTF-8 JSON",
    "E-SCHEMA-INVALID": "schema.json does not follow the protocol-3 JSON Schema",
    "E-SCHEMA-DUPLICATE-KEY": "a JSON object in schema.json has the same key twice",
    "E-SCHEMA-NAMES": "the name index in schema.json differs from the names in its value tree",
    "E-PROTOCOL-UNSUPPORTED": "the file's protocol is not one this reader implements",
    "E-EXTENSION-UNKNOWN": "the file lists a must-understand extension this reader does not know",
    "E-DATA-RANGE": "a data reference points outside the data section",
    "E-DATA-OVERLAP": "two data references overlap",
    "E-DATA-ALIGN": "a data reference's offset is not a multiple of 16",
    "E-DATA-SIZE": "a data reference's length disagrees with the array's shape and dtype",
    "E-DATA-DTYPE": "a dtype is malformed, holds objects, or is not allowed where it appears",
    "E-REF-UNKNOWN": "a ref names an id that no node before it declared",
    "E-REF-DUPLICATE-ID": "two nodes declare the same id",
    "E-REF-IMMUTABLE-CYCLE": "a ref reaches an immutable value (tuple, frozenset, ...) "
    "that is still being built",
    "E-VALUE-INVALID": "a value is malformed (bad integer text, unhashable or duplicate dict key, "
    "bad base64, wrong element count, ...)",
    "E-VALIDATION-INDEX": "an index-bearing value (tree children, features, sparse indices, "
    "neighbor-tree indices) is out of range or inconsistent",
    "E-TRUST-UNTRUSTED-TYPE": "the file names types or functions that the caller did not trust",
    "E-TRUST-NOT-FOUND": "a trusted name cannot be imported, or is not of the kind the node says",
    "E-CONSTRUCT": "a trusted type refused the stored state while being constructed",
    "E-LIMIT-DEPTH": "the value tree nests deeper than the limit",
    "E-LIMIT-NODES": "the value tree has more nodes than the limit",
    "E-LIMIT-SCHEMA-BYTES": "schema.json is larger than the limit",
    "E-LIMIT-DATA-BYTES": "the data section is larger than the limit",
    "E-LIMIT-ARRAY-BYTES": "one array is larger than the per-array limit",
    "E-LIMIT-MEMBERS": "the archive has more members than the limit",
    "E-WRITE-UNSUPPORTED-TYPE": "the object holds a value that protocol 3 cannot represent",
    "E-INVALID-ARGUMENT": "an argument to an API function is not valid (trusted=True, mmap "
    "without a path, an unknown compression, a malformed sample, ...)",
    "E-DEPENDENCY-MISSING": "an optional package the call needs is not installed",
    # Issue 8 (ONNX): conversion and verification.
    "E-ONNX-NO-CONVERTER": "a step of the model has no ONNX converter (skl2onnx or skship)",
    "E-ONNX-CONVERT": "the ONNX converter refused the model or its parameters",
    "E-ONNX-RUNTIME": "onnxruntime could not load or run the converted model",
    "E-ONNX-MISMATCH": "onnxruntime and scikit-learn disagree beyond tolerance on verification rows",
    # Serving (issue 9): a request the server refuses; each maps to one HTTP 4xx status.
    "E-SERVE-BAD-REQUEST": "the request body cannot be parsed in its content type (bad JSON, "
    "CSV, Arrow, npy, binary framing)",
    "E-SERVE-CONTENT-TYPE": "the request's content type (or Accept) is not one the endpoint serves",
    "E-SERVE-PAYLOAD-TOO-LARGE": "the body, or the rows or cells it holds, exceed the server's limits",
    "E-SERVE-NOT-FOUND": "no model, version or route has that name",
    "E-SERVE-METHOD": "the route exists but not for this HTTP method",
    "E-SERVE-COLUMN-MISSING": "a column (input) the model's signature needs is absent",
    "E-SERVE-COLUMN-UNKNOWN": "a column (input) the model's signature does not have is present",
    "E-SERVE-DTYPE": "a value cannot be converted to its column's dtype, or an OIP datatype is "
    "unknown or disagrees with the data",
    "E-SERVE-SHAPE": "a tensor's shape disagrees with its data or with the model's signature, or "
    "columns have different lengths",
    "E-SERVE-CATEGORY": "a categorical column holds a value outside its recorded categories",
    "E-SERVE-VALUE": "a value is missing or not finite where the model cannot accept it",
    "E-SERVE-OUTPUT-UNKNOWN": "the request asks for an output the model does not have",
    "E-SERVE-PREDICT": "the model refused a request that passed the signature checks",
    "E-SERVE-NOT-READY": "the model is not loaded (yet) or the server is shutting down",
    "E-INTERNAL": "an error without a more specific code; please report it",
    # issue 3: files from upstream skops (protocols 0-2)
    "E-UPSTREAM-NODE": "a node of an upstream skops file is malformed or disagrees with "
    "its own kind",
    "E-UPSTREAM-UNSUPPORTED": "an upstream skops file holds a kind of node that is never "
    "loaded (bound methods, partials with attributes, unknown loaders, ...)",
    # issue 3, other libraries: type handlers (ext nodes, entry-point group skship.types)
    "E-PLUGIN-NOT-INSTALLED": "an ext node names a type handler that is not installed "
    "(no built-in handler and no entry point of that name in the group skship.types), "
    "or whose entry point fails to load",
    "E-PLUGIN-TYPE-UNKNOWN": "an ext node names a type that its handler does not handle",
    "E-PLUGIN-STATE-INVALID": "a type handler's validation refused the stored state",
    # Model cards and the Hugging Face Hub (issue 6): spec/card/*.md.
    "E-CARD-FRONT-MATTER": "a card's YAML front matter cannot be parsed or is not a mapping",
    "E-CARD-METADATA-INVALID": "card metadata breaks the card schema (what the Hub would reject)",
    "E-CARD-CONFIG-INVALID": "config.json does not follow the Hub's scikit-learn config contract",
    "E-CARD-SECTION-NOT-FOUND": "no section of the card has that title or path",
    "E-CARD-SECTION-AMBIGUOUS": "more than one section has that title; select it by path",
    "E-CARD-CONTENT": "a title or content would not read back as written (a heading or an "
    "unclosed code fence inside content, a line break in a title, ...)",
    "E-HUB-REQUEST": "the Hub refused a request or could not be reached",
    "E-HUB-REPO-CONTENT": "a Hub repository lacks the model file or config.json, or they disagree",
    # issue 4: command-line tools (audit policies, pickle conversion)
    "E-FILE-UNREADABLE": "a file named on the command line cannot be read (missing, a "
    "folder, no permission)",
    "E-POLICY-INVALID": "a trust policy file is not TOML or does not follow the policy schema",
    "E-CONVERT-UNTRUSTED-GLOBAL": "a pickle would import globals that are not trusted",
    "E-CONVERT-PICKLE": "a pickle cannot be scanned statically (malformed, computed "
    "globals, persistent ids, extension codes or out-of-band buffers)",
}


# The contract each code belongs to, by the words after "E-" (a code is in a family when
# it is E-<family> or starts with E-<family>-; the longest family wins); every code MUST
# be in one. "format" codes are refusals of a model file (.skops, protocol 3 or
# an upstream protocol): the conformance suite has a vector for each of them. The others
# are about values given to the API ("api"), model cards ("card"), the Hugging Face Hub
# ("hub"), the command line's own checks ("cli"), ONNX ("onnx") and serving ("serving").
CONTRACTS: dict[str, str] = {
    "CONTAINER": "format",
    "INTEGRITY": "format",
    "SCHEMA": "format",
    "PROTOCOL": "format",
    "EXTENSION": "format",
    "DATA": "format",
    "REF": "format",
    "VALUE": "format",
    "VALIDATION": "format",
    "TRUST": "format",
    "CONSTRUCT": "format",
    "LIMIT": "format",
    "UPSTREAM": "format",
    "PLUGIN": "format",
    "WRITE": "api",
    "INVALID-ARGUMENT": "api",
    "DEPENDENCY-MISSING": "api",
    "INTERNAL": "api",
    "CARD": "card",
    "HUB": "hub",
    "FILE": "cli",
    "POLICY": "cli",
    "CONVERT": "cli",
    "ONNX": "onnx",
    "SERVE": "serving",
    "OIP": "serving",
}


def contract_of(code: str) -> str:
    """The contract a registered code belongs to (see :data:`CONTRACTS`)."""
    words = code.removeprefix("E-")
    families = [f for f in CONTRACTS if words == f or words.startswith(f + "-")]
    if not code.startswith("E-") or not families:
        raise KeyError(f"{code!r} belongs to no contract: add its family to CONTRACTS")
    return CONTRACTS[max(families, key=len)]


class SkshipError(Exception):
    """Base class of every error skship raises on purpose."""

    code: str = "E-INTERNAL"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        if code is not None:
            if code not in CODES:
                raise ValueError(f"unregistered error code {code!r}")
            self.code = code
        super().__init__(f"[{self.code}] {message}")
        self.detail = message


class FormatError(SkshipError, ValueError):
    """A file (or bytes) was refused. Every read-side refusal is a subclass."""

    code = "E-SCHEMA-INVALID"


class ContainerError(FormatError):
    """The zip container is malformed or holds what protocol 3 does not allow."""

    code = "E-CONTAINER-CORRUPT"


class IntegrityError(FormatError):
    """A recorded sha256 does not match the bytes."""

    code = "E-INTEGRITY-DATA"


class SchemaError(FormatError):
    """schema.json is not valid JSON or does not follow the schema and spec rules."""

    code = "E-SCHEMA-INVALID"


class UnsupportedProtocolError(FormatError):
    """The file needs a protocol version or extension this reader does not implement."""

    code = "E-PROTOCOL-UNSUPPORTED"


class LimitError(FormatError):
    """A resource limit was exceeded; raise the limit with ``limits=`` if the file is trusted."""

    code = "E-LIMIT-NODES"


class ValidationError(FormatError):
    """A value that would be unsafe to construct (out-of-range indices and the like)."""

    code = "E-VALIDATION-INDEX"


class ConstructionError(FormatError):
    """A trusted type raised while being rebuilt from the stored state."""

    code = "E-CONSTRUCT"


class PluginError(FormatError):
    """A file needs a type handler (an ext node) that is not installed, or that does not
    handle the type the file names. Nothing from the file was constructed."""

    code = "E-PLUGIN-NOT-INSTALLED"


class UntrustedTypesError(FormatError):
    """The file names types that are not trusted. Nothing from the file was imported."""

    code = "E-TRUST-UNTRUSTED-TYPE"

    def __init__(self, types: list[str]) -> None:
        self.types = sorted(set(types))
        listed = ", ".join(self.types)
        super().__init__(
            f"the file names {len(self.types)} untrusted type(s): {listed}. "
            "Inspect them with skship.get_untrusted_types(file); if you trust them, "
            "pass trusted=[...] with exactly those names."
        )


class PolicyError(SkshipError, ValueError):
    """A trust policy (file or argument) is malformed."""

    code = "E-POLICY-INVALID"


class PickleScanError(FormatError):
    """A pickle that cannot be listed statically is refused before anything is unpickled."""

    code = "E-CONVERT-PICKLE"


class UntrustedGlobalsError(FormatError):
    """A pickle would import globals that are not trusted. Nothing was unpickled."""

    code = "E-CONVERT-UNTRUSTED-GLOBAL"

    def __init__(self, names: list[str]) -> None:
        self.types = sorted(set(names))
        super().__init__(
            f"the pickle would import {len(self.types)} untrusted global(s): "
            f"{', '.join(self.types)}. List them with skship.conversion.scan_pickle(file); "
            "if you trust them, pass them with --trust NAME (trusted=[...])."
        )


class UnsupportedTypeError(SkshipError, TypeError):
    """dump() met a value it cannot represent safely."""

    code = "E-WRITE-UNSUPPORTED-TYPE"


class InvalidArgumentError(SkshipError, TypeError):
    """An API function was called with an argument it cannot accept."""

    code = "E-INVALID-ARGUMENT"


# Issue 8 (ONNX).
class OnnxConversionError(SkshipError, ValueError):
    """The model could not be converted to ONNX, or the result would not run.

    ``code`` is ``E-ONNX-NO-CONVERTER``, ``E-ONNX-CONVERT`` or ``E-ONNX-RUNTIME``.
    """

    code = "E-ONNX-CONVERT"


class OnnxVerificationError(SkshipError, ValueError):
    """onnxruntime and scikit-learn disagree beyond tolerance (``E-ONNX-MISMATCH``).

    ``report`` is the :class:`skship.onnx.VerificationReport` with the differing rows.
    """

    code = "E-ONNX-MISMATCH"

    def __init__(self, message: str, report: Any) -> None:
        super().__init__(message)
        self.report = report


class VersionMismatchWarning(UserWarning):
    """The file was saved under another scikit-learn version than the one loading it."""


class CardError(SkshipError, ValueError):
    """A model card, its metadata or config.json cannot be read or breaks the card spec."""

    code = "E-CARD-METADATA-INVALID"


class HubError(SkshipError, RuntimeError):
    """A Hugging Face Hub operation failed (refused, unreachable, or a repo that is unusable)."""

    code = "E-HUB-REQUEST"
