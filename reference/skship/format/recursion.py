"""A recursion limit sized to the depth limit, above the caller's own frames."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["recursion_limit"]


@contextmanager
def recursion_limit(max_depth: int) -> Iterator[None]:
    """Exactly the recursion our depth limit needs: a caller's higher limit must not
    let a hostile file exhaust the C stack, and a lower one must not stop a legal file."""
    old = sys.getrecursionlimit()
    depth = 0
    frame = sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back  # type: ignore[assignment]
    sys.setrecursionlimit(depth + 4 * max_depth + 200)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)
