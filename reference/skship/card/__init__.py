"""Model cards: metadata, a section tree, evaluation, lossless Markdown, the Hub.

``Card.load("README.md")`` reads any card; ``card.save(folder)`` writes it (and its
plots) back; ``Card.from_model(model, X_test, y_test)`` writes one for a fitted model.
Importing this package imports neither scikit-learn nor matplotlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "PLACEHOLDER",
    "Card",
    "Metadata",
    "Problem",
    "Section",
    "make_config",
    "parse",
    "render",
    "schema",
    "validate_config",
    "validate_folder",
    "validate_metadata",
]

from skship.card.card import PLACEHOLDER, Card, Section
from skship.card.metadata import Metadata

if TYPE_CHECKING:
    from skship.card.config import make_config
    from skship.card.validate import (
        Problem,
        schema,
        validate_config,
        validate_folder,
        validate_metadata,
    )


def parse(text: str) -> Card:
    """Read Markdown text into a :class:`Card` (same as ``Card.parse``)."""
    return Card.parse(text)


def render(card: Card) -> str:
    """Write a card as Markdown text (same as ``card.render()``)."""
    return card.render()


def __getattr__(name: str) -> Any:
    if name in ("Problem", "schema", "validate_config", "validate_folder", "validate_metadata"):
        from skship.card import validate

        return getattr(validate, name)
    if name == "make_config":
        from skship.card.config import make_config

        return make_config
    raise AttributeError(f"module 'skship.card' has no attribute {name!r}")
