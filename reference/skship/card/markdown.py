"""Lossless Markdown scanning: front matter, headings, and the text between them.

No pandoc and no Markdown library: a card is split into its YAML front matter (found
with the same pattern the Hugging Face Hub uses), the text before the first heading,
and one (heading, body) pair per heading. Every piece keeps its exact source text, so
joining the pieces gives back the input byte for byte (spec/card/markdown.md).

Headings are found the CommonMark way where it matters for cards: ATX (``## x``) and
setext (``x`` over ``===`` or ``---``) headings; nothing inside fenced code (``` or ~~~,
closed only by a fence at least as long), HTML blocks (comments, ``<pre>``, ``<script>``,
``<style>``, ``<textarea>``, and block tags up to the next blank line) or indented code
counts as a heading. Lines end at ``\\n``; a ``\\r`` before it belongs to the line ending.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "Heading",
    "Scan",
    "atx_title",
    "lines_of",
    "scan",
    "split_front_matter",
]

# The pattern the Hub uses to find a README's metadata block (huggingface_hub's
# REGEX_YAML_BLOCK), anchored at the start of the text. The Hub runs it in JavaScript,
# where \s also matches U+FEFF: a byte order mark does not hide the metadata.
_FRONT_MATTER = re.compile(r"^([\s\ufeff]*---[\r\n]+)([\S\s]*?)([\r\n]+---(\r\n|\n|$))")

_ATX = re.compile(r"^ {0,3}(#{1,6})(?=[ \t]|$)(.*)$")
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_THEMATIC = re.compile(r"^ {0,3}((\*[ \t]*){3,}|(-[ \t]*){3,}|(_[ \t]*){3,})$")
_HTML_RAW = re.compile(r"^ {0,3}<(script|pre|style|textarea)(?=[\s>]|$)", re.IGNORECASE)
_HTML_COMMENT = re.compile(r"^ {0,3}<!--")
_HTML_OTHER = re.compile(r"^ {0,3}(<\?|<![A-Za-z]|<!\[CDATA\[)")
_HTML_TAG = re.compile(r"^ {0,3}</?([A-Za-z][A-Za-z0-9-]*)(?=[\s/>]|$)")
# CommonMark's type-6 block tags: they may interrupt a paragraph; other tags may not.
_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "base",
        "basefont",
        "blockquote",
        "body",
        "caption",
        "center",
        "col",
        "colgroup",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "frame",
        "frameset",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "head",
        "header",
        "hr",
        "html",
        "iframe",
        "legend",
        "li",
        "link",
        "main",
        "menu",
        "menuitem",
        "nav",
        "noframes",
        "ol",
        "optgroup",
        "option",
        "p",
        "param",
        "search",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "title",
        "tr",
        "track",
        "ul",
    ]
)
_LIST_OR_QUOTE = re.compile(r"^ {0,3}([-+*][ \t]|[-+*]$|\d{1,9}[.)]([ \t]|$)|>|\|)")
_LINE = re.compile(r"[^\n]*\n|[^\n]+$")


def lines_of(text: str) -> list[str]:
    """The lines of ``text``, each with its line ending (the last one may have none)."""
    return _LINE.findall(text)


def _strip_eol(line: str) -> str:
    if line.endswith("\n"):
        line = line[:-1]
        if line.endswith("\r"):
            line = line[:-1]
    return line


def split_front_matter(text: str) -> tuple[str | None, str | None, str]:
    """(raw front matter block or None, its YAML text or None, the rest of the text)."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return None, None, text
    return match[0], match[2], text[match.end() :]


def atx_title(rest: str) -> str:
    """The title of an ATX heading from the text after its opening ``#`` run."""
    rest = rest.strip(" \t")
    rest = re.sub(r"(^|[ \t]+)#+$", "", rest)
    return rest.strip(" \t")


@dataclass(frozen=True)
class Heading:
    """A heading found by :func:`scan`: lines ``[start, end)`` of the scanned text."""

    start: int
    end: int
    level: int
    title: str
    setext: bool


@dataclass(frozen=True)
class Scan:
    lines: list[str]
    headings: list[Heading]
    # The block open at the end of the text ("fence", "html" or None): text that
    # follows would continue it, so content ending open cannot be placed before a heading.
    open_block: str | None


def scan(text: str) -> Scan:
    """Find the headings of ``text`` (which must not include the front matter)."""
    lines = lines_of(text)
    headings: list[Heading] = []
    fence: tuple[str, int] | None = None
    html_end: re.Pattern[str] | None = None  # end condition of an open HTML block
    para_start: int | None = None  # first line of the paragraph being read
    for i, raw in enumerate(lines):
        line = _strip_eol(raw)
        blank = line.strip(" \t") == ""
        if fence is not None:
            stripped = line.lstrip(" ")
            if (
                len(line) - len(stripped) <= 3
                and stripped.startswith(fence[0] * fence[1])
                and stripped.rstrip(" \t").strip(fence[0]) == ""
            ):
                fence = None
            continue
        if html_end is not None:
            if html_end.pattern == "^$":
                if blank:
                    html_end = None
                continue
            if html_end.search(line):
                html_end = None
            continue
        if blank:
            para_start = None
            continue
        if para_start is not None and _SETEXT.match(line):
            level = 1 if line.strip()[0] == "=" else 2
            title = " ".join(_strip_eol(x).strip(" \t") for x in lines[para_start:i])
            headings.append(Heading(para_start, i + 1, level, title, True))
            para_start = None
            continue
        atx = _ATX.match(line)
        if atx is not None:
            headings.append(Heading(i, i + 1, len(atx[1]), atx_title(atx[2]), False))
            para_start = None
            continue
        opened = _FENCE_OPEN.match(line)
        if opened is not None and not (opened[1][0] == "`" and "`" in opened[2]):
            fence = (opened[1][0], len(opened[1]))
            para_start = None
            continue
        raw_html = _HTML_RAW.match(line)
        if raw_html is not None:
            end = re.compile(rf"</{raw_html[1]}>", re.IGNORECASE)
            html_end = None if end.search(line) else end
            para_start = None
            continue
        if _HTML_COMMENT.match(line):
            html_end = None if "-->" in line.split("<!--", 1)[1] else re.compile("-->")
            para_start = None
            continue
        if _HTML_OTHER.match(line):
            html_end = re.compile(r"\?>|>") if line.lstrip().startswith("<?") else re.compile(">")
            if html_end.search(line.lstrip()[2:]):
                html_end = None
            para_start = None
            continue
        tag = _HTML_TAG.match(line)
        if tag is not None and (para_start is None or tag[1].lower() in _BLOCK_TAGS):
            html_end = re.compile("^$")
            para_start = None
            continue
        if para_start is None:
            if _THEMATIC.match(line) or _LIST_OR_QUOTE.match(line):
                continue
            if line.startswith(("    ", "\t")):
                continue  # indented code cannot start a paragraph
            para_start = i
        elif _THEMATIC.match(line) or _LIST_OR_QUOTE.match(line):
            para_start = None
    # An HTML block that ends at a blank line is closed by the blank line a writer puts
    # before the next heading; fences and the other HTML blocks need their end marker.
    open_html = html_end is not None and html_end.pattern != "^$"
    open_block = "fence" if fence is not None else ("html" if open_html else None)
    return Scan(lines, headings, open_block)
