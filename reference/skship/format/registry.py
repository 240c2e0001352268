"""Type handlers beyond the built-in node kinds. Today: validators for index-bearing
types, keyed by qualified name, plus checks run for every object node. The plugin
entry-point group ``skship.types`` will register more here (see the roadmap)."""

from __future__ import annotations

from functools import cache

from skship.format.decoder import Validator

__all__ = ["generic_validators", "validators"]


@cache
def validators() -> dict[str, Validator]:
    from skship.format.nodes.sklearn_ import VALIDATORS

    return dict(VALIDATORS)


@cache
def generic_validators() -> tuple[Validator, ...]:
    from skship.format.nodes.sklearn_ import GENERIC_VALIDATORS

    return tuple(GENERIC_VALIDATORS)
