"""scikit-learn models: the issue's zoo (small scale) round-trips with identical
outputs under default trust, and index-bearing state is validated before use."""

from __future__ import annotations

import hashlib
import io
import warnings
import zipfile
from typing import Any

import msgspec
import numpy as np
import pytest
from craft import build

import skship
from skship import errors

sklearn = pytest.importorskip("sklearn")
pd = pytest.importorskip("pandas")

from sklearn.cluster import Birch  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

METHODS = (
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
    "transform",
    "score_samples",
)


def _frame(n: int, rng: np.random.Generator) -> tuple[Any, np.ndarray[Any, Any]]:
    df = pd.DataFrame({f"num{i}": rng.normal(size=n) for i in range(5)})
    for i in range(3):
        df[f"cat{i}"] = rng.choice(["a", "b", "c", "d"], size=n)
    y = (df["num0"] + (df["cat0"] == "a") > 0.5).to_numpy().astype(int)
    return df, y


def _docs(n: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray[Any, Any]]:
    vocab = np.array([f"w{i}" for i in range(300)])
    y = rng.integers(0, 2, size=n)
    docs = [" ".join(rng.choice(vocab[: 200 + 100 * int(c)], size=12)) for c in y]
    return docs, y


def zoo() -> list[tuple[str, Any, Any]]:
    """The issue's persistence zoo, scaled down so the test suite stays fast."""
    rng = np.random.default_rng(0)
    X, y = make_classification(1000, 20, random_state=0)
    df, dy = _frame(600, rng)
    docs, ty = _docs(300, rng)
    ct = ColumnTransformer(
        [
            ("num", StandardScaler(), [f"num{i}" for i in range(5)]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), [f"cat{i}" for i in range(3)]),
        ]
    )
    return [
        ("a-logistic", LogisticRegression().fit(X, y), X),
        ("b-forest", RandomForestClassifier(30, random_state=0).fit(X, y), X),
        (
            "c-histgb",
            HistGradientBoostingClassifier(max_iter=30, early_stopping=False).fit(X, y),
            X,
        ),
        ("d-columns", Pipeline([("ct", ct), ("lr", LogisticRegression())]).fit(df, dy), df),
        ("e-text", make_pipeline(TfidfVectorizer(), LinearSVC()).fit(docs, ty), docs),
        ("f-kneighbors", KNeighborsClassifier(algorithm="kd_tree").fit(X, y), X),
        ("birch-cycles", Birch(n_clusters=3).fit(X), X),
        (
            "gridsearch-scorer",
            GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, scoring="accuracy", cv=2).fit(
                X, y
            ),
            X,
        ),
        ("balltree", KNeighborsClassifier(algorithm="ball_tree").fit(X, y), X),
    ]


MODELS = zoo()


def _outputs(model: Any, X: Any) -> dict[str, Any]:
    out = {}
    for name in METHODS:
        if hasattr(model, name):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    value = getattr(model, name)(X)
                except (AttributeError, NotImplementedError):
                    continue
            out[name] = value.toarray() if hasattr(value, "toarray") else value
    return out


@pytest.mark.parametrize(("name", "model", "X"), MODELS, ids=[m[0] for m in MODELS])
def test_round_trip_with_default_trust(name: str, model: Any, X: Any) -> None:
    blob = skship.dumps(model)
    assert skship.get_untrusted_types(blob) == []
    loaded = skship.loads(blob)
    assert type(loaded) is type(model)
    assert skship.dumps(loaded) == blob  # deterministic, and loading loses nothing
    expected, got = _outputs(model, X), _outputs(loaded, X)
    assert expected and expected.keys() == got.keys()
    for method in expected:
        np.testing.assert_array_equal(got[method], expected[method], err_msg=method)


def test_birch_keeps_its_cycles() -> None:
    model = dict((n, m) for n, m, _ in MODELS)["birch-cycles"]
    loaded = skship.loads(skship.dumps(model))
    leaf = loaded.dummy_leaf_.next_leaf_
    assert leaf.prev_leaf_ is loaded.dummy_leaf_


def test_shared_estimator_stored_once() -> None:
    base = LogisticRegression()
    pair = [base, base]
    blob = skship.dumps(pair)
    schema = zipfile.ZipFile(io.BytesIO(blob)).read("schema.json")
    assert schema.count(b'"type":"sklearn.linear_model._logistic.LogisticRegression"') == 1
    a, b = skship.loads(blob)
    assert a is b


# --------------------------------------------------------------- index validation


def _doc_and_data(blob: bytes) -> tuple[dict[str, Any], bytearray]:
    z = zipfile.ZipFile(io.BytesIO(blob))
    return msgspec.json.decode(z.read("schema.json")), bytearray(z.read("data"))


def _rebuild(doc: dict[str, Any], data: bytearray) -> bytes:
    doc["data"]["sha256"] = hashlib.sha256(data).hexdigest()
    return build(doc, bytes(data))


def _find(node: Any, pred: Any) -> list[Any]:
    found = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            if pred(n):
                found.append(n)
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)
    return found


def _tree_nodes_array(doc: dict[str, Any]) -> dict[str, Any]:
    return _find(doc["root"], lambda n: n.get("t") == "ndarray" and type(n.get("dtype")) is int)[0]


