"""Micro-batching: batched answers are the answers each request would get alone.

The property runs the real batcher (asyncio, a real thread pool) in front of a real
scikit-learn backend; the load smoke runs `skship serve --batch-max-rows` on loopback
with concurrent real HTTP clients, good and bad requests mixed.
"""

from __future__ import annotations

import asyncio
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import skship
from skship.serve.backends import SklearnBackend, configure_predict_thread
from skship.serve.batching import Batcher, concat_rows
from skship.serve.codecs import Coerced
from skship.serve.contracts import contract_for
from skship.serve.errors import ServeError

CITIES = ["paris", "lyon", "nice"]


@pytest.fixture(scope="module")
def tree_backend() -> SklearnBackend:
    """A pipeline that refuses an unknown city (OneHotEncoder(handle_unknown='error')),
    so a request can fail inside the model after passing the batcher's layout check."""
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder
    from sklearn.tree import DecisionTreeClassifier

    from skship.format.signature import signature_of

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"city": rng.choice(CITIES, 400).astype(object), "x": rng.normal(size=400)})
    y = np.where(df["x"] + (df["city"] == "nice") > 0.3, "yes", "no")
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="error"), ["city"]), remainder="passthrough"
        ),
        DecisionTreeClassifier(max_depth=6, random_state=0),
    ).fit(df, y)
    return SklearnBackend(model, contract_for(model, signature_of(df)))


def _rows(n: int, seed: int, bad: bool) -> Coerced:
    rng = np.random.default_rng(seed)
    city = np.asarray(rng.choice(CITIES, n), dtype=object)
    if bad and n:
        city[rng.integers(n)] = "atlantis"
    return Coerced(n, columns=[city, rng.normal(size=n)])


def _alone(backend: SklearnBackend, rows: Coerced, outputs: list[str]) -> Any:
    try:
        return backend.predict(rows, outputs)
    except ServeError as err:
        return err.code


requests_strategy = st.lists(
    st.tuples(
        st.integers(0, 6),  # rows in the request
        st.booleans(),  # an unknown city somewhere in it
        st.integers(0, 3),  # the wave it arrives in (waves are separated by loop turns)
        st.sampled_from([("predict",), ("predict_proba",), ("predict", "predict_proba")]),
    ),
    min_size=1,
    max_size=24,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    reqs=requests_strategy,
    max_rows=st.integers(1, 16),
    wait_us=st.sampled_from([0.0, 300.0]),
    slots=st.integers(1, 2),
)
def test_batched_answers_equal_unbatched_answers(
    tree_backend: SklearnBackend,
    reqs: list[tuple[int, bool, int, tuple[str, ...]]],
    max_rows: int,
    wait_us: float,
    slots: int,
) -> None:
    rows = [_rows(n, i, bad) for i, (n, bad, _, _) in enumerate(reqs)]
    want = [_alone(tree_backend, r, list(o)) for r, (_, _, _, o) in zip(rows, reqs, strict=True)]

    async def scenario() -> tuple[list[Any], Batcher]:
        with ThreadPoolExecutor(slots, initializer=configure_predict_thread) as pool:
            batcher = Batcher(
                tree_backend.predict, pool, max_rows=max_rows, wait_us=wait_us, slots=slots
            )

            async def one(i: int) -> Any:
                for _ in range(reqs[i][2]):
                    await asyncio.sleep(0)
                try:
                    return await batcher.predict(rows[i], list(reqs[i][3]))
                except ServeError as err:
                    return err.code

            got = await asyncio.gather(*(one(i) for i in range(len(reqs))))
            return got, batcher

    got, batcher = asyncio.run(scenario())
    for g, w in zip(got, want, strict=True):
        if isinstance(w, str):
            assert g == w  # the same refusal, with its code
        else:
            assert set(g) == set(w)
            for k in w:
                assert g[k].dtype == w[k].dtype and np.array_equal(g[k], w[k])
    stats = batcher.stats
    assert stats.requests == len(reqs)
    assert stats.calls <= len(reqs)


def test_a_queue_forms_and_is_coalesced(tree_backend: SklearnBackend) -> None:
    """Twenty requests at once with one slot: the first goes alone, at once; the rest
    queued behind it and share calls (never more than max_rows rows per call)."""
    rows = [_rows(3, i, False) for i in range(20)]

    async def scenario() -> tuple[list[Any], Batcher]:
        with ThreadPoolExecutor(1, initializer=configure_predict_thread) as pool:
            batcher = Batcher(tree_backend.predict, pool, max_rows=12, slots=1)
            got = await asyncio.gather(*(batcher.predict(r, ["predict"]) for r in rows))
            return got, batcher

    got, batcher = asyncio.run(scenario())
    for g, r in zip(got, rows, strict=True):
        assert np.array_equal(g["predict"], tree_backend.predict(r, ["predict"])["predict"])
    assert batcher.stats.calls == 1 + 5  # 1 alone, then 19 x 3 rows in calls of 4 requests
    assert batcher.stats.merged == 5 and batcher.stats.largest == 4


