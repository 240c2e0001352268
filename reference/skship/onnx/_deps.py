"""The optional packages of the ``[onnx]`` extra, imported on first use with a clear error."""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType

from skship.errors import SkshipError

_INSTALL = "install the extra: pip install 'skship[onnx]'"


def require(module: str) -> ModuleType:
    """Import ``module`` or raise ``E-DEPENDENCY-MISSING`` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise SkshipError(
            f"{module} is needed for ONNX conversion but cannot be imported ({err}); {_INSTALL}",
            code="E-DEPENDENCY-MISSING",
        ) from err


@cache
def versions() -> dict[str, str]:
    """Versions of the libraries a conversion depends on (from package metadata)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for dist in ("scikit-learn", "skl2onnx", "onnxruntime", "onnx", "protobuf"):
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            continue
    return found
