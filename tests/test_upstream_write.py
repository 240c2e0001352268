"""Writing upstream skops protocol 2: ``skship.dump(obj, f, protocol=2)``.

Files are loaded back by real skops 0.16 in a separate process (which never imports
skship), and by our own upstream reader.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import skship
from skship.errors import InvalidArgumentError, UnsupportedTypeError, UntrustedTypesError
from skship.testing import strategies as sks


def _models() -> dict[str, Any]:
    from sklearn.datasets import load_iris
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    X, y = load_iris(return_X_y=True)
    models = {
        "forest": RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0),
        "pipeline": make_pipeline(
            StandardScaler(), FunctionTransformer(np.abs), LogisticRegression(max_iter=300)
        ),
        "sgd": SGDClassifier(max_iter=20, tol=None, random_state=0),
        "knn": KNeighborsClassifier(n_neighbors=3, algorithm="kd_tree"),
        "gbr": GradientBoostingRegressor(n_estimators=5, max_depth=2, random_state=0),
        "onehot": make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression()),
    }
    for name, m in models.items():
        m.fit(X.round() if name == "onehot" else X, y)
    return models


# Runs in its own interpreter: skops 0.16 and scikit-learn only.
_SKOPS_READER = r"""
import json, sys, warnings
import numpy as np
import skops, skops.io as sio
warnings.simplefilter("ignore")
rows = np.array(json.loads(sys.argv[1]))
out = {"skops": skops.__version__}
for path in sys.argv[2:]:
    untrusted = sio.get_untrusted_types(file=path)
    model = sio.load(path, trusted=untrusted)
    out[path] = {"untrusted": untrusted, "predict": model.predict(rows).tolist()}
assert "skship" not in sys.modules
print(json.dumps(out))
"""


def test_upstream_skops_loads_our_protocol_2_files(tmp_path: Path) -> None:
    pytest.importorskip("skops")
    rows = np.array([[5.1, 3.5, 1.4, 0.2], [6.0, 2.9, 4.5, 1.5], [7.7, 3.0, 6.1, 2.3]])
    paths, want = [], {}
    for name, model in _models().items():
        path = tmp_path / f"{name}.skops"
        skship.dump(model, path, protocol=2)
        paths.append(str(path))
        feed = rows.round() if name == "onehot" else rows
        want[str(path)] = model.predict(feed).tolist()
        # the same file through our own reader, with the trust it asks for
        back = skship.load(path, trusted=skship.get_untrusted_types(path))
        np.testing.assert_array_equal(back.predict(feed), want[str(path)])
    res = subprocess.run(
        [sys.executable, "-c", _SKOPS_READER, json.dumps(rows.tolist()), *paths],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["skops"].startswith("0.16")
    for path in paths:
        if path.endswith("onehot.skops"):
            continue  # fed rounded rows above; checked below
        np.testing.assert_allclose(got[path]["predict"], want[path])
    # Nothing outside scikit-learn and numpy is ever named.
    for path in paths:
        assert all(n.startswith(("sklearn.", "numpy.")) for n in got[path]["untrusted"])


def test_protocol_2_output_is_deterministic() -> None:
    model = _models()["forest"]
    assert skship.dumps(model, protocol=2) == skship.dumps(model, protocol=2)


def test_protocol_argument_is_checked() -> None:
    for bad in (1, 4, "2", True, 2.0):
        with pytest.raises(InvalidArgumentError):
            skship.dumps([1], protocol=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        skship.dumps([1], protocol=2, compression="deflate")
    assert skship.loads(skship.dumps([1, 2.5, "x"], protocol=3)) == [1, 2.5, "x"]


def test_values_protocol_2_cannot_hold_are_refused() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(UnsupportedTypeError):
        skship.dumps(cyclic, protocol=2)
    with pytest.raises(UnsupportedTypeError):
        skship.dumps({1: "a", "1": "b"}, protocol=2)  # equal as text
    with pytest.raises(UnsupportedTypeError):
        skship.dumps(sks.Color.RED, protocol=2)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=sks.values(max_leaves=6))
def test_protocol_2_round_trips_through_our_reader(value: Any) -> None:
    try:
        raw = skship.dumps(value, protocol=2)
    except UnsupportedTypeError:
        return  # cycles, enums, masked fill values, ...: refused, never approximated
    try:
        back = skship.loads(raw)
    except UntrustedTypesError as err:
        # Only the names our own protocol-3 file names as well.
        assert set(err.types) <= set(skship.get_untrusted_types(skship.dumps(value)))
        back = skship.loads(raw, trusted=err.types)
    assert sks.equal(value, back)


@given(st.lists(st.integers(-(2**70), 2**70) | st.floats(allow_nan=True), max_size=5))
def test_scalars_survive_protocol_2(xs: list[Any]) -> None:
    assert sks.equal(skship.loads(skship.dumps(xs, protocol=2)), xs)
