"""Transformers whose ``transform`` is an affine map ``X @ W + b``, optionally behind an
element-wise function (skl2onnx 1.20 has no converter for any of them).

For the purely linear ones (random projections, ICA, factor analysis, PLS-SVD, sparse PCA,
feature agglomeration) ``W`` and ``b`` are read off the fitted estimator itself:
``b = transform(0)`` and ``W = transform(I) - b``, in float64, so the converter follows
scikit-learn's own arithmetic (whitening, ridge solve, pooling) without re-deriving it.
"""

from __future__ import annotations

from typing import Any

from skship.onnx.converters._algebra import input_dtype, set_tensor_output

# Estimators whose transform is linear in X (scikit-learn's math, checked by verification).
LINEAR = (
    ("sklearn.random_projection", "SparseRandomProjection"),
    ("sklearn.decomposition", "FastICA"),
    ("sklearn.decomposition", "FactorAnalysis"),
    ("sklearn.decomposition", "SparsePCA"),
    ("sklearn.decomposition", "MiniBatchSparsePCA"),
    ("sklearn.cross_decomposition", "PLSSVD"),
    ("sklearn.cluster", "FeatureAgglomeration"),
)


def supported(est: Any) -> bool:
    """FeatureAgglomeration is linear only with its default pooling (the mean)."""
    import numpy as np

    if type(est).__name__ == "FeatureAgglomeration":
        return est.pooling_func is np.mean
    return True


def _affine(est: Any) -> tuple[Any, Any, str | None, float]:
    """(W, b, activation, scale) with transform(X) = activation(X @ W + b) * scale."""
    import numpy as np

    name = type(est).__name__
    if name == "BernoulliRBM":
        return est.components_.T, est.intercept_hidden_, "sigmoid", 1.0
    if name in ("RBFSampler", "SkewedChi2Sampler"):
        scale = np.sqrt(2.0) / np.sqrt(est.n_components)
        return est.random_weights_, est.random_offset_, "cos", float(scale)
    n = est.n_features_in_
    # SparsePCA gives a 1-d result for a single row: shapes are restored explicitly.
    eye = np.asarray(est.transform(np.eye(n)), dtype=np.float64).reshape(n, -1)
    zero = np.asarray(est.transform(np.zeros((1, n))), dtype=np.float64).reshape(1, -1)
    return eye - zero, np.atleast_1d(zero[0]), None, 1.0


def _shape(operator: Any) -> None:
    W, _, _, _ = _affine(operator.raw_operator)
    set_tensor_output(operator, W.shape[1])


def _convert(scope: Any, operator: Any, container: Any) -> None:
    import numpy as np
    from skl2onnx.algebra.onnx_ops import (
        OnnxAdd,
        OnnxCos,
        OnnxIdentity,
        OnnxLog,
        OnnxMatMul,
        OnnxMul,
        OnnxSigmoid,
    )

    est = operator.raw_operator
    if not supported(est):
        raise RuntimeError(f"{type(est).__name__} with these parameters has no converter")
    dtype = input_dtype(operator)
    opv = container.target_opset
    W, b, activation, scale = _affine(est)
    X: Any = operator.inputs[0]
    if type(est).__name__ == "SkewedChi2Sampler":
        X = OnnxLog(
            OnnxAdd(X, np.array([est.skewedness], dtype=dtype), op_version=opv), op_version=opv
        )
    y = OnnxAdd(OnnxMatMul(X, W.astype(dtype), op_version=opv), b.astype(dtype), op_version=opv)
    if activation == "sigmoid":
        y = OnnxSigmoid(y, op_version=opv)
    elif activation == "cos":
        y = OnnxMul(OnnxCos(y, op_version=opv), np.array([scale], dtype=dtype), op_version=opv)
    out = OnnxIdentity(y, op_version=opv, output_names=operator.outputs[:1])
    out.add_to(scope, container)


def one_output(scope: Any, model: Any, inputs: Any, custom_parsers: Any = None) -> Any:
    """Parser: one ``variable`` output (FeatureAgglomeration is a clusterer, for which
    skl2onnx would otherwise declare label and scores outputs)."""
    from skl2onnx._supported_operators import _get_sklearn_operator_name
    from skl2onnx.common.data_types import guess_tensor_type

    operator = scope.declare_local_operator(_get_sklearn_operator_name(type(model)), model)
    operator.inputs = inputs
    variable = scope.declare_local_variable("variable", guess_tensor_type(inputs[0].type))
    operator.outputs.append(variable)
    return operator.outputs


def install() -> None:
    import importlib

    from skl2onnx import update_registered_converter

    classes = [
        *LINEAR,
        ("sklearn.neural_network", "BernoulliRBM"),
        ("sklearn.kernel_approximation", "RBFSampler"),
        ("sklearn.kernel_approximation", "SkewedChi2Sampler"),
    ]
    for module, name in classes:
        cls = getattr(importlib.import_module(module), name)
        parser = one_output if name == "FeatureAgglomeration" else None
        update_registered_converter(cls, f"Skship{name}", _shape, _convert, parser=parser)
