"""Card templates: the default one (after Mitchell et al., "Model Cards for Model
Reporting", FAT* 2019) and custom ones, as Markdown text or as a nested outline."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from skship.card.card import PLACEHOLDER, Card, Section
from skship.errors import CardError

__all__ = ["DEFAULT_OUTLINE", "default_card", "from_outline", "from_template"]

P = PLACEHOLDER

#: The default section tree. A value is the section's content, or a mapping whose
#: "" key is the content and whose other keys are subsections.
DEFAULT_OUTLINE: dict[str, Any] = {
    "Model details": {
        "": "- **Developed by:** " + P + "\n- **Model type:** {model_type}\n"
        "- **Library:** scikit-learn, saved with skship (`.skops`, protocol 3)\n"
        "- **License:** {license}",
        "Model description": P,
    },
    "Intended use": {
        "Primary intended uses": P,
        "Primary intended users": P,
        "Out-of-scope uses": P,
    },
    "Factors": {
        "Relevant factors": P,
        "Evaluation factors": P,
    },
    "Metrics": P,
    "Evaluation data": P,
    "Training data": P,
    "Quantitative analyses": P,
    "Ethical considerations": P,
    "Caveats and recommendations": P,
    "How to get started with the model": P,
    "Model card authors": P,
    "Citation": P,
}


def _fill(text: str, fields: Mapping[str, Any]) -> str:
    def sub(match: re.Match[str]) -> str:
        key = match[1]
        return str(fields[key]) if key in fields else PLACEHOLDER

    return re.sub(r"\{([a-z_]+)\}", sub, text)


def from_outline(
    outline: Mapping[str, Any], metadata: Mapping[str, Any] | None = None, **fields: Any
) -> Card:
    """A card from a nested outline ``{title: content or {"": content, sub: ...}}``.

    ``{name}`` fields in contents are filled from ``fields``; missing ones become the
    placeholder.
    """
    card = Card(metadata)

    def build(parent: Section | None, items: Mapping[str, Any]) -> None:
        for title, value in items.items():
            if title == "":
                continue
            if isinstance(value, Mapping):
                content = _fill(str(value.get("", "")), fields)
                section = card.add(title, content, under=parent)
                build(section, value)
            else:
                card.add(title, _fill(str(value), fields), under=parent)

    build(None, outline)
    return card


def default_card(metadata: Mapping[str, Any] | None = None, **fields: Any) -> Card:
    """The default card: Mitchell et al.'s sections, each a to-do placeholder."""
    return from_outline(DEFAULT_OUTLINE, metadata, **fields)


def from_template(template: str | Path, **fields: Any) -> Card:
    """A card from a Markdown template (text, or a path to a ``.md`` file).

    ``{{ name }}`` fields anywhere in the template (metadata included) are replaced by
    ``fields[name]``; a field without a value becomes the placeholder.
    """
    if isinstance(template, Path) or (
        isinstance(template, str) and "\n" not in template and template.endswith(".md")
    ):
        path = Path(template)
        if not path.is_file():
            raise CardError(f"template file {str(path)!r} not found")
        template = path.read_text(encoding="utf-8")

    def sub(match: re.Match[str]) -> str:
        key = match[1]
        return str(fields[key]) if key in fields else PLACEHOLDER

    return Card.parse(re.sub(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", sub, template))
