"""Walk a fitted model the way skl2onnx parses it: pipelines, column transformers,
feature unions and meta-estimators, down to every estimator that needs a converter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

# Parameters of meta-estimators that hold sub-estimators; the fitted copy, when there is
# one, is the attribute of the same name with a trailing underscore (it is what skl2onnx
# converts).
_FITTED_SINGLE = {
    "estimator": ("best_estimator_", "estimator_"),
    "regressor": ("regressor_",),
    "classifier": ("classifier_",),
    "final_estimator": ("final_estimator_",),
    "base_estimator": ("base_estimator_",),
    "transformer": ("transformer_",),
}
_SKIP = (None, "drop", "passthrough")


class Node(NamedTuple):
    path: str
    estimator: Any


def is_estimator(obj: Any) -> bool:
    return hasattr(obj, "fit") and hasattr(obj, "get_params") and not isinstance(obj, type)


def _join(path: str, name: str) -> str:
    return f"{path}/{name}" if path else name


def children(est: Any) -> list[tuple[str, Any]]:
    """(name, sub-estimator) pairs skl2onnx would convert for ``est``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import FeatureUnion, Pipeline

    if isinstance(est, Pipeline):
        return [(name, step) for name, step in est.steps if step not in _SKIP]
    if isinstance(est, FeatureUnion):
        return [(name, t) for name, t in est.transformer_list if t not in _SKIP]
    if isinstance(est, ColumnTransformer):
        listed = getattr(est, "transformers_", None) or est.transformers
        return [(name, t) for name, t, _ in listed if is_estimator(t)]
    found: list[tuple[str, Any]] = []
    try:
        params = est.get_params(deep=False)
    except Exception:  # a broken get_params: nothing to walk into
        return found
    for name, value in params.items():
        if is_estimator(value):
            fitted = next(
                (
                    getattr(est, attr)
                    for attr in _FITTED_SINGLE.get(name, ())
                    if is_estimator(getattr(est, attr, None))
                ),
                value,
            )
            found.append((name, fitted))
        elif isinstance(value, list | tuple):
            for item in value:
                if isinstance(item, tuple) and len(item) >= 2 and is_estimator(item[1]):
                    found.append((f"{name}/{item[0]}", item[1]))
    return found


def walk(model: Any, path: str = "") -> Iterator[Node]:
    """Every estimator in ``model``, parents before children."""
    yield Node(path, model)
    for name, child in children(model):
        yield from walk(child, _join(path, name))


def final_estimator(model: Any) -> Any:
    """The estimator whose outputs a pipeline returns (the last step, recursively)."""
    from sklearn.pipeline import Pipeline

    while isinstance(model, Pipeline):
        steps = [step for _, step in model.steps if step not in _SKIP]
        if not steps:
            break
        model = steps[-1]
    return model


def type_name(obj: Any) -> str:
    cls = type(obj)
    module = cls.__module__
    # sklearn.linear_model._logistic -> sklearn.linear_model: the public path.
    parts = [p for p in module.split(".") if not p.startswith("_")]
    return ".".join([*parts, cls.__qualname__])
