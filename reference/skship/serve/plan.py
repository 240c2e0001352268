"""An execution plan for a fitted scikit-learn model: the same answers, without pandas.

A model fitted on a DataFrame is called, on the serving path, with a DataFrame built from
the request's columns; for a ``Pipeline(ColumnTransformer[...], estimator)`` most of a
single-row prediction then goes to pandas and to scikit-learn's plumbing (the DataFrame,
column selection by name, joblib's sequential ``Parallel``, feature-name checks,
``scipy.sparse.hstack``), not to the estimators' arithmetic.

:func:`compile_plan` walks the fitted model once, at start-up, and returns one function
per output that calls the fitted steps themselves on numpy arrays taken from the coerced
request columns (:class:`skship.serve.codecs.Coerced`):

* ``Pipeline``: its steps in order (``None`` / ``"passthrough"`` skipped), the last one's
  method (``predict``, ``predict_proba``, ``decision_function``, ``transform``…);
* ``ColumnTransformer``: each fitted transformer on its columns (``transformers_`` and
  ``_transformer_to_input_indices``, the remainder included, ``"drop"`` and empty
  selections skipped), times its ``transformer_weights``, stacked dense or sparse as
  ``ColumnTransformer._hstack`` does (``sparse_output_``);
* any other estimator: a leaf, called on a shallow copy without ``feature_names_in_``
  (the signature check already matched the request's columns to the model's names).

A leaf that receives request columns gets them as one 2-D array exactly as pandas would
hand them over (``np.asarray`` of the selected DataFrame columns): all numeric (their
common dtype, Fortran order like pandas' blocks) or all text (an object array, missing
values as pandas holds them). Anything the plan cannot reproduce exactly raises
:class:`NoPlan` with the reason, and the model is served as it is: category columns,
numeric and text or boolean columns mixed in one array, pandas/polars ``set_output``,
``FeatureUnion``, a ``FunctionTransformer`` with a function, meta-estimators whose inner
estimators check column names.

The serving backend verifies the plan against the model at start-up (:func:`verify`) and,
at request time, answers with the model itself whenever the plan raises.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from skship.serve.codecs import Coerced
from skship.serve.contracts import Column, Contract

__all__ = [
    "METHODS",
    "NoPlan",
    "Plan",
    "compile_plan",
    "probe_batches",
    "same_answer",
    "verify",
]

# The outputs a plan can give (the final step's method of the same name).
METHODS = (
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
    "score_samples",
    "transform",
)


class NoPlan(Exception):
    """The model cannot be planned exactly; the message says why."""


# A compiled step: (input, number of rows) -> output. The input is either the request's
# columns (a list of 1-d arrays, for steps that read them) or an array from an earlier step.
Step = Callable[[Any, int], Any]


@dataclass(frozen=True)
class _Src:
    """One column of the model's input as pandas would hold it."""

    index: int  # position in the contract's columns
    column: Column


@dataclass
class Plan:
    """One compiled function per output, and how to feed them the request's rows."""

    steps: dict[str, Step]
    frame: bool  # the steps read request columns (the model is called with a DataFrame)
    reasons: dict[str, str]  # outputs the plan does not give, and why

    def input(self, rows: Coerced) -> Any:
        """The steps' input: the request's matrix, or in frame mode its columns (a list
        of 1-d arrays, or the matrix the DataFrame would be a view of)."""
        if self.frame and rows.columns is not None:
            return rows.columns
        return rows.matrix

    def run(self, output: str, rows: Coerced) -> Any:
        return self.steps[output](self.input(rows), rows.n_rows)


# --------------------------------------------------------------------------- compiling


