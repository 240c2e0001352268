"""Every scikit-learn estimator, fitted small: the zoo behind the coverage table.

``cases()`` enumerates ``sklearn.utils.all_estimators()`` when it is called, so a new
scikit-learn release is covered without editing this module. Each estimator gets the
configuration scikit-learn's own common tests use (``INIT_PARAMS`` in
``sklearn.utils._test_common.instance_generator``: a simple base estimator for
meta-estimators, few iterations), or its defaults when that module is missing or does
not name it, with ``random_state=0`` wherever there is one. It is fitted on data its
input and target tags ask for (text, dicts, labels, images, a kernel matrix, positive
or categorical features, several outputs).

``extra_cases()`` adds configurations that hold more state than the defaults: a fitted
search with a scorer, a column transformer in a pipeline, a ``FunctionTransformer``
holding a numpy ufunc, ``SelectKBest(f_classif)``, categorical histogram boosting,
neighbors on KD and ball trees, and so on.

``outputs(model, case)`` calls every prediction-like method the model has, so that a
round trip can be checked for identical outputs.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["METHODS", "Case", "cases", "extra_cases", "fit", "outputs"]

# Methods compared after a round trip, in this order; each is called on the data the
# model was fitted on (inverse_transform on the output of transform).
METHODS = (
    "predict",
    "predict_proba",
    "predict_log_proba",
    "predict_joint_log_proba",
    "decision_function",
    "transform",
    "inverse_transform",
    "score_samples",
    "mahalanobis",
    "apply",
    "kneighbors",
    "score",
)

N_SAMPLES = 60
N_FEATURES = 4


@dataclass
class Case:
    """One estimator to fit: how to make it, and which data to fit it on."""

    name: str
    make: Callable[[], Any]
    # What X and y look like; chosen from the estimator's tags by ``_data_kind``.
    data: str = ""
    note: str = ""
    config: dict[str, Any] = field(default_factory=dict)


# Estimators whose common-test configuration is missing, too slow or too big here.
# Each entry is (params, why).
_OVERRIDES: dict[str, tuple[dict[str, Any], str]] = {
    "FrozenEstimator": ({"estimator": "fitted LogisticRegression"}, "wraps a fitted model"),
    "SparseCoder": ({"dictionary": "4 x 4 identity"}, "a dictionary is required"),
    "TSNE": ({"perplexity": 5.0, "max_iter": 250}, "perplexity below the sample count"),
    "PatchExtractor": ({"patch_size": (3, 3)}, "the default patch is empty on 8 x 8 images"),
    "SequentialFeatureSelector": (
        {"estimator": "LogisticRegression()", "n_features_to_select": 2, "cv": 2},
        "fewer cross-validation fits",
    ),
    "StackingClassifier": (
        {"estimators": "[('lr', LogisticRegression()), ('nb', GaussianNB())]", "cv": 2},
        "two simple base estimators",
    ),
    "StackingRegressor": (
        {"estimators": "[('ridge', Ridge()), ('lr', LinearRegression())]", "cv": 2},
        "two simple base estimators",
    ),
    "VotingClassifier": (
        {"estimators": "[('lr', LogisticRegression()), ('nb', GaussianNB())]", "voting": "soft"},
        "two simple base estimators",
    ),
    "VotingRegressor": (
        {"estimators": "[('ridge', Ridge()), ('lr', LinearRegression())]"},
        "two simple base estimators",
    ),
}


def _override(name: str) -> Any | None:
    from sklearn.dummy import DummyRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.naive_bayes import GaussianNB

    if name == "FrozenEstimator":
        from sklearn.frozen import FrozenEstimator

        X, y = _xy("classification")
        return FrozenEstimator(LogisticRegression().fit(X, y))
    if name == "SparseCoder":
        import numpy as np
        from sklearn.decomposition import SparseCoder

        return SparseCoder(dictionary=np.eye(N_FEATURES))
    if name == "TSNE":
        from sklearn.manifold import TSNE

        return TSNE(perplexity=5.0, max_iter=250)
    if name == "PatchExtractor":
        from sklearn.feature_extraction.image import PatchExtractor

        return PatchExtractor(patch_size=(3, 3))
    if name == "SequentialFeatureSelector":
        from sklearn.feature_selection import SequentialFeatureSelector

        return SequentialFeatureSelector(LogisticRegression(), n_features_to_select=2, cv=2)
    if name == "StackingClassifier":
        from sklearn.ensemble import StackingClassifier

        return StackingClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())], cv=2)
    if name == "StackingRegressor":
        from sklearn.ensemble import StackingRegressor

        return StackingRegressor([("ridge", Ridge()), ("lr", LinearRegression())], cv=2)
    if name == "VotingClassifier":
        from sklearn.ensemble import VotingClassifier

        return VotingClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())], voting="soft")
    if name == "VotingRegressor":
        from sklearn.ensemble import VotingRegressor

        return VotingRegressor([("ridge", Ridge()), ("dummy", DummyRegressor())])
    return None


def _instance(name: str, cls: type) -> Any:
    est = _override(name)
    if est is not None:
        return est
    try:
        from sklearn.utils._test_common.instance_generator import INIT_PARAMS
    except ImportError:  # a private module; defaults then
        INIT_PARAMS = {}
    params = INIT_PARAMS.get(cls, {})
    if isinstance(params, list):
        params = params[0]
    import copy

    return cls(**copy.deepcopy(params))


def _seed(est: Any) -> Any:
    """random_state=0 everywhere it exists, nested estimators included."""
    try:
        params = est.get_params(deep=True)
    except Exception:
        return est
    seeds = {k: 0 for k in params if k == "random_state" or k.endswith("__random_state")}
    if seeds:
        est.set_params(**seeds)
    return est


def cases() -> list[Case]:
    """One case per class in ``sklearn.utils.all_estimators()``, experimental ones
    (IterativeImputer, successive halving searches) included."""
    import sklearn.experimental.enable_halving_search_cv
    import sklearn.experimental.enable_iterative_imputer  # noqa: F401
    from sklearn.utils import all_estimators

    return [
        Case(
            name=name,
            make=functools.partial(_made, name, cls),
            note=_OVERRIDES.get(name, ({}, ""))[1],
        )
        for name, cls in all_estimators()
    ]


def _made(name: str, cls: type) -> Any:
    return _seed(_instance(name, cls))


def extra_cases() -> list[Case]:
    """Configurations that exercise more state than the defaults."""
    import numpy as np
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.feature_selection import SelectKBest, f_classif
    from sklearn.gaussian_process import GaussianProcessClassifier
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
    from sklearn.svm import SVC

    def frame_pipeline() -> Any:
        ct = ColumnTransformer(
            [
                ("num", StandardScaler(), make_column_selector(dtype_include=np.number)),
                ("cat", OneHotEncoder(handle_unknown="ignore"), ["c0", "c1"]),
            ]
        )
        return Pipeline([("ct", ct), ("lr", LogisticRegression())])

    specs: list[tuple[str, Callable[[], Any], str]] = [
        (
            "GridSearchCV(scoring=...)",
            lambda: GridSearchCV(
                LogisticRegression(),
                {"C": [0.1, 1.0]},
                scoring={"acc": "accuracy", "f1": "f1_macro"},
                refit="acc",
                cv=2,
            ),
            "classification",
        ),
        (
            "RandomizedSearchCV(SVC)",
            lambda: RandomizedSearchCV(
                SVC(probability=True, random_state=0),
                {"C": [0.1, 1.0, 10.0]},
                n_iter=2,
                cv=2,
                scoring="roc_auc_ovr",
                random_state=0,
            ),
            "classification",
        ),
        ("Pipeline(ColumnTransformer)", frame_pipeline, "frame"),
        (
            "FunctionTransformer(np.log1p)",
            lambda: FunctionTransformer(np.log1p, inverse_func=np.expm1, check_inverse=False),
            "classification",
        ),
        (
            "Pipeline(SelectKBest(f_classif))",
            lambda: make_pipeline(SelectKBest(f_classif, k=2), LogisticRegression()),
            "classification",
        ),
        (
            "HistGradientBoosting(categorical)",
            lambda: HistGradientBoostingClassifier(
                max_iter=5, categorical_features=[0, 1], random_state=0
            ),
            "categorical",
        ),
        (
            "KNeighbors(kd_tree)",
            lambda: KNeighborsClassifier(algorithm="kd_tree"),
            "classification",
        ),
        (
            "KNeighbors(ball_tree, minkowski p=3)",
            lambda: KNeighborsClassifier(algorithm="ball_tree", p=3),
            "classification",
        ),
        (
            "NearestNeighbors(ball_tree, mahalanobis)",
            lambda: NearestNeighbors(
                algorithm="ball_tree", metric="mahalanobis", metric_params={"VI": np.eye(4)}
            ),
            "classification",
        ),
        (
            "CalibratedClassifierCV(isotonic, forest)",
            lambda: CalibratedClassifierCV(
                RandomForestClassifier(5, random_state=0), method="isotonic", cv=2
            ),
            "classification",
        ),
        (
            "GaussianProcessClassifier(kernel sum)",
            lambda: GaussianProcessClassifier(
                ConstantKernel() * RBF() + WhiteKernel(), optimizer=None, random_state=0
            ),
            "classification",
        ),
        (
            "SGDClassifier(modified_huber)",
            lambda: SGDClassifier(loss="modified_huber", random_state=0),
            "classification",
        ),
    ]
    return [Case(name=n, make=m, data=d) for n, m, d in specs]


# ------------------------------------------------------------------------------ data


def _rng() -> Any:
    import numpy as np

    return np.random.default_rng(0)


def _xy(kind: str) -> tuple[Any, Any]:
    """Data of one kind: X (and y, or None)."""
    import numpy as np

    rng = _rng()
    n, f = N_SAMPLES, N_FEATURES
    y3 = np.arange(n) % 3
    centers = np.array([[0.5, 1.0, 1.5, 2.0], [2.0, 0.5, 1.0, 1.5], [1.5, 2.0, 0.5, 1.0]])
    # Positive and well separated: fits every estimator that needs positive input.
    X = centers[y3] + 0.3 * np.abs(rng.normal(size=(n, f)))
    yr = X @ np.array([1.0, 2.0, 0.5, 1.5]) + 0.1 * rng.normal(size=n)
    if kind == "classification":
        return X, y3
    if kind == "binary":
        return X, y3 % 2
    if kind == "regression":
        return X, yr
    if kind == "one_d":
        return X[:, 0], yr
    if kind == "unsupervised":
        return X, None
    if kind == "multiclass_multioutput":
        return X, np.column_stack([y3, (y3 + 1) % 3])
    if kind == "multilabel":
        return X, np.column_stack([y3 == 0, y3 == 1]).astype(int)
    if kind == "multioutput_regression":
        return X, np.column_stack([yr, 2 * yr + 0.1 * rng.normal(size=n)])
    if kind == "categorical":
        Xc = X.copy()
        Xc[:, 0] = y3
        Xc[:, 1] = rng.integers(0, 4, size=n)
        return Xc, y3
    if kind == "integer":
        return np.round(X * 2).astype(np.int64), y3
    if kind == "text":
        words = np.array(["apple", "berry", "cherry", "date", "elder", "fig", "grape", "honey"])
        docs = [" ".join(rng.choice(words[2 * c : 2 * c + 4], size=6)) for c in y3]
        return docs, y3
    if kind == "dicts":
        return [
            {"a": float(x[0]), "b": float(x[1]), f"k{int(c)}": 1.0}
            for x, c in zip(X, y3, strict=True)
        ], y3
    if kind == "labels":
        return y3, None
    if kind == "label_sets":
        return [tuple(int(v) for v in {c, (c + 1) % 3}) for c in y3], None
    if kind == "images":
        return rng.uniform(size=(3, 8, 8)), None
    if kind == "kernel":
        return X @ X.T, None
    if kind == "frame":
        import pandas as pd  # type: ignore[import-untyped]

        df = pd.DataFrame(X, columns=[f"n{i}" for i in range(f)])
        df["c0"] = np.array(["a", "b", "c"])[y3]
        df["c1"] = rng.choice(["x", "y"], size=n)
        return df, y3
    raise ValueError(f"unknown data kind {kind!r}")


def _data_kind(est: Any) -> str:
    from sklearn.base import is_classifier, is_regressor
    from sklearn.utils import get_tags

    name = type(est).__name__
    tags = get_tags(est)
    inp, target = tags.input_tags, tags.target_tags
    if name == "MultiLabelBinarizer":
        return "label_sets"
    if name in ("LabelEncoder", "LabelBinarizer"):
        return "labels"
    if name == "PatchExtractor":
        return "images"
    if name == "KernelCenterer" or inp.pairwise:
        return "kernel"
    if inp.string and not inp.two_d_array:
        return "text"
    if inp.dict and not inp.two_d_array:
        return "dicts"
    if inp.one_d_array and not inp.two_d_array:
        return "one_d"
    if inp.categorical and not inp.allow_nan:
        return "categorical"
    multi_only = target.multi_output and not target.single_output
    if is_classifier(est):
        if multi_only:
            return "multilabel"
        binary_only = tags.classifier_tags is not None and not tags.classifier_tags.multi_class
        return "binary" if binary_only else "classification"
    if is_regressor(est):
        return "multioutput_regression" if multi_only else "regression"
    if target.required:
        return _supervised_kind(est)
    return "unsupervised"


def _supervised_kind(est: Any) -> str:
    """Labels, or values when the estimator wraps a regressor."""
    from sklearn.base import is_regressor

    inner = getattr(est, "estimator", None)
    return "regression" if inner is not None and is_regressor(inner) else "classification"


def fit(case: Case) -> tuple[Any, Any, Any]:
    """(fitted model, X, y) for a case; warnings (convergence, ...) are silenced. One
    thread: OpenMP pools stall when other processes hold the cores."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore")  # deprecated estimators warn when made
        est = case.make()
        kind = case.data or _data_kind(est)
        case.data = kind
        X, y = _xy(kind)
        if kind in ("labels", "label_sets"):
            est.fit(X)
        elif type(est).__name__ == "FrozenEstimator":
            pass
        elif y is None:
            try:
                est.fit(X)
            except (TypeError, ValueError):  # a transformer that needs y after all
                kind = case.data = _supervised_kind(est)
                X, y = _xy(kind)
                est.fit(X, y)
        else:
            est.fit(X, y)
    return est, X, y


def _dense(value: Any) -> Any:
    """Sparse results as their arrays (a hashing vectorizer's are too wide to densify)."""
    if hasattr(value, "tocsr"):
        m = value.tocsr()
        m.sort_indices()
        return {"shape": m.shape, "data": m.data, "indices": m.indices, "indptr": m.indptr}
    if isinstance(value, list | tuple):
        return [_dense(v) for v in value]
    return value


def outputs(model: Any, X: Any, y: Any) -> dict[str, Any]:
    """Every prediction-like method's output on X (methods that refuse are left out):
    ``score`` with y when there is one, ``inverse_transform`` on what ``transform`` gave."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    out: dict[str, Any] = {}
    transformed: list[Any] = []
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore")
        for method in METHODS:
            fn = getattr(model, method, None)
            if fn is None or not callable(fn):
                continue
            if method == "inverse_transform":
                if not transformed:
                    continue
                args: tuple[Any, ...] = (transformed[0],)
            elif method == "score" and y is not None:
                args = (X, y)
            else:
                args = (X,)
            try:
                value = fn(*args)
            except Exception:  # not available for this configuration (available_if)
                continue
            if method == "transform":
                transformed.append(value)
            out[method] = _dense(value)
    return out
