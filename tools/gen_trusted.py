"""Derive the default trusted set from the installed numpy and scikit-learn.

Writes reference/skship/format/default_trust.txt (one qualified name per line). The
file is committed so that auditing imports neither library; tests/test_trust.py
regenerates it and fails when it drifts. Run: uv run python tools/gen_trusted.py [--check]
"""

from __future__ import annotations

import builtins
import difflib
import importlib
import inspect
import pkgutil
import sys
import warnings
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "reference/skship/format/default_trust.txt"

BUILTIN_TYPES = [
    "bool",
    "bytearray",
    "bytes",
    "complex",
    "dict",
    "float",
    "frozenset",
    "int",
    "list",
    "object",
    "range",
    "set",
    "slice",
    "str",
    "tuple",
    "type",
]
# sklearn modules whose classes and functions are never trusted by default: test helpers,
# vendored code, and machinery that calls stored callables or imports by name.
SKLEARN_EXCLUDED_MODULES = (
    "sklearn.tests",
    "sklearn.externals",
    "sklearn.utils._testing",
    "sklearn.utils._mocking",
    "sklearn.utils.estimator_checks",
    "sklearn.utils.parallel",
    "sklearn.utils._show_versions",
    "sklearn.utils.fixes",
    "sklearn.utils._pprint",
    "sklearn.utils._repr_html",
    "sklearn.utils._estimator_html_repr",
    "sklearn._build_utils",
    "sklearn.conftest",
    "sklearn.__check_build",
    "sklearn.utils._optional_dependencies",
    "sklearn.datasets",
    "sklearn.utils._array_api",
    "sklearn.externals",
    "sklearn._config",
    "sklearn.utils.deprecation",
    "sklearn.utils.metaestimators",
    "sklearn.utils._available_if",
    "sklearn.experimental",
    "sklearn.utils._user_interface",
    "sklearn.utils.discovery",
)
# Modules whose public functions are data-only computations estimators store as parameters
# (score functions, metrics, kernels).
SKLEARN_FUNCTION_MODULES = (
    "sklearn.metrics",
    "sklearn.metrics.pairwise",
    "sklearn.feature_selection",
    "sklearn.metrics.cluster",
)


def _excluded(modname: str) -> bool:
    return any(modname == m or modname.startswith(m + ".") for m in SKLEARN_EXCLUDED_MODULES) or (
        ".tests" in modname
    )


# Helper types fitted estimators hold, which files may therefore construct. Every other
# scikit-learn class is trusted as a reference only (a type node), never built from a file.
HELPER_PATTERNS = (
    "sklearn._loss.",
    "sklearn.tree._tree.Tree",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.cluster._birch._CF",
    "sklearn.cluster._bisect_k_means._BisectingTree",
    "sklearn.utils._bunch.Bunch",
    "sklearn.metrics._scorer.",
    "sklearn.gaussian_process.kernels.",
    "sklearn.neural_network._stochastic_optimizers.",
    "sklearn.model_selection._split.",
    "sklearn.utils._metadata_requests.",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.compose._column_transformer.make_column_selector",
)


# Helper types that call a stored function: a file must not build them by default.
NEVER_CONSTRUCTED = ("sklearn.metrics._dist_metrics.PyFuncDistance",)


def sklearn_names() -> tuple[list[str], list[str]]:
    """(constructible, reference-only) names."""
    import sklearn
    from sklearn.base import BaseEstimator
    from sklearn.utils import all_estimators

    construct: set[str] = set()
    reference: set[str] = set()
    for _, cls in all_estimators():
        construct.add(f"{cls.__module__}.{cls.__qualname__}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for info in pkgutil.walk_packages(sklearn.__path__, "sklearn."):
            if _excluded(info.name):
                continue
            try:
                mod = importlib.import_module(info.name)
            except Exception:
                continue
            for _, obj in vars(mod).items():
                if not isinstance(obj, type) or getattr(obj, "__module__", None) != info.name:
                    continue
                if issubclass(obj, BaseException) or obj.__qualname__.endswith("Mixin"):
                    continue
                if "<" in obj.__qualname__:
                    continue
                name = f"{obj.__module__}.{obj.__qualname__}"
                if name.startswith(NEVER_CONSTRUCTED):
                    reference.add(name)
                elif issubclass(obj, BaseEstimator) or name.startswith(HELPER_PATTERNS):
                    construct.add(name)
                else:
                    reference.add(name)
    for modname in SKLEARN_FUNCTION_MODULES:
        mod = importlib.import_module(modname)
        for attr in getattr(mod, "__all__", []):
            obj = getattr(mod, attr)
            if inspect.isfunction(obj) and not attr.startswith("_"):
                reference.add(f"{obj.__module__}.{obj.__qualname__}")
    return sorted(construct), sorted(reference - construct)


def numpy_names() -> list[str]:
    import numpy as np

    names = set()
    for attr in dir(np):
        obj = getattr(np, attr, None)
        if isinstance(obj, np.ufunc) or (
            isinstance(obj, type)
            and issubclass(obj, np.generic)
            and getattr(np, obj.__name__, None) is obj
        ):
            names.add(f"numpy.{obj.__name__}")
    names.add("numpy.ndarray")
    names.add("numpy.dtype")
    return sorted(names)


def render() -> str:
    import numpy
    import sklearn

    construct, reference = sklearn_names()
    lines = [
        "# Default trusted names for skship. GENERATED by tools/gen_trusted.py -- DO NOT EDIT.",
        f"# scikit-learn {sklearn.__version__}, numpy {numpy.__version__}",
        "# [construct]: a file may build instances (object/reduce nodes) and refer to them.",
        "# [reference]: a file may only refer to them (type/function/enum nodes).",
        "[construct]",
        *construct,
        "[reference]",
    ]
    lines += [f"builtins.{n}" for n in BUILTIN_TYPES if hasattr(builtins, n)]
    lines += [
        "types.NoneType",
        "types.EllipsisType",
        "collections.OrderedDict",
        "collections.defaultdict",
    ]
    lines += numpy_names()
    lines += reference
    return "\n".join(lines) + "\n"


def main() -> int:
    new = render()
    if "--check" in sys.argv:
        old = OUT.read_text() if OUT.exists() else ""
        if old != new:
            sys.stdout.writelines(
                difflib.unified_diff(
                    old.splitlines(True), new.splitlines(True), str(OUT), "regenerated"
                )
            )
            return 1
        return 0
    OUT.write_text(new)
    print(f"wrote {OUT} ({new.count(chr(10)) - 2} names)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
