"""Hypothesis strategies for model cards: Markdown texts and cards built through the API.

Reuse them to test another card reader or writer against skship's properties::

    from hypothesis import given
    from skship.card import parse, render
    from skship.card.testing import cards, markdown_texts

    @given(markdown_texts())
    def test_lossless(text):
        assert render(parse(text)) == text

    @given(cards())
    def test_read_back(card):
        assert parse(render(card)) == card

Needs hypothesis (a development dependency).
"""

from __future__ import annotations

from hypothesis import assume
from hypothesis import strategies as st

from skship.card.card import Card
from skship.errors import CardError

__all__ = ["FRAGMENTS", "cards", "contents", "markdown_texts", "titles"]

#: Lines that exercise every rule of spec/card/markdown.md: headings of both kinds,
#: fences, HTML blocks, thematic breaks, lists, quotes, tables, non-ASCII, blanks.
FRAGMENTS = [
    "",
    " ",
    "text",
    "# h",
    "## h2 ##",
    "   ### h3",
    "    # code",
    "#x",
    "```",
    "```python",
    "````",
    "~~~",
    "---",
    "===",
    "***",
    "- item",
    "> quote",
    "| a | b |",
    "<div>",
    "</div>",
    "<!--",
    "-->",
    "<pre>",
    "</pre>",
    "<details>",
    "<summary>s</summary>",
    "</details>",
    "é 🚀",
    "\t",
]

_eols = st.sampled_from(["\n", "\r\n"])


@st.composite
def markdown_texts(draw: st.DrawFn, max_lines: int = 25) -> str:
    """Markdown made of :data:`FRAGMENTS` lines, LF or CRLF (mixed), with or without a
    final newline and front matter."""
    lines = draw(st.lists(st.sampled_from(FRAGMENTS), max_size=max_lines))
    eol = draw(_eols)
    text = "".join(line + (draw(_eols) if draw(st.booleans()) else eol) for line in lines)
    if draw(st.booleans()):
        text = text.rstrip("\r\n")
    if draw(st.booleans()):
        text = f"---{eol}license: mit{eol}tags: [a]{eol}---{eol}" + text
    return text


def titles() -> st.SearchStrategy[str]:
    """Section titles: any one-line text (some are refused by the API, see cards())."""
    return st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs", "Zl", "Zp"]),
        min_size=1,
        max_size=20,
    )


def contents() -> st.SearchStrategy[str]:
    """Section contents made of :data:`FRAGMENTS` (some are refused by the API)."""
    return st.lists(st.sampled_from(FRAGMENTS), max_size=8).map("\n".join)


@st.composite
def cards(draw: st.DrawFn, max_sections: int = 8) -> Card:
    """Cards built with ``Card.add`` (nested, folded); refused titles or contents are
    discarded."""
    choices: list[dict[str, object]] = [{}, {"license": "mit"}, {"tags": ["x"], "n": 1.5}]
    metadata = draw(st.sampled_from(choices))
    card = Card(metadata)
    for _ in range(draw(st.integers(0, max_sections))):
        existing = list(card.walk())
        under = draw(st.sampled_from([None, *existing])) if existing else None
        if under is not None and under.level >= 6:
            under = None
        try:
            card.add(
                draw(titles()),
                draw(contents()),
                under=under,
                fold=draw(st.sampled_from([None, "More"])),
            )
        except CardError:
            assume(False)
    return card
