"""OneHotEncoder with float categories: skl2onnx 1.20 accepts only integer and string
categories (ONNX's OneHotEncoder operator), so float columns are encoded by comparison,
``x == c`` per category (``IsNaN`` for a NaN category), then the dropped columns are
removed. Integer and string categories keep skl2onnx's converter (registered under the
same alias; this one delegates to it)."""

from __future__ import annotations

from typing import Any

from skship.onnx.converters._algebra import input_dtype, set_tensor_output


def float_categories(est: Any) -> bool:
    categories = getattr(est, "categories_", [])
    return any(getattr(c, "dtype", None) is not None and c.dtype.kind == "f" for c in categories)


def supported(est: Any) -> bool:
    """Float categories convert unless infrequent categories are grouped."""
    return not (float_categories(est) and getattr(est, "_infrequent_enabled", False))


def _kept(est: Any) -> list[int]:
    """Output columns kept after ``drop``: indices into the concatenated categories."""
    kept: list[int] = []
    start = 0
    drop = getattr(est, "drop_idx_", None)
    for j, cats in enumerate(est.categories_):
        dropped = None if drop is None or drop[j] is None else int(drop[j])
        kept.extend(start + k for k in range(len(cats)) if k != dropped)
        start += len(cats)
    return kept


def install() -> None:
    from skl2onnx import update_registered_converter
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from skl2onnx.common._registration import _converter_pool, _shape_calculator_pool
    from sklearn.preprocessing import OneHotEncoder

    alias = sklearn_operator_name_map[OneHotEncoder]
    converter = _converter_pool[alias]
    if getattr(getattr(converter, "_fct", converter), "skship_one_hot", False):
        return
    original_shape = _shape_calculator_pool[alias]

    def shape(operator: Any) -> None:
        if not float_categories(operator.raw_operator):
            original_shape(operator)
            return
        set_tensor_output(operator, len(_kept(operator.raw_operator)))

    def convert(scope: Any, operator: Any, container: Any) -> None:
        est = operator.raw_operator
        if not float_categories(est):
            converter(scope, operator, container)
            return
        _convert_floats(scope, operator, container)

    convert.skship_one_hot = True  # type: ignore[attr-defined]
    update_registered_converter(
        OneHotEncoder, alias, shape, convert, options=converter.get_allowed_options()
    )


def _convert_floats(scope: Any, operator: Any, container: Any) -> None:
    import numpy as np
    from skl2onnx.algebra.onnx_ops import (
        OnnxCast,
        OnnxConcat,
        OnnxEqual,
        OnnxGather,
        OnnxIsNaN,
    )
    from skl2onnx.proto import onnx_proto

    est = operator.raw_operator
    if not supported(est):
        raise RuntimeError("OneHotEncoder with float categories and infrequent categories")
    dtype = input_dtype(operator)
    opv = container.target_opset
    to = onnx_proto.TensorProto.DOUBLE if dtype == np.float64 else onnx_proto.TensorProto.FLOAT
    X = operator.inputs[0]
    if len(operator.inputs) > 1:
        raise RuntimeError("OneHotEncoder with float categories converts from one input tensor")
    blocks: list[Any] = []
    for j, cats in enumerate(est.categories_):
        column = OnnxGather(X, np.array([j], dtype=np.int64), axis=1, op_version=opv)
        cats = np.asarray(cats, dtype=np.float64)
        finite = cats[~np.isnan(cats)]
        if len(finite):
            blocks.append(
                OnnxCast(
                    OnnxEqual(column, finite.astype(dtype), op_version=opv), to=to, op_version=opv
                )
            )
        if np.isnan(cats).any():
            blocks.append(OnnxCast(OnnxIsNaN(column, op_version=opv), to=to, op_version=opv))
    encoded = OnnxConcat(*blocks, axis=1, op_version=opv) if len(blocks) > 1 else blocks[0]
    OnnxGather(
        encoded,
        np.array(_kept(est), dtype=np.int64),
        axis=1,
        op_version=opv,
        output_names=[operator.outputs[0]],
    ).add_to(scope, container)
