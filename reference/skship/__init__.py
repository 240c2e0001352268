"""skship: ship scikit-learn models safely.

Importing skship is cheap: it does not import scikit-learn (or numpy) until an API
function is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "dump", "dumps", "get_untrusted_types", "load", "loads"]

if TYPE_CHECKING:
    from skship.api import dump, dumps, get_untrusted_types, load, loads


def __getattr__(name: str) -> Any:
    if name in ("dump", "dumps", "load", "loads", "get_untrusted_types"):
        from skship import api

        return getattr(api, name)
    raise AttributeError(f"module 'skship' has no attribute {name!r}")
