"""How skship saves and loads ArrayLinearRegression.

Registered in pyproject.toml under the entry-point group ``skship.types``. Importing
this module imports nothing heavy: skship reads ``HANDLER.types`` to know which
objects the handler writes, and the estimator module is imported only to build one.
"""

from __future__ import annotations

import math
from array import array
from typing import Any

TYPE = "skship_plugin_example.estimator.ArrayLinearRegression"
_FITTED = {"coef", "intercept", "n_features_in"}


class ArrayLinearRegressionHandler:
    # Exact f"{cls.__module__}.{cls.__qualname__}" of every class this handler covers.
    types = (TYPE,)

    def save(self, obj: Any) -> dict[str, Any]:
        # Plain data only: str, bool, int, float and bytes need no trust at all.
        state: dict[str, Any] = {"fit_intercept": bool(obj.fit_intercept)}
        if hasattr(obj, "coef_"):
            if obj.coef_.typecode != "d":
                raise TypeError("coef_ must be an array('d')")
            state["coef"] = obj.coef_.tobytes()
            state["intercept"] = float(obj.intercept_)
            state["n_features_in"] = int(obj.n_features_in_)
        return state

    def validate(self, type_name: str, state: Any) -> None:
        # Everything construct() relies on, checked before it runs. Any exception
        # here refuses the file with E-PLUGIN-STATE-INVALID.
        if not isinstance(state, dict) or type(state.get("fit_intercept")) is not bool:
            raise ValueError("fit_intercept must be a bool")
        fitted = set(state) - {"fit_intercept"}
        if fitted and fitted != _FITTED:
            raise ValueError(f"unexpected or missing fields: {sorted(fitted ^ _FITTED)}")
        if fitted:
            n, coef, intercept = state["n_features_in"], state["coef"], state["intercept"]
            if type(n) is not int or not 0 < n < 2**20:
                raise ValueError("n_features_in must be a positive int")
            if type(coef) is not bytes or len(coef) != 8 * n:
                raise ValueError(f"coef must be {n} float64 values")
            if type(intercept) is not float or not math.isfinite(intercept):
                raise ValueError("intercept must be a finite float")

    def construct(self, type_name: str, state: dict[str, Any]) -> Any:
        from skship_plugin_example.estimator import ArrayLinearRegression

        obj = ArrayLinearRegression(fit_intercept=state["fit_intercept"])
        if "coef" in state:
            obj.coef_ = array("d")
            obj.coef_.frombytes(state["coef"])
            obj.intercept_ = state["intercept"]
            obj.n_features_in_ = state["n_features_in"]
        return obj

    def describe(self, type_name: str) -> str:
        return "ArrayLinearRegression: fit_intercept, and float64 coefficients as raw bytes"


HANDLER = ArrayLinearRegressionHandler()
