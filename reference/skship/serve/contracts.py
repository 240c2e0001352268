"""The serving contract of one model: its input columns and outputs, and the OIP views of them.

A contract comes from the signature recorded in the file (``dump(..., sample=X)``) or,
failing that, from the fitted model (``feature_names_in_`` / ``n_features_in_``). It is
what every request is checked and coerced against (see ``skship.serve.codecs``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "DATATYPES",
    "Column",
    "Contract",
    "Output",
    "contract_for",
    "datatype_of",
]

# OIP v2 tensor datatypes and the numpy dtype each one is read into.
DATATYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(bool),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}

_BY_KIND_SIZE = {(v.kind, v.itemsize): k for k, v in DATATYPES.items() if k != "BYTES"}


def datatype_of(dtype: np.dtype[Any]) -> str:
    """The OIP datatype of a numpy dtype; strings, objects and categories are BYTES."""
    return _BY_KIND_SIZE.get((dtype.kind, dtype.itemsize), "BYTES")


_NUMERIC_KINDS = {"float": "f", "int": "iu", "bool": "b"}


def _kind_of(dtype_name: str) -> tuple[str, np.dtype[Any]]:
    """Our coercion kind for a recorded dtype name (numpy or pandas spelling)."""
    if dtype_name == "category":
        return "category", np.dtype(object)
    if dtype_name == "infer":
        return "infer", np.dtype(object)
    try:
        dt = np.dtype(dtype_name)
    except TypeError:
        # pandas-only spellings: "str", "string", "Int64", "boolean", "datetime64[ns, UTC]"…
        low = dtype_name.lower()
        if low.startswith(("int", "uint")):
            return "float", np.dtype("<f8")  # nullable integers: missing values become NaN
        if low == "boolean":
            return "bool", np.dtype(bool)
        if low.startswith("float"):
            return "float", np.dtype("<f8")
        return "string", np.dtype(object)
    if dt.kind == "f":
        return "float", dt.newbyteorder("<")
    if dt.kind in "iu":
        return "int", dt.newbyteorder("<")
    if dt.kind == "b":
        return "bool", dt
    return "string", np.dtype(object)


@dataclass(frozen=True)
class Column:
    """One input column of the signature."""

    name: str
    dtype: str  # as recorded: a numpy or pandas dtype name, or "infer"
    kind: str  # float | int | bool | string | category | infer
    np_dtype: np.dtype[Any]
    categories: tuple[Any, ...] | None = None

    @property
    def datatype(self) -> str:
        if self.kind == "category" and self.categories:
            sample = np.asarray(list(self.categories))
            return datatype_of(sample.dtype) if sample.dtype.kind in "biuf" else "BYTES"
        if self.kind == "infer":
            return "FP64"
        return datatype_of(self.np_dtype)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "dtype": self.dtype, "datatype": self.datatype}
        if self.categories is not None:
            out["categories"] = list(self.categories)
        return out


@dataclass(frozen=True)
class Output:
    """One output the model can give: ``predict``, ``predict_proba``, ``transform``…"""

    name: str
    datatype: str
    shape: tuple[int, ...]  # -1 for the rows; a second axis when known
    # the names of the columns: the classes (predict_proba, decision_function), the output
    # feature names (transform)
    labels: tuple[Any, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "datatype": self.datatype, "shape": [*self.shape]}
        if self.labels is not None:
            out["labels"] = list(self.labels)
        return out


@dataclass(frozen=True)
class Contract:
    """The model's inputs (in order) and outputs; ``named`` means the columns have names."""

    columns: tuple[Column, ...]
    named: bool
    source: str  # "file" (recorded signature) | "model" (inferred) | "none"
    outputs: tuple[Output, ...]
    allow_nan: bool = True
    outputs_source: str = "model"  # "file" (recorded with the signature) | "model" (inferred)
    index: dict[str, int] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self.index.update({c.name: i for i, c in enumerate(self.columns)})

    @property
    def n_features(self) -> int:
        return len(self.columns)

    @property
    def uniform(self) -> np.dtype[Any] | None:
        """The one numeric dtype every column has, if there is one (the fast path);
        computed once (it is read on every request)."""
        try:
            return self._uniform  # type: ignore[no-any-return,attr-defined]
        except AttributeError:
            found = self._find_uniform()
            object.__setattr__(self, "_uniform", found)
            return found

    def _find_uniform(self) -> np.dtype[Any] | None:
        kinds = {c.kind for c in self.columns}
        if not self.columns or kinds - {"float", "int", "bool"}:
            return None
        dts = {c.np_dtype for c in self.columns}
        return dts.pop() if len(dts) == 1 else None

    def output(self, name: str) -> Output | None:
        for out in self.outputs:
            if out.name == name:
                return out
        return None

    def signature_json(self) -> dict[str, Any]:
        """The skship model signature (schemas/serving/1/signature.schema.json)."""
        return {
            "inputs": [c.to_json() for c in self.columns],
            "named": self.named,
            "source": self.source,
            "allow_nan": self.allow_nan,
            "outputs": [o.to_json() for o in self.outputs],
            "outputs_source": self.outputs_source,
        }

    def oip_inputs(self) -> list[dict[str, Any]]:
        """OIP metadata inputs: one tensor per named column, or one [-1, n] tensor."""
        if self.named:
            return [
                {"name": c.name, "datatype": c.datatype, "shape": [-1, 1]} for c in self.columns
            ]
        uniform = self.uniform
        datatype = datatype_of(uniform) if uniform is not None else "FP64"
        return [{"name": "input-0", "datatype": datatype, "shape": [-1, self.n_features]}]


