"""Built-in type handlers for XGBoost, LightGBM and CatBoost.

Each library's model is stored in its own non-pickle format (XGBoost UBJSON, LightGBM
model text, CatBoost's CBM), checked here before the library parses it; the
scikit-learn wrappers keep their attributes as ordinary Values with the booster as a
nested ext node. The libraries are imported only when such an object is written or
such a node is built, never when this module is imported.
"""

from __future__ import annotations

import importlib
import re
import struct
from typing import Any

__all__ = [
    "CATBOOST",
    "LIGHTGBM",
    "XGBOOST",
    "check_lightgbm_text",
    "check_ubjson",
    "check_xgboost_model",
    "decode_ubjson",
]


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _class(listed: tuple[str, ...], type_name: str) -> Any:
    """The class a name from the handler's own list stands for (the reader checked the
    name against that list before building; checked again here, never trusted)."""
    if type_name not in listed:
        raise ValueError(f"{type_name} is not a type this handler builds")
    module, _, qual = type_name.rpartition(".")
    return getattr(importlib.import_module(module), qual)


def _wrapper(listed: tuple[str, ...], type_name: str, state: dict[str, Any]) -> Any:
    """A scikit-learn wrapper rebuilt from its attributes (its booster already built)."""
    cls = _class(listed, type_name)
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    return obj


def _check_attributes(state: Any) -> None:
    if not isinstance(state, dict) or not all(type(k) is str for k in state):
        raise ValueError("the state must be a dict of attribute names")


# ------------------------------------------------------------------------ UBJSON

_NOOP, _NULL, _TRUE, _FALSE = b"NZTF"
_STR, _HIGH, _TYPED, _COUNT, _CHAR = b"SH$#C"
_OPEN = {ord("["): ord("]"), ord("{"): ord("}")}
_INTS = {
    ord("i"): struct.Struct(">b"),
    ord("U"): struct.Struct(">B"),
    ord("I"): struct.Struct(">h"),
    ord("l"): struct.Struct(">i"),
    ord("L"): struct.Struct(">q"),
}
_FLOATS = {ord("d"): struct.Struct(">f"), ord("D"): struct.Struct(">d")}
_FIXED = {m: s.size for m, s in (_INTS | _FLOATS).items()} | {_CHAR: 1}
# Typed arrays of numbers become numpy arrays (big-endian, as UBJSON stores them).
_ARRAY_DTYPES = {
    ord("i"): "i1",
    ord("U"): "u1",
    ord("I"): ">i2",
    ord("l"): ">i4",
    ord("L"): ">i8",
    ord("d"): ">f4",
    ord("D"): ">f8",
}


def decode_ubjson(buf: bytes, *, max_depth: int = 64) -> Any:
    """Decode one UBJSON document (with counted and typed containers, as XGBoost writes
    them), nesting at most ``max_depth`` levels, refusing trailing bytes. Typed arrays
    of numbers become read-only numpy arrays. Iterative, so a hostile depth cannot
    exhaust the stack; every malformation is a ValueError."""
    try:
        return _decode_ubjson(bytes(buf), max_depth)
    except (IndexError, KeyError, struct.error):
        # Reading past the end (IndexError, struct.error) or an unknown marker (KeyError).
        raise ValueError("UBJSON is truncated or holds an unknown marker") from None


