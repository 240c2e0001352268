"""Resource limits a reader enforces before it allocates or constructs anything."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "Limits"]


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Upper bounds for one load. Defaults suit any real scikit-learn model; raise them
    (``skship.load(f, limits=Limits(max_nodes=...))``) for unusually large files you trust."""

    max_depth: int = 400
    """Deepest nesting of values (a list in a list counts two)."""
    max_nodes: int = 2_000_000
    """Tagged nodes (JSON objects) in the value tree; inline scalars do not count."""
    max_schema_bytes: int = 256 * 2**20
    """Decompressed size of schema.json."""
    max_data_bytes: int = 16 * 2**30
    """Decompressed size of the data section."""
    max_array_bytes: int = 8 * 2**30
    """Bytes of any single array or bytes value."""
    max_members: int = 8
    """Entries in the zip central directory."""


DEFAULT_LIMITS = Limits()
