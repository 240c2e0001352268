"""Which converter skl2onnx would use for an estimator, read from its registry (the same
tables ``update_registered_converter`` writes, so registered custom converters count)."""

from __future__ import annotations

from typing import Any

from skship.onnx._deps import require

# Structures skl2onnx parses itself (no converter of their own; their steps need one).
STRUCTURE = "(structure)"


def _tables() -> tuple[dict[Any, str], dict[Any, Any], dict[str, Any]]:
    require("skl2onnx")
    import skl2onnx.operator_converters  # noqa: F401  (fills the registry)
    from skl2onnx._parse import sklearn_parsers_map
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from skl2onnx.common._registration import _converter_pool

    import skship.onnx.converters  # noqa: F401  (skship's own converters)

    return sklearn_operator_name_map, sklearn_parsers_map, _converter_pool


def converter_for(est: Any) -> str | None:
    """The converter alias for ``est``, :data:`STRUCTURE` for pipelines and other
    structures skl2onnx parses itself, ``None`` when there is none."""
    from sklearn.pipeline import Pipeline

    names, parsers, pool = _tables()
    cls = type(est)
    alias = names.get(cls)
    if alias is not None and alias in pool:
        return alias
    if cls in parsers or isinstance(est, Pipeline):
        return STRUCTURE
    return None


def allowed_options(alias: str | None) -> dict[str, Any]:
    """The options a converter declares (``{}`` when it declares none)."""
    if alias is None or alias == STRUCTURE:
        return {}
    _, _, pool = _tables()
    converter = pool.get(alias)
    allowed = converter.get_allowed_options() if converter is not None else None
    return dict(allowed or {})


def accepts_zipmap(est: Any) -> bool:
    """Whether skl2onnx would accept ``zipmap`` for ``est``: the converter declares it *and*
    the classifier parser handles it (LinearSVC's converter declares it, its parser does
    not, and the conversion fails: the trap of a pipeline ending in LinearSVC)."""
    from skl2onnx._parse import _parse_sklearn_classifier

    _, parsers, _ = _tables()
    alias = converter_for(est)
    return (
        "zipmap" in allowed_options(alias) and parsers.get(type(est)) is _parse_sklearn_classifier
    )
