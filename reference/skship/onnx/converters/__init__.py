"""Fixes and converters skship adds to skl2onnx (imported by :mod:`skship.onnx.registry`
before any lookup, so ``check`` and ``convert`` both see them).

- :mod:`.trees`: scikit-learn trees send a missing value (NaN) left or right as learned
  (``tree_.missing_go_to_left``); skl2onnx 1.20 always sends it right. The fix writes the
  learned direction into ONNX's ``nodes_missing_value_tracks_true``.
- :mod:`.kernel_ridge`: ``KernelRidge`` with the linear, rbf, polynomial, sigmoid and
  laplacian kernels (skl2onnx has no converter).
- :mod:`.function_transformer`: ``FunctionTransformer`` with a numpy ufunc (``np.log1p``,
  ``np.sqrt``, ...), where skl2onnx converts only the identity.
"""

from skship.onnx.converters import (
    centers,
    constant,
    dense,
    discriminant,
    function_transformer,
    isotonic,
    kernel_approx,
    kernel_ridge,
    linear_maps,
    one_hot,
    power,
    reuse,
    trees,
    wrappers,
)

trees.install()
function_transformer.install()
kernel_ridge.install()
centers.install()
constant.install()
dense.install()
discriminant.install()
isotonic.install()
kernel_approx.install()
linear_maps.install()
one_hot.install()
power.install()
reuse.install()
wrappers.install()
