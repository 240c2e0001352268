"""Refusals of a request: a stable code, an HTTP status, a message that names the column."""

from __future__ import annotations

from skship.errors import SkshipError

__all__ = ["STATUS", "ServeError"]

# One status per code, so clients and the conformance checker can rely on both.
STATUS: dict[str, int] = {
    "E-SERVE-BAD-REQUEST": 400,
    "E-SERVE-CONTENT-TYPE": 415,
    "E-SERVE-PAYLOAD-TOO-LARGE": 413,
    "E-SERVE-NOT-FOUND": 404,
    "E-SERVE-METHOD": 405,
    "E-SERVE-COLUMN-MISSING": 422,
    "E-SERVE-COLUMN-UNKNOWN": 422,
    "E-SERVE-DTYPE": 422,
    "E-SERVE-SHAPE": 422,
    "E-SERVE-CATEGORY": 422,
    "E-SERVE-VALUE": 422,
    "E-SERVE-OUTPUT-UNKNOWN": 400,
    "E-SERVE-PREDICT": 422,
    "E-SERVE-NOT-READY": 503,
    "E-INTERNAL": 500,
}


class ServeError(SkshipError):
    """A request the server refuses; ``status`` is the HTTP status it answers with."""

    code = "E-SERVE-BAD-REQUEST"

    def __init__(self, code: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status if status is not None else STATUS.get(code, 400)