def _structured(doc: dict[str, Any], ref: dict[str, Any]) -> np.dtype[Any]:
    """A structured array node's dtype, from the document's dtype table."""
    return np.lib.format.descr_to_dtype([tuple(f) for f in doc["dtypes"][ref["dtype"]]])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("left_child", 10**6),
        ("right_child", 0),
        ("right_child", -1),  # one child only
        ("feature", 10**6),
        ("feature", -7),
        ("left_child", -(2**63)),  # wraps when the check subtracts the node index
    ],
)
def test_tree_with_bad_indices_is_refused(field: str, value: int) -> None:
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(
        *make_classification(200, 5, random_state=0)
    )
    doc, data = _doc_and_data(skship.dumps(tree))
    ref = _tree_nodes_array(doc)
    dt = _structured(doc, ref)
    off, n = ref["data"]
    nodes = np.frombuffer(data, dtype=dt, count=n // dt.itemsize, offset=off).copy()
    nodes[0][field] = value
    data[off : off + n] = nodes.tobytes()
    with pytest.raises(errors.ValidationError) as info:
        skship.loads(_rebuild(doc, data))
    assert info.value.code == "E-VALIDATION-INDEX"


def test_tree_feature_count_must_match_the_estimator() -> None:
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(
        *make_classification(200, 5, random_state=0)
    )
    doc, data = _doc_and_data(skship.dumps(tree))
    state = doc["root"]["state"]["v"]
    state["n_features_in_"] = 2
    with pytest.raises(errors.ValidationError):
        skship.loads(_rebuild(doc, data))


def test_kdtree_with_bad_index_is_refused() -> None:
    model = KNeighborsClassifier(algorithm="kd_tree").fit(
        *make_classification(100, 3, n_informative=2, n_redundant=0, random_state=0)
    )
    doc, data = _doc_and_data(skship.dumps(model))
    obj = _find(doc, lambda n: n.get("t") == "object" and n.get("type", "").endswith("KDTree"))[0]
    idx_ref = obj["state"]["v"][1]  # (data, idx_array, node_data, node_bounds, ...)
    off, n = idx_ref["data"]
    idx = np.frombuffer(data, dtype=np.int64, count=n // 8, offset=off).copy()
    idx[5] = 10**9
    data[off : off + n] = idx.tobytes()
    with pytest.raises(errors.ValidationError):
        skship.loads(_rebuild(doc, data))


def test_histgb_predictor_with_bad_child_is_refused() -> None:
    model = HistGradientBoostingClassifier(max_iter=3).fit(
        *make_classification(300, 4, random_state=0)
    )
    doc, data = _doc_and_data(skship.dumps(model))
    ref = _find(
        doc,
        lambda n: (
            n.get("t") == "ndarray"
            and type(n.get("dtype")) is int
            and any(f[0] == "left" for f in doc["dtypes"][n["dtype"]])
        ),
    )[0]
    dt = _structured(doc, ref)
    off, n = ref["data"]
    nodes = np.frombuffer(data, dtype=dt, count=n // dt.itemsize, offset=off).copy()
    nodes[0]["left"] = 60000
    data[off : off + n] = nodes.tobytes()
    with pytest.raises(errors.ValidationError):
        skship.loads(_rebuild(doc, data))


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "bsr"])
def test_sparse_with_bad_indices_is_refused(fmt: str) -> None:
    from scipy import sparse

    m = sparse.random(6, 6, density=0.5, format=fmt, random_state=0)
    if fmt == "bsr":
        m = sparse.bsr_matrix(m.toarray(), blocksize=(2, 2))
    doc, data = _doc_and_data(skship.dumps(m))
    arrays = doc["root"]["arrays"]
    key = "col" if fmt == "coo" else "indices"
    off, n = arrays[key]["data"]
    dt = np.dtype(arrays[key]["dtype"])
    idx = np.frombuffer(data, dtype=dt, count=n // dt.itemsize, offset=off).copy()
    idx[0] = 1000
    data[off : off + n] = idx.tobytes()
    with pytest.raises(errors.ValidationError):
        skship.loads(_rebuild(doc, data))


def test_mahalanobis_metric_with_a_short_matrix_is_refused() -> None:
    from sklearn.neighbors import BallTree

    X = np.random.default_rng(0).normal(size=(50, 3))
    tree = BallTree(X, metric="mahalanobis", VI=np.eye(3))
    assert skship.loads(skship.dumps(tree)).query(X[:2])[1].shape == (2, 1)
    doc, data = _doc_and_data(skship.dumps(tree))
    metric = _find(doc, lambda n: n.get("t") == "object" and "Mahalanobis" in n.get("type", ""))[0]
    mat = metric["state"]["v"][2]
    assert mat["shape"] == [3, 3]
    mat["shape"] = [9, 1]  # same bytes, read as 9 rows of 1: not square
    with pytest.raises(errors.ValidationError):
        skship.loads(_rebuild(doc, data))


def test_pyfunc_distance_is_not_constructible_by_default() -> None:
    from sklearn.metrics import DistanceMetric

    metric = DistanceMetric.get_metric("pyfunc", func=np.minimum)
    blob = skship.dumps(metric)
    assert skship.get_untrusted_types(blob) == [
        type(metric).__module__ + "." + type(metric).__qualname__
    ]
