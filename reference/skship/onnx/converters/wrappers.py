"""Meta-estimators that delegate to a fitted inner estimator (skl2onnx 1.20 has no
converter, or, for TunedThresholdClassifierCV, one that ignores the tuned threshold):

- ``TunedThresholdClassifierCV`` / ``FixedThresholdClassifier``: the inner classifier's
  probabilities, and the label ``pos_label if p(pos_label) >= threshold`` as scikit-learn
  decides it (binary, ``predict_proba`` response only).
- ``SelfTrainingClassifier``: its final ``estimator_``.
- ``TransformedTargetRegressor``: ``inverse_transform(regressor_.predict(X))`` for an
  identity/ufunc FunctionTransformer or a StandardScaler target transformer.
"""

from __future__ import annotations

from typing import Any

from skship.onnx.converters._algebra import classes_array, classifier_options, input_dtype

INVERSE_UFUNCS = ("exp", "expm1", "log", "log1p", "sqrt")


def _response(est: Any) -> str:
    method = est.response_method
    if method == "auto":
        return "predict_proba" if hasattr(est.estimator_, "predict_proba") else "decision_function"
    return str(method)


def threshold_supported(est: Any) -> bool:
    if not hasattr(est, "estimator_"):  # not fitted (a template inside a meta-estimator)
        return True
    return len(est.classes_) == 2 and _response(est) == "predict_proba"


def threshold_of(est: Any) -> float:
    if hasattr(est, "best_threshold_"):
        return float(est.best_threshold_)
    return 0.5 if est.threshold == "auto" else float(est.threshold)


def positive_label(est: Any) -> Any:
    """The class the threshold applies to, found as scikit-learn finds it."""
    # TunedThresholdClassifierCV: the scorer's pos_label
    tuned = hasattr(est, "_curve_scorer")
    label = est._curve_scorer._get_pos_label() if tuned else est.pos_label
    return est.classes_[1] if label is None else label


def _classifier_shape(operator: Any) -> None:
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    calculate_linear_classifier_output_shapes(operator)


def _inner(operator: Any, container: Any, estimator: Any) -> Any:
    from skl2onnx.algebra.onnx_operator import OnnxSubEstimator

    return OnnxSubEstimator(
        estimator,
        operator.inputs[0],
        op_version=container.target_opset,
        options={"zipmap": False},
    )


def _threshold(scope: Any, operator: Any, container: Any) -> None:
    import numpy as np
    from skl2onnx.algebra.onnx_ops import (
        OnnxGather,
        OnnxGreaterOrEqual,
        OnnxIdentity,
        OnnxReshape,
        OnnxWhere,
    )

    est = operator.raw_operator
    if not threshold_supported(est):
        raise RuntimeError(
            f"{type(est).__name__} converts only for binary classifiers with predict_proba"
        )
    dtype = input_dtype(operator)
    opv = container.target_opset
    classes = classes_array(est.classes_)
    pos_label = positive_label(est)
    positive = int(np.flatnonzero(np.asarray(est.classes_) == pos_label)[0])
    negative = 1 - positive
    inner = _inner(operator, container, est.estimator_)
    OnnxIdentity(inner[1], op_version=opv, output_names=[operator.outputs[1]]).add_to(
        scope, container
    )
    score = OnnxReshape(
        OnnxGather(inner[1], np.array([positive], dtype=np.int64), axis=1, op_version=opv),
        np.array([-1], dtype=np.int64),
        op_version=opv,
    )
    above = OnnxGreaterOrEqual(score, np.array([threshold_of(est)], dtype=dtype), op_version=opv)
    OnnxWhere(
        above,
        classes[positive : positive + 1],
        classes[negative : negative + 1],
        op_version=opv,
        output_names=[operator.outputs[0]],
    ).add_to(scope, container)


def _self_training(scope: Any, operator: Any, container: Any) -> None:
    from skl2onnx.algebra.onnx_ops import OnnxIdentity

    opv = container.target_opset
    inner = _inner(operator, container, operator.raw_operator.estimator_)
    OnnxIdentity(inner[0], op_version=opv, output_names=[operator.outputs[0]]).add_to(
        scope, container
    )
    OnnxIdentity(inner[1], op_version=opv, output_names=[operator.outputs[1]]).add_to(
        scope, container
    )


def ttr_supported(est: Any) -> bool:
    import numpy as np
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    t = getattr(est, "transformer_", None)
    if isinstance(t, StandardScaler):
        return True
    if isinstance(t, FunctionTransformer):
        inv = t.inverse_func
        return inv is None or (isinstance(inv, np.ufunc) and inv.__name__ in INVERSE_UFUNCS)
    return False


def _ttr_shape(operator: Any) -> None:
    import numpy as np

    from skship.onnx.converters._algebra import set_tensor_output

    est = operator.raw_operator
    probe = np.asarray(est.predict(np.zeros((1, est.n_features_in_))))
    set_tensor_output(operator, 1 if probe.ndim == 1 else probe.shape[1])


def _ttr(scope: Any, operator: Any, container: Any) -> None:
    import numpy as np
    from skl2onnx.algebra.onnx_operator import OnnxSubEstimator
    from skl2onnx.algebra.onnx_ops import OnnxAdd, OnnxIdentity, OnnxMul
    from sklearn.preprocessing import StandardScaler

    est = operator.raw_operator
    if not ttr_supported(est):
        raise RuntimeError(
            "TransformedTargetRegressor converts only with a StandardScaler or a "
            f"FunctionTransformer whose inverse_func is None or one of {INVERSE_UFUNCS}"
        )
    dtype = input_dtype(operator)
    opv = container.target_opset
    y: Any = OnnxSubEstimator(est.regressor_, operator.inputs[0], op_version=opv)
    t = est.transformer_
    if isinstance(t, StandardScaler):
        if t.scale_ is not None:
            y = OnnxMul(y, t.scale_.astype(dtype), op_version=opv)
        if t.mean_ is not None:
            y = OnnxAdd(y, t.mean_.astype(dtype), op_version=opv)
    elif t.inverse_func is not None:
        from skl2onnx.algebra import onnx_ops

        name = t.inverse_func.__name__
        if name == "expm1":
            y = onnx_ops.OnnxSub(
                onnx_ops.OnnxExp(y, op_version=opv), np.array([1], dtype=dtype), op_version=opv
            )
        elif name == "log1p":
            y = onnx_ops.OnnxLog(
                onnx_ops.OnnxAdd(y, np.array([1], dtype=dtype), op_version=opv), op_version=opv
            )
        else:
            op = {"exp": onnx_ops.OnnxExp, "log": onnx_ops.OnnxLog, "sqrt": onnx_ops.OnnxSqrt}
            y = op[name](y, op_version=opv)
    OnnxIdentity(y, op_version=opv, output_names=[operator.outputs[0]]).add_to(scope, container)


def install() -> None:
    from skl2onnx import update_registered_converter
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.model_selection import FixedThresholdClassifier, TunedThresholdClassifierCV
    from sklearn.semi_supervised import SelfTrainingClassifier

    for cls in (TunedThresholdClassifierCV, FixedThresholdClassifier):
        update_registered_converter(
            cls,
            f"Skship{cls.__name__}",
            _classifier_shape,
            _threshold,
            options=classifier_options(),
        )
    update_registered_converter(
        SelfTrainingClassifier,
        "SkshipSelfTrainingClassifier",
        _classifier_shape,
        _self_training,
        options=classifier_options(),
    )
    update_registered_converter(
        TransformedTargetRegressor, "SkshipTransformedTargetRegressor", _ttr_shape, _ttr
    )
