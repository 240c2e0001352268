"""Converters skship adds to skl2onnx's registry (imported by :mod:`skship.onnx.registry`
before any lookup, so ``check`` and ``convert`` both see them).

None yet: the estimators skl2onnx 1.20 converts wrongly are flagged by
:mod:`skship.onnx.check` and caught by verification instead.
"""
