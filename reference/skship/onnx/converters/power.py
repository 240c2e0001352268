"""PowerTransformer (Yeo-Johnson and Box-Cox, then the optional standardisation), written
so that a missing value stays missing: skl2onnx 1.20's converter turns NaN into a number
where scikit-learn keeps NaN. Column lambdas are constants; the branches (x >= 0, lambda
at 0 or 2) are chosen with Where, as scipy's ``yeojohnson`` / ``boxcox`` choose them."""

from __future__ import annotations

from typing import Any

from skship.onnx.converters._algebra import input_dtype, set_tensor_output


def _shape(operator: Any) -> None:
    set_tensor_output(operator, operator.raw_operator.lambdas_.shape[0])


def _convert(scope: Any, operator: Any, container: Any) -> None:
    import numpy as np
    from skl2onnx.algebra.onnx_ops import (
        OnnxAdd,
        OnnxDiv,
        OnnxExp,
        OnnxGreaterOrEqual,
        OnnxIdentity,
        OnnxLog,
        OnnxMul,
        OnnxNeg,
        OnnxSub,
        OnnxWhere,
    )

    est = operator.raw_operator
    dtype = input_dtype(operator)
    opv = container.target_opset
    X = operator.inputs[0]
    lam = np.asarray(est.lambdas_, dtype=np.float64)
    eps = np.spacing(1.0)

    def const(values: Any) -> Any:
        return np.asarray(values, dtype=dtype)

    def expm1_over(log_term: Any, power: Any) -> Any:
        """expm1(power * log_term) / power, or log_term where power is 0."""
        zero = np.abs(power) < eps
        safe = np.where(zero, 1.0, power)
        scaled = OnnxDiv(
            OnnxSub(
                OnnxExp(OnnxMul(log_term, const(safe), op_version=opv), op_version=opv),
                const([1.0]),
                op_version=opv,
            ),
            const(safe),
            op_version=opv,
        )
        return OnnxWhere(const(zero).astype(bool), log_term, scaled, op_version=opv)

    if est.method == "box-cox":
        y: Any = expm1_over(OnnxLog(X, op_version=opv), lam)
    else:
        positive = expm1_over(
            OnnxLog(OnnxAdd(X, const([1.0]), op_version=opv), op_version=opv), lam
        )
        negative = OnnxNeg(
            expm1_over(
                OnnxLog(
                    OnnxAdd(OnnxNeg(X, op_version=opv), const([1.0]), op_version=opv),
                    op_version=opv,
                ),
                2.0 - lam,
            ),
            op_version=opv,
        )
        # NaN >= 0 is false: a missing value takes the negative branch and stays NaN.
        y = OnnxWhere(
            OnnxGreaterOrEqual(X, const([0.0]), op_version=opv), positive, negative, op_version=opv
        )
    if est.standardize:
        scaler = est._scaler
        y = OnnxDiv(
            OnnxSub(y, const(scaler.mean_), op_version=opv), const(scaler.scale_), op_version=opv
        )
    OnnxIdentity(y, op_version=opv, output_names=[operator.outputs[0]]).add_to(scope, container)


def install() -> None:
    from skl2onnx import update_registered_converter
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from sklearn.preprocessing import PowerTransformer

    update_registered_converter(
        PowerTransformer, sklearn_operator_name_map[PowerTransformer], _shape, _convert
    )
