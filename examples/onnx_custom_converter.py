"""Write an ONNX converter for your own estimator, register it, check and convert.

Winsorizer clips every column to the quantiles it learned in fit. skl2onnx knows nothing
of it, so `skship.onnx.check` reports "no-converter" for that step; after registering a
shape calculator and a converter with skl2onnx, check predicts "ok" and
`skship.onnx.convert` converts the whole pipeline and verifies it against scikit-learn.

Run it with `uv run python examples/onnx_custom_converter.py`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from skship.onnx import check, convert


class Winsorizer(TransformerMixin, BaseEstimator):
    """Clip each column to its [lower, upper] quantiles, learned in fit."""

    def __init__(self, lower: float = 0.05, upper: float = 0.95) -> None:
        self.lower = lower
        self.upper = upper

    def fit(self, X: Any, y: Any = None) -> Winsorizer:
        X = validate_data(self, X)
        self.lower_ = np.quantile(X, self.lower, axis=0)
        self.upper_ = np.quantile(X, self.upper, axis=0)
        return self

    def transform(self, X: Any) -> Any:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return np.clip(X, self.lower_, self.upper_)


# 1. The shape calculator: which type and shape the outputs have, given the inputs.
def winsorizer_shape(operator: Any) -> None:
    from skl2onnx.common.utils import check_input_and_output_numbers

    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    tensor_type = operator.inputs[0].type.__class__  # float in, float out (double: double)
    rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = tensor_type([rows, len(operator.raw_operator.lower_)])


# 2. The converter: the ONNX nodes that compute transform (Max, then Min, per column).
def winsorizer_converter(scope: Any, operator: Any, container: Any) -> None:
    from skl2onnx.algebra.onnx_ops import OnnxMax, OnnxMin
    from skl2onnx.common.data_types import guess_numpy_type

    model = operator.raw_operator
    dtype = guess_numpy_type(operator.inputs[0].type)
    opset = container.target_opset
    floor = OnnxMax(operator.inputs[0], model.lower_.astype(dtype), op_version=opset)
    clipped = OnnxMin(
        floor, model.upper_.astype(dtype), op_version=opset, output_names=operator.outputs[:1]
    )
    clipped.add_to(scope, container)


# 3. Registration: skl2onnx (and so skship) now knows the class.
def register() -> None:
    from skl2onnx import update_registered_converter

    update_registered_converter(
        Winsorizer, "ExampleWinsorizer", winsorizer_shape, winsorizer_converter
    )


def main() -> None:
    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    X[:5] *= 40  # outliers for the Winsorizer to clip
    model = Pipeline(
        [("clip", Winsorizer()), ("scale", StandardScaler()), ("clf", LogisticRegression())]
    ).fit(X, y)

    before = check(model)
    step = next(s for s in before.steps if s.path == "clip")
    assert (before.outcome, step.status) == ("fails", "no-converter"), before.summary
    print(f"before registering: {before.outcome}: {before.summary}")

    register()
    after = check(model)
    assert after.outcome == "ok", after.summary
    print(f"after registering:  {after.outcome}: {after.summary}")

    conversion = convert(model, X[:100])  # raises unless onnxruntime matches scikit-learn
    assert conversion.verification.ok
    with tempfile.TemporaryDirectory() as tmp:
        path = conversion.save(Path(tmp) / "winsorized.onnx")
        print(f"wrote {path.name}: {path.stat().st_size:,} bytes")
    print(conversion.verification.describe())


if __name__ == "__main__":
    main()
