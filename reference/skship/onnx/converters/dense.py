"""skl2onnx converters refused for a parameter that does not change the numbers an ONNX
graph gives, converted with that parameter set to what skl2onnx handles:

- ``KBinsDiscretizer(encode='onehot')`` and ``RandomTreesEmbedding(sparse_output=True)``
  give a scipy sparse matrix; the ONNX graph gives the same values as a dense tensor
  (what ``encode='onehot-dense'`` / ``sparse_output=False`` give).
- ``VotingClassifier(flatten_transform=True)`` changes only ``transform``'s layout; labels
  and probabilities are those of ``flatten_transform=False``.

The original converter and shape calculator run on a shallow copy of the fitted estimator
with the parameter changed (registered over skl2onnx's under the same alias, options kept).
"""

from __future__ import annotations

import copy
from typing import Any

# class name -> (attribute, value skl2onnx refuses, value it converts)
FIXES: dict[str, tuple[str, Any, Any]] = {
    "KBinsDiscretizer": ("encode", "onehot", "onehot-dense"),
    "RandomTreesEmbedding": ("sparse_output", True, False),
    "VotingClassifier": ("flatten_transform", True, False),
}


def _fixed(est: Any) -> Any:
    attribute, refused, converted = FIXES[type(est).__name__]
    if getattr(est, attribute) != refused:
        return est
    twin = copy.copy(est)
    setattr(twin, attribute, converted)
    return twin


def _wrap(shape: Any, convert: Any) -> tuple[Any, Any]:
    def fixed_shape(operator: Any) -> None:
        operator.raw_operator = _fixed(operator.raw_operator)
        shape(operator)

    def fixed_convert(scope: Any, operator: Any, container: Any) -> None:
        operator.raw_operator = _fixed(operator.raw_operator)
        convert(scope, operator, container)

    return fixed_shape, fixed_convert


def install() -> None:
    from skl2onnx import update_registered_converter
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from skl2onnx.common._registration import _converter_pool, _shape_calculator_pool
    from sklearn.ensemble import RandomTreesEmbedding, VotingClassifier
    from sklearn.preprocessing import KBinsDiscretizer

    for cls in (KBinsDiscretizer, RandomTreesEmbedding, VotingClassifier):
        alias = sklearn_operator_name_map[cls]
        converter = _converter_pool[alias]
        if getattr(getattr(converter, "_fct", converter), "skship_dense", False):
            continue  # installed already
        shape, convert = _wrap(_shape_calculator_pool[alias], converter)
        convert.skship_dense = True  # type: ignore[attr-defined]
        update_registered_converter(
            cls, alias, shape, convert, options=converter.get_allowed_options()
        )
