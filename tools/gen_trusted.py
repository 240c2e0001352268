"""Derive the default trusted set from what scikit-learn models actually hold.

Writes reference/skship/format/default_trust.txt. The file is committed so that auditing
imports nothing; tests/test_all_estimators.py re-derives it from the same fitted models
and fails when it drifts. Run: uv run python tools/gen_trusted.py [--check]

How the set is derived (nothing is copied by hand):

[construct] (a file may build instances):
  - every class in sklearn.utils.all_estimators();
  - every type that fitting and saving the zoo (skship.testing.estimators: every estimator
    plus configurations holding more state) builds as an object or reduce node;
  - the siblings of those helper types, so that other parameter values work too: the
    classes in the same module that share the helper's root base class (reaching the
    SGD hinge loss trusts the other SGD losses, reaching RBF trusts every kernel);
  - the classes in the public API of scikit-learn (``__all__`` of its public modules);
  and then only those that ``construct_safe`` accepts: loading one runs no method that
  could call something taken from the file (see ``construct_safe``).
[reference] (a file may name them only as a type, function or enum value):
  - builtins container and number types, numpy's public scalar types and ufuncs;
  - every type, function and enum the zoo stores by name;
  - numpy's and scikit-learn's public functions and classes (``__all__``);
  and then only those that ``reference_denied`` accepts: no code runner, no file or
  network access, nothing that turns a string into code.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import hashlib
import importlib
import inspect
import io
import json
import sys
import textwrap
import types
import warnings
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reference/skship/format/default_trust.txt"

BUILTIN_TYPES = (
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
)
OTHER_BASICS = (
    "types.NoneType",
    "types.EllipsisType",
    "collections.OrderedDict",
    "collections.defaultdict",
)

# scikit-learn modules that are not part of what a model holds: data loaders (files,
# network), test helpers, build and config machinery.
SKLEARN_SKIPPED_MODULES = ("datasets", "experimental", "externals", "exceptions", "callback")

# ------------------------------------------------------------------------ deny list
# A [reference] name may be stored in a file and called later (a FunctionTransformer's
# func, a score function, a dtype). None of these may be: they run code, import by
# name, touch files, processes or the network, or turn strings into attribute access.
DENIED_MODULES = (
    "builtins",
    "os",
    "posix",
    "nt",
    "sys",
    "subprocess",
    "importlib",
    "pickle",
    "_pickle",
    "copyreg",
    "marshal",
    "ctypes",
    "shutil",
    "io",
    "_io",
    "operator",
    "_operator",
    "functools",
    "runpy",
    "code",
    "codeop",
    "pdb",
    "inspect",
    "gc",
    "socket",
    "urllib",
    "http",
    "webbrowser",
    "tempfile",
    "pathlib",
    "glob",
    "zipfile",
    "tarfile",
    "multiprocessing",
    "threading",
    "concurrent",
    "asyncio",
    "joblib",
    "numpy.testing",
    "numpy.ctypeslib",
    "numpy.f2py",
    "numpy.distutils",
    "numpy.lib.format",
    "numpy.lib.npyio",
    "numpy.lib._npyio_impl",
    "numpy._core.records",
    "scipy.io",
    "scipy.datasets",
    "scipy.misc",
    "scipy._lib._testutils",
    "sklearn.datasets",
    "sklearn.utils._testing",
    "sklearn.utils._mocking",
    "sklearn.utils.estimator_checks",
    "sklearn.utils._test_common",
    "sklearn.utils.discovery",
    "sklearn.utils._show_versions",
    "sklearn.utils.parallel",
    "sklearn.utils._optional_dependencies",
    "sklearn.utils._user_interface",
    "sklearn.externals",
    "sklearn.experimental",
    "sklearn.tests",
)
# Allowed exceptions inside denied modules: plain data types.
ALLOWED_IN_DENIED = frozenset(
    {f"builtins.{n}" for n in BUILTIN_TYPES} | {"types.NoneType", "types.EllipsisType"}
)
DENIED_NAMES = frozenset(
    {
        "eval",
        "exec",
        "compile",
        "open",
        "__import__",
        "getattr",
        "setattr",
        "delattr",
        "globals",
        "locals",
        "vars",
        "breakpoint",
        "input",
        "attrgetter",
        "methodcaller",
        "itemgetter",
        "system",
        "popen",
        "load",
        "loads",
        "loadtxt",
        "genfromtxt",
        "fromfile",
        "fromregex",
        "save",
        "savez",
        "savez_compressed",
        "savetxt",
        "tofile",
        "memmap",
        "open_memmap",
        "DataSource",
        "load_npz",
        "save_npz",
        "show_versions",
        "all_estimators",
        "import_module",
        "get_namespace",
    }
)
# Parameters that say a function reads or writes files, fetches data or runs text.
DENIED_PARAMETERS = frozenset(
    {
        "file",
        "filename",
        "fname",
        "filepath",
        "path",
        "url",
        "data_home",
        "cache",
        "cmd",
        "command",
        "code",
        "source",
        "expr",
        "expression",
        "module",
        "modname",
        "out_file",
    }
)


def reference_denied(name: str, obj: Any = None) -> str | None:
    """Why ``name`` must never be trusted as a reference, or None when it may be."""
    if name in ALLOWED_IN_DENIED:
        return None
    module, _, attr = name.rpartition(".")
    for m in DENIED_MODULES:
        if module == m or module.startswith(m + "."):
            return f"module {m} runs code or touches files"
    if attr in DENIED_NAMES:
        return f"{attr} runs code, imports by name or touches files"
    if ".tests." in name or "._testing" in name:
        return "test helper"
    if obj is None:
        return None
    if isinstance(obj, types.ModuleType):
        return "a module"
    if callable(obj):  # functions, and types (a stored type may be called later)
        try:
            params = inspect.signature(obj).parameters
        except (TypeError, ValueError):
            params = {}  # ufuncs and builtins: no file parameters
        bad = sorted(set(params) & DENIED_PARAMETERS)
        if bad:
            return f"takes {', '.join(bad)}: may read or write files or run text"
    return None


# ------------------------------------------------------------------ construct safety
# Loading a [construct] type runs, at most: cls.__new__(cls, *args) (object node) or
# cls(*args) (reduce node), then __setstate__ / __setstate_cython__ or a __dict__ update
# (and __setattr__ for slot state), then extend / __setitem__ for stored items, and
# __hash__ / __eq__ when the object is a set element or a dict key. Each of
# those that a type defines itself must be one we can show calls nothing from the file:
# an __init__ that only stores its arguments (checked on its source), a method inherited
# from a builtin, or one of the implementations reviewed below (keyed by the sha256 of
# its source, so a changed upstream implementation needs a new review).
LOAD_METHODS = (
    "__new__",
    "__init__",
    "__setstate__",
    "__setstate_cython__",
    "__setattr__",
    "extend",
    "__setitem__",
    # Run when a built object becomes a set element or a dict key.
    "__hash__",
    "__eq__",
)
# Reviewed Python implementations: "<defining class>.<method>" -> (sha256(source)[:16],
# what makes it safe). Read in scikit-learn 1.9 / scipy 1.16.
_STORES = "stores its arguments and builds fresh helpers from constants"
REVIEWED: dict[str, tuple[str, str]] = {
    "scipy.interpolate._bsplines.BSpline.__init__": (
        "6c36ae432a37d460",
        "converts knots and coefficients with numpy and validates them",
    ),
    "sklearn._loss.loss.BaseLoss.__init__": ("7e30584073cc2ee2", _STORES),
    **{
        f"sklearn._loss.loss.{cls}.__init__": (digest, "passes numbers to a Cython loss")
        for cls, digest in (
            ("AbsoluteError", "49bb43e2a21289ab"),
            ("ExponentialLoss", "1abb885781b87e2a"),
            ("HalfBinomialLoss", "c567495f3b0c7729"),
            ("HalfGammaLoss", "6e12ad84496944cf"),
            ("HalfMultinomialLoss", "f32df53ff0d2868f"),
            ("HalfPoissonLoss", "f93c978e5df6858a"),
            ("HalfSquaredError", "fbcbb150f94c9f5a"),
            ("HalfTweedieLoss", "bffd405e81238ab6"),
            ("HalfTweedieLossIdentity", "a5dca88796df8a65"),
            ("HuberLoss", "5150bf356a18e495"),
            ("PinballLoss", "e270c72d91a4a83c"),
        )
    },
    "sklearn._loss.link.Interval.__post_init__": ("6d46bc5d995286d5", "compares two numbers"),
    **{
        f"sklearn.gaussian_process.kernels.{cls}.__eq__": (digest, "compares parameters")
        for cls, digest in (
            ("Kernel", "cea96c2a6337f0b9"),
            ("CompoundKernel", "214f3bcf6b6b8e17"),
            ("Exponentiation", "aebec88392553161"),
            ("KernelOperator", "98253eb6ad0a7a92"),
        )
    },
    "sklearn.base.BaseEstimator.__setstate__": (
        "c9a57edc6ee4221d",
        "pops _sklearn_version (warns on a mismatch), then updates __dict__",
    ),
    "sklearn.cluster._birch._CFNode.__init__": ("4f666330b0b2d3cc", "np.zeros from numbers"),
    "sklearn.cluster._birch._CFSubcluster.__init__": ("d9346dd4f7dade3d", "copies arrays"),
    **{
        f"sklearn.ensemble._forest.{cls}.__init__": (digest, "passes a fresh tree to super")
        for cls, digest in (
            ("ExtraTreesClassifier", "362c559747948858"),
            ("ExtraTreesRegressor", "e34ddfaac73f0a06"),
            ("RandomForestClassifier", "79947a0031c45d83"),
            ("RandomForestRegressor", "6264931198451f77"),
            ("RandomTreesEmbedding", "64faea711de9de14"),
        )
    },
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor.__setstate__": (
        "a0bee231f1066651",
        "updates __dict__, casts feature_idx with astype (validated by sklearn_.py)",
    ),
    "sklearn.isotonic.IsotonicRegression.__setstate__": (
        "ea0f04474f872668",
        "BaseEstimator.__setstate__, then scipy interp1d over the stored thresholds",
    ),
    **{
        f"sklearn.linear_model._passive_aggressive.{cls}.__new__": (
            "f044747d7b65ff57",
            "scikit-learn's @deprecated wrapper: warns, then object.__new__",
        )
        for cls in ("PassiveAggressiveClassifier", "PassiveAggressiveRegressor")
    },
    "sklearn.linear_model._stochastic_gradient.SGDOneClassSVM.__init__": (
        "9f6a12152ea469d2",
        "passes its arguments and constants to super",
    ),
    "sklearn.model_selection._search.ParameterGrid.__init__": (
        "87047ccb9163bede",
        "type checks of the grid, stores it",
    ),
    "sklearn.model_selection._search.ParameterSampler.__init__": (
        "e5efc32362ee0550",
        "type checks of the distributions, stores them",
    ),
    "sklearn.model_selection._split.PredefinedSplit.__init__": (
        "9f3bc7f75281a3c0",
        "np.array and np.unique of the fold labels",
    ),
    "sklearn.model_selection._split.RepeatedKFold.__init__": ("cd976828b9855502", _STORES),
    "sklearn.model_selection._split.RepeatedStratifiedKFold.__init__": (
        "63be0b6d78e3921c",
        _STORES,
    ),
    "sklearn.model_selection._split._BaseKFold.__init__": (
        "d4bb9f240ece36f6",
        "checks n_splits is an int, stores its arguments",
    ),
    "sklearn.model_selection._split._CVIterableWrapper.__init__": (
        "9de41cfb38d7a0b5",
        "list() of a stored (trusted) value",
    ),
    "sklearn.model_selection._split._RepeatedSplits.__init__": (
        "84fd9775e1925984",
        "checks n_repeats, stores its arguments",
    ),
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer.__init__": (
        "e2edfea7177b26de",
        "np.zeros_like of the stored parameters",
    ),
    "sklearn.neural_network._stochastic_optimizers.BaseOptimizer.__init__": (
        "a67cb013ec4ed8dc",
        "float() of the learning rate",
    ),
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer.__init__": (
        "c5fbe693d0bd43f8",
        "np.zeros_like of the stored parameters",
    ),
    "sklearn.tree._classes.DecisionTreeRegressor.__init__": (
        "ed546760e91717c3",
        "passes its arguments to super",
    ),
    "sklearn.utils._bunch.Bunch.__init__": ("94a28228dfdc22b7", "dict init plus an empty dict"),
    "sklearn.utils._bunch.Bunch.__setattr__": ("7d3e4b88e3c8b38b", "self[key] = value"),
    "sklearn.utils._bunch.Bunch.__setstate__": ("ee7a80faa9ef9147", "does nothing"),
    "sklearn.utils._metadata_requests.MetadataRequest.__init__": (
        "1a54db62e7d5e22c",
        "one MethodMetadataRequest per constant method name",
    ),
    "sklearn.utils._metadata_requests.MethodMetadataRequest.__init__": (
        "37852d79b4dcaa70",
        _STORES,
    ),
}
# Modules whose compiled (Cython) load-time methods were reviewed in scikit-learn's .pyx
# sources: __cinit__/__init__ take numbers and arrays, __setstate__ copies numbers and
# arrays into typed fields (index-bearing ones are validated by format/nodes/sklearn_.py),
# and none calls an object taken from the file.
REVIEWED_COMPILED_MODULES = {
    "sklearn._loss._loss": "loss parameters (quantile, delta, power)",
    "sklearn.linear_model._sgd_fast": "SGD loss parameters (threshold, epsilon)",
    "sklearn.metrics._dist_metrics": "metric parameters (p, V, VI, w); validated",
    "sklearn.neighbors._ball_tree": "tree arrays; validated",
    "sklearn.neighbors._kd_tree": "tree arrays; validated",
    "sklearn.tree._tree": "node and value arrays; validated",
}
# Types that hold a callable and call it on data (PyFuncDistance calls its ``func``
# inside the distance loop): never built from a file by default, even though the
# callable must itself be trusted.
NEVER_CONSTRUCTED = ("sklearn.metrics._dist_metrics.PyFuncDistance",)


def _source_hash(fn: Any) -> str | None:
    try:
        src = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return None
    return hashlib.sha256(src.encode()).hexdigest()[:16]


def _init_only_stores(fn: Any) -> bool:
    """True when an __init__ only assigns its parameters (or constants) to self and
    calls super().__init__ with its parameters: scikit-learn's estimator contract."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return False
    func = tree.body[0]
    if not isinstance(func, ast.FunctionDef):
        return False
    params = {a.arg for a in (*func.args.args, *func.args.kwonlyargs)}
    for extra in (func.args.vararg, func.args.kwarg):
        if extra is not None:
            params.add(extra.arg)
    self_name = func.args.args[0].arg if func.args.args else "self"

    def plain(v: ast.expr) -> bool:
        if isinstance(v, ast.Name):
            return v.id in params
        if isinstance(v, ast.Constant):
            return True
        if isinstance(v, ast.Starred):
            return plain(v.value)
        return False

    for stmt in func.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Assign | ast.AnnAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            value = stmt.value
            if value is None or not plain(value):
                return False
            for t in targets:
                if not (
                    isinstance(t, ast.Attribute)
                    and isinstance(t.value, ast.Name)
                    and t.value.id == self_name
                ):
                    return False
            continue
        if (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Attribute)
            and stmt.value.func.attr == "__init__"
            and isinstance(stmt.value.func.value, ast.Call)
            and isinstance(stmt.value.func.value.func, ast.Name)
            and stmt.value.func.value.func.id == "super"
            and all(plain(a) for a in stmt.value.args)
            and all(plain(k.value) for k in stmt.value.keywords)
        ):
            continue
        return False
    return True


