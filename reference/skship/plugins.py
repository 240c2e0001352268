"""Type handlers: how a package teaches skship to save and load its own types.

A package registers a handler under the entry-point group ``skship.types``; the
entry point's name is the handler's name, recorded in every file it writes::

    [project.entry-points."skship.types"]
    mypkg = "mypkg._skship:HANDLER"

The writer gives an object whose exact type the handler lists to :meth:`TypeHandler.save`
and stores the returned state (any value skship can write) in an ``ext`` node. The
reader finds the handler by the name in the file among the *installed* handlers (it
never imports a name from the file), builds the state under the usual trust rules,
passes it to :meth:`TypeHandler.validate` and only then to
:meth:`TypeHandler.construct`. Importing this module imports nothing else.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol, runtime_checkable

__all__ = ["ENTRY_POINT_GROUP", "TypeHandler", "available_handlers", "describe", "refresh"]

ENTRY_POINT_GROUP = "skship.types"


@runtime_checkable
class TypeHandler(Protocol):
    """What an entry point in the group ``skship.types`` must load to.

    ``types`` lists the exact qualified names (``module.qualname``, as
    ``f"{cls.__module__}.{cls.__qualname__}"``) of the classes the handler saves and
    builds. Strings, not classes: skship reads them without importing the library.
    Subclasses are not covered; list each class.
    """

    types: Collection[str]

    def save(self, obj: Any) -> Any:
        """The state to store for ``obj``: a value skship can write (dicts, lists,
        str, int, float, bytes, numpy arrays, other trusted objects). Prefer plain
        data: every object in it is subject to the reader's trust check."""
        ...

    def validate(self, type_name: str, state: Any) -> None:
        """Raise (any exception; skship reports it as ``E-PLUGIN-STATE-INVALID``) if
        ``state`` is not one that :meth:`construct` can safely build ``type_name``
        from. Called before :meth:`construct`, on every load."""
        ...

    def construct(self, type_name: str, state: Any) -> Any:
        """Build the object from a validated state. It must be an instance of exactly
        the class ``type_name`` names."""
        ...

    def describe(self, type_name: str) -> str:
        """One line for people auditing a file: what this node is and how it is
        stored (no state: describing a file must not build anything)."""
        ...


def available_handlers() -> dict[str, list[str]]:
    """Every handler this process can use (skship's built-in ones and the installed
    entry points), each with the type names it handles, sorted."""
    from skship.format import registry

    return registry.available()


def describe(handler: str, type_name: str) -> str:
    """The handler's one-line description of ``type_name``; raises
    :class:`skship.errors.PluginError` if the handler or the type is unknown."""
    from skship.format import registry

    return registry.describe(handler, type_name)


def refresh() -> None:
    """Look for installed handlers again (after ``pip install`` in a running process,
    or after putting a package's directory on ``sys.path``)."""
    from importlib import invalidate_caches

    from skship.format import registry

    invalidate_caches()
    registry.refresh()