def _decode_ubjson(buf: bytes, max_depth: int) -> Any:
    import numpy as np

    n = len(buf)
    pos = 0
    ints = _INTS

    def length() -> int:
        # An integer-typed length (a marker, then a big-endian integer), within the data.
        nonlocal pos
        s = ints[buf[pos]]
        v: int = s.unpack_from(buf, pos + 1)[0]
        pos += 1 + s.size
        if not 0 <= v <= n - pos:
            raise ValueError(f"UBJSON: a length of {v} with {n - pos} bytes left")
        return v

    def text() -> str:
        nonlocal pos
        k = length()
        pos += k
        return buf[pos - k : pos].decode("utf-8")  # UnicodeDecodeError is a ValueError

    def scalar(m: int) -> Any:
        nonlocal pos
        s = ints.get(m) or _FLOATS.get(m)
        if s is not None:
            v = s.unpack_from(buf, pos)[0]
            pos += s.size
            return v
        if m == _NULL:
            return None
        if m in (_TRUE, _FALSE):
            return m == _TRUE
        if m == _CHAR:
            pos += 1
            return chr(buf[pos - 1])
        if m in (_STR, _HIGH):
            return text()
        raise ValueError(f"UBJSON: unknown marker {chr(m)!r} at byte {pos - 1}")

    def container(m: int) -> Any:
        """A finished typed numeric array, or a frame for the loop:
        [close marker, remaining or None, element type or None, value, pending key]."""
        nonlocal pos
        typ = None
        remaining = None
        if buf[pos] == _TYPED:
            typ = buf[pos + 1]
            pos += 2
            if typ in _OPEN or (typ not in _FIXED and typ not in (_NULL, _TRUE, _FALSE, _STR)):
                raise ValueError(f"UBJSON: unsupported container element type {chr(typ)!r}")
            if buf[pos] != _COUNT:
                raise ValueError("UBJSON: a typed container without a count")
        if buf[pos] == _COUNT:
            pos += 1
            remaining = length()
        if m == ord("[") and typ in _ARRAY_DTYPES and remaining is not None:
            dt = np.dtype(_ARRAY_DTYPES[typ])
            if remaining * dt.itemsize > n - pos:
                raise ValueError("UBJSON: a typed array runs past the end")
            arr = np.frombuffer(buf, dtype=dt, count=remaining, offset=pos)
            pos += remaining * dt.itemsize
            return arr
        return [_OPEN[m], remaining, typ, {} if m == ord("{") else [], None]

    def marker() -> int:
        nonlocal pos
        while buf[pos] == _NOOP:
            pos += 1
        pos += 1
        return buf[pos - 1]

    result: Any = None
    first = marker()
    stack: list[list[Any]] = []
    if first not in _OPEN:
        result = scalar(first)
    else:
        root = container(first)
        if isinstance(root, list):
            stack.append(root)
        else:
            result = root
    while stack:
        frame = stack[-1]
        remaining = frame[1]
        if remaining is None:
            while buf[pos] == _NOOP:
                pos += 1
            done = buf[pos] == frame[0]
            if done:
                pos += 1
        else:
            done = remaining == 0
            frame[1] = remaining - 1
        value = frame[3]
        if done:
            stack.pop()
            if not stack:
                result = value
            else:
                parent = stack[-1]
                if type(parent[3]) is dict:
                    parent[3][parent[4]] = value
                else:
                    parent[3].append(value)
            continue
        is_object = type(value) is dict
        if is_object:
            frame[4] = text()
        m = frame[2] if frame[2] is not None else marker()
        if m in _OPEN:
            if len(stack) >= max_depth:
                raise ValueError(f"UBJSON nests deeper than {max_depth} levels")
            child = container(m)
            if type(child) is list:
                stack.append(child)
                continue
        else:
            child = scalar(m)
        if is_object:
            value[frame[4]] = child
        else:
            value.append(child)
    if pos != n:
        raise ValueError(f"UBJSON: {n - pos} bytes after the document")
    return result


def _count(value: Any, what: str) -> int:
    """XGBoost writes counts as decimal strings ("4")."""
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} is not a count: {value!r}") from None
    if not 0 <= v < 2**31:
        raise ValueError(f"{what} out of range: {v}")
    return v


def _length(value: Any) -> int:
    import numpy as np

    if not isinstance(value, list | np.ndarray):
        raise ValueError(f"expected an array, found {type(value).__name__}")
    return len(value)


def _int_array(tree: dict[str, Any], key: str, length: int) -> Any:
    import numpy as np

    arr = tree.get(key)
    if isinstance(arr, list):  # an empty or untyped array
        arr = np.asarray(arr if arr else [], dtype=np.int64)
    if not isinstance(arr, np.ndarray) or arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ValueError(f"tree field {key} is not an integer array")
    if len(arr) != length:
        raise ValueError(f"tree field {key} has {len(arr)} values, expected {length}")
    return arr.astype(np.int64)