def _dataclass_generated(klass: type, fn: Any) -> bool:
    return dataclasses.is_dataclass(klass) and fn.__code__.co_filename.startswith("<")


def _dataclass_init(klass: type, fn: Any) -> bool:
    """The __init__ dataclasses generate: it assigns fields, then runs __post_init__,
    which must be reviewed like any other method."""
    if not _dataclass_generated(klass, fn):
        return False
    post = getattr(klass, "__post_init__", None)
    if post is None:
        return True
    reviewed = REVIEWED.get(f"{post.__module__}.{post.__qualname__}")
    return reviewed is not None and reviewed[0] == _source_hash(post)


def _definer(cls: type, method: str) -> type | None:
    for klass in cls.__mro__:
        if method in vars(klass):
            return klass
    return None


def construct_problems(cls: type) -> list[str]:
    """The load-time methods of ``cls`` not shown to be safe (empty: safe)."""
    name = f"{cls.__module__}.{cls.__qualname__}"
    if name.startswith(NEVER_CONSTRUCTED):
        return [f"{name} calls a stored callable on data"]
    problems = []
    for method in LOAD_METHODS:
        klass = _definer(cls, method)
        if klass is None or klass.__module__ == "builtins":
            continue
        key = f"{klass.__module__}.{klass.__qualname__}.{method}"
        fn = vars(klass)[method]
        fn = getattr(fn, "__func__", fn)
        if fn is None:  # __hash__ = None: unhashable, nothing runs
            continue
        if inspect.isfunction(fn):
            if method == "__init__" and (_init_only_stores(fn) or _dataclass_init(klass, fn)):
                continue
            if method == "__eq__" and _dataclass_generated(klass, fn):
                continue
            reviewed = REVIEWED.get(key)
            if reviewed is None or reviewed[0] != _source_hash(fn):
                problems.append(f"{key} (source {_source_hash(fn)}) is not reviewed")
        elif klass.__module__ not in REVIEWED_COMPILED_MODULES:
            problems.append(f"{key} is compiled and not reviewed")
    return problems


