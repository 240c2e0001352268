"""Validators for scikit-learn's index-bearing types, run before their state is set.

scikit-learn's Cython code (tree traversal, neighbor trees, histogram-GBDT
predictors) indexes arrays without bounds checks. A file whose indices are out of
range would read or write outside the arrays, so these checks are what make tree and
neighbor models safe to trust by default.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from skship.errors import ValidationError
from skship.format.decoder import ARGS_ONLY

__all__ = ["GENERIC_VALIDATORS", "VALIDATORS"]

TREE_LEAF = -1
TREE_UNDEFINED = -2


def _bad(what: str, msg: str) -> ValidationError:
    return ValidationError(f"{what}: {msg}", code="E-VALIDATION-INDEX")


def _all(ok: np.ndarray[Any, Any]) -> bool:
    """``ok.all()`` for a bool array, at a sixth of the cost (it runs once per tree)."""
    return int(np.count_nonzero(ok)) == ok.size


_SPANS: dict[int, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]] = {}
_U64 = np.uint64


def _child_span(
    count: int,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """For node i of ``count``: (i + 1, count - i - 1, -1 - (i + 1)), the first as int64
    and the others as uint64, read-only and cached, so that ``x - after`` viewed
    unsigned is below ``room`` exactly when i < x < count, and equals ``leaf`` exactly
    when x == -1."""
    span = _SPANS.get(count)
    if span is None:
        after = np.arange(1, count + 1, dtype=np.int64)
        room = (count - after).view(_U64)
        leaf = (-1 - after).view(_U64)
        after.flags.writeable = room.flags.writeable = leaf.flags.writeable = False
        span = (after, room, leaf)
        if count <= 1 << 16 and len(_SPANS) < 1024:
            _SPANS[count] = span
    return span


def _tree_nodes_ok(
    left: np.ndarray[Any, Any],
    right: np.ndarray[Any, Any],
    feature: np.ndarray[Any, Any],
    n_features: int,
) -> np.ndarray[Any, Any]:
    """Per node (int64 columns of one tree): a leaf (both children -1), or both
    children after the node and inside the tree and the feature in [0, n_features).

    ``a <= x < b`` is one unsigned comparison, ``x - a < b - a``, since a negative
    difference wraps to a huge unsigned value; both children are compared at once
    through their (unsigned) maximum. Each column, a strided field of the records, is
    read once; everything else works on contiguous temporaries."""
    after, room, leaf = _child_span(len(left))
    d = np.subtract(left, after).view(_U64)
    e = np.subtract(right, after).view(_U64)
    both_leaf = d == e  # left == right ...
    np.maximum(d, e, out=d)
    both_leaf &= d == leaf  # ... == -1
    ok: np.ndarray[Any, Any] = d < room
    ok &= feature.view(_U64) < _U64(min(max(n_features, 0), 2**63))
    ok |= both_leaf
    return ok


def _int(x: Any) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool)


@cache
def _node_dtype() -> Any:
    from sklearn.tree._tree import NODE_DTYPE

    return NODE_DTYPE


def _tree_args(args: Any) -> tuple[int, int, int]:
    """(n_features, n_outputs, max(n_classes)) of a Tree's checked constructor args."""
    what = "decision tree"
    if len(args) != 3:
        raise _bad(what, "Tree takes (n_features, n_classes, n_outputs)")
    n_features, n_classes, n_outputs = args
    if not (_int(n_features) and _int(n_outputs)) or n_features < 1 or n_outputs < 1:
        raise _bad(what, "n_features and n_outputs must be positive integers")
    n_classes = np.asarray(n_classes)
    if n_classes.ndim != 1 or n_classes.dtype.kind not in "iu" or len(n_classes) != n_outputs:
        raise _bad(what, "n_classes must hold one integer per output")
    classes = n_classes.tolist()  # a few entries: Python's min and max beat numpy's
    if min(classes) < 1:
        raise _bad(what, "n_classes must be positive")
    return int(n_features), int(n_outputs), max(classes)


