"""Classifiers scored by a few matrix operations, converted as scikit-learn computes them:

- ``LinearDiscriminantAnalysis``: skl2onnx 1.20 converts it as a generic linear classifier
  and its binary probabilities are wrong; scikit-learn gives ``expit(decision)`` for two
  classes and ``softmax(decision)`` otherwise.
- ``NearestCentroid`` (no skl2onnx converter): scores ``-||(x - c_k) / s||^2 + 2 log p_k``
  (s the within-class spread), probabilities their softmax; labels by nearest centroid when
  the priors are equal, as scikit-learn does.
"""

from __future__ import annotations

from typing import Any

from skship.onnx.converters._algebra import (
    argmax,
    classifier_options,
    input_dtype,
    labels_from_index,
    softmax,
)


def nearest_centroid_supported(est: Any) -> bool:
    return bool(est.metric == "euclidean")


def _shape(operator: Any) -> None:
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    calculate_linear_classifier_output_shapes(operator)


def _lda(scope: Any, operator: Any, container: Any) -> None:
    import numpy as np
    from skl2onnx.algebra.onnx_ops import (
        OnnxAdd,
        OnnxConcat,
        OnnxMatMul,
        OnnxSigmoid,
        OnnxSub,
    )

    est = operator.raw_operator
    dtype = input_dtype(operator)
    opv = container.target_opset
    X = operator.inputs[0]
    scores = OnnxAdd(
        OnnxMatMul(X, est.coef_.T.astype(dtype), op_version=opv),
        est.intercept_.astype(dtype),
        op_version=opv,
    )
    if len(est.classes_) == 2:
        positive = OnnxSigmoid(scores, op_version=opv)
        negative = OnnxSub(np.array([1], dtype=dtype), positive, op_version=opv)
        proba = OnnxConcat(negative, positive, axis=1, op_version=opv)
        from skl2onnx.algebra.onnx_ops import OnnxIdentity

        out = OnnxIdentity(proba, op_version=opv, output_names=[operator.outputs[1]])
        index = argmax(OnnxConcat(negative, positive, axis=1, op_version=opv), opv)
    else:
        out = softmax(scores, opv, operator.outputs[1])
        index = argmax(scores, opv)
    out.add_to(scope, container)
    labels_from_index(index, est.classes_, opv, operator.outputs[0]).add_to(scope, container)


def _nearest_centroid(scope: Any, operator: Any, container: Any) -> None:
    import numpy as np
    from skl2onnx.algebra.complex_functions import onnx_cdist
    from skl2onnx.algebra.onnx_ops import OnnxAdd, OnnxDiv, OnnxNeg

    est = operator.raw_operator
    if not nearest_centroid_supported(est):
        raise RuntimeError(f"NearestCentroid(metric={est.metric!r}) has no converter")
    dtype = input_dtype(operator)
    opv = container.target_opset
    X = operator.inputs[0]
    spread = np.asarray(est.within_class_std_dev_, dtype=np.float64).copy()
    spread[spread == 0] = 1.0
    centroids = est.centroids_ / spread
    d2 = onnx_cdist(
        OnnxDiv(X, spread.astype(dtype), op_version=opv),
        centroids.astype(dtype),
        metric="sqeuclidean",
        dtype=dtype,
        op_version=opv,
    )
    prior = (2.0 * np.log(est.class_prior_)).astype(dtype)
    scores = OnnxAdd(OnnxNeg(d2, op_version=opv), prior, op_version=opv)
    softmax(scores, opv, operator.outputs[1]).add_to(scope, container)
    if np.isclose(est.class_prior_, 1 / len(est.classes_)).all():
        raw = onnx_cdist(
            X, est.centroids_.astype(dtype), metric="sqeuclidean", dtype=dtype, op_version=opv
        )
        index = argmax(OnnxNeg(raw, op_version=opv), opv)
    else:
        index = argmax(scores, opv)
    labels_from_index(index, est.classes_, opv, operator.outputs[0]).add_to(scope, container)


def install() -> None:
    from skl2onnx import update_registered_converter
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.neighbors import NearestCentroid

    update_registered_converter(
        LinearDiscriminantAnalysis,
        "SkshipLinearDiscriminantAnalysis",
        _shape,
        _lda,
        options=classifier_options(),
    )
    update_registered_converter(
        NearestCentroid,
        "SkshipNearestCentroid",
        _shape,
        _nearest_centroid,
        options=classifier_options(),
    )
