"""skship: ship scikit-learn models safely.

Importing skship is cheap: it does not import scikit-learn (or numpy) until an API
function is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = [
    "__version__",
    "audit",
    "convert",
    "diff",
    "dump",
    "dumps",
    "get_untrusted_types",
    "inspect",
    "load",
    "loads",
    "upgrade",
]

if TYPE_CHECKING:
    from skship.api import dump, dumps, get_untrusted_types, load, loads
    from skship.auditing import audit
    from skship.conversion import convert
    from skship.diffing import diff
    from skship.inspection import inspect
    from skship.upgrading import upgrade

# The command-line tools, as functions returning what their --json output prints.
_TOOLS = {
    "inspect": "skship.inspection",
    "audit": "skship.auditing",
    "convert": "skship.conversion",
    "upgrade": "skship.upgrading",
    "diff": "skship.diffing",
}


def __getattr__(name: str) -> Any:
    if name in ("dump", "dumps", "load", "loads", "get_untrusted_types"):
        from skship import api

        return getattr(api, name)
    if name in _TOOLS:
        import importlib

        return getattr(importlib.import_module(_TOOLS[name]), name)
    raise AttributeError(f"module 'skship' has no attribute {name!r}")
