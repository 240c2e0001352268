"""Resource limits a reader enforces before it allocates or constructs anything."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "MAX_SAFE_DEPTH", "Limits"]

MAX_SAFE_DEPTH = 2000
"""The deepest nesting a caller may allow. A load recurses (in Python and in msgspec's
C decoder) once or more per level; much deeper (about 15,000 levels measured on an
8 MiB main-thread stack, far fewer on the 512 KiB threads of some platforms) crashes
the interpreter with a stack overflow, which no error handling can catch."""


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

    def __post_init__(self) -> None:
        for name in (
            "max_depth",
            "max_nodes",
            "max_schema_bytes",
            "max_data_bytes",
            "max_array_bytes",
            "max_members",
        ):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ValueError(f"Limits({name}={value!r}): must be an int >= 0")
        if self.max_depth > MAX_SAFE_DEPTH:
            raise ValueError(
                f"Limits(max_depth={self.max_depth}) is more than this reader can follow "
                f"without overflowing the C stack; the most it allows is {MAX_SAFE_DEPTH} "
                "(no scikit-learn model nests deeper than a few dozen levels)"
            )


DEFAULT_LIMITS = Limits()