def validate_tree(name: str, args: Any, state: Any) -> None:
    """sklearn.tree._tree.Tree: args (n_features, n_classes, n_outputs), state dict."""
    what = "decision tree"
    n_features, n_outputs, max_classes = _tree_args(args)
    if state is ARGS_ONLY:
        return
    if not isinstance(state, dict):
        raise _bad(what, "state must be a dict")
    nodes, values, count = state.get("nodes"), state.get("values"), state.get("node_count")
    if not isinstance(nodes, np.ndarray) or not isinstance(values, np.ndarray) or not _int(count):
        raise _bad(what, "state needs 'nodes', 'values' arrays and 'node_count'")
    if nodes.dtype != _node_dtype() or nodes.ndim != 1 or len(nodes) != count or count < 1:
        raise _bad(what, "nodes must be a 1-d array of node_count tree nodes")
    if values.shape != (count, n_outputs, max_classes) or values.dtype != np.float64:
        raise _bad(
            what,
            f"values must be float64 of shape {(count, n_outputs, max_classes)}, got {values.shape}",
        )
    left, right = nodes["left_child"], nodes["right_child"]
    feature = nodes["feature"]
    ok = _tree_nodes_ok(left, right, feature, n_features)
    if not _all(ok):
        bad = int(np.argmin(ok))
        raise _bad(
            what,
            f"node {bad} has children ({int(left[bad])}, {int(right[bad])}) or feature "
            f"{int(feature[bad])} outside the tree (node_count {count}, n_features {n_features})",
        )
    md = state.get("max_depth")
    if md is not None and (not _int(md) or md < 0 or md > count):
        raise _bad(what, "max_depth is not consistent with the node count")


def validate_binary_tree(name: str, args: Any, state: Any) -> None:
    """KDTree / BallTree: state tuple from BinaryTree.__getstate__."""
    what = name.rsplit(".", 1)[-1]
    if state is ARGS_ONLY:
        return
    if not isinstance(state, tuple) or len(state) < 7:
        raise _bad(what, "unexpected state layout")
    data, idx_array, node_data, node_bounds = state[:4]
    n_levels, n_nodes = state[5], state[6]
    for a in (data, idx_array, node_data, node_bounds):
        if not isinstance(a, np.ndarray):
            raise _bad(what, "state arrays missing")
    if data.ndim != 2 or idx_array.ndim != 1 or node_data.ndim != 1 or node_bounds.ndim != 3:
        raise _bad(what, "state arrays have the wrong number of dimensions")
    n_samples, n_features = data.shape
    if len(idx_array) != n_samples or idx_array.dtype.kind not in "iu":
        raise _bad(what, "idx_array must hold one integer index per sample")
    if n_samples and (int(idx_array.min()) < 0 or int(idx_array.max()) >= n_samples):
        raise _bad(what, f"idx_array holds an index outside [0, {n_samples})")
    if not (_int(n_nodes) and _int(n_levels)) or n_nodes != len(node_data) or n_nodes < 1:
        raise _bad(what, "n_nodes disagrees with node_data")
    if n_nodes != 2**n_levels - 1:
        raise _bad(what, "n_nodes must equal 2**n_levels - 1")
    # KDTree keeps (min, max) bounds per node; BallTree keeps one centroid per node.
    want = (1 if "Ball" in what else 2, n_nodes, n_features)
    if node_bounds.shape != want:
        raise _bad(what, f"node_bounds must have shape {want}")
    if node_data.dtype.names is None or data.dtype.kind != "f":
        raise _bad(what, "node_data must be structured and data floating point")
    fields = node_data.dtype.names or ()
    if not {"idx_start", "idx_end", "is_leaf"} <= set(fields):
        raise _bad(what, "node_data lacks idx_start/idx_end/is_leaf")
    start, end, is_leaf = node_data["idx_start"], node_data["idx_end"], node_data["is_leaf"]
    if np.any(start < 0) or np.any(end > n_samples) or np.any(start > end):
        raise _bad(what, "a node's sample range is outside the data")
    # A node whose children would lie past the last node must be a leaf.
    first_without_children = (n_nodes - 1) // 2
    if np.any(is_leaf[first_without_children:] == 0):
        raise _bad(what, "a node on the last level is not marked as a leaf")


_BITSET_WORDS = 8
_PREDICTOR_FIELDS = frozenset(
    {"is_leaf", "left", "right", "feature_idx", "is_categorical", "bitset_idx"}
)


@cache
def _predictor_dtype() -> Any:
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    return PREDICTOR_RECORD_DTYPE


_PREDICTOR_DTYPE_OK: dict[Any, bool] = {}