# ----------------------------------------------------------------------- derivation


def qualified(obj: Any) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def reached_names(blobs: Iterable[bytes]) -> dict[str, str]:
    """Every name the files name, with the strongest kind that names it."""
    names: dict[str, str] = {}
    for blob in blobs:
        doc = json.loads(zipfile.ZipFile(io.BytesIO(blob)).read("schema.json"))
        for name, kind in doc["names"].items():
            if kind in ("object", "reduce") or name not in names:
                names[name] = kind
    return names


def zoo_blobs() -> list[bytes]:
    import skship
    from skship.testing.estimators import cases, extra_cases, fit

    blobs = []
    for case in [*cases(), *extra_cases()]:
        model = fit(case)[0]
        blobs.append(skship.dumps(model))
    return blobs


def _resolve(name: str) -> Any:
    from skship.format.names import resolve

    return resolve(name)


def _siblings(cls: type) -> set[type]:
    """Classes in ``cls``'s module that share its root base class (the last base before
    ``object`` that comes from the same library)."""
    top = cls.__module__.split(".")[0]
    roots = [c for c in cls.__mro__ if c is not object and c.__module__.split(".")[0] == top]
    root = roots[-1]
    if root is cls:
        return {cls}
    mod = sys.modules[cls.__module__]
    return {
        c
        for c in vars(mod).values()
        if isinstance(c, type) and c.__module__ == cls.__module__ and issubclass(c, root)
    }


