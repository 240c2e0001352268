"""IsotonicRegression: ``np.interp`` over the fitted thresholds, as a sum of clipped
segments ``y_0 + sum_i slope_i * (clip(x, x_i, x_{i+1}) - x_i)``; out-of-range inputs are
clipped or become NaN as ``out_of_bounds`` says (skl2onnx 1.20 has no converter)."""

from __future__ import annotations

from typing import Any

from skship.onnx.converters._algebra import input_dtype, set_tensor_output


def supported(est: Any) -> bool:
    return est.out_of_bounds in ("nan", "clip")


def _shape(operator: Any) -> None:
    set_tensor_output(operator, 1)


def _convert(scope: Any, operator: Any, container: Any) -> None:
    import numpy as np
    from skl2onnx.algebra.onnx_ops import (
        OnnxAdd,
        OnnxGreater,
        OnnxLess,
        OnnxMax,
        OnnxMin,
        OnnxMul,
        OnnxOr,
        OnnxReduceSumApi11,
        OnnxReshape,
        OnnxSub,
        OnnxWhere,
    )

    est = operator.raw_operator
    if not supported(est):
        raise RuntimeError(f"IsotonicRegression(out_of_bounds={est.out_of_bounds!r})")
    dtype = input_dtype(operator)
    opv = container.target_opset
    xs = np.asarray(est.X_thresholds_, dtype=np.float64)
    ys = np.asarray(est.y_thresholds_, dtype=np.float64)
    x = OnnxReshape(operator.inputs[0], np.array([-1, 1], dtype=np.int64), op_version=opv)
    if len(xs) < 2:
        y: Any = OnnxAdd(
            OnnxMul(x, np.array([0], dtype=dtype), op_version=opv),
            np.array([ys[0]], dtype=dtype),
            op_version=opv,
        )
    else:
        lo, hi = xs[:-1], xs[1:]
        width = hi - lo
        slope = np.where(width > 0, (ys[1:] - ys[:-1]) / np.where(width > 0, width, 1), 0.0)
        clipped = OnnxMax(
            OnnxMin(x, hi.astype(dtype), op_version=opv), lo.astype(dtype), op_version=opv
        )
        parts = OnnxMul(
            OnnxSub(clipped, lo.astype(dtype), op_version=opv), slope.astype(dtype), op_version=opv
        )
        y = OnnxAdd(
            OnnxReduceSumApi11(parts, axes=[1], keepdims=1, op_version=opv),
            np.array([ys[0]], dtype=dtype),
            op_version=opv,
        )
    if est.out_of_bounds == "nan":
        outside = OnnxOr(
            OnnxLess(x, np.array([est.X_min_], dtype=dtype), op_version=opv),
            OnnxGreater(x, np.array([est.X_max_], dtype=dtype), op_version=opv),
            op_version=opv,
        )
        y = OnnxWhere(outside, np.array([np.nan], dtype=dtype), y, op_version=opv)
    from skl2onnx.algebra.onnx_ops import OnnxIdentity

    OnnxIdentity(y, op_version=opv, output_names=[operator.outputs[0]]).add_to(scope, container)


def install() -> None:
    from skl2onnx import update_registered_converter
    from sklearn.isotonic import IsotonicRegression

    update_registered_converter(IsotonicRegression, "SkshipIsotonicRegression", _shape, _convert)