def _predictor_dtype_ok(dtype: Any) -> bool:
    """A predictor record layout: the fields the checks read, in the order of
    scikit-learn's record dtype. TreePredictor.__setstate__ casts other layouts to that
    dtype *by position*, so a file that reordered the fields would have ``left`` read
    from another, unchecked field after its validation. The cast is ``same_kind``,
    which wraps a wider unsigned field (an ``is_leaf`` of 256 in a ``u2`` field, a
    leaf to the check, becomes 0, a split): each checked field must be an integer that
    casts to scikit-learn's field without loss."""
    ok = _PREDICTOR_DTYPE_OK.get(dtype)
    if ok is None:
        names = dtype.names or ()
        record = _predictor_dtype()
        ok = (
            names == record.names
            and set(names) >= _PREDICTOR_FIELDS
            and all(
                dtype.fields[f][0].kind in "iub"
                and np.can_cast(dtype.fields[f][0], record.fields[f][0], "safe")
                for f in _PREDICTOR_FIELDS
            )
        )
        if len(_PREDICTOR_DTYPE_OK) < 64:
            _PREDICTOR_DTYPE_OK[dtype] = ok
    return ok


def _predictor_parts(p: Any, what: str) -> tuple[np.ndarray[Any, Any], int, int]:
    nodes = getattr(p, "nodes", None)
    if not isinstance(nodes, np.ndarray) or nodes.ndim != 1 or not _predictor_dtype_ok(nodes.dtype):
        raise _bad(what, "a predictor's nodes are not a 1-d array of predictor records")
    counts = []
    for attr in ("binned_left_cat_bitsets", "raw_left_cat_bitsets"):
        bits: Any = getattr(p, attr, None)
        ok = isinstance(bits, np.ndarray) and bits.ndim == 2
        # Compiled code reads word value // 32 of a row for a uint8 value: 8 words.
        if ok and bits.shape[1] != _BITSET_WORDS:
            raise _bad(what, f"{attr} must have {_BITSET_WORDS} words per bitset")
        counts.append(len(bits) if ok else 0)
    return nodes, len(nodes), min(counts)


def _check_predictor_nodes(preds: list[Any], n_features: int | None, what: str) -> None:
    """All predictors at once: children after their parent and inside their own tree,
    features inside [0, n_features), categorical splits inside both bitset tables."""
    if not preds:
        return
    parts = [_predictor_parts(p, what) for p in preds]
    dtype = parts[0][0].dtype
    if any(n.dtype != dtype for n, _, _ in parts):
        raise _bad(what, "predictors disagree on their node layout")
    # Concatenate as raw bytes: numpy promotes structured dtypes field by field otherwise.
    raw = [np.ascontiguousarray(n).view(np.uint8) for n, _, _ in parts]
    nodes = np.concatenate(raw).view(dtype)
    sizes = np.array([n for _, n, _ in parts], dtype=np.int64)
    if np.any(sizes < 1):
        raise _bad(what, "a predictor has no nodes")
    # Unsigned comparisons as in validate_tree: ``a <= x < b`` is ``x - a < b - a``.
    after = np.arange(1, len(nodes) + 1, dtype=np.int64) - np.repeat(
        np.cumsum(sizes) - sizes, sizes
    )
    room = (np.repeat(sizes, sizes) - after).view(np.uint64)
    ok = (nodes["left"] - after).view(np.uint64) < room
    ok &= (nodes["right"] - after).view(np.uint64) < room
    limit = 2**63 if n_features is None else min(max(n_features, 0), 2**63)
    ok &= nodes["feature_idx"].astype(np.int64).view(np.uint64) < np.uint64(limit)
    cat = nodes["is_categorical"] != 0
    if cat.any():
        bits = np.repeat(np.array([b for _, _, b in parts], dtype=np.int64), sizes)
        b = nodes["bitset_idx"].astype(np.int64)
        ok &= ~cat | ((b >= 0) & (b < bits))
    ok |= nodes["is_leaf"] != 0
    if not _all(ok):
        raise _bad(what, "a split points outside its tree, its features or its bitsets")


def validate_tree_predictor(name: str, args: Any, state: Any) -> None:
    """A TreePredictor on its own: node indices within its tree (its model checks the
    features, which the predictor alone cannot know)."""
    if state is ARGS_ONLY:
        return
    what = "tree predictor"
    if not isinstance(state, dict):
        raise _bad(what, "state must be a dict")
    nodes = state.get("nodes")
    if not isinstance(nodes, np.ndarray) or nodes.ndim != 1 or not _predictor_dtype_ok(nodes.dtype):
        raise _bad(
            what,
            "nodes must be a 1-d array of predictor records, fields in scikit-learn's order",
        )
    if len(nodes) < 1:  # prediction starts at node 0
        raise _bad(what, "a predictor has no nodes")
    # As in a Tree: both children at once through their unsigned maximum.
    after, room, _ = _child_span(len(nodes))
    d = np.subtract(nodes["left"], after).view(_U64)
    np.maximum(d, np.subtract(nodes["right"], after).view(_U64), out=d)
    ok = d < room
    np.logical_or(ok, nodes["is_leaf"], out=ok)
    if not _all(ok):
        raise _bad(what, "a child index is outside the tree")


