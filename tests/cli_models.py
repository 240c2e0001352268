"""A small estimator outside the default trusted set, for the command-line tool tests."""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator, ClassifierMixin


class MajorityClassifier(ClassifierMixin, BaseEstimator):
    """Predicts the most frequent training label (not in skship's default trust)."""

    def __init__(self, tie_break: str = "first") -> None:
        self.tie_break = tie_break

    def fit(self, X: Any, y: Any) -> MajorityClassifier:
        import numpy as np

        values, counts = np.unique(y, return_counts=True)
        self.classes_ = values
        self.majority_ = values[int(np.argmax(counts))]
        return self

    def predict(self, X: Any) -> Any:
        import numpy as np

        return np.full(len(X), self.majority_)