def _columns_from_signature(sig: dict[str, Any]) -> tuple[Column, ...]:
    cols = []
    for feat in sig["features"]:
        kind, np_dtype = _kind_of(str(feat["dtype"]))
        cats = feat.get("categories")
        if kind == "category" and cats is not None:
            cats_arr = np.asarray(cats)
            if cats_arr.dtype.kind in "iuf":
                np_dtype = cats_arr.dtype
        cols.append(
            Column(
                name=str(feat["name"]),
                dtype=str(feat["dtype"]),
                kind=kind,
                np_dtype=np_dtype,
                categories=tuple(cats) if cats is not None else None,
            )
        )
    return tuple(cols)


def _allow_nan(model: Any) -> bool:
    tags = getattr(model, "__sklearn_tags__", None)
    if tags is None:
        return True
    try:
        return bool(tags().input_tags.allow_nan)
    except Exception:  # a third-party estimator with broken tags: let the model decide
        return True


def _outputs(model: Any) -> tuple[Output, ...]:
    outs: list[Output] = []
    classes = getattr(model, "classes_", None)
    if hasattr(model, "predict"):
        if classes is not None and np.ndim(classes) == 1:
            dt = np.asarray(classes).dtype
            outs.append(Output("predict", datatype_of(dt), (-1,)))
        else:
            n_out = getattr(model, "n_outputs_", 1)
            shape = (-1,) if n_out == 1 else (-1, int(n_out))
            outs.append(Output("predict", "FP64", shape))
    if hasattr(model, "predict_proba") and classes is not None and np.ndim(classes) == 1:
        labels = tuple(np.asarray(classes).tolist())
        outs.append(Output("predict_proba", "FP64", (-1, len(labels)), labels=labels))
    if hasattr(model, "decision_function") and classes is not None:
        k = len(classes)
        if k == 2:
            outs.append(Output("decision_function", "FP64", (-1,)))
        else:  # one column per class, named like predict_proba's
            labels = tuple(np.asarray(classes).tolist())
            outs.append(Output("decision_function", "FP64", (-1, k), labels=labels))
    if hasattr(model, "transform") and not outs:
        outs.append(Output("transform", "FP64", (-1, -1)))
    return tuple(outs)


def _outputs_from_signature(recorded: list[dict[str, Any]], model: Any) -> tuple[Output, ...]:
    """The outputs the file records (``dump(..., sample=X)``), each one the loaded model
    can still give (a method it lacks is left out rather than failing every request)."""
    outs = []
    for rec in recorded:
        name = str(rec["name"])
        if not callable(getattr(model, name, None)):
            continue
        try:
            datatype = datatype_of(np.dtype(str(rec["dtype"])))
        except TypeError:  # a pandas-only or unknown dtype name: sent as BYTES
            datatype = "BYTES"
        width = rec.get("width")
        shape = (-1,) if width is None else (-1, int(width))
        columns = rec.get("columns")
        labels = tuple(columns) if columns is not None else None
        outs.append(Output(name, datatype, shape, labels=labels))
    return tuple(outs)


def contract_for(model: Any, signature: dict[str, Any] | None) -> Contract:
    """The contract of a loaded model, from its recorded signature or its fitted attributes.

    The outputs are the ones the signature records when it has them (files written with
    a sample and a model that predicts), else inferred from the model (``_outputs``).
    """
    recorded = signature.get("outputs") if signature is not None else None
    if recorded:
        outputs, outputs_source = _outputs_from_signature(recorded, model), "file"
    else:
        outputs, outputs_source = _outputs(model), "model"
    allow_nan = _allow_nan(model)
    if signature is not None:
        return Contract(
            columns=_columns_from_signature(signature),
            named=bool(signature.get("named", True)),
            source="file",
            outputs=outputs,
            allow_nan=allow_nan,
            outputs_source=outputs_source,
        )
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        cols = tuple(Column(str(n), "infer", "infer", np.dtype(object)) for n in names)
        return Contract(cols, True, "model", outputs, allow_nan, outputs_source="model")
    n = getattr(model, "n_features_in_", None)
    if n is not None:
        f8 = np.dtype("<f8")
        cols = tuple(Column(f"x{i}", "float64", "float", f8) for i in range(int(n)))
        return Contract(cols, False, "model", outputs, allow_nan, outputs_source="model")
    return Contract((), False, "none", outputs, allow_nan, outputs_source="model")