def validate_predictors(name: str, args: Any, state: Any) -> None:
    """HistGradientBoosting: every predictor's split features within the model."""
    if not isinstance(state, dict) or "_predictors" not in state:
        return
    what = "histogram gradient boosting"
    n_features = state.get("n_features_in_")
    preds = state["_predictors"]
    if not isinstance(preds, list) or not isinstance(n_features, int | np.integer):
        raise _bad(what, "_predictors must be a list and n_features_in_ an int")
    flat = [p for row in preds for p in (row if isinstance(row, list) else [row])]
    _check_predictor_nodes(flat, int(n_features), what)
    _check_bin_mapper(state.get("_bin_mapper"), int(n_features), what)


def _check_bin_mapper(mapper: Any, n_features: int, what: str) -> None:
    """Predicting builds a bitset of known categories per categorical feature from
    bin_thresholds_ (compiled code sets bit value % 32 of word value // 32, 8 words) and
    maps every split feature through an array of is_categorical_.size entries."""
    is_cat = getattr(mapper, "is_categorical_", None)
    if is_cat is None:
        return
    thresholds = getattr(mapper, "bin_thresholds_", None)
    if (
        not isinstance(is_cat, np.ndarray)
        or is_cat.shape != (n_features,)
        or not isinstance(thresholds, list)
        or len(thresholds) != n_features
    ):
        raise _bad(what, f"the bin mapper must describe {n_features} features")
    for f in np.flatnonzero(is_cat):
        cats = thresholds[f]
        if not isinstance(cats, np.ndarray) or cats.ndim != 1 or cats.dtype.kind not in "fiu":
            raise _bad(what, f"feature {f}'s known categories must be a 1-d numeric array")
        if cats.size and not (
            np.all(np.isfinite(cats)) and cats.min() >= 0 and cats.max() < 32 * _BITSET_WORDS
        ):
            raise _bad(what, f"feature {f} has a known category outside [0, 255]")


def validate_tree_estimator(name: str, args: Any, state: Any) -> None:
    """An estimator holding a fitted Tree must agree with it on the feature count, since
    scikit-learn checks X against n_features_in_ and the tree then indexes X by feature."""
    if not isinstance(state, dict):
        return
    tree = state.get("tree_")
    n_in = state.get("n_features_in_")
    if (
        tree is not None
        and type(tree).__name__ == "Tree"
        and _int(n_in)
        and tree.n_features != n_in
    ):
        raise _bad("decision tree", "the tree's n_features differs from n_features_in_")


def validate_distance_metric(name: str, args: Any, state: Any) -> None:
    """DistanceMetric subclasses: (p, vec, mat) state. Mahalanobis checks X against the
    number of rows of ``mat`` and then reads it as a square matrix, so it must be one."""
    if state is ARGS_ONLY:
        return
    what = name.rsplit(".", 1)[-1]
    if not isinstance(state, tuple) or len(state) < 3:
        raise _bad(what, "state must be (p, vec, mat, ...)")
    vec, mat = state[1], state[2]
    if not (
        isinstance(vec, np.ndarray)
        and vec.ndim == 1
        and isinstance(mat, np.ndarray)
        and mat.ndim == 2
    ):
        raise _bad(what, "vec must be 1-d and mat 2-d")
    if "Mahalanobis" in what and mat.shape[0] != mat.shape[1]:
        raise _bad(what, f"mat must be square, not {mat.shape[0]} x {mat.shape[1]}")


def _flat_estimators(ests: Any) -> list[Any] | None:
    """The sub-estimators of ``estimators_`` (a list, nested lists or an object array)."""
    if isinstance(ests, np.ndarray):
        return list(ests.reshape(-1)) if ests.dtype == object else None
    if isinstance(ests, list):
        out: list[Any] = []
        for e in ests:
            if isinstance(e, list | np.ndarray):
                out.extend(_flat_estimators(e) or [])
            else:
                out.append(e)
        return out
    return None


