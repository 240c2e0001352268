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

import os
from collections.abc import Collection
from typing import IO, Any, Protocol, runtime_checkable

__all__ = [
    "ENTRY_POINT_GROUP",
    "TypeHandler",
    "available_handlers",
    "describe",
    "handlers_needed",
    "refresh",
]

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


def handlers_needed(
    file: str | os.PathLike[str] | IO[bytes] | bytes | bytearray | memoryview,
    *,
    limits: Any = None,
) -> list[dict[str, Any]]:
    """The type handlers a file's ext nodes name, for an audit: one entry per distinct
    (handler, type), in document order, with ``installed`` (the handler is installed
    and lists the type) and the handler's ``description`` (None when not installed).

    Like :func:`skship.get_untrusted_types` it builds nothing and imports nothing the
    file names; it only loads installed handlers (to ask them for a description).
    """
    from skship import _schema as S
    from skship.errors import PluginError
    from skship.format import registry
    from skship.format.container import parse_container
    from skship.format.decoder import decode_document
    from skship.format.limits import DEFAULT_LIMITS

    limits = limits or DEFAULT_LIMITS
    if isinstance(file, bytes | bytearray | memoryview):
        buf: Any = file
    elif isinstance(file, str | os.PathLike):
        with open(file, "rb") as f:
            buf = f.read()
    else:
        buf = file.read()
    doc = decode_document(parse_container(buf, limits).schema, limits)
    found: dict[tuple[str, str], None] = {}
    stack: list[Any] = [doc.root]
    while stack:  # iterative, in document order; decode_document enforced the depth limit
        v = stack.pop()
        if isinstance(v, S.Extension):
            found[(v.handler, v.type)] = None
        if isinstance(v, list):
            stack.extend(reversed(v))
        elif isinstance(v, dict):
            stack.extend(reversed(list(v.values())))
        elif hasattr(v, "__struct_fields__"):
            stack.extend(reversed([getattr(v, f) for f in v.__struct_fields__]))
    out = []
    for handler, type_name in found:
        try:
            description: str | None = registry.describe(handler, type_name)
        except PluginError:
            description = None
        out.append(
            {
                "handler": handler,
                "type": type_name,
                "installed": description is not None,
                "description": description,
            }
        )
    return out
