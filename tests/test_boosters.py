"""XGBoost, LightGBM and CatBoost models: stored in each library's own model format
(ext nodes of the built-in handlers), loaded with the default trust, refused with a
code when the stored model is malformed."""

from __future__ import annotations

import contextlib
import io
import json
import math
import subprocess
import sys
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from craft import file_with
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_classification, make_regression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skship
from skship.errors import FormatError
from skship.format import registry
from skship.format.nodes import ext_boosters
from skship.format.nodes.ext_boosters import (
    check_lightgbm_text,
    check_ubjson,
    check_xgboost_model,
    decode_ubjson,
)

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")
cb = pytest.importorskip("catboost")

Xc, yc = make_classification(80, 4, n_informative=3, n_redundant=0, n_classes=3, random_state=0)
Xr, yr = make_regression(80, 4, random_state=0)
GROUPS = [20, 20, 20, 20]
yrank = (np.arange(80) % 4).astype(int)
XGB = {"n_estimators": 3, "max_depth": 2, "n_jobs": 1}
LGB = {"n_estimators": 3, "num_leaves": 4, "n_jobs": 1, "verbose": -1, "min_child_samples": 5}
CB = {"iterations": 3, "depth": 2, "verbose": 0, "thread_count": 1, "allow_writing_files": False}

Fit = Callable[[], Any]
WRAPPERS: dict[str, Fit] = {
    "XGBClassifier": lambda: xgb.XGBClassifier(**XGB).fit(Xc, yc),
    "XGBRegressor": lambda: xgb.XGBRegressor(**XGB, missing=-999.0).fit(Xr, yr),
    "XGBRanker": lambda: xgb.XGBRanker(**XGB).fit(Xr, yrank, group=GROUPS),
    "XGBRFClassifier": lambda: xgb.XGBRFClassifier(**XGB).fit(Xc, yc),
    "LGBMClassifier": lambda: lgb.LGBMClassifier(**LGB).fit(Xc, yc),
    "LGBMRegressor": lambda: lgb.LGBMRegressor(**LGB, reg_alpha=0.5).fit(Xr, yr),
    "LGBMRanker": lambda: lgb.LGBMRanker(**LGB).fit(Xr, yrank, group=GROUPS),
    "CatBoostClassifier": lambda: cb.CatBoostClassifier(**CB).fit(Xc, yc),
    "CatBoostRegressor": lambda: cb.CatBoostRegressor(**CB, l2_leaf_reg=2.0).fit(Xr, yr),
}
METHODS = ("predict", "predict_proba", "decision_function")


def _params_equal(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a.keys() != b.keys():
        return False
    for k, x in a.items():
        y = b[k]
        same_nan = isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y)
        if not same_nan and (type(x) is not type(y) or x != y):
            return False
    return True


