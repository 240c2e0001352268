"""A recursion limit sized to the depth limit, above the caller's own frames."""

from __future__ import annotations

import sys
from types import TracebackType

__all__ = ["recursion_limit"]


class recursion_limit:
    """Exactly the recursion our depth limit needs: a caller's higher limit must not
    let a hostile file exhaust the C stack, and a lower one must not stop a legal file.

    A class rather than a generator-based context manager: it is entered several
    times per load, and this costs a third as much."""

    __slots__ = ("_max_depth", "_old")

    def __init__(self, max_depth: int) -> None:
        self._max_depth = max_depth
        self._old = 0

    def __enter__(self) -> None:
        self._old = sys.getrecursionlimit()
        depth = 0
        frame = sys._getframe()
        while frame is not None:
            depth += 1
            frame = frame.f_back  # type: ignore[assignment]
        sys.setrecursionlimit(depth + 4 * self._max_depth + 200)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        sys.setrecursionlimit(self._old)
