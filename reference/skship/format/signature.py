"""The model's signature, recorded when dump() is given a sample: its input columns
(names, dtypes, categories) and the outputs the model gives on the sample's first rows."""

from __future__ import annotations

from typing import Any

from skship.errors import InvalidArgumentError

__all__ = ["OUTPUT_METHODS", "outputs_of", "signature_of"]

# The outputs recorded, in this order; transform only for a model that predicts nothing
# (a transformer), as the server infers them for a file without recorded outputs.
OUTPUT_METHODS = ("predict", "predict_proba", "decision_function", "transform")
_OUTPUT_ROWS = 2  # the sample rows each method is called on


def signature_of(sample: Any, model: Any = None) -> dict[str, Any]:
    """Feature names, dtypes and categories of a DataFrame or 2-d array sample; with
    ``model``, also the outputs it gives on the sample's first rows (:func:`outputs_of`)."""
    signature = _inputs_of(sample)
    if model is not None:
        outputs = outputs_of(model, sample)
        if outputs:
            signature["outputs"] = outputs
    return signature


def _inputs_of(sample: Any) -> dict[str, Any]:
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


def outputs_of(model: Any, sample: Any) -> list[dict[str, Any]]:
    """The outputs ``model`` gives: for each method of :data:`OUTPUT_METHODS` it has, the
    dtype, width and column names of what it returns on the sample's first rows.

    A method that fails on those rows (an unfitted model, a sample it refuses) is left
    out: the signature records what was observed, never a guess. Column names are the
    classes for ``predict_proba`` (and a multi-column ``decision_function``) and
    ``get_feature_names_out()`` for ``transform``.
    """
    import warnings

    import numpy as np

    rows = sample.iloc[:_OUTPUT_ROWS] if hasattr(sample, "iloc") else sample[:_OUTPUT_ROWS]
    classes = getattr(model, "classes_", None)
    found: list[dict[str, Any]] = []
    for name in OUTPUT_METHODS:
        if name == "transform" and found:
            break
        if not callable(getattr(model, name, None)):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = getattr(model, name)(rows)
        except Exception:  # whatever the model raises, the output is unknown
            continue
        if hasattr(value, "toarray"):  # a sparse transform: its dtype and width
            shape, dtype = value.shape, value.dtype
        else:
            arr = np.asarray(value)
            shape, dtype = arr.shape, arr.dtype
        if len(shape) not in (1, 2):
            continue
        out: dict[str, Any] = {"name": name, "dtype": str(dtype)}
        width = int(shape[1]) if len(shape) == 2 else None
        if width is not None:
            out["width"] = width
        names = _column_names(model, name, classes, width)
        if names is not None:
            out["columns"] = names
        found.append(out)
    return found


def _column_names(model: Any, method: str, classes: Any, width: int | None) -> list[Any] | None:
    import numpy as np

    names: Any = None
    if method in ("predict_proba", "decision_function") and classes is not None:
        names = np.asarray(classes)
    elif method == "transform" and hasattr(model, "get_feature_names_out"):
        try:
            names = np.asarray(model.get_feature_names_out())
        except Exception:  # a transformer without names: none recorded
            return None
    if names is None or names.ndim != 1 or width is None or len(names) != width:
        return None
    return [_category(c) for c in names.tolist()]
