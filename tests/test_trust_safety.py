"""No entry of the default trusted set lets a file run code of its choosing.

[construct] types: loading one runs only __new__/__init__/__setstate__ (or a __dict__
update), __setattr__, extend and __setitem__; each that a type defines must be shown
harmless (an __init__ that only stores its arguments, checked on its source, or an
implementation reviewed by the sha256 of its source in tools/gen_trusted.py).
[reference] names: none may be a code runner, an importer, a file or network reader,
or anything that turns a string into code or attribute access.
Hostile files naming such things are refused before anything is imported, and
index-bearing state that scikit-learn's compiled code reads unchecked is validated.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from craft import file_with
from hypothesis import given
from hypothesis import strategies as st

import skship
from skship import errors
from skship.format import trust

pytest.importorskip("sklearn")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import gen_trusted  # noqa: E402

from skship.format.names import resolve  # noqa: E402

CONSTRUCT = sorted(trust.default_constructible())
REFERENCE = sorted(trust.default_trusted() - trust.default_constructible())

# Names a hostile file would want, written out independently of the generator's lists.
DANGEROUS = (
    "builtins.eval",
    "builtins.exec",
    "builtins.compile",
    "builtins.open",
    "builtins.__import__",
    "builtins.getattr",
    "builtins.setattr",
    "builtins.delattr",
    "builtins.globals",
    "builtins.breakpoint",
    "builtins.input",
    "os.system",
    "os.popen",
    "os.execv",
    "os.remove",
    "posix.system",
    "subprocess.Popen",
    "subprocess.run",
    "subprocess.check_output",
    "sys.exit",
    "importlib.import_module",
    "operator.attrgetter",
    "operator.methodcaller",
    "operator.itemgetter",
    "functools.reduce",
    "pickle.loads",
    "pickle.load",
    "_pickle.loads",
    "marshal.loads",
    "ctypes.CDLL",
    "shutil.rmtree",
    "io.open",
    "io.FileIO",
    "runpy.run_path",
    "code.interact",
    "webbrowser.open",
    "urllib.request.urlopen",
    "socket.socket",
    "tempfile.mkstemp",
    "pathlib.Path",
    "numpy.load",
    "numpy.loadtxt",
    "numpy.genfromtxt",
    "numpy.fromfile",
    "numpy.fromregex",
    "numpy.save",
    "numpy.savez",
    "numpy.savetxt",
    "numpy.memmap",
    "numpy.lib.format.open_memmap",
    "numpy.testing.assert_equal",
    "numpy.ctypeslib.load_library",
    "numpy.f2py.compile",
    "scipy.io.loadmat",
    "scipy.sparse.load_npz",
    "joblib.load",
    "joblib.Parallel",
    "sklearn.datasets.fetch_openml",
    "sklearn.datasets.load_svmlight_file",
    "sklearn.datasets.load_files",
    "sklearn.utils._testing.assert_run_python_script_without_output",
    "sklearn.utils.discovery.all_estimators",
    "sklearn.utils.parallel.delayed",
    "sklearn.tree.export_graphviz",
    "sklearn.metrics._dist_metrics.PyFuncDistance64",
)


def test_the_trusted_set_is_not_empty_and_split() -> None:
    assert len(CONSTRUCT) > 250 and len(REFERENCE) > 250
    assert "sklearn.tree._tree.Tree" in CONSTRUCT
    assert "numpy.float64" in REFERENCE and "builtins.type" in REFERENCE


@pytest.mark.parametrize("name", DANGEROUS)
def test_dangerous_names_are_not_trusted(name: str) -> None:
    assert name not in trust.default_trusted()
    assert name not in trust.default_constructible()


def test_no_trusted_name_comes_from_a_code_running_module() -> None:
    bad = [
        n
        for n in trust.default_trusted()
        if gen_trusted.reference_denied(n) is not None and n not in gen_trusted.ALLOWED_IN_DENIED
    ]
    assert bad == []


def test_every_reference_passes_the_deny_list() -> None:
    """Resolved, so the signature check (file names, code text) applies as well."""
    problems = {}
    for name in REFERENCE:
        obj = resolve(name)
        why = gen_trusted.reference_denied(name, obj)
        if why is not None:
            problems[name] = why
        if isinstance(obj, type(sys)):
            problems[name] = "a module"
    assert problems == {}


def test_every_construct_type_is_built_without_calling_the_file() -> None:
    problems = {}
    for name in CONSTRUCT:
        cls = resolve(name)
        assert isinstance(cls, type), name
        found = gen_trusted.construct_problems(cls)
        if found:
            problems[name] = found
    assert problems == {}


# ------------------------------------------------- the checker itself can say "no"


def _calls_its_argument(self: Any, func: Any) -> None:
    self.value = func()


class _Runs:
    def __init__(self, func: Any) -> None:
        self.value = func()


class _Stores:
    def __init__(self, a: Any, b: int = 2) -> None:
        """Only stores."""
        self.a = a
        self.b = b


class _SetsState:
    def __setstate__(self, state: Any) -> None:
        state["callback"]()


class _Compares(_Stores):
    def __eq__(self, other: object) -> bool:
        return bool(self.a(other))


class _Reviewed(_Stores):
    def __setattr__(self, key: str, value: Any) -> None:
        object.__setattr__(self, key, value)


def test_construct_check_refuses_code_that_calls_its_input() -> None:
    assert gen_trusted.construct_problems(_Stores) == []
    assert gen_trusted.construct_problems(_Runs) != []
    assert gen_trusted.construct_problems(_SetsState) != []
    assert gen_trusted.construct_problems(_Compares) != []  # runs as a dict key
    assert gen_trusted.construct_problems(_Reviewed) != []  # not reviewed


def test_a_changed_reviewed_method_needs_a_new_review(monkeypatch: pytest.MonkeyPatch) -> None:
    key = f"{__name__}._Reviewed.__setattr__"
    digest = gen_trusted._source_hash(_Reviewed.__setattr__)
    monkeypatch.setitem(gen_trusted.REVIEWED, key, (digest, "test"))
    assert gen_trusted.construct_problems(_Reviewed) == []
    monkeypatch.setitem(gen_trusted.REVIEWED, key, ("0" * 16, "an older review"))
    assert gen_trusted.construct_problems(_Reviewed) != []


def test_reference_check_refuses_file_and_code_parameters() -> None:
    def reads(fname: str) -> None: ...

    def runs(source: str) -> None: ...

    def computes(X: Any, y: Any) -> None: ...

    assert gen_trusted.reference_denied("pkg.reads", reads) is not None
    assert gen_trusted.reference_denied("pkg.runs", runs) is not None
    assert gen_trusted.reference_denied("pkg.computes", computes) is None
    assert gen_trusted.reference_denied("builtins.eval") is not None


# ------------------------------------------------------------------- hostile files


def _refused(root: dict[str, Any]) -> None:
    blob = file_with(root)
    assert skship.get_untrusted_types(blob) != []
    with pytest.raises(errors.UntrustedTypesError) as info:
        skship.loads(blob)
    assert info.value.code == "E-TRUST-UNTRUSTED-TYPE"


@pytest.mark.parametrize("name", DANGEROUS)
def test_a_file_naming_a_dangerous_callable_is_refused(name: str) -> None:
    _refused({"t": "function", "name": name})
    _refused({"t": "reduce", "type": name, "args": ["echo pwned"]})
    _refused({"t": "object", "type": name})


@given(
    st.sampled_from(REFERENCE),
    st.sampled_from(["object", "reduce"]),
)
def test_reference_only_names_are_never_built(name: str, kind: str) -> None:
    """A [reference] type (numpy.ndarray, builtins.type, a score function) may be named,
    but a file may not call it to build something."""
    node: dict[str, Any] = {"t": kind, "type": name}
    if kind == "reduce":
        node["args"] = []
    _refused(node)


@given(st.sampled_from(DANGEROUS), st.sampled_from(["function", "type"]))
def test_dangerous_names_inside_trusted_models_are_refused(name: str, kind: str) -> None:
    """Hidden in a FunctionTransformer's state, where a trusted model would call it."""
    root = {
        "t": "object",
        "type": "sklearn.preprocessing._function_transformer.FunctionTransformer",
        "state": {"t": "dict", "v": {"func": {"t": kind, "name": name}}},
    }
    _refused(root)


