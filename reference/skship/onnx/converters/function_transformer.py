"""FunctionTransformer with a numpy ufunc: ``FunctionTransformer(np.log1p)`` and friends.

skl2onnx 1.20 converts only the identity (``func=None``). The element-wise numpy
functions below map to one or two ONNX operators each; any other function is still
refused (a Python function cannot be converted). Registered over skl2onnx's converter,
under the same alias, so pipelines and ``check`` see it.
"""

from __future__ import annotations

import copy
from typing import Any

# numpy function name -> ONNX operator(s). log1p and expm1 have no operator of their own.
UFUNCS: dict[str, tuple[str, ...]] = {
    "log": ("Log",),
    "exp": ("Exp",),
    "sqrt": ("Sqrt",),
    "abs": ("Abs",),
    "absolute": ("Abs",),
    "negative": ("Neg",),
    "tanh": ("Tanh",),
    "sin": ("Sin",),
    "cos": ("Cos",),
    "floor": ("Floor",),
    "ceil": ("Ceil",),
    "sign": ("Sign",),
    "reciprocal": ("Reciprocal",),
    "log1p": ("Add1", "Log"),
    "expm1": ("Exp", "Sub1"),
}


def supported(func: Any) -> bool:
    """Whether ``func`` (a FunctionTransformer's) has a converter: None or a listed ufunc."""
    import numpy as np

    if func is None:
        return True
    return isinstance(func, np.ufunc) and func.__name__ in UFUNCS


def _shape(operator: Any) -> None:
    op = operator.raw_operator
    if not supported(op.func):
        raise RuntimeError(
            f"FunctionTransformer(func={getattr(op.func, '__name__', op.func)!r}) cannot be "
            f"converted: only func=None and the numpy functions {sorted(UFUNCS)}"
        )
    rows = operator.inputs[0].get_first_dimension()
    columns: int | None = 0
    for variable in operator.inputs:
        width = variable.type.shape[1]
        if width is None or columns is None:
            columns = None
        else:
            columns += width
    operator.outputs[0].type = copy.deepcopy(operator.inputs[0].type)
    operator.outputs[0].type.shape = [rows, columns]


def _convert(scope: Any, operator: Any, container: Any) -> None:
    import numpy as np
    from skl2onnx.common.data_types import guess_numpy_type

    op = operator.raw_operator
    if len(operator.inputs) > 1:
        current = scope.get_unique_variable_name("concat")
        container.add_node(
            "Concat",
            [i.full_name for i in operator.inputs],
            [current],
            axis=1,
            name=scope.get_unique_operator_name("Concat"),
        )
    else:
        current = operator.inputs[0].full_name
    steps = ("Identity",) if op.func is None else UFUNCS[op.func.__name__]
    dtype = guess_numpy_type(operator.inputs[0].type)
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        out = operator.outputs[0].full_name if last else scope.get_unique_variable_name(step)
        if step in ("Add1", "Sub1"):
            one = scope.get_unique_variable_name("one")
            container.add_initializer(one, _onnx_type(dtype), [], [1.0])
            container.add_node(
                "Add" if step == "Add1" else "Sub",
                [current, one],
                [out],
                name=scope.get_unique_operator_name(step),
            )
        else:
            container.add_node(step, [current], [out], name=scope.get_unique_operator_name(step))
        current = out
    del np


def _onnx_type(dtype: Any) -> int:
    import numpy as np
    from onnx import TensorProto

    return TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT


def install() -> None:
    from skl2onnx import update_registered_converter
    from sklearn.preprocessing import FunctionTransformer

    update_registered_converter(
        FunctionTransformer, "SklearnFunctionTransformer", _shape, _convert, overwrite=True
    )
