"""The onnx serving backend: a verified conversion run by onnxruntime, same answers as sklearn.

``serving_backend(model, contract)`` converts the model with :func:`skship.onnx.convert`
(which always verifies against scikit-learn) and returns a backend for ``skship serve``.
The file records no rows, so the verification rows are drawn from the serving contract
(the signature recorded at ``dump(..., sample=X)``, or the fitted model's feature names)
and from the model's own fitted state: every category an encoder knows, and numbers on
several scales around zero; ``convert`` adds its edge cases (extremes, missing values,
unseen categories). A model that does not convert or does not verify raises the
conversion's error (``E-ONNX-*``), so ``--backend onnx`` stops at start-up and ``auto``
falls back to scikit-learn.

Outputs keep the scikit-learn backend's names and dtypes: ``predict`` gives the labels in
the dtype of ``classes_`` (float64 for regressors), ``predict_proba`` float64
probabilities, ``transform`` float64. Any other output (``decision_function``…) is
answered by scikit-learn for the same rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skship.errors import SkshipError

if TYPE_CHECKING:
    import numpy as np

    from skship.onnx._convert import Conversion
    from skship.serve.codecs import Coerced
    from skship.serve.contracts import Contract

__all__ = ["VERIFY_ROWS", "OnnxBackend", "serving_backend", "verification_sample"]

VERIFY_ROWS = 256
_SCALES = (0.01, 1.0, 10.0, 1000.0)


def _encoder_categories(model: Any) -> dict[str, list[Any]]:
    """Column name -> the categories a fitted encoder of a column transformer knows."""
    from sklearn.compose import ColumnTransformer

    from skship.onnx.walk import walk

    found: dict[str, list[Any]] = {}
    for node in walk(model):
        ct = node.estimator
        if not isinstance(ct, ColumnTransformer):
            continue
        for _, step, columns in getattr(ct, "transformers_", []):
            cats = None
            for inner in walk(step):
                cats = getattr(inner.estimator, "categories_", None)
                if cats is not None:
                    break
            if cats is None:
                continue
            names = columns if isinstance(columns, list | tuple) else [columns]
            if len(names) != len(cats) or not all(isinstance(n, str) for n in names):
                continue
            for name, values in zip(names, cats, strict=True):
                found[name] = [v for v in values.tolist() if v is not None and v == v]
    return found


def verification_sample(model: Any, contract: Contract, rows: int = VERIFY_ROWS) -> Any:
    """Rows shaped like the contract: a DataFrame for named columns, else a float array.

    Categories come from the signature or from the model's encoders (so every known
    category is seen); numbers are standard-normal draws at several scales, some rounded
    to integers, so that both small and large values cross the model's thresholds.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    known = _encoder_categories(model)

    def numbers(np_dtype: Any) -> Any:
        scale = rng.choice(_SCALES, size=rows)
        values = rng.normal(size=rows) * scale
        values[: rows // 4] = np.round(values[: rows // 4])
        if np_dtype.kind in "iu":
            return np.round(values).astype(np_dtype)
        if np_dtype.kind == "b":
            return values > 0
        return values.astype(np_dtype)

    def pick(values: list[Any]) -> Any:
        picked = [values[i % len(values)] for i in rng.permutation(rows)]
        return np.asarray(picked, dtype=object)

    if not contract.named:
        uniform = contract.uniform
        dtype = uniform if uniform is not None else np.dtype("<f8")
        return np.column_stack([numbers(dtype) for _ in contract.columns])
    import pandas as pd

    data: dict[str, Any] = {}
    for col in contract.columns:
        cats = list(col.categories) if col.categories else known.get(col.name)
        if col.kind == "category" and col.categories and col.np_dtype.kind in "biuf":
            data[col.name] = np.asarray(pick(list(col.categories)), dtype=col.np_dtype)
        elif col.kind in ("string", "category") or (col.kind == "infer" and cats):
            # category columns as plain strings: the graph takes strings either way, and
            # convert()'s "unseen category" edge case cannot be set into a pandas Categorical
            data[col.name] = pick(cats or ["a", "b", "c"])
        elif col.kind == "infer":
            data[col.name] = numbers(np.dtype("<f8"))
        else:
            data[col.name] = numbers(col.np_dtype)
    return pd.DataFrame(data)


class OnnxBackend:
    """Runs a verified conversion in one onnxruntime session (``threads`` intra-op threads:
    one per worker is the stable choice on a shared machine)."""

    name = "onnx"

    def __init__(
        self,
        model: Any,
        contract: Contract,
        conversion: Conversion,
        threads: int = 1,
        dtypes: dict[str, Any] | None = None,
    ):
        import numpy as np

        self.model = model
        self.contract = contract
        self.conversion = conversion
        self.session = conversion.session(threads)
        self.input_names = [i.name for i in self.session.get_inputs()]
        infos = {i.name: i for i in conversion.inputs}
        self.infos = [infos[n] for n in self.input_names]
        kinds = {"float": np.float32, "double": np.float64, "int64": np.int64, "string": object}
        self.np_types = [kinds[i.type] for i in self.infos]
        index = contract.index
        self.positions = [index.get(i.column, -1) if i.column else -1 for i in self.infos]
        names = conversion.outputs
        classes = getattr(model, "classes_", None)
        self.classes = np.asarray(classes) if classes is not None else None
        # contract output -> graph output (the order skl2onnx gives: label, probabilities)
        self.plan: dict[str, str] = {}
        if hasattr(model, "predict") and names:
            self.plan["predict"] = names[0]
            if self.classes is not None and hasattr(model, "predict_proba") and len(names) > 1:
                self.plan["predict_proba"] = names[1]
        elif hasattr(model, "transform") and names:
            self.plan["transform"] = names[0]
        self._sklearn: Any = None
        # the dtype scikit-learn gives for each output (int labels of a clusterer, float64
        # of a regressor...), so that both backends answer with the same OIP datatype
        self.dtypes = dict(dtypes or {})

    def feeds(self, rows: Coerced) -> dict[str, Any]:
        import numpy as np

        out: dict[str, Any] = {}
        if len(self.infos) == 1 and self.infos[0].column is None:
            np_type = self.np_types[0]
            if rows.matrix is not None:
                matrix = rows.matrix.astype(np_type, copy=False)
            else:
                cols = rows.columns or []
                matrix = np.empty((rows.n_rows, len(cols)), dtype=np_type)
                for j, arr in enumerate(cols):
                    matrix[:, j] = arr
            out[self.input_names[0]] = matrix
            return out
        for name, pos, np_type in zip(self.input_names, self.positions, self.np_types, strict=True):
            values = rows.matrix[:, pos] if rows.matrix is not None else (rows.columns or [])[pos]
            if np_type is object:
                if values.dtype != object or not all(type(v) is str for v in values):
                    values = np.array(["" if v is None else str(v) for v in values], dtype=object)
                out[name] = values.reshape(-1, 1)  # text as it is: no copy
            else:
                out[name] = np.asarray(values, dtype=np_type).reshape(-1, 1)
        return out

    def _fallback(self) -> Any:
        if self._sklearn is None:
            from skship.serve.backends import SklearnBackend

            # built on a request: no plan (compiling and verifying one takes a while)
            self._sklearn = SklearnBackend(self.model, self.contract, plan="off")
        return self._sklearn

    def predict(self, rows: Coerced, outputs: list[str]) -> dict[str, np.ndarray[Any, Any]]:
        import numpy as np

        from skship.serve.errors import ServeError

        graph = [self.plan[o] for o in outputs if o in self.plan]
        result: dict[str, np.ndarray[Any, Any]] = {}
        if graph:
            try:
                values = self.session.run(graph, self.feeds(rows))
            except Exception as exc:  # onnxruntime raises its own types for bad inputs
                raise ServeError(
                    "E-SERVE-PREDICT", f"onnxruntime refused the rows: {exc}"
                ) from None
            got = dict(zip(graph, values, strict=True))
            for name in outputs:
                if name in self.plan:
                    result[name] = self._shape(name, np.asarray(got[self.plan[name]]))
        rest = [o for o in outputs if o not in self.plan]
        if rest:
            result.update(self._fallback().predict(rows, rest))
        return result

    def _shape(self, name: str, arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """The scikit-learn backend's dtype and shape for this output."""
        import numpy as np

        out = self.contract.output(name)
        if name == "predict" and self.classes is not None:
            arr = arr.reshape(-1)
            return arr.astype(self.classes.dtype, copy=False)
        arr = arr.astype(self.dtypes.get(name, np.float64), copy=False)
        if out is not None and len(out.shape) == 1 and arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr.reshape(-1)
        return arr


def serving_backend(model: Any, contract: Contract, threads: int = 1) -> OnnxBackend:
    """A verified onnx backend for ``model``, or the conversion's error.

    Raises ``E-DEPENDENCY-MISSING`` without the ``[onnx]`` extra, ``E-ONNX-NO-CONVERTER``,
    ``E-ONNX-CONVERT`` or ``E-ONNX-RUNTIME`` when it cannot be converted or run, and
    ``E-ONNX-MISMATCH`` when onnxruntime and scikit-learn disagree on the verification rows.
    """
    from skship.errors import InvalidArgumentError
    from skship.onnx import convert

    if not contract.columns:
        raise SkshipError(
            "the model has no input signature (no sample recorded, no n_features_in_): "
            "the onnx backend cannot size its inputs",
            code="E-ONNX-CONVERT",
        )
    sample = verification_sample(model, contract)
    try:
        conversion = convert(model, sample)
    except InvalidArgumentError as err:  # the sample does not fit the model
        raise SkshipError(
            f"cannot build verification rows for the onnx backend: {err.detail}",
            code="E-ONNX-CONVERT",
        ) from err
    except SkshipError:
        raise
    except Exception as err:  # a converter or the model itself failing on the rows
        raise SkshipError(
            f"converting {type(model).__name__} for the onnx backend failed: "
            f"{type(err).__name__}: {str(err).strip()[:500]}",
            code="E-ONNX-CONVERT",
        ) from err
    return OnnxBackend(model, contract, conversion, threads, _sklearn_dtypes(model, sample))


def _sklearn_dtypes(model: Any, sample: Any) -> dict[str, Any]:
    """The dtype of each output scikit-learn gives, on two verification rows."""
    import warnings

    import numpy as np

    rows = sample.iloc[:2] if hasattr(sample, "iloc") else sample[:2]
    found: dict[str, Any] = {}
    for name in ("predict", "predict_proba", "transform"):
        method = getattr(model, name, None)
        if method is None:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = method(rows)
        except Exception:  # the output is not available on these rows: keep float64
            continue
        found[name] = np.asarray(value.toarray() if hasattr(value, "toarray") else value).dtype
    return found