# ------------------------------------------- index-bearing state is validated first


def _refused_by_validation(model: Any) -> None:
    with pytest.raises(errors.ValidationError) as info:
        skship.loads(skship.dumps(model))
    assert info.value.code == "E-VALIDATION-INDEX"


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)


def test_forest_trees_must_read_the_forest_features(data: Any) -> None:
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(3, random_state=0).fit(*data)
    skship.loads(skship.dumps(model))
    model.n_features_in_ = 2  # the trees still read 4 columns, unchecked
    _refused_by_validation(model)


def test_gradient_boosting_needs_one_tree_column_per_output(data: Any) -> None:
    from sklearn.ensemble import GradientBoostingRegressor

    model = GradientBoostingRegressor(n_estimators=3, random_state=0).fit(*data)
    skship.loads(skship.dumps(model))
    model.n_trees_per_iteration_ = 1
    model.estimators_ = np.concatenate([model.estimators_] * 3, axis=1)  # writes past out
    _refused_by_validation(model)


def test_bagging_feature_subsets_must_be_in_range(data: Any) -> None:
    from sklearn.ensemble import BaggingClassifier

    model = BaggingClassifier(n_estimators=2, max_features=2, random_state=0).fit(*data)
    skship.loads(skship.dumps(model))
    model.estimators_features_[0] = np.array([0, 99])
    _refused_by_validation(model)