def _public_api() -> tuple[set[type], set[Any]]:
    """(classes, functions) exported by scikit-learn's public modules and numpy."""
    import numpy as np
    import sklearn

    classes: set[type] = set()
    functions: set[Any] = set()
    modules = []
    for sub in sklearn.__all__:
        if sub in SKLEARN_SKIPPED_MODULES:
            continue
        try:
            mod = importlib.import_module(f"sklearn.{sub}")
        except ImportError:
            continue
        if isinstance(mod, types.ModuleType):
            modules.append(mod)
    modules += [importlib.import_module(m) for m in ("sklearn.metrics.pairwise", "sklearn.utils")]
    for mod in modules:
        for attr in getattr(mod, "__all__", []):
            obj = getattr(mod, attr, None)
            if isinstance(obj, type):
                if not issubclass(obj, BaseException) and not obj.__name__.endswith("Mixin"):
                    classes.add(obj)
            elif inspect.isfunction(obj):
                functions.add(obj)
    for attr in dir(np):
        obj = getattr(np, attr, None)
        if isinstance(obj, np.ufunc) or (
            isinstance(obj, type)
            and issubclass(obj, np.generic)
            and getattr(np, obj.__name__, None) is obj
        ):
            functions.add(obj)
    functions |= {np.ndarray, np.dtype}
    for attr in getattr(np, "__all__", []):
        obj = getattr(np, attr, None)
        if inspect.isfunction(obj) and not attr.startswith("_"):
            functions.add(obj)
    return classes, functions


