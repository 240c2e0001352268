"""Find the JSON Schemas that ship with skship, and build validators from them.

In a wheel the repository's ``schemas/`` folder is installed as ``skship/_schemas``; in a
source checkout it is ``schemas/`` at the repository root. ``jsonschema`` is a development
dependency only, so :func:`validator` imports it when called.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jsonschema  # type: ignore[import-untyped]  # no py.typed; types-jsonschema not a dep
    import referencing

__all__ = ["schema_dir", "validator"]

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # the ``skship`` package
_SUFFIX = ".schema.json"


def schema_dir() -> Path:
    """The folder holding ``format/3/document.schema.json`` and the other schemas."""
    for candidate in (_PACKAGE_DIR / "_schemas", _PACKAGE_DIR.parents[1] / "schemas"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"skship's JSON Schemas are missing: looked in {_PACKAGE_DIR / '_schemas'} (installed) "
        f"and {_PACKAGE_DIR.parents[1] / 'schemas'} (source checkout)"
    )


@functools.cache
def _load(root: Path) -> dict[str, dict[str, Any]]:
    """Every schema under ``root``, keyed by its path relative to ``root`` without the suffix."""
    schemas: dict[str, dict[str, Any]] = {}
    for path in sorted(root.rglob(f"*{_SUFFIX}")):
        name = path.relative_to(root).as_posix().removesuffix(_SUFFIX)
        schemas[name] = json.loads(path.read_text(encoding="utf-8"))
    return schemas


def _registry(root: Path) -> referencing.Registry[Any]:
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    resources = [
        (schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012))
        for schema in _load(root).values()
    ]
    return Registry().with_resources(resources)


def validator(name: str = "format/3/document") -> jsonschema.Draft202012Validator:
    """A validator for the schema ``<schema_dir()>/<name>.schema.json``.

    Every schema file is in its registry, so ``$ref``s between files resolve without network
    access. Raises ``KeyError`` for an unknown name.
    """
    from jsonschema import Draft202012Validator

    root = schema_dir()
    schemas = _load(root)
    if name not in schemas:
        raise KeyError(f"no schema {name!r}; known: {', '.join(sorted(schemas))}")
    return Draft202012Validator(schemas[name], registry=_registry(root))
