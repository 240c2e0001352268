"""The spec pages and the code agree where a test can tell."""

from __future__ import annotations

import re
from pathlib import Path

from skship.errors import CODES

SPEC = Path(__file__).resolve().parents[1] / "spec"


def test_error_registry_page_lists_every_code_once() -> None:
    text = (SPEC / "format/errors.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `(E-[A-Z0-9-]+)` \|", text, flags=re.MULTILINE)
    assert sorted(listed) == sorted(CODES)
    assert len(listed) == len(set(listed))


def test_every_code_raised_in_the_reference_is_registered() -> None:
    source = "\n".join(p.read_text() for p in (SPEC.parent / "reference/skship").rglob("*.py"))
    used = set(re.findall(r'"(E-[A-Z0-9-]+)"', source))
    assert used <= set(CODES), used - set(CODES)


def test_rule_anchors_are_unique() -> None:
    anchors: list[str] = []
    for page in (SPEC / "format").glob("*.md"):
        anchors += re.findall(r'<a id="(rule-[a-z0-9-]+)"></a>', page.read_text(encoding="utf-8"))
    assert anchors and len(anchors) == len(set(anchors))
