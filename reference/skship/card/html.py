"""A standalone HTML page of a card: front matter as a table, images inlined."""

from __future__ import annotations

import base64
import html
import mimetypes
import re
from typing import TYPE_CHECKING, Any

from skship.errors import SkshipError

if TYPE_CHECKING:
    from skship.card.card import Card

__all__ = ["card_html"]

_STYLE = """body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;
line-height:1.5}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em}
pre{background:#f6f8fa;padding:.8em;overflow:auto}img{max-width:100%}
.metadata{font-size:.9em;margin-bottom:2em}"""


def _image_bytes(card: Card, link: str) -> bytes | None:
    if link in card.assets:
        return card.assets[link]
    if card.folder is not None and not re.match(r"^[a-z][a-z0-9+.-]*:", link):
        target = (card.folder / link).resolve()
        if card.folder.resolve() in target.parents and target.is_file():
            return target.read_bytes()
    return None


def card_html(card: Card, *, title: str | None = None) -> str:
    """Render ``card`` to one HTML file (needs the ``markdown`` package: skship[card])."""
    try:
        import markdown  # type: ignore[import-untyped]
    except ModuleNotFoundError:
        raise SkshipError(
            "HTML output needs the markdown package: pip install 'skship[card]'",
            code="E-DEPENDENCY-MISSING",
        ) from None
    from skship.card.markdown import split_front_matter

    _, _, body = split_front_matter(card.render())
    converted = markdown.markdown(
        body, extensions=["tables", "fenced_code", "md_in_html"], output_format="html"
    )

    def inline(match: re.Match[str]) -> str:
        link = html.unescape(match[2])
        data = _image_bytes(card, link)
        if data is None:
            return match[0]
        mime = mimetypes.guess_type(link)[0] or "application/octet-stream"
        uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        return f"{match[1]}{uri}{match[3]}"

    converted = re.sub(r'(<img\b[^>]*?\bsrc=")([^"]+)(")', inline, converted)
    meta: dict[str, Any] = card.metadata.to_dict()
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(_short(v))}</td></tr>"
        for k, v in meta.items()
        if k not in ("sklearn", "model-index")
    )
    name = title or next((s.title for s in card.walk()), "Model card")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(name)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + (f'<table class="metadata">{rows}</table>\n' if rows else "")
        + converted
        + "\n</body>\n</html>\n"
    )


def _short(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
