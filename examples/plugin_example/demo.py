"""Save and load an estimator through the example's type handler.

Run it with the package installed (``pip install examples/plugin_example``): skship
finds the handler through the package's ``skship.types`` entry point.
"""

from __future__ import annotations

import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skship_plugin_example.estimator import ArrayLinearRegression

import skship
from skship.plugins import available_handlers, describe

rng = np.random.default_rng(0)
X = rng.normal(size=(50, 3))
y = X @ np.array([1.5, -2.0, 0.5]) + 3.0

model = make_pipeline(StandardScaler(), ArrayLinearRegression()).fit(X, y)
blob = skship.dumps(model)

# No name in the file needs trust: the handler builds its own type from checked state.
assert skship.get_untrusted_types(blob) == []
back = skship.loads(blob)
assert np.array_equal(back.predict(X), model.predict(X))
assert skship.dumps(back) == blob

assert "skship-plugin-example" in available_handlers()
print(describe("skship-plugin-example", "skship_plugin_example.estimator.ArrayLinearRegression"))