def _root(blob: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(zipfile.ZipFile(io.BytesIO(blob)).read("schema.json"))
    return doc


def _ext_nodes(v: Any) -> list[dict[str, Any]]:
    out, stack = [], [v]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            if x.get("t") == "ext":
                out.append(x)
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
    return out


@pytest.mark.parametrize("name", list(WRAPPERS))
def test_wrapper_round_trips_with_default_trust(name: str) -> None:
    model = WRAPPERS[name]()
    blob = skship.dumps(model)
    doc = _root(blob)
    # The library's classes are ext nodes, never names a reader would import.
    assert not [n for n in doc["names"] if n.split(".")[0] in ("xgboost", "lightgbm", "catboost")]
    handler = {"XGB": "xgboost", "LGB": "lightgbm", "Cat": "catboost"}[name[:3]]
    assert {e["handler"] for e in _ext_nodes(doc["root"])} == {handler}
    assert skship.get_untrusted_types(blob) == []
    back = skship.loads(blob)
    assert type(back) is type(model)
    assert _params_equal(back.get_params(), model.get_params())
    X = Xc if "Classifier" in name else Xr
    compared = 0
    for method in METHODS:
        if hasattr(model, method):
            np.testing.assert_array_equal(getattr(back, method)(X), getattr(model, method)(X))
            compared += 1
    assert compared >= 1
    assert skship.dumps(model) == blob  # deterministic


def test_raw_boosters_round_trip() -> None:
    xb = xgb.train({"max_depth": 2, "nthread": 1}, xgb.DMatrix(Xr, label=yr), num_boost_round=3)
    lb = lgb.train(
        {"num_leaves": 4, "verbose": -1, "num_threads": 1, "min_data_in_leaf": 5},
        lgb.Dataset(Xr, label=yr),
        num_boost_round=3,
    )
    cbm = cb.CatBoost(
        {"iterations": 3, "depth": 2, "verbose": 0, "thread_count": 1, "allow_writing_files": False}
    )
    cbm.fit(Xr, yr)
    back = skship.loads(skship.dumps({"xgb": xb, "lgb": lb, "cb": cbm}))
    assert type(back["xgb"]) is xgb.Booster and type(back["lgb"]) is lgb.Booster
    assert type(back["cb"]) is cb.CatBoost
    np.testing.assert_array_equal(back["xgb"].predict(xgb.DMatrix(Xr)), xb.predict(xgb.DMatrix(Xr)))
    np.testing.assert_array_equal(back["lgb"].predict(Xr), lb.predict(Xr))
    np.testing.assert_array_equal(back["cb"].predict(Xr), cbm.predict(Xr))
    assert back["cb"].get_params() == cbm.get_params()


def test_inside_a_pipeline_with_shared_booster_and_unfitted_wrappers() -> None:
    pipe = make_pipeline(StandardScaler(), lgb.LGBMClassifier(**LGB)).fit(Xc, yc)
    booster = pipe[-1].booster_
    obj = {
        "pipe": pipe,
        "same": booster,
        "xgb": make_pipeline(StandardScaler(), xgb.XGBRegressor(**XGB)).fit(Xr, yr),
        "unfitted": [
            xgb.XGBClassifier(**XGB),
            lgb.LGBMRegressor(**LGB),
            cb.CatBoostClassifier(**CB),
        ],
    }
    back = skship.loads(skship.dumps(obj))
    np.testing.assert_array_equal(back["pipe"].predict_proba(Xc), pipe.predict_proba(Xc))
    np.testing.assert_array_equal(back["xgb"].predict(Xr), obj["xgb"].predict(Xr))
    assert back["same"] is back["pipe"][-1].booster_  # identity kept through refs
    for a, b in zip(back["unfitted"], obj["unfitted"], strict=True):
        assert type(a) is type(b) and _params_equal(a.get_params(), b.get_params())


def test_handler_tables_agree() -> None:
    for name, (target, types) in registry.BUILTIN.items():
        handler = getattr(ext_boosters, target.rpartition(":")[2])
        assert tuple(handler.types) == types, name
        for t in types:
            assert handler.describe(t)
    import catboost.core
    import lightgbm.basic
    import lightgbm.sklearn
    import xgboost.core
    import xgboost.sklearn

    modules = {
        m.__name__: m
        for m in (xgboost.core, xgboost.sklearn, lightgbm.basic, lightgbm.sklearn, catboost.core)
    }
    for _, types in registry.BUILTIN.values():
        for t in types:
            module, _, qual = t.rpartition(".")
            cls = getattr(modules[module], qual)
            assert f"{cls.__module__}.{cls.__qualname__}" == t


# ------------------------------------------------------------------ refusals


def _booster_node(handler: str, type_name: str, state: Any) -> Any:
    return {"t": "ext", "handler": handler, "type": type_name, "state": state}


def _bytes_state(key: str, payload: bytes, **extra: Any) -> tuple[dict[str, Any], bytes]:
    data = payload + b"\0" * (-len(payload) % 16)
    v = {key: {"t": "bytes", "data": [0, len(payload)]}} | extra
    return {"t": "dict", "v": v}, data


@pytest.mark.parametrize(
    ("handler", "type_name", "key", "payload", "extra"),
    [
        (
            "xgboost",
            "xgboost.core.Booster",
            "ubj",
            b"{L\x00\x00\x00\x00\x00\x00\x00\x07learner",
            {},
        ),
        ("xgboost", "xgboost.core.Booster", "ubj", b"{}", {}),  # parses; not a model
        ("xgboost", "xgboost.core.Booster", "ubj", b"not ubjson", {}),
        (
            "lightgbm",
            "lightgbm.basic.Booster",
            "model",
            b"tree\nversion=v4\n",
            {"best_iteration": -1},
        ),
        (
            "catboost",
            "catboost.core.CatBoost",
            "cbm",
            b"PK\x03\x04",
            {"params": {"t": "dict", "v": {}}},
        ),
    ],
)
def test_malformed_models_are_refused_before_the_library_sees_them(
    handler: str, type_name: str, key: str, payload: bytes, extra: dict[str, Any]
) -> None:
    state, data = _bytes_state(key, payload, **extra)
    blob = file_with(_booster_node(handler, type_name, state), data)
    with pytest.raises(FormatError) as err:
        skship.loads(blob)
    assert err.value.code == "E-PLUGIN-STATE-INVALID"


def _lgb_text() -> str:
    booster = lgb.LGBMRegressor(**LGB).fit(Xr, yr).booster_
    text: str = booster.model_to_string()
    return text


@pytest.mark.parametrize(
    ("key", "value"), [("left_child", "99"), ("split_feature", "-1"), ("num_leaves", "0")]
)
def test_lightgbm_trees_with_bad_indices_are_refused(key: str, value: str) -> None:
    text = _lgb_text()
    lines = text.split("\n")
    i = next(n for n, s in enumerate(lines) if s.startswith(f"{key}="))
    values = lines[i][len(key) + 1 :].split(" ")
    values[0] = value
    lines[i] = f"{key}=" + " ".join(values)
    state, data = _bytes_state("model", "\n".join(lines).encode(), best_iteration=-1)
    blob = file_with(_booster_node("lightgbm", "lightgbm.basic.Booster", state), data)
    with pytest.raises(FormatError) as err:
        skship.loads(blob)
    assert err.value.code == "E-PLUGIN-STATE-INVALID"
    check_lightgbm_text(text)  # the unmodified text passes


@pytest.mark.parametrize(
    ("node", "code"),
    [
        (_booster_node("nosuchhandler", "mod.Type", None), "E-PLUGIN-NOT-INSTALLED"),
        (_booster_node("xgboost", "xgboost.core.DMatrix", None), "E-PLUGIN-TYPE-UNKNOWN"),
        (_booster_node("Bad Name", "mod.Type", None), "E-SCHEMA-INVALID"),
        (_booster_node("xgboost", "os.system", None), "E-PLUGIN-TYPE-UNKNOWN"),
    ],
)
def test_unknown_handlers_and_types_are_refused_by_the_audit(node: Any, code: str) -> None:
    with pytest.raises(FormatError) as err:
        skship.loads(file_with({"t": "list", "v": [node]}))
    assert err.value.code == code


def test_a_state_naming_an_untrusted_type_is_refused_by_the_trust_check() -> None:
    state = {"t": "dict", "v": {"_Booster": {"t": "object", "type": "os.system"}}}
    blob = file_with(_booster_node("xgboost", "xgboost.sklearn.XGBClassifier", state))
    assert skship.get_untrusted_types(blob) == ["os.system"]
    with pytest.raises(FormatError) as err:
        skship.loads(blob)
    assert err.value.code == "E-TRUST-UNTRUSTED-TYPE"


def test_state_cannot_refer_to_the_object_being_built() -> None:
    state = {"t": "dict", "v": {"me": {"t": "ref", "id": 0}}}
    node = _booster_node("xgboost", "xgboost.sklearn.XGBClassifier", state) | {"id": 0}
    with pytest.raises(FormatError) as err:
        skship.loads(file_with(node))
    assert err.value.code == "E-REF-IMMUTABLE-CYCLE"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_ubjson_check_refuses_arbitrary_bytes_only_with_value_error(raw: bytes) -> None:
    with contextlib.suppress(ValueError):
        check_ubjson(raw)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_ubjson_check_refuses_every_truncation_of_a_real_model(data: st.DataObject) -> None:
    raw = bytes(_xgb_ubj())
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(ValueError):
        check_ubjson(raw[:cut])
    assert {"learner", "version"} <= check_ubjson(raw)


_UBJ: list[bytearray] = []


def _xgb_ubj() -> bytearray:
    if not _UBJ:
        _UBJ.append(xgb.XGBClassifier(**XGB).fit(Xc, yc).get_booster().save_raw("ubj"))
    return _UBJ[0]


def test_ubjson_nesting_is_bounded() -> None:
    with pytest.raises(ValueError, match="deeper"):
        check_ubjson(b"{" + b"U\x01a{" * 100 + b"}" * 101)
    assert check_ubjson(b"{" + b"U\x01a{" * 10 + b"}" * 11) == {"a"}


def test_writing_a_scikit_learn_model_imports_no_booster_library() -> None:
    code = (
        "import sys, skship, numpy as np\n"
        "from sklearn.linear_model import LinearRegression\n"
        "skship.loads(skship.dumps(LinearRegression().fit(np.eye(3), [1, 2, 3])))\n"
        "bad = [m for m in ('xgboost', 'lightgbm', 'catboost', 'skship.format.nodes.ext_boosters') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        return np.allclose(a.astype(float), np.asarray(b, dtype=float))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return bool(np.isclose(a, b))
    return bool(a == b)


@pytest.mark.parametrize(
    "params",
    [
        {"objective": "multi:softprob", "num_class": 3, "max_depth": 2},
        {"booster": "dart", "max_depth": 2},
        {"booster": "gblinear"},
    ],
)
def test_ubjson_decoder_agrees_with_xgboost_json(params: dict[str, Any]) -> None:
    label = yc if "num_class" in params else yc % 2
    booster = xgb.train({**params, "nthread": 1}, xgb.DMatrix(Xc, label=label), num_boost_round=2)
    doc = decode_ubjson(bytes(booster.save_raw("ubj")))
    check_xgboost_model(doc)
    assert _same(doc, json.loads(booster.save_raw("json")))


_SIZES = {ord("i"): 1, ord("U"): 1, ord("I"): 2, ord("l"): 4, ord("L"): 8}


def _patched_ubj(key: bytes, value: int) -> bytes:
    """A real model whose first integer array named ``key`` starts with ``value``
    (typed arrays ``[$l#<count>``, or counted ones ``[#<count>`` with markers)."""
    raw = bytearray(_xgb_ubj())
    at = raw.index(key) + len(key)
    if raw[at : at + 2] == b"[$":
        kind = raw[at + 2]
        assert raw[at + 3] == ord("#")
        start = at + 5 + _SIZES[raw[at + 4]]
    else:
        assert raw[at : at + 2] == b"[#"
        first = at + 3 + _SIZES[raw[at + 2]]
        kind, start = raw[first], first + 1
    size = _SIZES[kind]
    raw[start : start + size] = value.to_bytes(size, "big", signed=kind != ord("U"))
    return bytes(raw)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (b"split_indices", 4, "split feature"),
        (b"split_indices", -2, "split feature"),
        (b"left_children", 99, "child index"),
        (b"right_children", -1, "exactly one child"),
        (b"tree_info", 7, "tree_info"),
    ],
)
def test_xgboost_trees_with_bad_indices_are_refused(key: bytes, value: int, message: str) -> None:
    raw = _patched_ubj(key, value)
    with pytest.raises(ValueError, match=message):
        check_xgboost_model(decode_ubjson(raw))
    state, data = _bytes_state("ubj", raw)
    with pytest.raises(FormatError) as err:
        skship.loads(file_with(_booster_node("xgboost", "xgboost.core.Booster", state), data))
    assert err.value.code == "E-PLUGIN-STATE-INVALID"


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_lightgbm_check_refuses_mutated_text_only_with_value_error(data: st.DataObject) -> None:
    lines = _lgb_cached().split("\n")
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        key, sep, value = lines[i].partition("=")
        words = value.split(" ")
        j = data.draw(st.integers(0, len(words) - 1))
        words[j] = data.draw(st.sampled_from(["-1", "0", "999", "x", "", "1.5", "nan", "3 4"]))
        lines[i] = (
            key + sep + " ".join(words)
            if sep
            else data.draw(st.sampled_from(["", "Tree=9", "end of trees"]))
        )
    with contextlib.suppress(ValueError):
        check_lightgbm_text("\n".join(lines))