def _name_of(obj: Any) -> str | None:
    from skship.format.names import qualified_name

    return qualified_name(obj)


def derive(reached: dict[str, str]) -> tuple[list[str], list[str], dict[str, str]]:
    """(construct, reference, refused name -> reason) from the names the zoo reached."""
    from sklearn.utils import all_estimators

    refused: dict[str, str] = {}
    candidates: set[type] = {cls for _, cls in all_estimators()}
    for name, kind in reached.items():
        if kind in ("object", "reduce"):
            cls = _resolve(name)
            candidates.add(cls)
            candidates |= _siblings(cls)
    public_classes, public_functions = _public_api()
    construct = set()
    for cls in candidates | public_classes:
        name = _name_of(cls)
        if name is None or "<" in name:
            continue
        problems = construct_problems(cls)
        if problems:
            refused[name] = "; ".join(problems)
        else:
            construct.add(name)
    reference: set[str] = set()
    for name, kind in reached.items():
        if kind not in ("object", "reduce"):
            reference.add(name)
    for obj in public_functions | {c for c in public_classes if _name_of(c) not in construct}:
        name = _name_of(obj)
        if name is not None:
            reference.add(name)
    reference |= {f"builtins.{n}" for n in BUILTIN_TYPES} | set(OTHER_BASICS)
    out = set()
    for name in reference - construct:
        obj = None if name in ALLOWED_IN_DENIED else _resolve(name)
        why = reference_denied(name, obj)
        if why is None:
            out.add(name)
        else:
            refused[name] = why
    return sorted(construct), sorted(out), refused


def render(reached: dict[str, str]) -> str:
    import numpy
    import sklearn

    construct, reference, _ = derive(reached)
    lines = [
        "# Default trusted names for skship. GENERATED by tools/gen_trusted.py -- DO NOT EDIT.",
        f"# scikit-learn {sklearn.__version__}, numpy {numpy.__version__}",
        "# [construct]: a file may build instances (object/reduce nodes) and refer to them.",
        "# [reference]: a file may only refer to them (type/function/enum nodes).",
        "[construct]",
        *construct,
        "[reference]",
        *reference,
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reached = reached_names(zoo_blobs())
        new = render(reached)
    if "--why" in sys.argv:
        for name, why in sorted(derive(reached)[2].items()):
            print(f"{name}: {why}")
        return 0
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
    print(f"wrote {OUT} ({new.count(chr(10)) - 6} names)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
