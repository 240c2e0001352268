"""A least-squares regressor whose coefficients live in an ``array.array``.

``array.array`` is implemented in C: it has no ``__dict__``, and pickle saves it
through ``__reduce_ex__`` as a call to the module function
``array._array_reconstructor``. A safe loader never calls a function a file names, so
skship cannot store it by itself: the handler in ``_skship.py`` says how.
"""

from __future__ import annotations

from array import array

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin


class ArrayLinearRegression(RegressorMixin, BaseEstimator):
    def __init__(self, fit_intercept: bool = True) -> None:
        self.fit_intercept = fit_intercept

    def fit(self, X, y):  # type: ignore[no-untyped-def]
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        design = np.hstack([X, np.ones((len(X), 1))]) if self.fit_intercept else X
        solution = np.linalg.lstsq(design, y, rcond=None)[0]
        self.coef_ = array("d", solution[: X.shape[1]].tolist())
        self.intercept_ = float(solution[-1]) if self.fit_intercept else 0.0
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):  # type: ignore[no-untyped-def]
        coef = np.frombuffer(self.coef_, dtype=np.float64)
        return np.asarray(X, dtype=np.float64) @ coef + self.intercept_
