"""Card metadata: the YAML front matter, kept exactly as written until it is changed.

ruamel.yaml (round-trip mode) is used rather than PyYAML because PyYAML drops comments,
re-quotes strings and re-flows lists on every save; ruamel keeps key order, comments,
quoting and flow style of everything that is not touched. On top of that, metadata
that compares equal to what was read is written back as the original bytes, so a card
that is loaded and saved without a metadata change keeps its front matter byte for byte.
"""

from __future__ import annotations

import copy
import io
import itertools
import math
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from skship.errors import CardError

__all__ = ["Metadata", "plain"]


def plain(value: Any) -> Any:
    """``value`` as plain JSON data: dicts, lists, str, int, float, bool, None.

    numpy scalars and arrays become Python numbers and lists; mappings keep their order.
    """
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool) or value is None:
        return value if value is None else bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    item = getattr(value, "item", None)
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and getattr(value, "ndim", 0) != 0:
        return plain(tolist())
    if callable(item):
        return plain(item())
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    raise CardError(
        f"metadata values must be JSON-like (str, number, bool, list, mapping); "
        f"got {type(value).__name__}",
        code="E-CARD-METADATA-INVALID",
    )


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long strings
    yaml.allow_duplicate_keys = False
    return yaml


def _to_yaml_data(value: Any) -> Any:
    """Plain data made of ruamel's round-trip types, so new values dump in block style."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, Mapping):
        out = CommentedMap()
        for k, v in value.items():
            out[str(k)] = _to_yaml_data(v)
        return out
    if isinstance(value, list):
        return CommentedSeq(_to_yaml_data(v) for v in value)
    return value


def _normalize_in_place(node: Any) -> Any:
    """Replace numpy scalars (and other non-plain leaves) inside ruamel data by plain values."""
    if isinstance(node, MutableMapping):
        for key in list(node.keys()):
            node[key] = _normalize_in_place(node[key])
        return node
    if isinstance(node, list):
        for i, v in enumerate(node):
            node[i] = _normalize_in_place(v)
        return node
    if type(node).__module__.split(".")[0] == "numpy":
        return _to_yaml_data(plain(node))
    return node  # str, numbers, dates and ruamel's own scalar types stay as they are


def _equal(a: Any, b: Any, ordered: bool = True) -> bool:
    """Equality of plain data that tells 1 from 1.0 and True from 1, and NaN equals NaN;
    ``ordered``: mappings must also have their keys in the same order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        same_keys = list(a) == list(b) if ordered else set(a) == set(b)
        return same_keys and all(_equal(a[k], b[k], ordered) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_equal(x, y, ordered) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def _read_mapping(text: str) -> Any:
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    try:
        data = _yaml().load(text)
    except YAMLError as exc:
        raise CardError(
            f"the YAML front matter cannot be parsed: {exc}. The Hub refuses such a "
            "README; fix the YAML between the two '---' lines.",
            code="E-CARD-FRONT-MATTER",
        ) from None
    except Exception as exc:  # ruamel raises DuplicateKeyError and friends
        raise CardError(
            f"the YAML front matter cannot be read: {exc}", code="E-CARD-FRONT-MATTER"
        ) from None
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise CardError(
            f"the YAML front matter must be a mapping of keys to values, got a "
            f"{type(data).__name__}; the Hub refuses it",
            code="E-CARD-FRONT-MATTER",
        )
    return data


def _guess_indent(text: str) -> tuple[int, int]:
    """(mapping indent, dash offset) of block YAML, from the first examples in ``text``."""
    import re

    mapping, offset = 2, 0
    lines = [
        ln
        for ln in text.replace("\r\n", "\n").split("\n")
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    found_map = found_seq = False
    for prev, line in itertools.pairwise(lines):
        if not re.search(r":\s*(#.*)?$", prev):
            continue
        base = len(prev) - len(prev.lstrip(" "))
        ind = len(line) - len(line.lstrip(" "))
        body = line.lstrip(" ")
        if body.startswith("- ") or body == "-":
            if not found_seq and ind >= base:
                offset, found_seq = ind - base, True
        elif not found_map and ind > base:
            mapping, found_map = ind - base, True
    return mapping, offset


class Metadata(MutableMapping[str, Any]):
    """The card's metadata (YAML front matter) as an ordered mapping.

    Values set here are converted to plain data (numpy scalars become numbers).
    Unknown keys, their order, comments and quoting survive a load and save; if nothing
    changed, the original front matter is written back byte for byte.
    """

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        from ruamel.yaml.comments import CommentedMap

        self._data: Any = CommentedMap()
        self._raw: str | None = None  # the front matter block as read, delimiters included
        self._snapshot: Any = None  # plain() of the data as read
        # (mapping indent, dash offset): new metadata is written the way huggingface_hub
        # writes it (PyYAML's style: "tags:\n- a").
        self._indent: tuple[int, int] = (2, 0)
        self._newline = "\n"
        #: Why the front matter could not be read (lenient parsing only), else None.
        self.error: str | None = None
        for key, value in (data or {}).items():
            self[key] = value

    # -- reading -------------------------------------------------------------------
    @classmethod
    def from_front_matter(cls, raw: str, text: str, *, strict: bool = True) -> Metadata:
        """Metadata from a front matter block ``raw`` whose YAML text is ``text``.

        YAML that is broken or not a mapping raises ``E-CARD-FRONT-MATTER``; with
        ``strict=False`` it gives empty metadata whose ``error`` says what is wrong, and
        the block is written back as it was unless metadata is set.
        """
        meta = cls()
        meta._raw = raw
        meta._newline = "\r\n" if "\r\n" in raw else "\n"
        try:
            data = _read_mapping(text)
            meta._snapshot = plain(data)
        except CardError as exc:
            if strict:
                raise
            meta.error = exc.detail
            meta._snapshot = {}
            return meta
        meta._data = data
        meta._indent = _guess_indent(text)
        return meta

    # -- mapping protocol ------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise CardError(f"metadata keys must be strings, got {key!r}")
        self._data[key] = _to_yaml_data(plain(value))

    def __delitem__(self, key: str) -> None:
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        # Equal content, whatever the key order (canonical JSON sorts keys); a change of
        # order still counts as a change for writing (see ``changed``).
        if isinstance(other, Metadata):
            return _equal(self.to_dict(), other.to_dict(), ordered=False)
        if isinstance(other, Mapping):
            return _equal(self.to_dict(), plain(other), ordered=False)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Metadata({self.to_dict()!r})"

    def __deepcopy__(self, memo: dict[int, Any]) -> Metadata:
        new = Metadata()
        new._data = copy.deepcopy(self._data, memo)
        new._raw, new._snapshot = self._raw, copy.deepcopy(self._snapshot, memo)
        new._indent, new._newline = self._indent, self._newline
        return new

    def to_dict(self) -> dict[str, Any]:
        """A plain copy (dicts, lists and scalars) in key order."""
        out: dict[str, Any] = plain(self._data)
        return out

    @property
    def changed(self) -> bool:
        """Whether the metadata differs from what was read (always True for new metadata)."""
        return self._snapshot is None or not _equal(self.to_dict(), self._snapshot)

    # -- writing -------------------------------------------------------------------
    def front_matter(self, newline: str = "\n", *, fresh: bool = False) -> str:
        """The front matter block (``---`` lines included), or ``""`` when there is none.

        ``fresh``: write it anew even if unchanged (and ``{}`` when empty).
        """
        if not self.changed and self._raw is not None and not fresh:
            return self._raw
        if not len(self._data):
            return f"---{newline}{{}}{newline}---{newline}" if fresh else ""
        _normalize_in_place(self._data)
        yaml = _yaml()
        mapping, offset = self._indent
        yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
        buf = io.StringIO()
        yaml.dump(self._data, buf)
        text = buf.getvalue()
        nl = self._newline if self._raw is not None else newline
        if nl != "\n":
            text = text.replace("\n", nl)
        return f"---{nl}{text}---{nl}"
