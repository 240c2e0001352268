"""Estimators whose math is already one of skl2onnx's converters, registered under it:

- ``CCA`` and ``PLSCanonical`` predict as ``PLSRegression`` does (centre, scale, ``coef_``).
- ``SequentialFeatureSelector`` selects columns as ``RFE`` does (``get_support()``).
- ``MissingIndicator``: ``IsNaN`` on the columns it reports (``features_``), for
  ``missing_values=np.nan``.
"""

from __future__ import annotations

from typing import Any


def missing_indicator_supported(est: Any) -> bool:
    import numpy as np

    mv = est.missing_values
    return isinstance(mv, float) and bool(np.isnan(mv))


def _mi_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import BooleanTensorType

    rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = BooleanTensorType([rows, len(operator.raw_operator.features_)])


def _mi_convert(scope: Any, operator: Any, container: Any) -> None:
    import numpy as np
    from skl2onnx.algebra.onnx_ops import OnnxGather, OnnxIsNaN

    est = operator.raw_operator
    if not missing_indicator_supported(est):
        raise RuntimeError("MissingIndicator converts only with missing_values=np.nan")
    opv = container.target_opset
    columns = OnnxGather(
        operator.inputs[0], np.asarray(est.features_, dtype=np.int64), axis=1, op_version=opv
    )
    OnnxIsNaN(columns, op_version=opv, output_names=[operator.outputs[0]]).add_to(scope, container)


def install() -> None:
    from skl2onnx import update_registered_converter
    from skl2onnx._parse import sklearn_parsers_map
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from sklearn.cross_decomposition import CCA, PLSCanonical, PLSRegression
    from sklearn.feature_selection import RFE, SequentialFeatureSelector
    from sklearn.impute import MissingIndicator

    same = ((CCA, PLSRegression), (PLSCanonical, PLSRegression), (SequentialFeatureSelector, RFE))
    for cls, like in same:
        # The alias table is what update_registered_converter writes; the converter and
        # shape calculator registered under the alias are reused as they are.
        sklearn_operator_name_map[cls] = sklearn_operator_name_map[like]
        if like in sklearn_parsers_map:
            sklearn_parsers_map[cls] = sklearn_parsers_map[like]
    update_registered_converter(MissingIndicator, "SkshipMissingIndicator", _mi_shape, _mi_convert)
