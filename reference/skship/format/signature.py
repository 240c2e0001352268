"""The model's input signature, recorded when dump() is given a sample."""

from __future__ import annotations

from typing import Any

from skship.errors import InvalidArgumentError

__all__ = ["signature_of"]


def signature_of(sample: Any) -> dict[str, Any]:
    """Feature names, dtypes and categories of a DataFrame or 2-d array sample."""
    columns = getattr(sample, "columns", None)
    dtypes = getattr(sample, "dtypes", None)
    if columns is not None and dtypes is not None:
        features = []
        for name, dtype in zip(columns, dtypes, strict=True):
            feature: dict[str, Any] = {"name": str(name), "dtype": str(dtype)}
            cats = getattr(dtype, "categories", None)
            if cats is not None:
                feature["categories"] = [_category(c) for c in cats.tolist()]
            features.append(feature)
        return {"features": features, "named": True}
    import numpy as np

    arr = np.asarray(sample)
    if arr.ndim != 2:
        raise InvalidArgumentError("sample= must be a DataFrame or a 2-d array of input rows")
    return {
        "features": [{"name": f"x{i}", "dtype": str(arr.dtype)} for i in range(arr.shape[1])],
        "named": False,
    }


def _category(c: Any) -> Any:
    """Categories are JSON scalars in the signature; anything else is kept as its text."""
    if hasattr(c, "item"):
        c = c.item()
    if isinstance(c, bool | str) or (isinstance(c, int) and -(2**63) < c < 2**63):
        return c
    if isinstance(c, float) and c == c and abs(c) != float("inf"):
        return c
    return str(c)
