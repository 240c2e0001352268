"""Run an ONNX model with onnxruntime: ``run(onnx_bytes, feeds)`` returns every output."""

from __future__ import annotations

from typing import Any

from skship.onnx._verify import session


def run(onnx_bytes: bytes, feeds: dict[str, Any], threads: int = 1) -> list[Any]:
    """All outputs of the model for ``feeds`` (input name -> array), in graph order."""
    result: list[Any] = session(onnx_bytes, threads).run(None, feeds)
    return result