_LGB: list[str] = []


def _lgb_cached() -> str:
    if not _LGB:
        _LGB.append(_lgb_text())
    return _LGB[0]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_xgboost_checks_refuse_corrupted_models_only_with_value_error(data: st.DataObject) -> None:
    raw = bytearray(_xgb_ubj())
    for _ in range(data.draw(st.integers(1, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(ValueError):
        check_xgboost_model(decode_ubjson(bytes(raw)))


def test_categorical_features_round_trip() -> None:
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "a": rng.normal(size=120),
            "b": rng.normal(size=120),
            "c": pd.Categorical(rng.choice(["x", "y", "z"], 120)),
        }
    )
    y = (df.a + (df.c == "y") > 0).astype(int)
    as_text = df.assign(c=df.c.astype(str))
    cases = [
        (xgb.XGBClassifier(**XGB, enable_categorical=True, tree_method="hist"), df),
        (lgb.LGBMClassifier(**LGB), df),
        (cb.CatBoostClassifier(**CB, cat_features=["c"]), as_text),
    ]
    for model, X in cases:
        model.fit(X, y)
        back = skship.loads(skship.dumps(model))
        np.testing.assert_array_equal(back.predict_proba(X), model.predict_proba(X))


@pytest.mark.slow
def test_booster_benchmark_runs(tmp_path: Any) -> None:
    """Keeps benchmarks/boosters.py from rotting: tiny models, one repetition, no timing claims."""
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "boosters.py"
    out = tmp_path / "b.json"
    subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            str(script),
            "--trees",
            "3",
            "--repeat",
            "1",
            "--json",
            str(out),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    report = json.loads(out.read_text())
    assert set(report["models"]) == {"XGBClassifier", "LGBMClassifier", "CatBoostClassifier"}
    for row in report["models"].values():
        assert row["size"]["skship"] > 0 and row["loads"]["skship"] > 0