def test_kmeans_centers_must_have_the_model_features(data: Any) -> None:
    from sklearn.cluster import KMeans

    model = KMeans(2, n_init=1, random_state=0).fit(data[0])
    skship.loads(skship.dumps(model))
    model.cluster_centers_ = np.ascontiguousarray(model.cluster_centers_[:, :2])
    _refused_by_validation(model)


@pytest.mark.parametrize("cls", ["KNeighborsClassifier", "RadiusNeighborsClassifier"])
def test_neighbor_labels_must_be_class_indices(data: Any, cls: str) -> None:
    import sklearn.neighbors

    model = getattr(sklearn.neighbors, cls)().fit(*data)
    skship.loads(skship.dumps(model))
    y = model._y.copy()
    y[0] = 10**6  # a vote written far past the class scores
    model._y = y
    _refused_by_validation(model)
    model._y = y[:5]  # fewer labels than fitted rows: read past the end
    _refused_by_validation(model)


def test_multi_output_neighbor_labels_are_checked_per_output(data: Any) -> None:
    from sklearn.neighbors import KNeighborsClassifier

    X, y = data
    model = KNeighborsClassifier().fit(X, np.column_stack([y, y % 2]))
    skship.loads(skship.dumps(model))
    labels = model._y.copy()
    labels[0, 1] = 2  # column 1 has two classes
    model._y = labels
    _refused_by_validation(model)


@pytest.fixture
def categorical_hgb(data: Any) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = data
    X = X.copy()
    X[:, 0] = np.arange(len(X)) % 4
    model = HistGradientBoostingClassifier(max_iter=3, categorical_features=[0]).fit(X, y)
    skship.loads(skship.dumps(model))
    return model


def test_hgb_known_categories_must_fit_the_bitsets(categorical_hgb: Any) -> None:
    categorical_hgb._bin_mapper.bin_thresholds_[0] = np.array([0.0, 1.0, 5000.0])
    _refused_by_validation(categorical_hgb)


def test_hgb_bin_mapper_must_cover_every_feature(categorical_hgb: Any) -> None:
    categorical_hgb._bin_mapper.is_categorical_ = np.array([1], dtype=np.uint8)
    _refused_by_validation(categorical_hgb)


def test_hgb_bitsets_must_have_eight_words(categorical_hgb: Any) -> None:
    predictor = categorical_hgb._predictors[0][0]
    predictor.raw_left_cat_bitsets = np.ascontiguousarray(predictor.raw_left_cat_bitsets[:, :1])
    _refused_by_validation(categorical_hgb)


