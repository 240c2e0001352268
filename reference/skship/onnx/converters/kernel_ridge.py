"""KernelRidge: ``predict(X) = kernel(X, X_fit_) @ dual_coef_``, for the linear, rbf,
polynomial, sigmoid and laplacian kernels (skl2onnx 1.20 has no converter)."""

from __future__ import annotations

from typing import Any

KERNELS = ("linear", "rbf", "poly", "polynomial", "sigmoid", "laplacian")


def supported(est: Any) -> bool:
    return isinstance(est.kernel, str) and est.kernel in KERNELS


def _shape(operator: Any) -> None:
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    model = operator.raw_operator
    rows = operator.inputs[0].get_first_dimension()
    targets = 1 if model.dual_coef_.ndim == 1 else model.dual_coef_.shape[1]
    kind = operator.inputs[0].type.__class__
    tensor = DoubleTensorType if kind is DoubleTensorType else FloatTensorType
    operator.outputs[0].type = tensor([rows, targets])


def _convert(scope: Any, operator: Any, container: Any) -> None:
    import numpy as np
    from skl2onnx.algebra.complex_functions import onnx_cdist
    from skl2onnx.algebra.onnx_ops import (
        OnnxAdd,
        OnnxExp,
        OnnxMatMul,
        OnnxMul,
        OnnxPow,
        OnnxTanh,
    )
    from skl2onnx.common.data_types import guess_numpy_type

    model = operator.raw_operator
    if not supported(model):
        raise RuntimeError(f"KernelRidge(kernel={model.kernel!r}) has no converter")
    dtype = guess_numpy_type(operator.inputs[0].type)
    opv = container.target_opset
    X = operator.inputs[0]
    fit = model.X_fit_.astype(dtype)
    n_features = fit.shape[1]
    params = model.kernel_params or {}
    gamma = model.gamma if model.gamma is not None else params.get("gamma")
    gamma = 1.0 / n_features if gamma is None else gamma
    kernel = model.kernel
    if kernel == "linear":
        K = OnnxMatMul(X, fit.T, op_version=opv)
    elif kernel == "rbf":
        d2 = onnx_cdist(X, fit, metric="sqeuclidean", dtype=dtype, op_version=opv)
        K = OnnxExp(OnnxMul(d2, np.array([-gamma], dtype=dtype), op_version=opv), op_version=opv)
    elif kernel == "laplacian":
        d1 = onnx_cdist(X, fit, metric="cityblock", dtype=dtype, op_version=opv)
        K = OnnxExp(OnnxMul(d1, np.array([-gamma], dtype=dtype), op_version=opv), op_version=opv)
    else:
        dot = OnnxMatMul(X, fit.T, op_version=opv)
        inner = OnnxAdd(
            OnnxMul(dot, np.array([gamma], dtype=dtype), op_version=opv),
            np.array([model.coef0], dtype=dtype),
            op_version=opv,
        )
        if kernel == "sigmoid":
            K = OnnxTanh(inner, op_version=opv)
        else:
            K = OnnxPow(inner, np.array([model.degree], dtype=dtype), op_version=opv)
    coef = model.dual_coef_.astype(dtype)
    if coef.ndim == 1:
        coef = coef.reshape(-1, 1)
    out = OnnxMatMul(K, coef, op_version=opv, output_names=operator.outputs[:1])
    out.add_to(scope, container)


def install() -> None:
    from skl2onnx import update_registered_converter
    from sklearn.kernel_ridge import KernelRidge

    update_registered_converter(KernelRidge, "SkshipKernelRidge", _shape, _convert)