def check_xgboost_model(doc: Any) -> None:
    """Check a decoded XGBoost model: the parts prediction indexes with. Every tree's
    child, parent and split-feature indices must be in range, and its arrays as long
    as its node count."""
    if not isinstance(doc, dict) or "learner" not in doc or "version" not in doc:
        raise ValueError("the UBJSON document is not an XGBoost model (no learner)")
    learner = doc["learner"]
    if not isinstance(learner, dict):
        raise ValueError("learner is not an object")
    param = learner.get("learner_model_param")
    if not isinstance(param, dict):
        raise ValueError("learner_model_param is missing")
    n_features = _count(param.get("num_feature"), "num_feature")
    booster = learner.get("gradient_booster")
    if not isinstance(booster, dict):
        raise ValueError("gradient_booster is missing")
    if booster.get("name") == "dart":
        booster = booster.get("gbtree")
        if not isinstance(booster, dict):
            raise ValueError("a dart booster without its gbtree")
    if booster.get("name") == "gblinear":
        return  # a weight vector, no indices
    if booster.get("name") != "gbtree":
        raise ValueError(f"unknown gradient booster {booster.get('name')!r}")
    model = booster.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("trees"), list):
        raise ValueError("a gbtree model without trees")
    trees = model["trees"]
    model_param = model.get("gbtree_model_param")
    n_trees = _count(
        model_param.get("num_trees") if isinstance(model_param, dict) else None, "num_trees"
    )
    if n_trees != len(trees):
        raise ValueError(f"num_trees says {n_trees}, the model holds {len(trees)} trees")
    # tree_info[i] is the output column tree i adds to: prediction writes there.
    groups = max(_count(param.get("num_class", 0), "num_class"), 1) * max(
        _count(param.get("num_target", 1), "num_target"), 1
    )
    info = _int_array(model, "tree_info", n_trees)
    if ((info < 0) | (info >= groups)).any():
        raise ValueError(f"tree_info names an output outside [0, {groups})")
    if "iteration_indptr" in model:
        indptr = _int_array(model, "iteration_indptr", _length(model["iteration_indptr"]))
        if (
            len(indptr) == 0
            or indptr[0] != 0
            or indptr[-1] != n_trees
            or (indptr[1:] < indptr[:-1]).any()
        ):
            raise ValueError("iteration_indptr does not cut the trees into iterations")
    _check_xgboost_trees(trees, n_features)


_NO_PARENT = 2**31 - 1  # XGBoost's parent of the root (and of deleted nodes)


def _check_xgboost_trees(trees: list[Any], n_features: int) -> None:
    """Every tree's arrays have num_nodes values; then all trees' indices at once."""
    import numpy as np

    sizes, columns = [], []
    for i, tree in enumerate(trees):
        try:
            if not isinstance(tree, dict) or not isinstance(tree.get("tree_param"), dict):
                raise ValueError("not a tree")
            n = _count(tree["tree_param"].get("num_nodes"), "num_nodes")
            if n < 1:
                raise ValueError("a tree with no nodes")
            columns.append(
                [
                    _int_array(tree, key, n)
                    for key in ("left_children", "right_children", "parents", "split_indices")
                ]
            )
            for key in ("split_conditions", "default_left", "split_type"):
                if _length(tree.get(key)) != n:
                    raise ValueError(f"tree field {key} does not have {n} values")
            if _length(tree.get("categories_nodes", [])):
                _check_xgboost_categories(tree, n)
        except ValueError as exc:
            raise ValueError(f"tree {i}: {exc}") from None
        sizes.append(n)
    if not trees:
        return
    left, right, parents, split = (np.concatenate(c) for c in zip(*columns, strict=True))
    n_of = np.repeat(np.asarray(sizes, dtype=np.int64), sizes)  # each node's tree size
    starts = np.cumsum([0, *sizes[:-1]])

    def fail(bad: Any, what: str) -> None:
        if bad.any():
            tree = int(np.searchsorted(starts, int(np.argmax(bad)), side="right")) - 1
            raise ValueError(f"tree {tree}: {what}")

    leaf = left == -1
    fail(leaf != (right == -1), "a node with exactly one child")
    inner = ~leaf
    fail(
        inner & ((left < 1) | (left >= n_of) | (right < 1) | (right >= n_of)),
        "a child index out of range",
    )
    fail(
        inner & ((split < 0) | (split >= n_features)), f"a split feature outside [0, {n_features})"
    )
    fail(
        ((parents < 0) | (parents >= n_of)) & (parents != _NO_PARENT), "a parent index out of range"
    )


