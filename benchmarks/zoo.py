"""The model zoo of issue 2, built deterministically.

Every builder takes ``scale`` (1.0 = the sizes the issue names) and returns
``(name, fitted_model, X_test)``, so a caller can compare the predictions of a
reloaded model with the original's. Rows, trees, boosting iterations and
documents all shrink with ``scale``; feature counts do not, so a tiny build
still exercises the same code paths. Every random choice has a fixed seed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

N_TEST = 1000  # prediction rows per model at scale 1


def _rows(n: int, scale: float, minimum: int = 50) -> int:
    return max(minimum, round(n * scale))


def _classification(
    n_train: int, n_test: int, n_features: int, *, n_classes: int = 2, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n_train + n_test,
        n_features=n_features,
        n_informative=min(n_features, max(2, n_features // 2)),
        n_redundant=min(2, n_features // 4),
        n_classes=n_classes,
        random_state=seed,
    )
    return X[:n_train], y[:n_train], X[n_train:]


def build_logistic(scale: float = 1.0) -> tuple[str, Any, Any]:
    """(a) LogisticRegression on 10k x 50."""
    from sklearn.linear_model import LogisticRegression

    X, y, X_test = _classification(_rows(10_000, scale), _rows(N_TEST, scale, 20), 50, seed=0)
    return "a", LogisticRegression(max_iter=1000).fit(X, y), X_test


def build_forest(scale: float = 1.0) -> tuple[str, Any, Any]:
    """(b) RandomForestClassifier, 300 trees, on 20k x 20 (fitted with n_jobs=2)."""
    from sklearn.ensemble import RandomForestClassifier

    X, y, X_test = _classification(_rows(20_000, scale), _rows(N_TEST, scale, 20), 20, seed=1)
    model = RandomForestClassifier(
        n_estimators=max(2, round(300 * scale)), n_jobs=2, random_state=0
    )
    return "b", model.fit(X, y), X_test


def build_hist_gradient_boosting(scale: float = 1.0) -> tuple[str, Any, Any]:
    """(c) HistGradientBoostingClassifier, 200 iterations, no early stopping, on 50k x 30."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y, X_test = _classification(_rows(50_000, scale), _rows(N_TEST, scale, 20), 30, seed=2)
    model = HistGradientBoostingClassifier(
        max_iter=max(2, round(200 * scale)), early_stopping=False, random_state=0
    )
    return "c", model.fit(X, y), X_test


# fmt: off
CITIES = ["amsterdam", "berlin", "cairo", "delhi", "essen", "fez", "geneva", "hanoi", "izmir",
          "jakarta", "kyoto", "lima", "madrid", "nairobi", "oslo", "paris", "quito", "riga",
          "seoul", "tunis"]
# fmt: on
COLORS = ["red", "green", "blue", "black", "white", "yellow", "purple", "orange"]
PLANS = ["free", "basic", "pro", "enterprise"]


def _customer_frame(n: int, rng: np.random.Generator) -> tuple[Any, np.ndarray]:
    import pandas as pd

    numeric = rng.normal(size=(n, 7)) * rng.uniform(0.5, 20.0, size=7) + rng.normal(0, 5, size=7)
    frame = pd.DataFrame(numeric, columns=[f"num{i}" for i in range(7)])
    city = rng.integers(0, len(CITIES), size=n)
    color = rng.integers(0, len(COLORS), size=n)
    plan = rng.integers(0, len(PLANS), size=n)
    frame["city"] = np.array(CITIES, dtype=object)[city]
    frame["color"] = np.array(COLORS, dtype=object)[color]
    frame["plan"] = np.array(PLANS, dtype=object)[plan]
    scores = (
        (numeric - numeric.mean(0)) / numeric.std(0) @ np.linspace(-1.0, 1.0, 7)
        + np.linspace(-1.0, 1.0, len(CITIES))[city]
        + 0.8 * (plan - 1.5)
        + rng.normal(0.0, 1.0, size=n)
    )
    return frame, (scores > 0).astype(np.int64)


