"""Kernel approximations skl2onnx 1.20 has no converter for:

- ``AdditiveChi2Sampler``: ``sqrt(x * L)``, then for each step j ``sqrt(2 x L / cosh(pi j
  L)) * cos / sin(j L log x)``, zero where x is zero (scikit-learn's dense transform).
- ``Nystroem`` with the rbf, laplacian or linear kernel:
  ``kernel(X, components_) @ normalization_.T``.
"""

from __future__ import annotations

from typing import Any

from skship.onnx.converters._algebra import input_dtype, set_tensor_output

NYSTROEM_KERNELS = ("rbf", "laplacian", "linear")
INTERVALS = {1: 0.8, 2: 0.5, 3: 0.4}


def nystroem_supported(est: Any) -> bool:
    return isinstance(est.kernel, str) and est.kernel in NYSTROEM_KERNELS


def _interval(est: Any) -> float:
    if est.sample_interval is not None:
        return float(est.sample_interval)
    return INTERVALS[est.sample_steps]


def _chi2_shape(operator: Any) -> None:
    est = operator.raw_operator
    set_tensor_output(operator, est.n_features_in_ * (2 * est.sample_steps - 1))


def _chi2(scope: Any, operator: Any, container: Any) -> None:
    import numpy as np
    from skl2onnx.algebra.onnx_ops import (
        OnnxConcat,
        OnnxCos,
        OnnxEqual,
        OnnxIdentity,
        OnnxLog,
        OnnxMul,
        OnnxSin,
        OnnxSqrt,
        OnnxWhere,
    )

    est = operator.raw_operator
    dtype = input_dtype(operator)
    opv = container.target_opset
    interval = _interval(est)
    X = operator.inputs[0]
    zero = np.array([0], dtype=dtype)
    is_zero = OnnxEqual(X, zero, op_version=opv)

    def masked(value: Any) -> Any:
        return OnnxWhere(is_zero, zero, value, op_version=opv)

    def times(value: Any, factor: float) -> Any:
        return OnnxMul(value, np.array([factor], dtype=dtype), op_version=opv)

    blocks = [masked(OnnxSqrt(times(X, interval), op_version=opv))]
    log_step = times(OnnxLog(X, op_version=opv), interval)
    for j in range(1, est.sample_steps):
        factor = OnnxSqrt(times(X, 2 * interval / np.cosh(np.pi * j * interval)), op_version=opv)
        angle = times(log_step, float(j))
        blocks.append(masked(OnnxMul(factor, OnnxCos(angle, op_version=opv), op_version=opv)))
        blocks.append(masked(OnnxMul(factor, OnnxSin(angle, op_version=opv), op_version=opv)))
    out = OnnxConcat(*blocks, axis=1, op_version=opv) if len(blocks) > 1 else blocks[0]
    OnnxIdentity(out, op_version=opv, output_names=[operator.outputs[0]]).add_to(scope, container)


def _nystroem_shape(operator: Any) -> None:
    set_tensor_output(operator, operator.raw_operator.normalization_.shape[0])


def _nystroem(scope: Any, operator: Any, container: Any) -> None:
    import numpy as np
    from skl2onnx.algebra.complex_functions import onnx_cdist
    from skl2onnx.algebra.onnx_ops import OnnxExp, OnnxMatMul, OnnxMul

    est = operator.raw_operator
    if not nystroem_supported(est):
        raise RuntimeError(f"Nystroem(kernel={est.kernel!r}) has no converter")
    dtype = input_dtype(operator)
    opv = container.target_opset
    X = operator.inputs[0]
    basis = est.components_.astype(dtype)
    params = est.kernel_params or {}
    gamma = est.gamma if est.gamma is not None else params.get("gamma")
    gamma = 1.0 / est.components_.shape[1] if gamma is None else gamma
    if est.kernel == "linear":
        K: Any = OnnxMatMul(X, basis.T, op_version=opv)
    else:
        metric = "sqeuclidean" if est.kernel == "rbf" else "cityblock"
        d = onnx_cdist(X, basis, metric=metric, dtype=dtype, op_version=opv)
        K = OnnxExp(OnnxMul(d, np.array([-gamma], dtype=dtype), op_version=opv), op_version=opv)
    OnnxMatMul(
        K,
        est.normalization_.T.astype(dtype),
        op_version=opv,
        output_names=[operator.outputs[0]],
    ).add_to(scope, container)


def install() -> None:
    from skl2onnx import update_registered_converter
    from sklearn.kernel_approximation import AdditiveChi2Sampler, Nystroem

    update_registered_converter(
        AdditiveChi2Sampler, "SkshipAdditiveChi2Sampler", _chi2_shape, _chi2
    )
    update_registered_converter(Nystroem, "SkshipNystroem", _nystroem_shape, _nystroem)