def _check_xgboost_categories(tree: dict[str, Any], n: int) -> None:
    nodes = _int_array(tree, "categories_nodes", _length(tree.get("categories_nodes", [])))
    segments = _int_array(tree, "categories_segments", len(nodes))
    sizes = _int_array(tree, "categories_sizes", len(nodes))
    n_categories = _length(tree.get("categories", []))
    if ((nodes < 0) | (nodes >= n)).any() or (segments < 0).any() or (sizes < 0).any():
        raise ValueError("a categorical split index out of range")
    if ((segments + sizes) > n_categories).any():
        raise ValueError("a categorical segment runs past the categories")


def check_ubjson(buf: bytes, *, max_depth: int = 64) -> set[str]:
    """The top-level keys of a UBJSON object; ValueError if ``buf`` is not one."""
    doc = decode_ubjson(buf, max_depth=max_depth)
    if not isinstance(doc, dict):
        raise ValueError("UBJSON: the document is not an object")
    return set(doc)


class XGBoostHandler:
    """XGBoost: a Booster as UBJSON (``save_raw('ubj')``); a scikit-learn wrapper as its
    attributes, its booster an ext node of its own."""

    types = (
        "xgboost.core.Booster",
        "xgboost.sklearn.XGBClassifier",
        "xgboost.sklearn.XGBRegressor",
        "xgboost.sklearn.XGBRanker",
        "xgboost.sklearn.XGBRFClassifier",
        "xgboost.sklearn.XGBRFRegressor",
    )
    _BOOSTER = "xgboost.core.Booster"

    def save(self, obj: Any) -> Any:
        if _qualname(type(obj)) == self._BOOSTER:
            return {"ubj": bytes(obj.save_raw(raw_format="ubj"))}
        return dict(obj.__dict__)

    def validate(self, type_name: str, state: Any) -> None:
        _check_attributes(state)
        if type_name == self._BOOSTER:
            raw = state.get("ubj")
            if set(state) != {"ubj"} or type(raw) is not bytes:
                raise ValueError("an XGBoost Booster's state is {'ubj': <UBJSON bytes>}")
            check_xgboost_model(decode_ubjson(raw))
            return
        booster = state.get("_Booster")
        if booster is not None and _qualname(type(booster)) != self._BOOSTER:
            raise ValueError("_Booster must be an xgboost Booster")

    def construct(self, type_name: str, state: Any) -> Any:
        import xgboost

        if type_name == self._BOOSTER:
            booster = xgboost.Booster()
            booster.load_model(bytearray(state["ubj"]))
            return booster
        return _wrapper(self.types, type_name, state)

    def describe(self, type_name: str) -> str:
        if type_name == self._BOOSTER:
            return "XGBoost Booster, stored as XGBoost's UBJSON model (no pickle)"
        return f"XGBoost scikit-learn wrapper {type_name.rpartition('.')[2]}: hyperparameters and fitted attributes as plain values, the booster as UBJSON"


# ------------------------------------------------------------------- LightGBM

_TREE_HEADER = re.compile(r"\ATree=(\d+)\Z")


def _ints(block: dict[str, str], key: str, count: int) -> list[int]:
    raw = block.get(key, "")
    values = [int(x) for x in raw.split()] if raw else []
    if len(values) != count:
        raise ValueError(f"{key} has {len(values)} values, expected {count}")
    return values


