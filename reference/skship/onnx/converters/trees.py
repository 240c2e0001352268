"""Missing values in converted scikit-learn trees (decision trees, random forests, extra
trees, and the ensembles built from them).

skl2onnx 1.20 writes ``nodes_missing_value_tracks_true = 0`` for every split, so in
onnxruntime a NaN always takes the "false" (right) branch, while scikit-learn follows
``tree_.missing_go_to_left``: the same row gets another prediction, silently. This wraps
skl2onnx's ``add_tree_to_attribute_pairs`` (where every converter of a scikit-learn
``Tree`` goes through) to copy the learned direction for each split node.
"""

from __future__ import annotations

from typing import Any

_MODULES = (
    "skl2onnx.operator_converters.decision_tree",
    "skl2onnx.operator_converters.random_forest",
    "skl2onnx.operator_converters.gradient_boosting",
    "skl2onnx.operator_converters.isolation_forest",
)
_KEY = "nodes_missing_value_tracks_true"


def _with_missing(original: Any) -> Any:
    def add_tree_to_attribute_pairs(
        attr_pairs: Any, is_classifier: Any, tree: Any, *args: Any, **kwargs: Any
    ) -> Any:
        start = len(attr_pairs[_KEY])
        result = original(attr_pairs, is_classifier, tree, *args, **kwargs)
        go_left = getattr(tree, "missing_go_to_left", None)
        if go_left is not None and len(attr_pairs[_KEY]) == start + tree.node_count:
            for i in range(tree.node_count):
                split = tree.children_left[i] > i or tree.children_right[i] > i
                attr_pairs[_KEY][start + i] = int(bool(go_left[i])) if split else 0
        return result

    add_tree_to_attribute_pairs.skship_missing = True  # type: ignore[attr-defined]
    return add_tree_to_attribute_pairs


def install() -> None:
    """Wrap the helper in every skl2onnx module that imported it (idempotent)."""
    import importlib

    for name in _MODULES:
        module = importlib.import_module(name)
        current = getattr(module, "add_tree_to_attribute_pairs", None)
        if current is not None and not getattr(current, "skship_missing", False):
            module.add_tree_to_attribute_pairs = _with_missing(current)  # type: ignore[attr-defined]