def compile_plan(model: Any, contract: Contract, *, frame: bool) -> Plan:
    """A plan for every output of ``contract`` the model can be planned for.

    ``frame`` says how the backend calls the model: with a DataFrame of the request's
    columns (True), or with the request's uniform matrix itself (False). Raises
    :class:`NoPlan` when no output can be planned.
    """
    import sklearn

    if not contract.columns:
        raise NoPlan("the model records no input columns")
    if sklearn.get_config().get("transform_output", "default") != "default":
        raise NoPlan("scikit-learn's global transform_output is not 'default'")
    src: list[_Src] | None
    if frame:
        src = _frame_columns(model, contract)
    elif contract.uniform is None:
        raise NoPlan("the model is called with an object array (no pandas)")
    elif not _composite(model):
        raise NoPlan("the model is called on the request's matrix itself: nothing to plan")
    else:
        src = None
    steps: dict[str, Step] = {}
    reasons: dict[str, str] = {}
    for out in contract.outputs:
        if out.name not in METHODS:
            reasons[out.name] = f"output {out.name!r} is not one a plan gives"
            continue
        try:
            steps[out.name] = _final(model, src, out.name, False)
        except NoPlan as exc:
            reasons[out.name] = str(exc)
    if not steps:
        raise NoPlan(next(iter(reasons.values()), "the model has no output to plan"))
    return Plan(steps, frame, reasons)


def _composite(model: Any) -> bool:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    return type(model) in (Pipeline, ColumnTransformer)


def _frame_columns(model: Any, contract: Contract) -> list[_Src]:
    """The model's input columns in the order its first step reads them: by name when it
    was fitted with names (a ColumnTransformer selects by name), else by position."""
    try:
        names = getattr(model, "feature_names_in_", None)
    except Exception:  # a Pipeline whose first step has no such attribute
        names = None
    if names is None:
        return [_Src(i, c) for i, c in enumerate(contract.columns)]
    out = []
    for name in names:
        j = contract.index.get(str(name))
        if j is None:
            raise NoPlan(f"the model's column {name!r} is not in the signature")
        out.append(_Src(j, contract.columns[j]))
    return out


def _is_skip(step: Any) -> bool:
    return step is None or (isinstance(step, str) and step == "passthrough")


def _check_output_config(est: Any) -> None:
    config = getattr(est, "_sklearn_output_config", None) or {}
    how = config.get("transform")
    if how not in (None, "default"):
        raise NoPlan(f"{type(est).__name__} is configured with set_output(transform={how!r})")


