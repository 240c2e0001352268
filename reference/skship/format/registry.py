"""Type handlers beyond the built-in node kinds.

Two tables live here: validators for index-bearing types (keyed by qualified name,
plus checks run for every object node), and type handlers (``ext`` nodes): skship's
own handlers for XGBoost, LightGBM and CatBoost, and every entry point in the group
``skship.types``. A handler is found by the name a file records *among the installed
ones*; no name from a file is ever imported to find one. Built-in handler names are
reserved: an entry point that reuses one is ignored.
"""

from __future__ import annotations

import importlib
import warnings
from functools import cache
from typing import TYPE_CHECKING, Any

from skship.errors import PluginError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from skship.format.decoder import Validator
    from skship.plugins import TypeHandler

__all__ = [
    "available",
    "describe",
    "generic_validators",
    "handler",
    "handler_for_type",
    "refresh",
    "validators",
]


@cache
def validators() -> dict[str, Validator]:
    from skship.format.nodes.sklearn_ import VALIDATORS

    return dict(VALIDATORS)


@cache
def generic_validators() -> tuple[Validator, ...]:
    from skship.format.nodes.sklearn_ import GENERIC_VALIDATORS

    return tuple(GENERIC_VALIDATORS)


# Built-in handlers: name -> (module:attribute, the types it handles). The types are
# listed here so that writing any object does not import the handler module (nor the
# library behind it); the handler's own ``types`` must agree (a test checks).
_BOOSTERS = "skship.format.nodes.ext_boosters"
BUILTIN: dict[str, tuple[str, tuple[str, ...]]] = {
    "xgboost": (
        f"{_BOOSTERS}:XGBOOST",
        (
            "xgboost.core.Booster",
            "xgboost.sklearn.XGBClassifier",
            "xgboost.sklearn.XGBRegressor",
            "xgboost.sklearn.XGBRanker",
            "xgboost.sklearn.XGBRFClassifier",
            "xgboost.sklearn.XGBRFRegressor",
        ),
    ),
    "lightgbm": (
        f"{_BOOSTERS}:LIGHTGBM",
        (
            "lightgbm.basic.Booster",
            "lightgbm.sklearn.LGBMClassifier",
            "lightgbm.sklearn.LGBMRegressor",
            "lightgbm.sklearn.LGBMRanker",
            "lightgbm.sklearn.LGBMModel",
        ),
    ),
    "catboost": (
        f"{_BOOSTERS}:CATBOOST",
        (
            "catboost.core.CatBoost",
            "catboost.core.CatBoostClassifier",
            "catboost.core.CatBoostRegressor",
            "catboost.core.CatBoostRanker",
        ),
    ),
}


@cache
def _entry_points() -> dict[str, list[EntryPoint]]:
    """Installed entry points of the group, by name (metadata only: nothing imported)."""
    from importlib.metadata import entry_points

    from skship.plugins import ENTRY_POINT_GROUP

    found: dict[str, list[EntryPoint]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in BUILTIN:
            found.setdefault(ep.name, []).append(ep)
    return found


_LOADED: dict[str, TypeHandler] = {}


def handler(name: str) -> TypeHandler:
    """The installed handler called ``name``, loaded on first use."""
    found = _LOADED.get(name)
    if found is not None:
        return found
    builtin = BUILTIN.get(name)
    if builtin is not None:
        modname, _, attr = builtin[0].partition(":")
        obj: Any = getattr(importlib.import_module(modname), attr)
    else:
        eps = _entry_points().get(name)
        if not eps:
            raise PluginError(
                f"the file needs the type handler {name!r}, which is not installed: no "
                f"entry point of that name in the group 'skship.types'. Install the package "
                "that provides it (its documentation names it), then load again."
            )
        if len({(ep.value, getattr(ep.dist, "name", None)) for ep in eps}) > 1:
            raise PluginError(
                f"two installed packages register the type handler {name!r} "
                f"({', '.join(ep.value for ep in eps)}); uninstall one"
            )
        try:
            obj = eps[0].load()
        except Exception as exc:
            raise PluginError(
                f"the type handler {name!r} ({eps[0].value}) is installed but fails to load: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        _check_shape(name, obj)
    _LOADED[name] = obj
    return obj  # type: ignore[no-any-return]


def _check_shape(name: str, obj: Any) -> None:
    missing = [
        m
        for m in ("save", "validate", "construct", "describe")
        if not callable(getattr(obj, m, None))
    ]
    types = getattr(obj, "types", None)
    if missing or types is None or isinstance(types, str):
        raise PluginError(
            f"the entry point {name!r} in 'skship.types' is not a type handler"
            + (f" (it has no {', '.join(missing)})" if missing else " (no 'types' list)")
        )


def handled_types(name: str) -> frozenset[str]:
    builtin = BUILTIN.get(name)
    if builtin is not None:
        return frozenset(builtin[1])
    return frozenset(handler(name).types)


def check(name: str, type_name: str) -> None:
    """Refuse (before anything is built) a handler that is not installed or a type it
    does not handle. Loading an installed handler imports only that package's code."""
    if type_name not in handled_types(name):
        raise PluginError(
            f"the type handler {name!r} does not handle {type_name!r}; the file may "
            "need a newer version of the package that provides the handler",
            code="E-PLUGIN-TYPE-UNKNOWN",
        )


@cache
def _type_index() -> dict[str, str]:
    """Qualified type name -> handler name. Built-ins first, then entry points in name
    order; the first handler to list a type writes it."""
    index: dict[str, str] = {}
    for name, (_, listed) in BUILTIN.items():
        for t in listed:
            index.setdefault(t, name)
    for name in sorted(_entry_points()):
        try:
            types = handled_types(name)
        except PluginError as exc:
            # A broken plugin must not stop every other object from being written;
            # reading a file that needs it still fails with the reason.
            warnings.warn(f"skship ignores a type handler: {exc.detail}", RuntimeWarning, 2)
            continue
        for t in types:
            if t.partition(".")[0] not in OWN_PACKAGES:
                index.setdefault(t, name)
    return index


_BY_TYPE: dict[type, str | None] = {}
# Types skship writes by itself: no handler may take them over (files holding them keep
# their bytes whatever is installed), and writing them never scans the entry points.
OWN_PACKAGES = frozenset({"builtins", "collections", "numpy", "scipy", "sklearn"})
_BUILTIN_INDEX = {t: name for name, (_, types) in BUILTIN.items() for t in types}


def handler_for_type(cls: type) -> str | None:
    """The name of the handler that writes instances of exactly ``cls``, or None."""
    try:
        return _BY_TYPE[cls]
    except KeyError:
        pass
    type_name = f"{cls.__module__}.{cls.__qualname__}"
    name = _BUILTIN_INDEX.get(type_name)
    if name is None and cls.__module__.partition(".")[0] not in OWN_PACKAGES:
        name = _type_index().get(type_name)
    _BY_TYPE[cls] = name
    return name


def available() -> dict[str, list[str]]:
    out = {name: sorted(types) for name, (_, types) in BUILTIN.items()}
    for name in sorted(_entry_points()):
        try:
            out[name] = sorted(handled_types(name))
        except PluginError:
            continue  # reported when a file needs it, and when writing
    return out


def describe(name: str, type_name: str) -> str:
    check(name, type_name)
    return str(handler(name).describe(type_name))


def refresh() -> None:
    """Forget what was discovered, so that packages installed (or put on sys.path)
    since are found. Handlers already loaded are loaded again on next use."""
    _entry_points.cache_clear()
    _type_index.cache_clear()
    _LOADED.clear()
    _BY_TYPE.clear()
