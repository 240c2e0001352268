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

__all__ = ["CATBOOST", "LIGHTGBM", "XGBOOST", "check_lightgbm_text", "check_ubjson"]


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _class(listed: tuple[str, ...], type_name: str) -> Any:
    """The class a name from the handler's own list stands for (the reader checked the
    name against that list before building; checked again here, never trusted)."""
    if type_name not in listed:
        raise ValueError(f"{type_name} is not a type this handler builds")
    module, _, qual = type_name.rpartition(".")
    return getattr(importlib.import_module(module), qual)


def _check_attributes(state: Any) -> None:
    if not isinstance(state, dict) or not all(type(k) is str for k in state):
        raise ValueError("the state must be a dict of attribute names")


# ------------------------------------------------------------------------ UBJSON

_NOOP, _NULL, _TRUE, _FALSE = b"NZTF"
_STR, _HIGH, _TYPED, _COUNT = b"SH$#"
_OPEN = {ord("["): ord("]"), ord("{"): ord("}")}
_INTS = {
    ord("i"): struct.Struct(">b"),
    ord("U"): struct.Struct(">B"),
    ord("I"): struct.Struct(">h"),
    ord("l"): struct.Struct(">i"),
    ord("L"): struct.Struct(">q"),
}
_FIXED = {m: s.size for m, s in _INTS.items()} | {ord("d"): 4, ord("D"): 8, ord("C"): 1}


def check_ubjson(buf: bytes, *, max_depth: int = 64) -> set[bytes]:
    """Check that ``buf`` is exactly one UBJSON object (with counted and typed
    containers, as XGBoost writes them), nesting at most ``max_depth`` levels; return
    its top-level keys. Iterative: a hostile depth cannot exhaust the stack."""
    n = len(buf)
    pos = 0

    def need(k: int) -> None:
        if k < 0 or pos + k > n:
            raise ValueError(f"UBJSON truncated at byte {pos}")

    def marker() -> int:
        nonlocal pos
        while True:
            need(1)
            m = buf[pos]
            pos += 1
            if m != _NOOP:
                return m

    def integer(m: int) -> int:
        nonlocal pos
        s = _INTS.get(m)
        if s is None:
            raise ValueError(f"UBJSON: expected an integer marker at byte {pos - 1}")
        need(s.size)
        v: int = s.unpack_from(buf, pos)[0]
        pos += s.size
        return v

    def count() -> int:
        nonlocal pos
        need(1)
        pos += 1
        v = integer(buf[pos - 1])
        if not 0 <= v <= n:
            raise ValueError(f"UBJSON: a length of {v} in {n} bytes")
        return v

    def scalar(m: int) -> None:
        nonlocal pos
        if m in (_NULL, _TRUE, _FALSE):
            return
        size = _FIXED.get(m)
        if size is None:
            if m not in (_STR, _HIGH):
                raise ValueError(f"UBJSON: unknown marker {chr(m)!r} at byte {pos - 1}")
            size = count()
        need(size)
        pos += size

    def container(m: int) -> list[Any] | None:
        """A frame [close marker, remaining count or None, element type or None, is object],
        or None for a typed array of fixed-size scalars (skipped at once)."""
        nonlocal pos
        typ = None
        remaining = None
        need(1)
        if buf[pos] == _TYPED:
            need(2)
            typ = buf[pos + 1]
            pos += 2
            if typ in _OPEN or (typ not in _FIXED and typ not in (_NULL, _TRUE, _FALSE, _STR)):
                raise ValueError(f"UBJSON: unsupported container element type {chr(typ)!r}")
            need(1)
            if buf[pos] != _COUNT:
                raise ValueError("UBJSON: a typed container without a count")
        if buf[pos] == _COUNT:
            pos += 1
            remaining = count()
        if m == ord("[") and typ in _FIXED and remaining is not None:
            need(remaining * _FIXED[typ])
            pos += remaining * _FIXED[typ]
            return None
        return [_OPEN[m], remaining, typ, m == ord("{")]

    if marker() != ord("{"):
        raise ValueError("UBJSON: the document is not an object")
    top_keys: set[bytes] = set()
    root = container(ord("{"))
    assert root is not None
    stack = [root]
    while stack:
        frame = stack[-1]
        if frame[1] is None:
            need(1)
            while buf[pos] == _NOOP:
                pos += 1
                need(1)
            if buf[pos] == frame[0]:
                pos += 1
                stack.pop()
                continue
        elif frame[1] == 0:
            stack.pop()
            continue
        else:
            frame[1] -= 1
        if frame[3]:
            k = count()
            need(k)
            if len(stack) == 1:
                top_keys.add(bytes(buf[pos : pos + k]))
            pos += k
        m = frame[2] if frame[2] is not None else marker()
        if m in _OPEN:
            if len(stack) >= max_depth:
                raise ValueError(f"UBJSON nests deeper than {max_depth} levels")
            child = container(m)
            if child is not None:
                stack.append(child)
        else:
            scalar(m)
    if pos != n:
        raise ValueError(f"UBJSON: {n - pos} bytes after the document")
    return top_keys


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
            keys = check_ubjson(raw)
            if not {b"learner", b"version"} <= keys:
                raise ValueError("the UBJSON document is not an XGBoost model (no learner)")
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
        cls = _class(self.types, type_name)
        obj = cls.__new__(cls)
        obj.__dict__.update(state)
        return obj

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
    raw = block.get(key, "")
    values = [float(x) for x in raw.split()] if raw else []
    if len(values) != count:
        raise ValueError(f"{key} has {len(values)} values, expected {count}")


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
        cls = _class(self.types, type_name)
        obj = cls.__new__(cls)
        obj.__dict__.update(state)
        return obj

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