def _floats(block: dict[str, str], key: str, count: int) -> None:
    # Counted, not parsed: LightGBM parses its numbers itself, and only indices and
    # sizes decide what it reads or writes.
    raw = block.get(key, "")
    found = raw.count(" ") + 1 if raw else 0
    if found != count:
        raise ValueError(f"{key} has {found} values, expected {count}")


def check_lightgbm_text(text: str) -> None:
    """Check a LightGBM model text (``Booster.model_to_string()``): its header and, for
    every tree, the array sizes and every index (features, children, categories)."""
    lines = text.split("\n")
    if not lines or lines[0] != "tree":
        raise ValueError("a LightGBM model text starts with the line 'tree'")
    header: dict[str, str] = {}
    i = 1
    while i < len(lines) and lines[i]:
        key, sep, value = lines[i].partition("=")
        if sep:
            header[key] = value
        i += 1
    if not re.fullmatch(r"v[0-9]+", header.get("version", "")):
        raise ValueError("the model text has no 'version=vN' line")
    n_class = int(header.get("num_class", "x"))
    per_iter = int(header.get("num_tree_per_iteration", "x"))
    max_feature = int(header.get("max_feature_idx", "x"))
    if n_class < 1 or per_iter < 1 or max_feature < 0:
        raise ValueError("num_class, num_tree_per_iteration or max_feature_idx out of range")
    if "end of trees" not in lines:
        raise ValueError("the model text has no 'end of trees' line")
    n_trees = 0
    block: dict[str, str] = {}
    for line in [*lines[i : lines.index("end of trees")], ""]:
        if not line:
            if block:
                _check_tree(block, max_feature)
                n_trees += 1
                block = {}
            continue
        if _TREE_HEADER.match(line):
            block = {"Tree": line}
            continue
        key, sep, value = line.partition("=")
        if sep and block:
            block[key] = value
    sizes = header.get("tree_sizes")
    if sizes is not None and len(sizes.split()) != n_trees:
        raise ValueError(f"tree_sizes lists {len(sizes.split())} trees, the text has {n_trees}")


def _check_tree(block: dict[str, str], max_feature: int) -> None:
    leaves = int(block.get("num_leaves", "x"))
    n_cat = int(block.get("num_cat", "0"))
    if leaves < 1 or n_cat < 0:
        raise ValueError(f"{block['Tree']}: num_leaves or num_cat out of range")
    _floats(block, "leaf_value", leaves)
    if leaves == 1:
        return
    internal = leaves - 1
    for f in _ints(block, "split_feature", internal):
        if not 0 <= f <= max_feature:
            raise ValueError(f"{block['Tree']}: split feature {f} out of range")
    for key in ("left_child", "right_child"):
        for c in _ints(block, key, internal):
            # >= 0: an internal node; < 0: leaf ~c
            if not -leaves <= c < internal:
                raise ValueError(f"{block['Tree']}: child {c} out of range")
    _floats(block, "threshold", internal)
    decision = _ints(block, "decision_type", internal)
    if n_cat:
        bounds = _ints(block, "cat_boundaries", n_cat + 1)
        if bounds[0] != 0 or any(b > a for a, b in zip(bounds[1:], bounds, strict=False)):
            raise ValueError(f"{block['Tree']}: cat_boundaries are not increasing from 0")
        _ints(block, "cat_threshold", bounds[-1])
        raw_threshold = block.get("threshold", "").split()
        for node, d in enumerate(decision):
            if d & 1:  # categorical split: its threshold indexes cat_boundaries
                t = float(raw_threshold[node])
                if not (t.is_integer() and 0 <= t < n_cat):
                    raise ValueError(f"{block['Tree']}: category index {t} out of range")
    elif any(d & 1 for d in decision):
        raise ValueError(f"{block['Tree']}: a categorical split in a tree without categories")


