"""DummyClassifier and DummyRegressor: the same prediction for every row (skl2onnx 1.20
has no converter). The random strategies ('stratified', 'uniform') cannot be converted."""

from __future__ import annotations

from typing import Any

from skship.onnx.converters._algebra import (
    classifier_options,
    input_dtype,
    labels_from_index,
    rows_like,
    set_tensor_output,
)

CLASSIFIER_STRATEGIES = ("prior", "most_frequent", "constant")


def supported(est: Any) -> bool:
    import numpy as np

    if type(est).__name__ == "DummyRegressor":
        return True
    outputs = getattr(est, "n_outputs_", 1)
    return (
        est.strategy in CLASSIFIER_STRATEGIES
        and outputs == 1
        and not np.ndim(getattr(est, "classes_", ())) > 1
    )


def _classifier_shape(operator: Any) -> None:
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    calculate_linear_classifier_output_shapes(operator)


def _classifier(scope: Any, operator: Any, container: Any) -> None:
    import numpy as np

    est = operator.raw_operator
    if not supported(est):
        raise RuntimeError(f"DummyClassifier(strategy={est.strategy!r}) has no converter")
    dtype = input_dtype(operator)
    opv = container.target_opset
    X = operator.inputs[0]
    proba = np.asarray(est.predict_proba(np.zeros((1, est.n_features_in_))), dtype=np.float64)
    label_row = np.asarray(est.predict(np.zeros((1, est.n_features_in_))))
    index = int(np.flatnonzero(np.asarray(est.classes_) == label_row[0])[0])
    rows_like(X, proba.astype(dtype), opv, operator.outputs[1]).add_to(scope, container)
    from skl2onnx.algebra.onnx_ops import OnnxReshape

    idx = OnnxReshape(
        rows_like(X, np.array([[index]], dtype=np.int64), opv),
        np.array([-1], dtype=np.int64),
        op_version=opv,
    )
    labels_from_index(idx, est.classes_, opv, operator.outputs[0]).add_to(scope, container)


def _regressor_shape(operator: Any) -> None:
    set_tensor_output(operator, operator.raw_operator.constant_.reshape(1, -1).shape[1])


def _regressor(scope: Any, operator: Any, container: Any) -> None:
    est = operator.raw_operator
    row = est.constant_.reshape(1, -1).astype(input_dtype(operator))
    rows_like(operator.inputs[0], row, container.target_opset, operator.outputs[0]).add_to(
        scope, container
    )


def install() -> None:
    from skl2onnx import update_registered_converter
    from sklearn.dummy import DummyClassifier, DummyRegressor

    update_registered_converter(
        DummyClassifier,
        "SkshipDummyClassifier",
        _classifier_shape,
        _classifier,
        options=classifier_options(),
    )
    update_registered_converter(
        DummyRegressor, "SkshipDummyRegressor", _regressor_shape, _regressor
    )