def test_bisecting_tree_centers_must_have_the_model_features(data: Any) -> None:
    from sklearn.cluster import BisectingKMeans

    model = BisectingKMeans(3, random_state=0).fit(data[0])
    skship.loads(skship.dumps(model))
    node = model._bisecting_tree.left
    node.center = node.center[:2]
    _refused_by_validation(model)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda m: setattr(m, "_n_support", m._n_support * 2),
        lambda m: setattr(m, "_dual_coef_", m._dual_coef_[:, :2]),
        lambda m: setattr(m, "_intercept_", m._intercept_[:1]),
        lambda m: setattr(m, "support_", m.support_[:1]),
        lambda m: setattr(m, "support_vectors_", np.ascontiguousarray(m.support_vectors_[:, :2])),
        lambda m: setattr(m, "_n_support", -m._n_support),
    ],
    ids=["counts", "dual-coef", "intercept", "support", "sv-columns", "negative"],
)
def test_libsvm_state_must_be_consistent(data: Any, tamper: Any) -> None:
    from sklearn.svm import SVC

    model = SVC().fit(*data)
    skship.loads(skship.dumps(model))
    tamper(model)
    _refused_by_validation(model)


def test_libsvm_regression_state_is_checked(data: Any) -> None:
    from sklearn.svm import SVR

    model = SVR().fit(data[0], data[0][:, 0])
    skship.loads(skship.dumps(model))
    model._dual_coef_ = model._dual_coef_[:, :1]
    _refused_by_validation(model)


def test_tree_predictor_fields_must_keep_scikit_learns_order(categorical_hgb: Any) -> None:
    """TreePredictor.__setstate__ casts another record layout to scikit-learn's *by
    position*: with ``left`` and ``depth`` swapped, the checked ``left`` would become
    ``depth`` after the cast, and the unchecked ``depth`` values the children."""
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    predictor = categorical_hgb._predictors[0][0]
    skship.loads(skship.dumps(predictor))  # as written: trusted, valid
    names = list(PREDICTOR_RECORD_DTYPE.names)
    a, b = names.index("left"), names.index("depth")
    names[a], names[b] = names[b], names[a]
    swapped = np.dtype([(n, PREDICTOR_RECORD_DTYPE.fields[n][0]) for n in names])
    nodes = np.zeros(len(predictor.nodes), dtype=swapped)
    for n in names:
        nodes[n] = predictor.nodes[n]
    nodes["depth"] = 10**6  # would be every node's left child after the cast
    assert nodes.astype(PREDICTOR_RECORD_DTYPE, casting="same_kind")["left"][0] == 10**6
    predictor.nodes = nodes
    with pytest.raises(errors.ValidationError) as info:
        skship.loads(skship.dumps(predictor))
    assert info.value.code == "E-VALIDATION-INDEX"


def test_tree_predictor_flags_must_survive_the_cast(categorical_hgb: Any) -> None:
    """TreePredictor.__setstate__ casts the records to scikit-learn's layout with
    ``same_kind``, which wraps a wider unsigned flag: an ``is_leaf`` of 256 in a
    ``u2`` field passes as a leaf (its children unchecked) and becomes 0, a split, once
    cast to ``u1``. A checked field must cast to scikit-learn's without loss."""
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    predictor = categorical_hgb._predictors[0][0]
    wide = np.dtype(
        [
            (n, "<u2" if n == "is_leaf" else PREDICTOR_RECORD_DTYPE.fields[n][0])
            for n in PREDICTOR_RECORD_DTYPE.names
        ]
    )
    nodes = np.zeros(len(predictor.nodes), dtype=wide)
    for n in wide.names:
        nodes[n] = predictor.nodes[n]
    nodes["is_leaf"] = 256  # a leaf to the check, a split after the cast
    nodes["left"] = nodes["right"] = 10**6
    assert nodes.astype(PREDICTOR_RECORD_DTYPE, casting="same_kind")["is_leaf"][0] == 0
    predictor.nodes = nodes
    with pytest.raises(errors.ValidationError) as info:
        skship.loads(skship.dumps(predictor))
    assert info.value.code == "E-VALIDATION-INDEX"
