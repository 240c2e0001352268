"""ONNX: know before you convert, convert pipelines out of the box, verify every number.

``check(model)`` predicts whether a model will convert (no conversion is run);
``convert(model, sample)`` converts it with skl2onnx and always verifies the result with
onnxruntime against scikit-learn; ``verify(model, onnx_model, sample)`` verifies any ONNX
model. Everything here needs the optional extra: ``pip install 'skship[onnx]'``. Importing
this package imports none of it; the functions import what they need when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "CheckReport",
    "Conversion",
    "VerificationReport",
    "check",
    "convert",
    "verify",
]

if TYPE_CHECKING:
    from skship.onnx._check import check
    from skship.onnx._convert import Conversion, convert
    from skship.onnx._verify import verify
    from skship.onnx.report import CheckReport, VerificationReport

_WHERE = {
    "check": "skship.onnx._check",
    "convert": "skship.onnx._convert",
    "Conversion": "skship.onnx._convert",
    "verify": "skship.onnx._verify",
    "CheckReport": "skship.onnx.report",
    "VerificationReport": "skship.onnx.report",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'skship.onnx' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