class LightGBMHandler:
    """LightGBM: a Booster as its model text (``model_to_string``), UTF-8 bytes in the
    data section; a scikit-learn wrapper as its attributes."""

    types = (
        "lightgbm.basic.Booster",
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.sklearn.LGBMRegressor",
        "lightgbm.sklearn.LGBMRanker",
        "lightgbm.sklearn.LGBMModel",
    )
    _BOOSTER = "lightgbm.basic.Booster"

    def save(self, obj: Any) -> Any:
        if _qualname(type(obj)) == self._BOOSTER:
            return {
                "model": obj.model_to_string(num_iteration=-1).encode("utf-8"),
                "best_iteration": int(obj.best_iteration),
            }
        return dict(obj.__dict__)

    def validate(self, type_name: str, state: Any) -> None:
        _check_attributes(state)
        if type_name == self._BOOSTER:
            if set(state) != {"model", "best_iteration"} or type(state["model"]) is not bytes:
                raise ValueError(
                    "a LightGBM Booster's state is {'model': bytes, 'best_iteration': int}"
                )
            if type(state["best_iteration"]) is not int or state["best_iteration"] < -1:
                raise ValueError("best_iteration must be an int >= -1")
            check_lightgbm_text(state["model"].decode("utf-8"))
            return
        booster = state.get("_Booster")
        if booster is not None and _qualname(type(booster)) != self._BOOSTER:
            raise ValueError("_Booster must be a lightgbm Booster")

    def construct(self, type_name: str, state: Any) -> Any:
        import lightgbm

        if type_name == self._BOOSTER:
            booster = lightgbm.Booster(model_str=state["model"].decode("utf-8"))
            booster.best_iteration = state["best_iteration"]
            return booster
        return _wrapper(self.types, type_name, state)

    def describe(self, type_name: str) -> str:
        if type_name == self._BOOSTER:
            return "LightGBM Booster, stored as LightGBM's model text (no pickle)"
        return f"LightGBM scikit-learn wrapper {type_name.rpartition('.')[2]}: hyperparameters and fitted attributes as plain values, the booster as model text"


# ------------------------------------------------------------------- CatBoost

_CBM_MAGIC = b"CBM1"


class CatBoostHandler:
    """CatBoost: the model in CatBoost's own binary format (CBM), with the parameters
    the model was created with as plain values."""

    types = (
        "catboost.core.CatBoost",
        "catboost.core.CatBoostClassifier",
        "catboost.core.CatBoostRegressor",
        "catboost.core.CatBoostRanker",
    )

    def save(self, obj: Any) -> Any:
        state: dict[str, Any] = {"params": obj.get_params(), "cbm": None}
        if obj.is_fitted():
            # The CBM bytes save_model writes, in memory (what catboost pickles too).
            state["cbm"] = obj._serialize_model()
        return state

    def validate(self, type_name: str, state: Any) -> None:
        _check_attributes(state)
        if set(state) != {"params", "cbm"}:
            raise ValueError("a CatBoost model's state is {'params': dict, 'cbm': bytes or None}")
        params, cbm = state["params"], state["cbm"]
        # catboost's __setstate__ treats '_'-prefixed keys as its own internals.
        if not isinstance(params, dict) or not all(
            type(k) is str and not k.startswith("_") for k in params
        ):
            raise ValueError("params must be a dict of parameter names")
        if cbm is not None and (type(cbm) is not bytes or not cbm.startswith(_CBM_MAGIC)):
            raise ValueError("the model is not in CatBoost's CBM format")

    def construct(self, type_name: str, state: Any) -> Any:
        import catboost  # noqa: F401 - a clear ImportError before anything else

        cls = _class(self.types, type_name)
        obj = cls.__new__(cls)
        restored = dict(state["params"])
        if state["cbm"] is not None:
            restored["__model"] = state["cbm"]
        obj.__setstate__(restored)
        return obj

    def describe(self, type_name: str) -> str:
        return f"CatBoost {type_name.rpartition('.')[2]}, stored in CatBoost's CBM model format (no pickle)"


XGBOOST = XGBoostHandler()
LIGHTGBM = LightGBMHandler()
CATBOOST = CatBoostHandler()
