"""scipy sparse matrices and arrays: validate every index before scipy sees it.

scipy's own format check does not bound-check indices, and its C++ kernels index
without checks, so an out-of-range index in a file would read or write out of bounds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from skship.errors import SchemaError, ValidationError

__all__ = ["build_sparse"]

_PARTS = {
    "csr": ("data", "indices", "indptr"),
    "csc": ("data", "indices", "indptr"),
    "bsr": ("data", "indices", "indptr"),
    "coo": ("data", "row", "col"),
    "lil": ("data", "row", "col"),
    "dok": ("data", "row", "col"),
    "dia": ("data", "offsets"),
}


def _bad(msg: str) -> ValidationError:
    return ValidationError(f"sparse matrix: {msg}", code="E-VALIDATION-INDEX")


def _index(a: np.ndarray[Any, Any], name: str, ndim: int = 1) -> None:
    if a.dtype.kind not in "iu" or a.ndim != ndim:
        raise _bad(f"{name} must be a {ndim}-d integer array")


def _in_range(a: np.ndarray[Any, Any], hi: int, name: str) -> None:
    if a.size and (int(a.min()) < 0 or int(a.max()) >= hi):
        raise _bad(f"{name} holds values outside [0, {hi})")


def _compressed(
    arrays: dict[str, Any], major: int, minor: int, blocks: tuple[int, int] | None
) -> None:
    data, indices, indptr = arrays["data"], arrays["indices"], arrays["indptr"]
    _index(indices, "indices")
    _index(indptr, "indptr")
    if len(indptr) != major + 1:
        raise _bad(f"indptr has {len(indptr)} entries; the shape needs {major + 1}")
    if int(indptr[0]) != 0 or np.any(np.diff(indptr) < 0) or int(indptr[-1]) != len(indices):
        raise _bad("indptr must start at 0, never decrease, and end at len(indices)")
    if len(data) != len(indices):
        raise _bad("data and indices differ in length")
    if blocks is not None and data.shape[1:] != blocks:
        raise _bad("bsr blocks disagree with the blocksize")
    _in_range(indices, minor, "indices")


def build_sparse(fmt: str, container: str, shape: tuple[int, int], arrays: dict[str, Any]) -> Any:
    from scipy import sparse

    if set(arrays) != set(_PARTS[fmt]):
        raise SchemaError(
            f"a {fmt} node needs exactly the arrays {_PARTS[fmt]}", code="E-VALUE-INVALID"
        )
    nrow, ncol = shape
    if nrow < 0 or ncol < 0:
        raise _bad("negative shape")
    data = arrays["data"]
    if fmt in ("csr", "csc"):
        if data.ndim != 1:
            raise _bad("data must be 1-d")
        major, minor = (nrow, ncol) if fmt == "csr" else (ncol, nrow)
        _compressed(arrays, major, minor, None)
        args: Any = (data, arrays["indices"], arrays["indptr"])
    elif fmt == "bsr":
        if data.ndim != 3 or data.shape[1] <= 0 or data.shape[2] <= 0:
            raise _bad("bsr data must be 3-d with non-empty blocks")
        r, c = data.shape[1], data.shape[2]
        if nrow % r or ncol % c:
            raise _bad("the shape is not a multiple of the blocksize")
        _compressed(arrays, nrow // r, ncol // c, (r, c))
        args = (data, arrays["indices"], arrays["indptr"])
    elif fmt == "dia":
        offsets = arrays["offsets"]
        _index(offsets, "offsets")
        if data.ndim != 2 or data.shape[0] != len(offsets):
            raise _bad("dia data must be 2-d with one row per offset")
        if len(np.unique(offsets)) != len(offsets):
            raise _bad("dia offsets repeat")
        args = (data, offsets)
    else:
        row, col = arrays["row"], arrays["col"]
        _index(row, "row")
        _index(col, "col")
        if data.ndim != 1 or not (len(data) == len(row) == len(col)):
            raise _bad("coo data, row and col must be 1-d and of equal length")
        _in_range(row, nrow, "row")
        _in_range(col, ncol, "col")
        args = (data, (row, col))
    target = "coo" if fmt in ("lil", "dok") else fmt
    cls = getattr(sparse, f"{target}_{container}")
    try:
        m = cls(args, shape=(nrow, ncol))
        if target != fmt:
            m = m.asformat(fmt)
    except (ValueError, TypeError, IndexError) as exc:
        raise _bad(str(exc)) from None
    return m