def validate_ensemble_trees(name: str, args: Any, state: Any) -> None:
    """Forests, gradient boosting, bagging and isolation forests hand X to their trees
    without checking it again (``check_input=False``, or Cython's ``predict_stages``),
    so every tree must read exactly the features the ensemble checked X for; gradient
    boosting writes tree k's output to column k, so it needs n_trees_per_iteration_
    columns of trees."""
    if not isinstance(state, dict) or "estimators_" not in state:
        return
    what = name.rsplit(".", 1)[-1]
    ests = state["estimators_"]
    n_in: Any = state.get("n_features_in_")
    per_iteration = state.get("n_trees_per_iteration_")
    if (
        isinstance(ests, np.ndarray)
        and _int(per_iteration)
        and (ests.dtype != object or ests.ndim != 2 or ests.shape[1] != per_iteration)
    ):
        raise _bad(what, "estimators_ must have n_trees_per_iteration_ columns of trees")
    flat = _flat_estimators(ests)
    if not flat or not _int(n_in):
        return
    features = state.get("estimators_features_")
    if features is not None and (not isinstance(features, list) or len(features) != len(flat)):
        raise _bad(what, "estimators_features_ must list the features of each estimator")
    for i, est in enumerate(flat):
        tree = getattr(est, "tree_", None)
        if tree is None or type(tree).__name__ != "Tree":
            continue
        if features is not None:
            f = np.asarray(features[i])
            if f.ndim != 1 or f.dtype.kind not in "iu" or np.any((f < 0) | (f >= n_in)):
                raise _bad(what, f"estimator {i} reads features outside [0, {n_in})")
            want = len(f)
        else:
            want = int(n_in)
        if tree.n_features != want:
            raise _bad(
                what, f"tree {i} reads {tree.n_features} features where the model has {want}"
            )


def validate_cluster_centers(name: str, args: Any, state: Any) -> None:
    """k-means (Cython) reads as many columns of cluster_centers_ as X has, and X is
    checked against n_features_in_."""
    if not isinstance(state, dict):
        return
    centers, n_in = state.get("cluster_centers_"), state.get("n_features_in_")
    if centers is None or not _int(n_in):
        return
    what = name.rsplit(".", 1)[-1]
    if not isinstance(centers, np.ndarray) or centers.ndim != 2 or centers.shape[1] != n_in:
        raise _bad(what, f"cluster_centers_ must be 2-d with {n_in} columns")
    # Bisecting k-means predicts down its tree, stacking each node's two child centers.
    stack, seen = [state.get("_bisecting_tree")], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        center = getattr(node, "center", None)
        if not isinstance(center, np.ndarray) or center.shape != (n_in,):
            raise _bad(what, f"every node of the bisecting tree needs a center of {n_in} values")
        stack += [getattr(node, "left", None), getattr(node, "right", None)]


def validate_neighbors_labels(name: str, args: Any, state: Any) -> None:
    """KNeighbors/RadiusNeighbors classifiers: compiled code adds each neighbour's vote at
    ``class_scores[i, _y[j]]`` for every fitted row j, so _y needs one class index per row
    of _fit_X, each below the number of classes."""
    if not isinstance(state, dict) or not {"_y", "classes_", "_fit_X"} <= state.keys():
        return
    what = name.rsplit(".", 1)[-1]
    y, classes, fit_x = state["_y"], state["classes_"], state["_fit_X"]
    if not isinstance(y, np.ndarray) or not hasattr(fit_x, "shape") or y.dtype.kind not in "iu":
        raise _bad(what, "_y must be an integer array")
    columns = y.reshape(len(y), -1) if y.ndim in (1, 2) else None
    per_output = classes if isinstance(classes, list) else [classes]
    if columns is None or len(y) != fit_x.shape[0] or columns.shape[1] != len(per_output):
        raise _bad(what, "_y must hold one class index per fitted sample and output")
    for j, cls in enumerate(per_output):
        n = len(cls) if hasattr(cls, "__len__") else -1
        col = columns[:, j]
        if col.size and (int(col.min()) < 0 or int(col.max()) >= n):
            raise _bad(what, f"_y holds a class index outside [0, {n})")