def _final(est: Any, src: list[_Src] | None, method: str, one_d: bool) -> Step:
    """``est.method`` on the input ``src`` describes (None: an array from an earlier step)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import FeatureUnion, Pipeline

    _check_output_config(est)
    # exactly these classes: a subclass may change what they do (it is then a leaf, and a
    # leaf whose inner estimators check column names is refused)
    if type(est) is Pipeline:
        return _pipeline(est, src, method, one_d)
    if type(est) is ColumnTransformer:
        if method != "transform":
            raise NoPlan(f"ColumnTransformer has no {method}")
        if one_d:
            raise NoPlan("a ColumnTransformer on a single column selected as a scalar")
        return _column_transformer(est, src)
    if isinstance(est, FeatureUnion):
        raise NoPlan("FeatureUnion is not planned")
    return _leaf(est, src, method, one_d)


def _pipeline(pipe: Any, src: list[_Src] | None, method: str, one_d: bool) -> Step:
    steps = [s for _, s in pipe.steps]
    if not steps:
        raise NoPlan("an empty Pipeline")
    last = steps[-1]
    if not _is_skip(last) and not hasattr(last, method):
        raise NoPlan(f"the final step {type(last).__name__} has no {method}")
    if _is_skip(last) and method != "transform":
        raise NoPlan(f"a Pipeline ending in passthrough has no {method}")
    chain: list[Step] = []
    cur, cur_one_d = src, one_d
    for step in steps[:-1]:
        if _is_skip(step):
            continue
        chain.append(_final(step, cur, "transform", cur_one_d))
        cur, cur_one_d = None, False
    if _is_skip(last):
        if not chain:
            raise NoPlan("a Pipeline of passthrough steps only")
    else:
        chain.append(_final(last, cur, method, cur_one_d))
    if len(chain) == 1:
        return chain[0]
    if len(chain) == 2:
        first, second = chain

        def two(x: Any, n: int) -> Any:
            return second(first(x, n), n)

        return two

    def run(x: Any, n: int) -> Any:
        for step in chain:
            x = step(x, n)
        return x

    return run


def _strip(est: Any) -> Any:
    """A shallow copy that does not check column names (feature_names_in_ removed)."""
    stripped = copy.copy(est)
    stripped.__dict__.pop("feature_names_in_", None)
    if hasattr(stripped, "feature_names_in_"):
        raise NoPlan(f"{type(est).__name__} checks column names through an inner estimator")
    for value in vars(stripped).values():
        for inner in _estimators_in(value):
            if hasattr(inner, "feature_names_in_"):
                raise NoPlan(
                    f"{type(est).__name__} holds fitted estimators that check column names"
                )
    return stripped


def _estimators_in(value: Any) -> list[Any]:
    from sklearn.base import BaseEstimator

    if isinstance(value, BaseEstimator):
        return [value]
    if isinstance(value, list | tuple):
        found = []
        for v in value:
            if isinstance(v, BaseEstimator):
                found.append(v)
            elif isinstance(v, tuple):  # (name, estimator) pairs
                found.extend(x for x in v if isinstance(x, BaseEstimator))
        return found
    if isinstance(value, dict):
        return [v for v in value.values() if isinstance(v, BaseEstimator)]
    return []


def _column_wise(est: Any) -> bool:
    """Estimators that read a DataFrame column by column (keeping each column's dtype)."""
    try:
        from sklearn.preprocessing._encoders import _BaseEncoder
    except ImportError:  # pragma: no cover - a scikit-learn without it: be careful
        return True
    return isinstance(est, _BaseEncoder)


def _leaf(est: Any, src: list[_Src] | None, method: str, one_d: bool) -> Step:
    from sklearn.preprocessing import FunctionTransformer

    if isinstance(est, str):
        raise NoPlan(f"an unknown step {est!r}")
    if not callable(getattr(est, method, None)):
        raise NoPlan(f"{type(est).__name__} has no {method}")
    if isinstance(est, FunctionTransformer) and est.func is not None:
        raise NoPlan("a FunctionTransformer with a function (it may read the DataFrame)")
    leaf = _strip(est)
    call = getattr(leaf, method)
    if method == "transform":
        kernel = _kernel(leaf, text=src is not None and all(s.column.kind == "string" for s in src))
        if kernel is not None:
            call = kernel
    if src is None:

        def on_array(x: Any, n: int) -> Any:
            return call(x)

        return on_array
    take = _materialize(src, one_d, mixed_ok=not _column_wise(est))

    def on_columns(cols: Any, n: int) -> Any:
        return call(take(cols, n))

    return on_columns


# --------------------------------------------------------------------------- kernels
#
# Two estimators whose ``transform`` costs far more in scikit-learn's input checks (each
# ``check_array`` asks narwhals whether the input is a DataFrame, tens of microseconds)
# than in its arithmetic, done here with the same numpy operations in the same order.
# Each applies only to the inputs and fitted states it reproduces exactly, and hands
# anything else to the estimator's own ``transform``.


def _kernel(est: Any, *, text: bool) -> Callable[[Any], Any] | None:
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if type(est) is StandardScaler:
        return _scaler_kernel(est)
    if type(est) is OneHotEncoder and text:
        return _onehot_kernel(est)
    return None


def _scaler_kernel(est: Any) -> Callable[[Any], Any] | None:
    """``StandardScaler.transform`` on a dense float64 array: a copy (same layout), minus
    ``mean_``, divided by ``scale_``, in place, as scikit-learn does (under the backend's
    ``assume_finite``: the signature check, not the scaler, refuses infinities)."""
    if not est.copy:
        return None
    mean = est.mean_ if est.with_mean else None
    scale = est.scale_ if est.with_std else None
    for v in (mean, scale):
        if v is not None and not (isinstance(v, np.ndarray) and v.dtype == np.float64):
            return None
    width = int(est.n_features_in_)
    fallback = est.transform

    def transform(X: Any) -> Any:
        if not (
            type(X) is np.ndarray and X.dtype == np.float64 and X.ndim == 2 and X.shape[1] == width
        ):
            return fallback(X)
        out = np.array(X, dtype=np.float64, copy=True, order="K")
        if mean is not None:
            out -= mean
        if scale is not None:
            out /= scale
        return out

    return transform


def _onehot_kernel(est: Any) -> Callable[[Any], Any] | None:
    """``OneHotEncoder.transform`` on text columns (an object array of str, with None or
    NaN for missing values) when every category is a str, nothing is dropped and no
    category is infrequent: a dictionary lookup per cell instead of numpy set operations;
    unknown and missing values are all zeros (with ``handle_unknown="error"``, the
    estimator itself raises its own error)."""
    from scipy import sparse

    try:
        from sklearn.preprocessing._encoders import (
            _align_api_if_sparse,
            _ensure_sparse_index_int32,
        )
    except ImportError:  # another scikit-learn: the estimator's own transform
        return None
    if getattr(est, "_infrequent_enabled", True) or getattr(est, "drop_idx_", 0) is not None:
        return None
    if getattr(est, "_drop_idx_after_grouping", 0) is not None:
        return None
    if est.handle_unknown not in ("ignore", "infrequent_if_exist", "warn", "error"):
        return None
    cats = est.categories_
    tables = []
    for values in cats:
        if not (isinstance(values, np.ndarray) and values.dtype == object):
            return None
        listed = values.tolist()
        if not all(type(v) is str for v in listed) or len(set(listed)) != len(listed):
            return None
        tables.append({v: k for k, v in enumerate(listed)})
    n_outs = [len(t) for t in tables]
    if list(getattr(est, "_n_features_outs", [])) != n_outs:
        return None
    offsets = np.cumsum([0, *n_outs]).tolist()
    width = offsets[-1]
    strict = est.handle_unknown == "error"
    dtype = est.dtype
    as_sparse = bool(est.sparse_output)
    fallback = est.transform
    lookups = list(zip(tables, offsets[:-1], strict=True))

    def transform(X: Any) -> Any:
        if not (
            type(X) is np.ndarray
            and X.dtype == object
            and X.ndim == 2
            and X.shape[1] == len(tables)
        ):
            return fallback(X)
        n = X.shape[0]
        indices: list[int] = []
        indptr = [0]
        for row in X.tolist():
            for v, (table, offset) in zip(row, lookups, strict=True):
                try:
                    code = table.get(v)
                except TypeError:  # an unhashable value: the estimator decides
                    return fallback(X)
                if code is not None:
                    indices.append(code + offset)
                elif strict:
                    return fallback(X)  # an unknown value: the estimator's own error
            indptr.append(len(indices))
        out = sparse.csr_array(
            (
                np.ones(len(indices)),
                np.asarray(indices, dtype=int),
                np.asarray(indptr, dtype=int),
            ),
            shape=(n, width),
            dtype=dtype,
        )
        if as_sparse:
            _ensure_sparse_index_int32(out)
            return _align_api_if_sparse(out)
        return out.toarray()

    return transform


# --------------------------------------------------------------------------- columns


def _pandas_missing() -> tuple[Any, Any]:
    """What pandas holds for a missing text value (None in our coerced columns): in a
    column that has text, and in a column of missing values only (pandas 3 makes the first
    a string column, whose missing value is NaN; the second stays object, with None)."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - frame mode needs pandas
        return None, None
    mixed = np.asarray(pd.DataFrame({"s": np.array(["a", None], dtype=object)}))[1, 0]
    alone = np.asarray(pd.DataFrame({"s": np.array([None], dtype=object)}))[0, 0]
    return mixed, alone


_MISSING: tuple[Any, Any] | None = None


def _missing() -> tuple[Any, Any]:
    global _MISSING
    if _MISSING is None:
        _MISSING = _pandas_missing()
    return _MISSING


def _materialize(src: list[_Src], one_d: bool, *, mixed_ok: bool) -> Step:
    """The request columns ``src`` as pandas would give them to the estimator: one 2-D
    array (``np.asarray`` of the selected DataFrame), or one 1-d array for a column
    selected by a scalar."""
    if not src:
        raise NoPlan("an estimator on no columns")
    kinds = {s.column.kind for s in src}
    for s in src:
        if s.column.kind not in ("float", "int", "bool", "string"):
            raise NoPlan(f"column {s.column.name!r} is of kind {s.column.kind!r}")
    idx = [s.index for s in src]
    if kinds == {"string"}:
        return _text(idx, one_d)
    if "string" in kinds:
        raise NoPlan(
            "text and numeric columns go to one estimator: "
            + ", ".join(s.column.name for s in src[:6])
        )
    if "bool" in kinds and kinds != {"bool"}:
        raise NoPlan("boolean and numeric columns go to one estimator (pandas makes them object)")
    dtypes = [s.column.np_dtype for s in src]
    if len(set(dtypes)) > 1 and not mixed_ok:
        raise NoPlan("columns of different dtypes go to an encoder that reads them one by one")
    dtype = np.result_type(*dtypes)
    # The layout matters to BLAS (a matrix product may sum in another order): a DataFrame
    # of 1-d columns holds each dtype as one block, which numpy sees in Fortran order; a
    # DataFrame over a matrix hands out row-major views of it.
    if one_d:
        j0 = idx[0]

        def column(cols: Any, n: int) -> Any:
            if isinstance(cols, np.ndarray):
                return cols[:, j0]
            return np.asarray(cols[j0], dtype=dtype)

        return column
    pick = np.asarray(idx, dtype=np.intp)

    def block(cols: Any, n: int) -> Any:
        if isinstance(cols, np.ndarray):
            return np.take(cols, pick, axis=1)  # row-major (cols[:, pick] is not)
        out = np.empty((n, len(idx)), dtype=dtype, order="F")
        for k, j in enumerate(idx):
            out[:, k] = cols[j]
        return out

    return block


def _text(idx: list[int], one_d: bool) -> Step:
    mixed, alone = _missing()

    def fill(arr: Any) -> Any:
        if mixed is None and alone is None:
            return arr
        missing = np.equal(arr, None)  # type: ignore[call-overload]
        if not missing.any():
            return arr
        out = arr.copy()
        out[missing] = alone if missing.all() else mixed
        return out

    if one_d:
        j0 = idx[0]

        def column(cols: Any, n: int) -> Any:
            return fill(np.asarray(cols[j0], dtype=object))

        return column

    def block(cols: Any, n: int) -> Any:
        out = np.empty((n, len(idx)), dtype=object, order="F")
        for k, j in enumerate(idx):
            out[:, k] = fill(cols[j])
        return out

    return block


# --------------------------------------------------------------------------- ColumnTransformer


def _column_transformer(ct: Any, src: list[_Src] | None) -> Step:
    from scipy import sparse
    from sklearn.compose._column_transformer import _is_empty_column_selection
    from sklearn.utils import _safe_indexing

    for attr in ("transformers_", "_transformer_to_input_indices", "sparse_output_"):
        if not hasattr(ct, attr):
            raise NoPlan(f"ColumnTransformer without {attr}")
    weights = ct.transformer_weights or {}
    parts: list[tuple[str, Step, Any]] = []
    for name, trans, columns in ct.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue
        if _is_empty_column_selection(columns):
            continue
        weight = weights.get(name)
        scalar = bool(np.isscalar(columns))
        if src is not None:
            indices = ct._transformer_to_input_indices.get(name)
            if indices is None or len(indices) == 0:
                raise NoPlan(f"ColumnTransformer part {name!r} has no input indices")
            sub: list[_Src] | None = [src[int(i)] for i in indices]
        else:
            sub = None
        if isinstance(trans, str):
            if trans != "passthrough":
                raise NoPlan(f"ColumnTransformer part {name!r} is {trans!r}")
            step = _identity(sub, scalar)
        else:
            step = _final(trans, sub, "transform", scalar)
        if src is None:
            step = _select(step, columns, _safe_indexing)
        parts.append((name, step, weight))
    sparse_output = bool(ct.sparse_output_)

    def run(x: Any, n: int) -> Any:
        outs = []
        for name, step, weight in parts:
            res = step(x, n)
            if weight is not None:
                res = res * weight
            if getattr(res, "ndim", 0) != 2 or not (
                isinstance(res, np.ndarray) or sparse.issparse(res)
            ):
                raise ValueError(f"the output of {name!r} is not a 2-D array")
            outs.append(res)
        if not outs:
            return np.zeros((n, 0))
        if sparse_output:
            return _sparse_hstack(outs)
        return np.hstack([f.toarray() if sparse.issparse(f) else f for f in outs])

    return run


def _identity(src: list[_Src] | None, one_d: bool) -> Step:
    if src is None:

        def same(x: Any, n: int) -> Any:
            return x

        return same
    return _materialize(src, one_d, mixed_ok=True)


def _select(step: Step, columns: Any, safe_indexing: Any) -> Step:
    """On an array input, the columns chosen as ``ColumnTransformer`` chooses them."""

    def selected(x: Any, n: int) -> Any:
        return step(safe_indexing(x, columns, axis=1), n)

    return selected


def _sparse_hstack(blocks: list[Any]) -> Any:
    """``ColumnTransformer._hstack`` for a sparse output: the same CSR matrix (values,
    column order within each row, dtype), without scipy's COO detour when it is safe."""
    from scipy import sparse
    from sklearn.utils.validation import check_array

    converted: list[Any] = []
    for b in blocks:
        if isinstance(b, np.ndarray) and b.dtype.kind in "biuf":
            converted.append(b)  # what check_array returns for it
            continue
        if sparse.issparse(b) and b.format == "csr" and b.dtype.kind in "biuf":
            converted.append(b)
            continue
        try:
            converted.append(check_array(b, accept_sparse=True, ensure_all_finite=False))
        except ValueError as e:
            raise ValueError(
                "For a sparse output, all columns should be a numeric or convertible to a numeric."
            ) from e
    kinds = {isinstance(b, np.ndarray) for b in converted}
    fast = kinds == {True, False} and all(
        b.dtype == np.float64
        and (
            (isinstance(b, np.ndarray) and b.ndim == 2)
            or (sparse.issparse(b) and b.format == "csr" and b.has_canonical_format)
        )
        for b in converted
    )
    if not fast:
        return sparse.hstack(converted).tocsr()
    return _csr_concat(converted)


def _csr_concat(blocks: list[Any]) -> Any:
    """Dense float64 blocks and canonical CSR float64 blocks side by side, as one canonical
    CSR matrix: each row holds the first block's nonzeros, then the second's… (what
    ``scipy.sparse.hstack`` gives after its COO conversion, which drops a dense block's
    zeros and keeps a sparse block's stored entries)."""
    from scipy import sparse

    n = blocks[0].shape[0]
    datas, indices, counts = [], [], []
    offset = 0
    for b in blocks:
        if isinstance(b, np.ndarray):
            r, c = np.nonzero(b)
            datas.append(b[r, c])
            indices.append(c + offset)
            counts.append(np.bincount(r, minlength=n))
        else:
            datas.append(b.data)
            indices.append(b.indices.astype(np.int64) + offset)
            counts.append(np.diff(b.indptr))
        offset += b.shape[1]
    width = offset
    is_array = any(isinstance(b, sparse.sparray) for b in blocks)
    container = sparse.csr_array if is_array else sparse.csr_matrix
    if n == 1:
        data = np.concatenate(datas)
        idx = np.concatenate(indices)
        indptr = np.array([0, data.size])
    else:
        per_row = np.stack(counts)  # blocks x rows
        total = per_row.sum(axis=0)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(total, out=indptr[1:])
        nnz = int(indptr[-1])
        data = np.empty(nnz, dtype=np.float64)
        idx = np.empty(nnz, dtype=np.int64)
        before = np.zeros(n, dtype=np.int64)  # entries of earlier blocks in each row
        for b_data, b_idx, b_counts in zip(datas, indices, counts, strict=True):
            start = indptr[:-1] + before
            rows = np.repeat(np.arange(n), b_counts)
            first = np.zeros(n, dtype=np.int64)
            np.cumsum(b_counts[:-1], out=first[1:])
            dest = start[rows] + (np.arange(b_data.size) - first[rows])
            data[dest] = b_data
            idx[dest] = b_idx
            before += b_counts
    idx_dtype = np.int32 if width < 2**31 and idx.size < 2**31 else np.int64
    out = container(
        (data, idx.astype(idx_dtype, copy=False), indptr.astype(idx_dtype, copy=False)),
        shape=(n, width),
    )
    out.has_canonical_format = True
    return out


# --------------------------------------------------------------------------- verifying


def same_answer(a: Any, b: Any) -> bool:
    """Exactly the same values, dtype and shape (sparse compared as dense; NaN equals NaN)."""
    if hasattr(a, "toarray"):
        a = a.toarray()
    if hasattr(b, "toarray"):
        b = b.toarray()
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    if a.dtype.kind == "O":
        for x, y in zip(a.ravel().tolist(), b.ravel().tolist(), strict=True):
            if x is y:
                continue
            if isinstance(x, float) and isinstance(y, float) and x != x and y != y:
                continue
            if type(x) is not type(y) or x != y:
                return False
        return True
    return bool(np.array_equal(a, b))


def _known_values(model: Any, contract: Contract) -> dict[int, list[Any]]:
    """Values the model's encoders know for each input column (``categories_`` of the
    encoders that read request columns directly), to probe every category."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    found: dict[int, list[Any]] = {}

    def first_step(est: Any) -> Any:
        while isinstance(est, Pipeline):
            steps = [s for _, s in est.steps if not _is_skip(s)]
            if not steps:
                return None
            est = steps[0]
        return est

    def visit(est: Any, cols: list[int]) -> None:
        est = first_step(est)
        if isinstance(est, ColumnTransformer):
            mapping = getattr(est, "_transformer_to_input_indices", {})
            for name, trans, _ in getattr(est, "transformers_", []):
                if isinstance(trans, str):
                    continue
                sub = [cols[i] for i in mapping.get(name, []) if i < len(cols)]
                visit(trans, sub)
            return
        cats = getattr(est, "categories_", None)
        if isinstance(cats, list) and len(cats) == len(cols):
            for j, values in zip(cols, cats, strict=True):
                found.setdefault(j, []).extend(np.asarray(values).tolist())

    names = None
    try:
        names = getattr(model, "feature_names_in_", None)
    except Exception:
        names = None
    if names is not None:
        cols = [contract.index.get(str(n), -1) for n in names]
    else:
        cols = list(range(len(contract.columns)))
    visit(model, cols)
    return {j: v for j, v in found.items() if j >= 0}


def probe_batches(model: Any, contract: Contract, seed: int = 0) -> list[Coerced]:
    """Rows to compare the plan with the model on, made from the signature and the model:
    every value its encoders know, zeros, numbers at several scales, missing values where
    the model takes them, unknown and empty strings; as batches and as single rows."""
    rng = np.random.default_rng(seed)
    known = _known_values(model, contract)
    cols = contract.columns
    width = max([len(v) for v in known.values()] + [8])
    unknown = ["", "skship-unseen", "ZZZ", " ", "ünï"]

    def numbers(c: Column, n: int, how: str) -> Any:
        values = known.get(cols.index(c))
        if c.kind == "bool":
            return rng.integers(0, 2, n).astype(bool)
        if how == "known" and values:
            try:
                arr = np.resize(np.asarray(values, dtype=c.np_dtype), n)
            except (TypeError, ValueError):
                arr = None
            if arr is not None:
                return arr
        if how == "zeros":
            return np.zeros(n, dtype=c.np_dtype)
        if c.kind == "int":
            info = np.iinfo(c.np_dtype)
            lo, hi = max(info.min, -1000), min(info.max, 1000)
            return rng.integers(lo, hi, n, endpoint=True).astype(c.np_dtype)
        scale = rng.choice([1e-3, 1.0, 10.0, 1e3, 1e6], n)
        arr = (rng.standard_normal(n) * scale).astype(c.np_dtype)
        if how == "missing" and contract.allow_nan:
            arr[rng.random(n) < 0.3] = np.nan
        return arr

    def texts(c: Column, n: int, how: str) -> Any:
        values = known.get(cols.index(c)) or []
        values = [v for v in values if isinstance(v, str)]
        out = np.empty(n, dtype=object)
        if how == "known" and values:
            out[:] = [values[i % len(values)] for i in range(n)]
        elif how == "zeros":
            out[:] = [values[0] if values else ""] * n
        elif how == "missing":
            pool = [*values[:5], *unknown, None]
            out[:] = [pool[int(i)] for i in rng.integers(0, len(pool), n)]
        else:
            pool = [*values, *unknown]
            out[:] = [pool[int(i)] for i in rng.integers(0, len(pool), n)]
        return out

    def batch(n: int, how: str) -> Coerced:
        arrays = []
        for c in cols:
            if c.kind == "string":
                arrays.append(texts(c, n, how))
            elif c.kind in ("float", "int", "bool"):
                arrays.append(numbers(c, n, how))
            else:
                arrays.append(np.zeros(n))  # never planned: compile refused the column
        uniform = contract.uniform
        if uniform is not None and all(a.dtype == uniform for a in arrays):
            return Coerced(n, matrix=np.column_stack(arrays))
        return Coerced(n, columns=arrays)

    batches = [
        batch(width, "known"),
        batch(1, "zeros"),
        batch(64, "random"),
        batch(16, "missing"),
        batch(1, "missing"),
    ]
    singles = [_row(batches[0], i) for i in range(min(width, 16))]
    singles += [_row(batches[2], i) for i in range(4)]
    return batches + singles


def _row(rows: Coerced, i: int) -> Coerced:
    if rows.matrix is not None:
        return Coerced(1, matrix=rows.matrix[i : i + 1])
    return Coerced(1, columns=[a[i : i + 1] for a in rows.columns or []])


def verify(
    plan: Plan,
    reference: Callable[[Coerced, str], Any],
    run: Callable[[Callable[[], Any]], Any],
    batches: Sequence[Coerced],
) -> str | None:
    """None when the plan gives exactly the model's answer (``reference``) on every probe
    batch the model answers, for every output it plans; else why not. ``run`` calls a
    function the way the backend calls the model (scikit-learn's configuration)."""
    answered = 0
    for rows in batches:
        for output in plan.steps:
            try:
                want = reference(rows, output)
            except Exception:
                continue  # the model refuses these rows: the plan is never asked for them
            answered += 1
            try:
                got = run(partial(plan.run, output, rows))
            except Exception as exc:
                return f"{output} on {rows.n_rows} probe rows raised {type(exc).__name__}: {exc}"
            if not same_answer(got, want):
                return f"{output} differs from the model on {rows.n_rows} probe rows"
    if not answered:
        return "the model answered none of the probe rows"
    return None