def build_pipeline(scale: float = 1.0) -> tuple[str, Any, Any]:
    """(d) Pipeline(ColumnTransformer[StandardScaler, OneHotEncoder on 3 string columns],
    LogisticRegression) on a 20k-row pandas DataFrame."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(3)
    n_train, n_test = _rows(20_000, scale), _rows(N_TEST, scale, 20)
    frame, y = _customer_frame(n_train + n_test, rng)
    numeric = [f"num{i}" for i in range(7)]
    columns = ColumnTransformer(
        [
            ("numeric", StandardScaler(), numeric),
            ("strings", OneHotEncoder(handle_unknown="ignore"), ["city", "color", "plan"]),
        ]
    )
    model = Pipeline([("columns", columns), ("classifier", LogisticRegression(max_iter=1000))])
    model.fit(frame.iloc[:n_train], y[:n_train])
    return "d", model, frame.iloc[n_train:].reset_index(drop=True)


# fmt: off
_SYLLABLES = ["ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ve", "da", "zu", "ge",
              "ha", "bo", "fi", "ju", "qu", "wa", "xe", "yo", "an", "el", "or", "is"]
# fmt: on


def _vocabulary(size: int, rng: np.random.Generator) -> list[str]:
    words: dict[str, None] = {}
    while len(words) < size:
        length = int(rng.integers(2, 5))
        words["".join(rng.choice(_SYLLABLES, size=length))] = None
    return list(words)


def _documents(
    n: int, vocabulary: list[str], n_topics: int, rng: np.random.Generator
) -> tuple[list[str], np.ndarray]:
    # A Zipf background plus, per topic, a boosted slice of the vocabulary, so
    # that the classes are learnable and the Tf-idf matrix looks like text.
    size = len(vocabulary)
    background = 1.0 / np.arange(1, size + 1)
    topic_probs = []
    for topic in range(n_topics):
        weights = background.copy()
        boosted = rng.choice(size, size=size // 20, replace=False)
        weights[boosted] *= 8.0 + topic
        topic_probs.append(weights / weights.sum())
    words = np.array(vocabulary, dtype=object)
    labels = rng.integers(0, n_topics, size=n)
    docs = [
        " ".join(words[rng.choice(size, size=int(rng.integers(30, 120)), p=topic_probs[label])])
        for label in labels
    ]
    return docs, labels


def build_text(scale: float = 1.0) -> tuple[str, Any, Any]:
    """(e) TfidfVectorizer + LinearSVC on 5k documents synthesised from a seeded vocabulary."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline
    from sklearn.svm import LinearSVC

    rng = np.random.default_rng(4)
    vocabulary = _vocabulary(3000, rng)
    n_train, n_test = _rows(5_000, scale), _rows(N_TEST, scale, 20)
    docs, labels = _documents(n_train + n_test, vocabulary, 4, rng)
    model = Pipeline([("tfidf", TfidfVectorizer()), ("svm", LinearSVC(random_state=0))])
    model.fit(docs[:n_train], labels[:n_train])
    return "e", model, docs[n_train:]


def build_knn(scale: float = 1.0) -> tuple[str, Any, Any]:
    """(f) KNeighborsClassifier on 100k x 16 (default algorithm: scikit-learn picks brute
    force above 15 features, so the fitted state is essentially the training array)."""
    from sklearn.neighbors import KNeighborsClassifier

    X, y, X_test = _classification(
        _rows(100_000, scale), _rows(N_TEST, scale, 20), 16, n_classes=3, seed=5
    )
    return "f", KNeighborsClassifier().fit(X, y), X_test


BUILDERS: dict[str, Callable[[float], tuple[str, Any, Any]]] = {
    "a": build_logistic,
    "b": build_forest,
    "c": build_hist_gradient_boosting,
    "d": build_pipeline,
    "e": build_text,
    "f": build_knn,
}

DESCRIPTIONS: dict[str, str] = {
    "a": "LogisticRegression, 10k x 50",
    "b": "RandomForestClassifier, 300 trees, 20k x 20",
    "c": "HistGradientBoostingClassifier, 200 iter, 50k x 30",
    "d": "Pipeline(ColumnTransformer[StandardScaler, OneHotEncoder x3], LogisticRegression), 20k-row DataFrame",
    "e": "Pipeline(TfidfVectorizer, LinearSVC), 5k documents",
    "f": "KNeighborsClassifier, 100k x 16",
}


def build_zoo(models: str | list[str] = "abcdef", scale: float = 1.0) -> list[tuple[str, Any, Any]]:
    """Build the selected models (letters a-f) in order."""
    return [BUILDERS[letter](scale) for letter in models]
