"""Samples and ONNX inputs: what the graph takes, how to feed it, which edge cases to try.

A sample is what the model was fitted on: a pandas DataFrame (numeric and string
columns), a 2-d numeric array, or a list of documents (text models). It fixes the graph
inputs (one float tensor when every column is numeric, one tensor per column when some
are strings or a column transformer selects columns by name) and is the first part of
every verification.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from skship.errors import InvalidArgumentError
from skship.onnx.report import InputInfo
from skship.onnx.walk import walk

Kind = Literal["frame", "array", "text"]
FloatType = Literal["float32", "float64"]
GENERATED_ROWS = 64
UNSEEN = "__skship_unseen__"


@dataclass
class Sample:
    """Rows in one of three shapes; ``columns`` names the features (frame and array)."""

    kind: Kind
    data: Any  # DataFrame (frame), float64 ndarray (array), object ndarray of str (text)
    columns: list[str]
    generated: bool = False

    def __len__(self) -> int:
        return len(self.data)

    def take(self, rows: Any) -> Sample:
        if self.kind == "frame":
            data = self.data.iloc[rows].reset_index(drop=True)
        else:
            data = self.data[rows]
        return Sample(self.kind, data, self.columns, self.generated)

    def concat(self, other: Sample) -> Sample:
        import numpy as np

        if self.kind == "frame":
            import pandas as pd

            data = pd.concat([self.data, other.data], ignore_index=True)
        else:
            data = np.concatenate([self.data, other.data])
        return Sample(self.kind, data, self.columns, self.generated)

    def row_dict(self, i: int) -> dict[str, Any]:
        """Row ``i`` as plain JSON-ready values, for reports."""
        if self.kind == "text":
            return {"text": str(self.data[i])}
        values = self.data.iloc[i].tolist() if self.kind == "frame" else self.data[i].tolist()
        return {c: _plain(v) for c, v in zip(self.columns, values, strict=True)}

    def numeric_columns(self) -> list[str]:
        if self.kind == "text":
            return []
        if self.kind == "array":
            return list(self.columns)
        return [c for c in self.columns if _is_numeric(self.data[c].dtype)]

    def string_columns(self) -> list[str]:
        if self.kind != "frame":
            return []
        return [c for c in self.columns if not _is_numeric(self.data[c].dtype)]


def _plain(value: Any) -> Any:
    import math

    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        value = value.item()
    return value if isinstance(value, int | float | str | bool | None) else str(value)


def _is_numeric(dtype: Any) -> bool:
    import numpy as np

    return dtype.kind in "biuf" or (dtype == np.bool_)


def _is_frame(obj: Any) -> bool:
    return type(obj).__module__.startswith("pandas") and hasattr(obj, "columns")


def _is_series(obj: Any) -> bool:
    return type(obj).__module__.startswith("pandas") and type(obj).__name__ == "Series"


def prepare_sample(model: Any, sample: Any) -> Sample:
    """Normalise ``sample`` to the columns the model was fitted on.

    ``None`` draws standard-normal rows when the model says how many features it takes
    (``n_features_in_``) and takes no named columns of strings.
    """
    import numpy as np

    names = getattr(model, "feature_names_in_", None)
    names = [str(n) for n in names] if names is not None else None
    n_features = getattr(model, "n_features_in_", None)
    if sample is None:
        if n_features is None:
            raise InvalidArgumentError(
                "the model does not say how many features it takes (no n_features_in_): "
                "pass a sample of the data it was fitted on"
            )
        rng = np.random.default_rng(0)
        data = rng.normal(size=(GENERATED_ROWS, int(n_features)))
        columns = names or [f"x{i}" for i in range(int(n_features))]
        return Sample("array", data, columns, generated=True)
    if _is_frame(sample) and sample.shape[1] == 1 and n_features is None:
        column = sample.iloc[:, 0]
        if len(column) and all(isinstance(v, str) for v in column.tolist()):
            return Sample("text", np.array(column.tolist(), dtype=object), [])
    if _is_frame(sample):
        frame = sample
        if names is not None:
            missing = [n for n in names if n not in frame.columns]
            if missing:
                raise InvalidArgumentError(
                    f"the sample lacks columns the model was fitted on: {missing[:10]}"
                )
            frame = frame[names]
        elif n_features is not None and frame.shape[1] != n_features:
            raise InvalidArgumentError(
                f"the sample has {frame.shape[1]} columns, the model takes {n_features}"
            )
        frame = frame.reset_index(drop=True)
        frame.columns = [str(c) for c in frame.columns]
        if len(frame) == 0:
            raise InvalidArgumentError("the sample has no rows")
        return Sample("frame", frame, list(frame.columns))
    if _is_series(sample) or isinstance(sample, list | tuple):
        values = list(sample)
        if values and all(isinstance(v, str) for v in values):
            return Sample("text", np.array(values, dtype=object), [])
        sample = np.asarray(values)
    array = np.asarray(sample)
    if array.ndim == 1 and array.dtype.kind in "OU":
        return Sample("text", array.astype(object), [])
    if array.ndim != 2 or len(array) == 0:
        raise InvalidArgumentError(
            f"the sample must be a DataFrame, a non-empty 2-d array or a list of documents, "
            f"not an array of shape {array.shape}"
        )
    if n_features is not None and array.shape[1] != n_features:
        raise InvalidArgumentError(
            f"the sample has {array.shape[1]} columns, the model takes {n_features}"
        )
    columns = names or [f"x{i}" for i in range(array.shape[1])]
    if array.dtype.kind not in "biuf":
        import pandas as pd

        return Sample("frame", pd.DataFrame(array, columns=columns), columns)
    return Sample("array", array.astype(np.float64), columns)


def for_sklearn(model: Any, sample: Sample) -> Any:
    """The rows as the model wants them: a DataFrame only if it was fitted on one."""
    if sample.kind == "text":
        return list(sample.data)
    has_names = getattr(model, "feature_names_in_", None) is not None
    if sample.kind == "frame":
        return sample.data if has_names else sample.data.to_numpy()
    if has_names:
        try:
            import pandas as pd
        except ImportError:
            return sample.data
        return pd.DataFrame(sample.data, columns=sample.columns)
    return sample.data


def _selects_by_name(model: Any) -> bool:
    from sklearn.compose import ColumnTransformer

    for node in walk(model):
        if isinstance(node.estimator, ColumnTransformer):
            listed = getattr(node.estimator, "transformers_", None) or node.estimator.transformers
            for _, _, columns in listed:
                items = columns if isinstance(columns, list | tuple) else [columns]
                if any(isinstance(c, str) for c in items):
                    return True
    return False


def input_infos(model: Any, sample: Sample, dtype: FloatType) -> list[InputInfo]:
    """The graph inputs for ``sample``: one tensor, or one per column."""
    ftype = "float" if dtype == "float32" else "double"
    if sample.kind == "text":
        return [InputInfo(name="input", column=None, type="string", shape=[None, 1])]
    if sample.kind == "array" or (not sample.string_columns() and not _selects_by_name(model)):
        return [InputInfo(name="input", column=None, type=ftype, shape=[None, len(sample.columns)])]
    strings = set(sample.string_columns())
    return [
        InputInfo(
            name=column,
            column=column,
            type="string" if column in strings else ftype,
            shape=[None, 1],
        )
        for column in sample.columns
    ]


def initial_types(infos: list[InputInfo]) -> list[tuple[str, Any]]:
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
    )

    kinds = {
        "float": FloatTensorType,
        "double": DoubleTensorType,
        "string": StringTensorType,
        "int64": Int64TensorType,
    }
    return [(info.name, kinds[info.type](list(info.shape))) for info in infos]


_NP = {"float": "float32", "double": "float64", "int64": "int64"}


def feeds(sample: Sample, infos: list[InputInfo]) -> dict[str, Any]:
    """The onnxruntime inputs for ``sample``."""
    import numpy as np

    def strings(values: Any) -> Any:
        return np.array([str(v) for v in values], dtype=object).reshape(-1, 1)

    if sample.kind == "text":
        return {infos[0].name: strings(sample.data)}
    if len(infos) == 1 and infos[0].column is None:
        info = infos[0]
        values = sample.data.to_numpy() if sample.kind == "frame" else sample.data
        if info.type == "string":
            return {info.name: np.array(values, dtype=str).astype(object)}
        return {info.name: np.asarray(values, dtype=_NP[info.type])}
    out = {}
    for info in infos:
        column = info.column if info.column is not None else info.name
        if sample.kind == "frame":
            values = sample.data[column].to_numpy()
        else:
            values = sample.data[:, sample.columns.index(column)]
        if info.type == "string":
            out[info.name] = strings(values)
        else:
            out[info.name] = np.asarray(values, dtype=_NP[info.type]).reshape(-1, 1)
    return out


def edge_cases(sample: Sample) -> list[tuple[str, Sample]]:
    """Generated rows beyond the sample: each numeric column at its extremes and far
    beyond, zeros, missing values, unseen categories; for text, empty and unseen words.
    The caller keeps only the rows scikit-learn accepts."""
    import numpy as np
    import pandas as pd

    cases: list[tuple[str, Sample]] = []
    if sample.kind == "text":
        first = str(sample.data[0])
        for label, text in (
            ("empty document", ""),
            ("unseen words", f"{UNSEEN} qqqzzz"),
            ("repeated document", " ".join([first] * 5)),
            ("upper case", first.upper()),
        ):
            cases.append((label, Sample("text", np.array([text], dtype=object), [])))
        return cases
    numeric = sample.numeric_columns()
    base = sample.take([0])

    def variant(label: str, **set_to: Any) -> None:
        row = base.take([0])
        if row.kind == "frame":
            row.data = row.data.copy()
            for column, value in set_to.items():
                if column in numeric:
                    row.data[column] = row.data[column].astype(np.float64)
                elif isinstance(row.data[column].dtype, pd.CategoricalDtype):
                    # A Categorical refuses values outside its categories: widen them.
                    col = row.data[column]
                    if value not in col.cat.categories:
                        row.data[column] = col.cat.add_categories([value])
                row.data.loc[0, column] = value
        else:
            row.data = row.data.copy()
            for column, value in set_to.items():
                row.data[0, sample.columns.index(column)] = value
        cases.append((label, row))

    if numeric:
        values = (
            sample.data[numeric].to_numpy(dtype=np.float64)
            if sample.kind == "frame"
            else sample.data
        )
        with np.errstate(all="ignore"):
            low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
        spread = np.where(high > low, high - low, 1.0)
        variant("column minima", **dict(zip(numeric, low, strict=True)))
        variant("column maxima", **dict(zip(numeric, high, strict=True)))
        variant("far below the minima", **dict(zip(numeric, low - 3 * spread, strict=True)))
        variant("far above the maxima", **dict(zip(numeric, high + 3 * spread, strict=True)))
        variant("zeros", **dict.fromkeys(numeric, 0.0))
        variant("missing numbers", **dict.fromkeys(numeric, np.nan))
    strings = sample.string_columns()
    if strings:
        variant("unseen categories", **dict.fromkeys(strings, UNSEEN))
    return cases
