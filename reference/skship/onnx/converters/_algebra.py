"""Small helpers shared by skship's converters (skl2onnx algebra; imported lazily)."""

from __future__ import annotations

from typing import Any


def input_dtype(operator: Any) -> Any:
    """The numpy dtype of the operator's first input (float32 or float64)."""
    from skl2onnx.common.data_types import guess_numpy_type

    return guess_numpy_type(operator.inputs[0].type)


def set_tensor_output(operator: Any, columns: int, index: int = 0) -> None:
    """Output ``index`` is a [rows, columns] tensor of the input's float type."""
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    rows = operator.inputs[0].get_first_dimension()
    double = isinstance(operator.inputs[0].type, DoubleTensorType)
    operator.outputs[index].type = (DoubleTensorType if double else FloatTensorType)(
        [rows, columns]
    )


def classes_array(classes: Any) -> Any:
    """scikit-learn's ``classes_`` as an ONNX-friendly constant (int64 or strings)."""
    import numpy as np

    classes = np.asarray(classes)
    if classes.dtype.kind in "iub":
        return classes.astype(np.int64)
    return classes.astype(str).astype(object)


def labels_from_index(index: Any, classes: Any, opv: int, output: Any) -> Any:
    """``classes_[index]`` (Gather on the constant classes), named as ``output``."""
    from skl2onnx.algebra.onnx_ops import OnnxGather

    return OnnxGather(classes_array(classes), index, axis=0, op_version=opv, output_names=[output])


def rows_like(X: Any, row: Any, opv: int, output: Any = None) -> Any:
    """``row`` (shape [1, k]) repeated for every row of ``X`` (NaN-safe: reads X's shape only)."""
    import numpy as np
    from skl2onnx.algebra.onnx_ops import OnnxConcat, OnnxExpand, OnnxShape, OnnxSlice

    rows = OnnxSlice(
        OnnxShape(X, op_version=opv),
        np.array([0], dtype=np.int64),
        np.array([1], dtype=np.int64),
        op_version=opv,
    )
    shape = OnnxConcat(rows, np.array([row.shape[1]], dtype=np.int64), axis=0, op_version=opv)
    kwargs = {"output_names": [output]} if output is not None else {}
    return OnnxExpand(row, shape, op_version=opv, **kwargs)


def softmax(scores: Any, opv: int, output: Any) -> Any:
    from skl2onnx.algebra.onnx_ops import OnnxSoftmax

    return OnnxSoftmax(scores, axis=1, op_version=opv, output_names=[output])


def argmax(scores: Any, opv: int) -> Any:
    from skl2onnx.algebra.onnx_ops import OnnxArgMax

    return OnnxArgMax(scores, axis=1, keepdims=0, op_version=opv)


def classifier_options() -> dict[str, Any]:
    """The options that make skl2onnx parse the estimator as a classifier (label, proba)."""
    return {"zipmap": [True, False, "columns"], "nocl": [True, False]}