def validate_libsvm(name: str, args: Any, state: Any) -> None:
    """SVC, NuSVC, SVR, NuSVR, OneClassSVM: libsvm (C) reads support vectors, dual
    coefficients and intercepts by the counts in _n_support, without bounds checks.
    scikit-learn itself only checks the sum of _n_support (CVE-2020-28975)."""
    if not isinstance(state, dict) or "_n_support" not in state:
        return
    what = name.rsplit(".", 1)[-1]
    sv: Any = state.get("support_vectors_")
    n_support: Any = state.get("_n_support")
    dual: Any = state.get("_dual_coef_")
    intercept: Any = state.get("_intercept_")
    support: Any = state.get("support_")
    arrays = (sv, n_support, dual, intercept, support)
    if not all(hasattr(a, "shape") for a in arrays):
        raise _bad(what, "support vectors, counts, coefficients and intercepts are required")
    n_sv = sv.shape[0]
    if not isinstance(n_support, np.ndarray) or n_support.ndim != 1:
        raise _bad(what, "_n_support must be a 1-d integer array")
    if n_support.dtype.kind not in "iu" or (n_support.size and n_support.min() < 0):
        raise _bad(what, "_n_support must hold non-negative integers")
    if not isinstance(support, np.ndarray) or support.shape != (n_sv,):
        raise _bad(what, "support_ must hold one index per support vector")
    if "classes_" in state:  # SVC, NuSVC (the libsvm type is a class attribute)
        n_class = len(n_support)
        pairs = n_class * (n_class - 1) // 2
        if n_class < 2 or int(n_support.sum()) != n_sv:
            raise _bad(what, "_n_support must count every support vector, per class")
        if dual.shape != (n_class - 1, n_sv):
            raise _bad(what, f"_dual_coef_ must have shape {(n_class - 1, n_sv)}")
        for key in ("_probA", "_probB"):
            p = state.get(key)
            if p is not None and (not hasattr(p, "shape") or p.size not in (0, pairs)):
                raise _bad(what, f"{key} must be empty or hold one value per class pair")
    else:
        pairs = 1
        if dual.shape != (1, n_sv):
            raise _bad(what, f"_dual_coef_ must have shape {(1, n_sv)}")
    if intercept.shape != (pairs,):
        raise _bad(what, f"_intercept_ must hold {pairs} value(s)")
    n_in = state.get("n_features_in_")
    kernel = state.get("kernel")
    if (
        not state.get("_sparse")
        and kernel != "precomputed"
        and isinstance(kernel, str)
        and _int(n_in)
        and n_sv
        and (not isinstance(sv, np.ndarray) or sv.ndim != 2 or sv.shape[1] != n_in)
    ):
        raise _bad(what, f"support_vectors_ must have {n_in} columns")


def _estimator_checks(name: str, args: Any, state: Any) -> None:
    # Each check below looks at a dict state holding a key of its own (the distance
    # metrics excepted): test the keys here, once, rather than in every check. None of
    # them checks constructor arguments.
    if state is ARGS_ONLY:
        return
    if name.startswith("sklearn.metrics._dist_metrics."):
        validate_distance_metric(name, args, state)
    if not isinstance(state, dict) or not name.startswith("sklearn."):
        return
    if "tree_" in state:
        validate_tree_estimator(name, args, state)
    if "_predictors" in state:
        validate_predictors(name, args, state)
    if "estimators_" in state:
        validate_ensemble_trees(name, args, state)
    if "_n_support" in state:
        validate_libsvm(name, args, state)
    if "_y" in state:
        validate_neighbors_labels(name, args, state)
    if "cluster_centers_" in state and name.startswith(
        ("sklearn.cluster._kmeans.", "sklearn.cluster._bisect_k_means.")
    ):
        validate_cluster_centers(name, args, state)


VALIDATORS = {
    "sklearn.tree._tree.Tree": validate_tree,
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor": validate_tree_predictor,
    **{
        f"sklearn.neighbors.{mod}.{cls}": validate_binary_tree
        for mod, names in (
            ("_kd_tree", ("KDTree", "KDTree32", "KDTree64", "BinaryTree32", "BinaryTree64")),
            (
                "_ball_tree",
                ("BallTree", "BallTree32", "BallTree64", "BinaryTree32", "BinaryTree64"),
            ),
        )
        for cls in names
    },
}
GENERIC_VALIDATORS = [_estimator_checks]
# Types whose __setstate__ copies the arrays of their state into buffers of their own,
# so a reader need not copy those arrays out of the file first.
STATE_COPIED_BY_TYPE = frozenset({"sklearn.tree._tree.Tree"})