def test_concat_rows_keeps_columns_and_order() -> None:
    parts = [_rows(n, n, False) for n in (1, 4, 2)]
    merged = concat_rows(parts)
    assert merged.n_rows == 7
    assert merged.columns is not None
    assert merged.columns[0].dtype == object and merged.columns[1].dtype == np.float64
    assert list(merged.columns[0]) == [c for p in parts for c in (p.columns or [])[0]]


# --------------------------------------------------------------------------- real server


def _metric(text: str, name: str, model: str) -> int:
    m = re.search(rf'^{name}{{model="{model}"}} (\d+)$', text, re.M)
    assert m, text
    return int(m.group(1))


@pytest.mark.slow
def test_batching_server_under_concurrent_load(tmp_path: Path) -> None:
    """`skship serve --batch-max-rows 32`, 24 concurrent clients, 240 requests: single
    rows, several rows, JSON records and OIP tensors, and bad requests (unknown column,
    wrong type, not JSON). Every good request gets exactly its own rows' predictions,
    every bad one its own 4xx, and the server did merge requests."""
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder
    from test_serve import _post_json, _request, _start, _stop

    rng = np.random.default_rng(3)
    df = pd.DataFrame(
        {
            "city": rng.choice(CITIES, 300).astype(object),
            "x": rng.normal(size=300),
            "n": rng.integers(0, 9, 300).astype(np.int64),
        }
    )
    y = np.where(df["x"] + df["n"] / 4 + (df["city"] == "nice") > 1.0, "yes", "no")
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["city"]), remainder="passthrough"
        ),
        RandomForestClassifier(n_estimators=30, random_state=0),
    ).fit(df, y)
    skship.dump(model, tmp_path / "rf.skops", sample=df)
    want = model.predict(df)
    proc, url = _start([str(tmp_path / "rf.skops"), "--batch-max-rows", "32"], tmp_path)
    try:

        def one(i: int) -> bool:
            n = 1 + i % 4
            lo = (7 * i) % (len(df) - n)
            sub = df.iloc[lo : lo + n]
            kind = i % 6
            if kind == 4:  # an unknown column: refused alone, with its code
                status, body = _post_json(url, "/v2/models/rf/infer", [{"city": "nice", "z": 1}])
                return status == 422 and body["code"] == "E-SERVE-COLUMN-UNKNOWN"
            if kind == 5:  # not a number where the signature wants one
                status, _, data = _request(
                    url,
                    "POST",
                    "/v2/models/rf/infer",
                    json.dumps([{"city": "nice", "x": "many", "n": 1}]).encode(),
                    {"Content-Type": "application/json"},
                )
                return status == 422 and json.loads(data)["code"] == "E-SERVE-DTYPE"
            if kind % 2 == 0:
                records = [
                    {"city": c, "x": float(x), "n": int(k)}
                    for c, x, k in zip(sub["city"], sub["x"], sub["n"], strict=True)
                ]
                status, body = _post_json(url, "/v2/models/rf/infer", records)
            else:
                inputs = [
                    {"name": "city", "datatype": "BYTES", "shape": [n], "data": list(sub["city"])},
                    {"name": "x", "datatype": "FP64", "shape": [n], "data": sub["x"].tolist()},
                    {"name": "n", "datatype": "INT64", "shape": [n], "data": sub["n"].tolist()},
                ]
                status, body = _post_json(url, "/v2/models/rf/infer", {"inputs": inputs})
            return status == 200 and body["outputs"][0]["data"] == want[lo : lo + n].tolist()

        with ThreadPoolExecutor(24) as pool:
            answers = list(pool.map(one, range(240)))
        assert answers.count(False) == 0
        status, _, text = _request(url, "GET", "/metrics")
        assert status == 200
        metrics = text.decode()
        calls = _metric(metrics, "skship_batch_calls_total", "rf")
        served = _metric(metrics, "skship_batch_requests_total", "rf")
        # every good request went through the batcher at most once (a request may skip
        # an idle batcher when the model is cheap; a random forest is not)
        assert served <= 160
        assert _metric(metrics, "skship_batch_merged_total", "rf") >= 1
        assert calls < served
    finally:
        _stop(proc)


# --------------------------------------------------------------------------- the fast route


segments = st.lists(
    st.one_of(
        st.sampled_from(["", "v2", "models", "infer", "versions", "1", "ready"]),
        st.text(alphabet="ab.-_ %é", min_size=1, max_size=4),
    ),
    min_size=1,
    max_size=8,
)


@given(parts=segments)
def test_fast_route_matches_exactly_what_starlette_routes(parts: list[str]) -> None:
    """The short-cut for POST …/infer takes a path exactly when Starlette's infer routes
    would, with the same path parameters."""
    from starlette.routing import Match, Route

    from skship.serve.app import _infer_params

    path = "/" + "/".join(parts)

    async def endpoint(_: Any) -> None:  # never called: only matched
        return None

    want = None
    for template in ("/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer"):
        route = Route(template, endpoint, methods=["POST"])
        match, child = route.matches({"type": "http", "path": path, "method": "POST"})
        if match == Match.FULL:
            want = child["path_params"]
            break
    assert _infer_params(path) == want
