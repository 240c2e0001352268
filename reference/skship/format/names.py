"""Qualified names of types and functions, and resolving them (only after trust)."""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__all__ = ["qualified_name", "resolve"]

# Objects whose module.qualname does not import back to them.
_ALIASES: dict[int, str] = {id(type(None)): "types.NoneType", id(type(...)): "types.EllipsisType"}
_RESOLVED: dict[str, Any] = {}


def qualified_name(obj: Any) -> str | None:
    """The importable ``module.qualname`` of a type or function, or None when the
    object cannot be found again by name (a lambda, a local class, a bound method)."""
    alias = _ALIASES.get(id(obj))
    if alias is not None:
        return alias
    qual = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    module = getattr(obj, "__module__", None)
    if module is None and type(obj).__name__ == "ufunc":
        module = "numpy"
    if not isinstance(qual, str) or not isinstance(module, str) or "<" in qual:
        return None
    name = f"{module}.{qual}"
    try:
        found = _lookup(name)
    except Exception:
        return None
    return name if found is obj else None


def _lookup(name: str) -> Any:
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        modname = ".".join(parts[:i])
        mod = sys.modules.get(modname)
        if mod is None:
            try:
                mod = importlib.import_module(modname)
            except ImportError:
                continue
        obj: Any = mod
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(name)


def resolve(name: str) -> Any:
    """Import a *trusted* name. Callers must have audited it first."""
    try:
        return _RESOLVED[name]
    except KeyError:
        pass
    obj = _lookup(name)
    if not isinstance(obj, types.ModuleType):
        _RESOLVED[name] = obj
    return obj
