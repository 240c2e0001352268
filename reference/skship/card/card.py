"""The Card: metadata plus a tree of sections, read from and written to Markdown.

``Card.parse(text).render() == text`` byte for byte for any text: every section keeps
the exact source of its heading and body, and a piece is generated anew only when its
value changes. ``Card.parse(card.render()) == card`` for any card: titles and contents
that would not read back as written are refused when they are set (``E-CARD-CONTENT``).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skship.card.markdown import scan, split_front_matter
from skship.card.metadata import Metadata
from skship.errors import CardError

__all__ = ["PLACEHOLDER", "TOC_MARKER", "Card", "Section"]

PathLike = str | os.PathLike[str]
SectionPath = str | Sequence[str]

#: Content of a section still to be written: shown as is, listed by Card.placeholders().
PLACEHOLDER = "[More Information Needed]"
#: First line of a table of contents that the card keeps up to date.
TOC_MARKER = "<!-- skship:toc -->"
_FOLD = re.compile(r"\A<details>\n<summary>(.*?)</summary>\n\n(.*)\n\n</details>\Z", re.DOTALL)
_MAX_LEVEL = 6


def normalize_content(text: str) -> str:
    """Content as the card stores it: ``\\n`` line ends, no blank lines around it."""
    text = text.replace("\r\n", "\n")
    text = re.sub(r"\A(?:[ \t]*\n)+", "", text)
    return text.rstrip()


def _unfold(content: str) -> tuple[str, str | None]:
    match = _FOLD.match(content)
    if match is None or "\n" in match[1]:
        return content, None
    return match[2], match[1]


def _check_content(content: str, what: str) -> None:
    found = scan(content)
    if found.headings:
        h = found.headings[0]
        raise CardError(
            f"{what} contains a heading ({h.title!r}, line {h.start + 1}); add it as a "
            "section with card.add(...) instead, or indent it by four spaces",
            code="E-CARD-CONTENT",
        )
    if found.open_block is not None:
        raise CardError(
            f"{what} ends inside an unclosed {found.open_block} block, which would swallow "
            "the headings after it; close the code fence or HTML block",
            code="E-CARD-CONTENT",
        )


def _heading_line(title: str, level: int) -> str:
    closing = " #" if title.endswith("#") else ""
    return f"{'#' * level} {title}{closing}"


def _check_title(title: str) -> str:
    if not isinstance(title, str):
        raise CardError(f"a section title must be a string, got {type(title).__name__}")
    title = title.strip(" \t")
    if not title or "\n" in title or "\r" in title:
        raise CardError(
            f"a section title must be one non-empty line, got {title!r}", code="E-CARD-CONTENT"
        )
    found = scan(_heading_line(title, 2) + "\n").headings
    if len(found) != 1 or found[0].title != title:
        raise CardError(
            f"the title {title!r} would not read back as written", code="E-CARD-CONTENT"
        )
    return title


@dataclass(frozen=True)
class _Source:
    """What a parsed piece looked like, to write it back unchanged when nothing changed."""

    index: int  # position among the document's pieces (0 = text before the first heading)
    heading: str  # exact heading lines ("" for the text before the first heading)
    body: str  # exact text up to the next heading
    title: str
    level: int
    content: str
    fold: str | None


class Section:
    """One heading of a card, its content (Markdown), and the sections nested under it.

    ``content`` is the text between the heading and its first subsection, with line ends
    normalized to ``\\n`` and surrounding blank lines removed. ``fold`` is None or the
    summary text of the ``<details>`` element the content is folded into.
    """

    def __init__(self, title: str, content: str = "", *, fold: str | None = None) -> None:
        self._title = _check_title(title)
        self._content = ""
        self.content = content
        self._fold: str | None = None
        self.fold = fold
        self._level = 0
        self._children: list[Section] = []
        self._parent: Section | Card | None = None
        self._source: _Source | None = None

    # -- values ------------------------------------------------------------------------
    @property
    def title(self) -> str:
        return self._title

    @title.setter
    def title(self, value: str) -> None:
        self._title = _check_title(value)
        self._changed()

    @property
    def content(self) -> str:
        return self._content

    @content.setter
    def content(self, value: str) -> None:
        value = normalize_content(value)
        _check_content(value, f"the content of section {self._title!r}")
        self._content = value

    @property
    def fold(self) -> str | None:
        return self._fold

    @fold.setter
    def fold(self, summary: str | None) -> None:
        if summary is not None:
            summary = summary.strip()
            if "\n" in summary or "\r" in summary or "</summary>" in summary:
                raise CardError(
                    f"a fold summary must be one line without '</summary>', got {summary!r}",
                    code="E-CARD-CONTENT",
                )
        self._fold = summary

    @property
    def level(self) -> int:
        """Heading level (1 for ``#``): one more than the parent's, unless read from a
        file that skips levels."""
        return self._level

    @property
    def children(self) -> tuple[Section, ...]:
        return tuple(self._children)

    @property
    def parent(self) -> Section | None:
        return self._parent if isinstance(self._parent, Section) else None

    @property
    def path(self) -> tuple[str, ...]:
        parts: list[str] = []
        node: Section | None = self
        while node is not None:
            parts.append(node.title)
            node = node.parent
        return tuple(reversed(parts))

    @property
    def is_placeholder(self) -> bool:
        """The content is the to-do placeholder (or empty, with no subsections)."""
        return self._content == PLACEHOLDER or (not self._content and not self._children)

    def walk(self) -> Iterator[Section]:
        """This section and all below it, in document order."""
        yield self
        for child in self._children:
            yield from child.walk()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Section):
            return NotImplemented
        return (
            self._title == other._title
            and self._level == other._level
            and self._content == other._content
            and self._fold == other._fold
            and self._children == other._children
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Section({self._title!r}, level={self._level}, children={len(self._children)})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self._title,
            "level": self._level,
            "content": self._content,
            "fold": self._fold,
            "children": [c.to_dict() for c in self._children],
        }

    def _card(self) -> Card | None:
        node: Section | Card | None = self._parent
        while isinstance(node, Section):
            node = node._parent
        return node

    def _changed(self) -> None:
        card = self._card()
        if card is not None:
            card._refresh_toc()

    def _set_level(self, level: int) -> None:
        delta = level - self._level
        deepest = max(node._level for node in self.walk()) + delta
        if deepest > _MAX_LEVEL:
            raise CardError(
                f"section {self._title!r} would put a heading at level {deepest}; Markdown "
                f"headings stop at level {_MAX_LEVEL}",
                code="E-CARD-CONTENT",
            )
        for node in self.walk():
            node._level += delta


class Card:
    """A model card: :class:`Metadata` (front matter), a preamble, and a section tree."""

    def __init__(self, metadata: Mapping[str, Any] | None = None, preamble: str = "") -> None:
        self._metadata = metadata if isinstance(metadata, Metadata) else Metadata(metadata)
        self._preamble = ""
        self._preamble_raw = ""
        self._open_tail: str | None = None
        self._last_index = 0
        self.preamble = preamble
        self._children: list[Section] = []
        self._newline = "\n"
        self._preamble_source: _Source | None = None
        self._fm_source: tuple[str, str] | None = None
        #: Files the card refers to by relative path (plots), written next to README.md.
        self.assets: dict[str, bytes] = {}
        #: Folder the card was loaded from (to find images it links to), if any.
        self.folder: Path | None = None

    # -- values ------------------------------------------------------------------------
    @property
    def metadata(self) -> Metadata:
        """The front matter (an ordered mapping; see :class:`Metadata`)."""
        return self._metadata

    @metadata.setter
    def metadata(self, value: Mapping[str, Any]) -> None:
        if isinstance(value, Metadata):
            self._metadata = value
            return
        # Assigning a mapping replaces the values but keeps comments of keys that stay.
        meta = self._metadata
        for key in [k for k in meta if k not in value]:
            del meta[key]
        for key, item in value.items():
            if key not in meta or meta.to_dict().get(key) != item:
                meta[key] = item

    @property
    def preamble(self) -> str:
        """Text before the first heading (badges, a title image, a notice...)."""
        return self._preamble

    @preamble.setter
    def preamble(self, value: str) -> None:
        value = normalize_content(value)
        _check_content(value, "the preamble")
        self._preamble = value

    @property
    def sections(self) -> tuple[Section, ...]:
        """The top-level sections."""
        return tuple(self._children)

    @property
    def level(self) -> int:
        return 0

    def walk(self) -> Iterator[Section]:
        """Every section, in document order."""
        for child in self._children:
            yield from child.walk()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Card):
            return NotImplemented
        return (
            self.metadata == other.metadata
            and self._preamble == other._preamble
            and self._children == other._children
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Card(metadata keys={list(self.metadata)}, sections={len(self._children)})"

    def copy(self) -> Card:
        """A deep copy (for undo: keep copies, restore one)."""
        return copy.deepcopy(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain data: the canonical JSON form (``schemas/card/1/card.schema.json``)."""
        return {
            "card_version": 1,
            "metadata": self.metadata.to_dict(),
            "preamble": self._preamble,
            "sections": [s.to_dict() for s in self._children],
        }

    def to_json(self) -> bytes:
        """Canonical JSON: sorted keys, no insignificant whitespace, UTF-8."""
        import json

        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return text.encode("utf-8")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Card:
        """The inverse of :meth:`to_dict`."""
        card = cls(data.get("metadata") or {}, data.get("preamble", ""))

        def build(parent: Card | Section, items: Sequence[Mapping[str, Any]]) -> None:
            for item in items:
                section = Section(item["title"], item.get("content", ""), fold=item.get("fold"))
                card._attach(parent, section, None, item.get("level"))
                build(section, item.get("children", []))

        build(card, data.get("sections", []))
        return card

    # -- selecting ---------------------------------------------------------------------
    def select(self, path: SectionPath) -> Section:
        """The section at ``path``: titles joined by ``/`` (or a sequence of titles).

        The first title may name a section anywhere in the card if no other section has
        that title; the rest walk down from there.
        """
        parts = _split_path(path)
        found = self._find(parts)
        if found is None:
            raise CardError(
                f"no section {'/'.join(parts)!r}; sections are: "
                + ", ".join(repr("/".join(s.path)) for s in self.walk()),
                code="E-CARD-SECTION-NOT-FOUND",
            )
        return found

    __getitem__ = select

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str | tuple | list):
            return False
        try:
            return self._find(_split_path(path)) is not None
        except CardError:
            return False

    def _find(self, parts: tuple[str, ...]) -> Section | None:
        def down(start: Section | None, rest: tuple[str, ...]) -> Section | None:
            node = start
            for title in rest:
                if node is None:
                    return None
                node = next((c for c in node._children if c.title == title), None)
            return node

        top = next((c for c in self._children if c.title == parts[0]), None)
        if top is not None:
            return down(top, parts[1:])
        matches = [s for s in self.walk() if s.title == parts[0]]
        if len(matches) > 1:
            raise CardError(
                f"{len(matches)} sections are titled {parts[0]!r}: "
                + ", ".join(repr("/".join(s.path)) for s in matches)
                + "; select one by its full path",
                code="E-CARD-SECTION-AMBIGUOUS",
            )
        return down(matches[0], parts[1:]) if matches else None

    def _parent_of(self, under: SectionPath | Section | None) -> Card | Section:
        if under is None:
            return self
        if isinstance(under, Section):
            if under._card() is not self:
                raise CardError("that section belongs to another card")
            return under
        return self.select(under)

    # -- editing -----------------------------------------------------------------------
    def add(
        self,
        title: str,
        content: str = "",
        *,
        under: SectionPath | Section | None = None,
        at: int | None = None,
        fold: str | None = None,
    ) -> Section:
        """Add a section (at the end, or at index ``at``) under ``under`` (top level if
        None); a section of that title already there has its content replaced instead."""
        parent = self._parent_of(under)
        title = _check_title(title)
        existing = next((c for c in parent._children if c.title == title), None)
        if existing is not None:
            existing.content = content
            existing.fold = fold
            self._refresh_toc()
            return existing
        section = Section(title, content, fold=fold)
        self._attach(parent, section, at, None)
        try:
            self._check_open_tail()
        except CardError:
            parent._children.remove(section)
            section._parent = None
            raise
        self._refresh_toc()
        return section

    def _check_open_tail(self) -> None:
        """Refuse an edit that would write text after an unclosed fence read from a file."""
        if self._open_tail is None:
            return
        order: list[tuple[Section | None, _Source | None, str, str | None]] = [
            (None, self._preamble_source, self._preamble, None)
        ]
        order += [(s, s._source, s.content, s.fold) for s in self.walk()]
        for n, (section, source, content, fold) in enumerate(order):
            if source is None or source.index != self._last_index:
                continue
            still_raw = content == source.content and fold == source.fold
            if still_raw and n != len(order) - 1:
                where = (
                    "the text before the first heading"
                    if section is None
                    else f"section {section.title!r}"
                )
                raise CardError(
                    f"{where} ends inside an unclosed {self._open_tail} block (as read from "
                    "the file), which would swallow anything written after it; set its "
                    "content (closing the block) before adding or moving sections after it",
                    code="E-CARD-CONTENT",
                )

    def _attach(
        self, parent: Card | Section, section: Section, at: int | None, level: int | None
    ) -> None:
        siblings = parent._children
        index = (
            len(siblings)
            if at is None
            else max(0, min(at, len(siblings)) if at >= 0 else len(siblings) + at)
        )
        if level is None:
            # Reading nests a heading under the nearest one before it with a lower level,
            # so siblings' levels never increase: take the level of the sibling before
            # (or after) the new place; the first child of a parent goes one level below it.
            if index > 0:
                level = siblings[index - 1].level
            elif siblings:
                level = siblings[0].level
            else:
                level = parent.level + 1
        section._set_level(level)
        section._parent = parent
        siblings.insert(index, section)

    def delete(self, path: SectionPath | Section) -> Section:
        """Remove a section (and everything under it); returns it."""
        section = path if isinstance(path, Section) else self.select(path)
        holder = section._parent
        if holder is None or section._card() is not self:
            raise CardError(
                "that section is not part of this card", code="E-CARD-SECTION-NOT-FOUND"
            )
        holder._children.remove(section)
        section._parent = None
        self._refresh_toc()
        return section

    def move(
        self,
        path: SectionPath | Section,
        *,
        under: SectionPath | Section | None = None,
        at: int | None = None,
    ) -> Section:
        """Move a section to index ``at`` under ``under`` (top level if None): nesting
        and un-nesting both; its headings change level with it."""
        section = path if isinstance(path, Section) else self.select(path)
        parent = self._parent_of(under)
        node: Card | Section | None = parent
        while isinstance(node, Section):
            if node is section:
                raise CardError("a section cannot be moved under itself", code="E-CARD-CONTENT")
            node = node._parent
        old_parent = section._parent
        assert old_parent is not None
        old_index, old_level = old_parent._children.index(section), section.level
        self.delete(section)
        try:
            self._attach(parent, section, at, None)
            self._check_open_tail()
        except CardError:
            if section in parent._children:
                parent._children.remove(section)
            self._attach(old_parent, section, old_index, old_level)
            self._refresh_toc()
            raise
        self._refresh_toc()
        return section

    def nest(self, path: SectionPath, under: SectionPath) -> Section:
        """Make a section the last subsection of ``under``."""
        return self.move(path, under=under)

    def fold(self, path: SectionPath, summary: str = "Click to expand") -> Section:
        """Fold a section's content into ``<details>`` with ``summary`` shown."""
        section = self.select(path)
        section.fold = summary
        return section

    def unfold(self, path: SectionPath) -> Section:
        section = self.select(path)
        section.fold = None
        return section

    def placeholders(self) -> list[str]:
        """Paths of sections still to be written (placeholder or empty content)."""
        return ["/".join(s.path) for s in self.walk() if s.is_placeholder]

    # -- table of contents ---------------------------------------------------------------
    def toc(self, max_level: int = 3) -> str:
        """A Markdown list of links to the sections (GitHub-style anchors)."""
        lines: list[str] = []
        seen: dict[str, int] = {}
        for section in self.walk():
            anchor = _anchor(section.title, seen)
            if section.content.startswith(TOC_MARKER):
                continue
            depth = len(section.path) - 1
            if depth + 1 > max_level:
                continue
            lines.append(f"{'  ' * depth}- [{_escape_link_text(section.title)}](#{anchor})")
        return "\n".join(lines)

    def add_toc(
        self, title: str = "Table of contents", *, at: int = 0, max_level: int = 3
    ) -> Section:
        """Add a table of contents, kept up to date as sections change."""
        section = self.add(title, TOC_MARKER, at=at)
        section.content = f"{TOC_MARKER}\n<!-- max-level: {max_level} -->\n\n{self.toc(max_level)}"
        return section

    def _refresh_toc(self) -> None:
        for section in self.walk():
            if section.content.startswith(TOC_MARKER):
                found = re.search(r"<!-- max-level: (\d) -->", section.content)
                max_level = int(found[1]) if found else 3
                body = self.toc(max_level)
                section._content = f"{TOC_MARKER}\n<!-- max-level: {max_level} -->\n\n{body}"

    # -- reading -------------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str, *, strict: bool = False) -> Card:
        """Read Markdown (with optional YAML front matter) into a card.

        Front matter that is not a YAML mapping is kept as text (``card.metadata.error``
        says why) unless ``strict``, which raises ``E-CARD-FRONT-MATTER``.
        """
        if not isinstance(text, str):
            raise CardError(f"Card.parse needs text (str), got {type(text).__name__}")
        fm_raw, fm_yaml, rest = split_front_matter(text)
        card = cls()
        if fm_raw is not None and fm_yaml is not None:
            card.metadata = Metadata.from_front_matter(fm_raw, fm_yaml, strict=strict)
            card._fm_source = (fm_raw, fm_yaml)
        first_eol = re.search(r"\r?\n", text)
        card._newline = first_eol[0] if first_eol else "\n"
        found = scan(rest)
        lines = found.lines
        bounds = [h.start for h in found.headings] + [len(lines)]
        pre_body = "".join(lines[: bounds[0]])
        pre_content = normalize_content(pre_body)
        card._preamble = pre_content
        card._preamble_source = _Source(0, "", pre_body, "", 0, pre_content, None)
        card._preamble_raw = pre_body
        if found.open_block is not None:
            # Everything after an unclosed fence belongs to the last piece; remember it so
            # that nothing is ever written after it (it would be swallowed on reading).
            card._open_tail = found.open_block
            card._last_index = len(found.headings)
        stack: list[Section] = []
        for n, heading in enumerate(found.headings):
            head = "".join(lines[heading.start : heading.end])
            body = "".join(lines[heading.end : bounds[n + 1]])
            content, fold = _unfold(normalize_content(body))
            section = Section.__new__(Section)
            section._title = heading.title
            section._content = content
            section._fold = fold
            section._level = heading.level
            section._children = []
            section._source = _Source(
                n + 1, head, body, heading.title, heading.level, content, fold
            )
            while stack and stack[-1].level >= heading.level:
                stack.pop()
            parent: Card | Section = stack[-1] if stack else card
            section._parent = parent
            parent._children.append(section)
            stack.append(section)
        return card

    @classmethod
    def load(cls, path: PathLike, *, strict: bool = False) -> Card:
        """Read a card file (``README.md``); images it links to are found next to it."""
        path = Path(path)
        with open(path, encoding="utf-8", newline="") as f:
            card = cls.parse(f.read(), strict=strict)
        card.folder = path.parent
        return card

    # -- writing -------------------------------------------------------------------------
    def render(self) -> str:
        """The card as Markdown with YAML front matter."""
        nl = self._newline
        out: list[str] = []
        if self._fm_source is not None and not self.metadata.changed:
            out.append(self._fm_source[0])
        else:
            out.append(self.metadata.front_matter(nl))
        last_index: int | None = 0  # index of the source piece written last (None: new)

        def ensure_blank_line() -> None:
            text = "".join(out)
            if not text:
                return
            if not text.endswith("\n"):
                out.append(nl)
                text += nl
            if not text.endswith(("\n\n", "\n\r\n")) and text.strip("\r\n"):
                out.append(nl)

        src = self._preamble_source
        if src is not None and self._preamble == src.content:
            out.append(self._preamble_raw)
        elif self._preamble:
            if "".join(out) and not "".join(out).endswith("\n"):
                out.append(nl)
            out.append(self._preamble.replace("\n", nl) + nl + nl)
            last_index = None
        else:
            last_index = None if src is not None and src.content else 0

        generated_last = False
        for section in self.walk():
            s = section._source
            raw_heading = s is not None and s.title == section.title and s.level == section.level
            in_place = s is not None and last_index is not None and s.index == last_index + 1
            if not (raw_heading and in_place):
                ensure_blank_line()
            if raw_heading and s is not None:
                out.append(s.heading)
            else:
                out.append(_heading_line(section.title, section.level) + nl)
            if s is not None and s.content == section.content and s.fold == section.fold:
                out.append(s.body)
                last_index = s.index  # this body is what preceded the next source heading
                generated_last = False
            else:
                body = section.content
                if section.fold is not None:
                    body = f"<details>\n<summary>{section.fold}</summary>\n\n{body}\n\n</details>"
                body = body.replace("\n", nl)
                out.append(nl + (body + nl + nl if body else ""))
                last_index = None
                generated_last = True
        text = "".join(out)
        if generated_last and text.endswith(nl + nl):
            text = text[: -len(nl)]
        if split_front_matter(text)[0] != (out[0] or None):
            # The Hub's front matter pattern reads the first '---' pair it can; later text
            # can move that end (a '---' line after text that starts with one, or after a
            # block closed by '\r---'). Fresh front matter, {} if empty, settles it.
            fresh = self.metadata.front_matter(nl, fresh=True)
            text = fresh + text[len(out[0]) :]
        return text

    def save(self, path: PathLike) -> Path:
        """Write the card and its assets (plots) next to it: ``path`` is the Markdown
        file if it ends in ``.md``, else a folder that gets ``README.md``. Returns the
        path of the Markdown file."""
        path = Path(path)
        if path.is_dir() or path.suffix.lower() != ".md":
            path = path / "README.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(self.render())
        for name, data in self.assets.items():
            target = path.parent / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return path

    # -- templates and helpers (computed content lives in skship.card.evaluate) ------------
    @classmethod
    def default(cls, metadata: Mapping[str, Any] | None = None, **fields: Any) -> Card:
        """The default template (Mitchell et al.): every section a to-do placeholder."""
        from skship.card.template import default_card

        return default_card(metadata, **fields)

    @classmethod
    def from_template(cls, template: str | Path, **fields: Any) -> Card:
        """A card from a Markdown template with ``{{ field }}`` slots."""
        from skship.card.template import from_template

        return from_template(template, **fields)

    @classmethod
    def from_outline(
        cls, outline: Mapping[str, Any], metadata: Mapping[str, Any] | None = None, **fields: Any
    ) -> Card:
        """A card from a nested ``{title: content or {...}}`` outline."""
        from skship.card.template import from_outline

        return from_outline(outline, metadata, **fields)

    @classmethod
    def from_model(cls, model: Any, X_test: Any = None, y_test: Any = None, **kwargs: Any) -> Card:
        """A card for a fitted model, evaluated on test data: metrics table, plots,
        permutation importance, data summary, metadata. See
        :func:`skship.card.evaluate.from_model` for the options."""
        from skship.card.evaluate import from_model

        return from_model(model, X_test, y_test, **kwargs)

    def add_table(
        self,
        title: str,
        data: Any,
        *,
        under: SectionPath | Section | None = None,
        fold: str | None = None,
    ) -> Section:
        """A section holding a table of a DataFrame, a column mapping or row mappings."""
        from skship.card.evaluate import add_table

        return add_table(self, title, data, under=under, fold=fold)

    def add_metrics(
        self,
        metrics: Mapping[str, Any],
        *,
        title: str = "Metrics",
        under: SectionPath | Section | None = None,
    ) -> Section:
        from skship.card.evaluate import add_metrics

        return add_metrics(self, metrics, title=title, under=under)

    def add_plot(
        self,
        title: str,
        figure: Any,
        *,
        alt: str,
        filename: str | None = None,
        under: SectionPath | Section | None = None,
        caption: str = "",
    ) -> Section:
        """A matplotlib figure saved as ``images/<title>.png``, linked with alt text."""
        from skship.card.evaluate import add_plot

        return add_plot(
            self, title, figure, alt=alt, filename=filename, under=under, caption=caption
        )

    def add_hyperparameters(
        self,
        model: Any,
        *,
        title: str = "Hyperparameters",
        under: SectionPath | Section | None = None,
    ) -> Section:
        from skship.card.evaluate import add_hyperparameters

        return add_hyperparameters(self, model, title=title, under=under)

    def add_model_diagram(
        self,
        model: Any,
        *,
        title: str = "Model diagram",
        under: SectionPath | Section | None = None,
    ) -> Section:
        from skship.card.evaluate import add_model_diagram

        return add_model_diagram(self, model, title=title, under=under)

    def add_permutation_importance(
        self,
        model: Any,
        X: Any,
        y: Any,
        *,
        under: SectionPath | Section | None = None,
        **kwargs: Any,
    ) -> Section:
        from skship.card.evaluate import add_permutation_importance

        return add_permutation_importance(self, model, X, y, under=under, **kwargs)

    def add_get_started(
        self,
        model_file: str,
        *,
        under: SectionPath | Section | None = None,
        repo_id: str | None = None,
    ) -> Section:
        from skship.card.evaluate import add_get_started

        return add_get_started(self, model_file, under=under, repo_id=repo_id)

    def add_confusion_matrix(
        self,
        model: Any,
        X: Any,
        y: Any,
        *,
        normalize: str | None = None,
        under: SectionPath | Section | None = None,
    ) -> Section:
        """The confusion matrix as a plot: counts, or ``normalize`` ``"true"``,
        ``"pred"`` or ``"all"`` (scikit-learn's); redrawn in place if already there."""
        from skship.card.evaluate import add_confusion_matrix

        return add_confusion_matrix(self, model, X, y, normalize=normalize, under=under)

    def add_sliced_metrics(
        self,
        model: Any,
        X: Any,
        y: Any,
        sensitive_feature: str | Sequence[Any],
        *,
        under: SectionPath | Section | None = None,
        **kwargs: Any,
    ) -> Section:
        from skship.card.evaluate import add_sliced_metrics

        return add_sliced_metrics(self, model, X, y, sensitive_feature, under=under, **kwargs)

    def add_data_summary(
        self,
        X: Any,
        y: Any = None,
        *,
        title: str = "Evaluation data",
        under: SectionPath | Section | None = None,
    ) -> Section:
        from skship.card.evaluate import add_data_summary

        return add_data_summary(self, X, y, title=title, under=under)

    def validate(self) -> list[Any]:
        """Problems of the metadata (see :func:`skship.card.validate_metadata`)."""
        from skship.card.validate import validate_metadata

        return validate_metadata(self.metadata.to_dict())

    def to_html(self, *, title: str | None = None) -> str:
        """A standalone HTML page of the card, images inlined as data URIs."""
        from skship.card.html import card_html

        return card_html(self, title=title)


def _split_path(path: SectionPath) -> tuple[str, ...]:
    if isinstance(path, str):
        parts = tuple(p.strip() for p in path.split("/"))
    else:
        parts = tuple(str(p).strip() for p in path)
    if not parts or not all(parts):
        raise CardError(f"not a section path: {path!r}", code="E-CARD-SECTION-NOT-FOUND")
    return parts


def _anchor(title: str, seen: dict[str, int]) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    base = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
    count = seen.get(base, 0)
    seen[base] = count + 1
    return base if count == 0 else f"{base}-{count}"


def _escape_link_text(text: str) -> str:
    return re.sub(r"([\[\]\\])", r"\\\1", text)
