"""Serving .skops models: OIP v2 (KServe, MLServer, Triton clients), SageMaker, Hugging Face.

``skship serve MODEL.skops`` is the command; :func:`serve` is the same from Python, and
:func:`skship.serve.app.build_app` gives the ASGI app for your own server. Importing this
package imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["serve"]

if TYPE_CHECKING:
    from skship.serve.server import serve


def __getattr__(name: str) -> Any:
    if name == "serve":
        from skship.serve.server import serve

        return serve
    raise AttributeError(f"module 'skship.serve' has no attribute {name!r}")
