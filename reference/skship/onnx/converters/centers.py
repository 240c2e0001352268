"""Clusterers that label a row by its nearest centre (skl2onnx 1.20 has no converter):
``MeanShift`` and ``AffinityPropagation`` (``cluster_centers_``, euclidean), and ``Birch``
(``subcluster_labels_`` of the nearest ``subcluster_centers_``). The second output holds
the euclidean distances to those centres, which is Birch's ``transform``.
"""

from __future__ import annotations

from typing import Any

from skship.onnx.converters._algebra import argmax, input_dtype, set_tensor_output


def _centres(est: Any) -> tuple[Any, Any]:
    """(centres, label of each centre)."""
    import numpy as np

    if type(est).__name__ == "Birch":
        return est.subcluster_centers_, np.asarray(est.subcluster_labels_)
    centres = est.cluster_centers_
    return centres, np.arange(len(centres))


def supported(est: Any) -> bool:
    """AffinityPropagation with a precomputed affinity has no centres in feature space."""
    return getattr(est, "affinity", "euclidean") == "euclidean"


def _shape(operator: Any) -> None:
    from skl2onnx.common.data_types import Int64TensorType

    centres, _ = _centres(operator.raw_operator)
    operator.outputs[0].type = Int64TensorType([operator.inputs[0].get_first_dimension()])
    set_tensor_output(operator, len(centres), index=1)


def _convert(scope: Any, operator: Any, container: Any) -> None:
    import numpy as np
    from skl2onnx.algebra.complex_functions import onnx_cdist
    from skl2onnx.algebra.onnx_ops import OnnxGather, OnnxMax, OnnxNeg, OnnxSqrt

    est = operator.raw_operator
    if not supported(est):
        raise RuntimeError(f"{type(est).__name__}(affinity={est.affinity!r}) has no converter")
    dtype = input_dtype(operator)
    opv = container.target_opset
    centres, labels = _centres(est)
    d2 = onnx_cdist(
        operator.inputs[0], centres.astype(dtype), metric="sqeuclidean", dtype=dtype, op_version=opv
    )
    OnnxSqrt(
        OnnxMax(d2, np.array([0], dtype=dtype), op_version=opv),
        op_version=opv,
        output_names=[operator.outputs[1]],
    ).add_to(scope, container)
    index = argmax(OnnxNeg(d2, op_version=opv), opv)
    OnnxGather(
        labels.astype(np.int64), index, axis=0, op_version=opv, output_names=[operator.outputs[0]]
    ).add_to(scope, container)


def install() -> None:
    from skl2onnx import update_registered_converter
    from sklearn.cluster import AffinityPropagation, Birch, MeanShift

    for cls in (AffinityPropagation, Birch, MeanShift):
        update_registered_converter(cls, f"Skship{cls.__name__}", _shape, _convert)
