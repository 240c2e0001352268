"""The documentation's code runs: every Python block in docs/ and spec/, the examples,
the demo, and the README's example (which must equal examples/quickstart.py).

Rules (spec/conventions.md, "Examples in the documentation"): the ```python blocks of
one page run in order in one fresh namespace, in an empty temporary working directory,
with warnings as errors. A block fenced as ``` { .python .no-run } is shown but not run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOC_DIRS = (ROOT / "docs", ROOT / "spec")
EXAMPLES = ROOT / "examples"
SLOW_EXAMPLES = {"demo.py"}  # run by test_demo with --quick instead
PYTHON_LANGS = {"python", "py", "python3"}


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the first code line
    code: str
    info: str
    runs: bool
    problem: str | None = None


def markdown_pages() -> list[Path]:
    """Every .md file under DOC_DIRS, each file once even when reached through a
    symlink (docs/spec -> ../spec), and no directory visited twice."""
    pages: set[Path] = set()
    visited_dirs: set[Path] = set()
    for top in DOC_DIRS:
        if not top.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(top, followlinks=True):
            real = Path(dirpath).resolve()
            if real in visited_dirs:
                dirnames[:] = []
                continue
            visited_dirs.add(real)
            pages.update(
                (Path(dirpath) / name).resolve() for name in filenames if name.endswith(".md")
            )
    return sorted(pages)


_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


def _classify(info: str) -> tuple[bool, bool, str | None]:
    """(is_python, runs, problem) for a fence's info string."""
    info = info.strip()
    if info.startswith("{") and info.endswith("}"):
        # attribute-list form: { .python .no-run title="x.py" }
        classes = re.findall(r"(?:^|\s)\.([\w-]+)", info[1:-1])
        is_python = bool(classes) and classes[0] in PYTHON_LANGS
        return is_python, is_python and "no-run" not in classes, None
    words = info.split()
    if not words or words[0] not in PYTHON_LANGS:
        return False, False, None
    if re.search(r"(?<![\w=\"'])no-?run(?![\w\"'])", info):
        return (
            True,
            False,
            f"fence {info!r} marks no-run without braces, which the site cannot render; "
            "write ``` { .python .no-run } instead",
        )
    return True, True, None


def code_blocks(page: Path) -> list[Block]:
    """Python fenced blocks of a page, in order. Fences nest the CommonMark way: a block
    opened with N backticks closes only at a line of at least N of the same character."""
    blocks: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None or (match["fence"][0] == "`" and "`" in match["info"]):
            i += 1
            continue
        fence, indent, info = match["fence"], len(match["indent"]), match["info"]
        start = i + 1
        j = start
        while j < len(lines):
            stripped = lines[j].strip()
            if (
                stripped.startswith(fence)
                and set(stripped) == {fence[0]}
                and len(stripped) >= len(fence)
            ):
                break
            j += 1
        body = [line[indent:] if line[:indent].strip() == "" else line for line in lines[start:j]]
        is_python, runs, problem = _classify(info)
        if is_python:
            blocks.append(Block(page, start + 1, "\n".join(body) + "\n", info, runs, problem))
        i = j + 1
    return blocks


def _rel(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


PAGES = markdown_pages()
PAGES_WITH_CODE = [page for page in PAGES if any(b.runs for b in code_blocks(page))]


def test_pages_are_found() -> None:
    rel = {_rel(p) for p in PAGES}
    assert "docs/index.md" in rel
    assert "spec/conventions.md" in rel
    assert not any(r.startswith("docs/spec/") for r in rel), "symlinked pages counted twice"


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_no_run_markers_are_well_formed(page: Path) -> None:
    problems = [f"{_rel(b.page)}:{b.line - 1}: {b.problem}" for b in code_blocks(page) if b.problem]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=_rel)
def test_page_examples_run(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in code_blocks(page):
        if not block.runs:
            continue
        # Pad so that tracebacks point at the right line of the Markdown file.
        source = "\n" * (block.line - 1) + block.code
        code = compile(source, _rel(page), "exec")
        exec(code, namespace)


@pytest.mark.parametrize(
    "example",
    sorted(p for p in EXAMPLES.glob("*.py") if p.name not in SLOW_EXAMPLES),
    ids=lambda p: p.name,
)
def test_example_runs(example: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", str(example)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{example.name} failed:\n{result.stdout}\n{result.stderr}"


def test_demo_quick(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", str(EXAMPLES / "demo.py"), "--quick"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"demo failed:\n{result.stdout}\n{result.stderr}"
    out = result.stdout
    assert re.search(r"^untrusted types\s+0\b", out, re.MULTILINE), out
    assert "file size" in out and "save" in out and "load" in out, out
    assert out.rstrip().endswith("OK"), out
    assert not list(tmp_path.iterdir()), "the demo must clean up after itself"


def _section(markdown: str, heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert match, f"README has no '## {heading}' section"
    return match[1]


def _fenced(section: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```$", section, re.M | re.S)


def test_readme_quick_start() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = _section(readme, "Quick start")
    assert _fenced(quick_start, "console") == ["make demo\nmake test\n"]
    python = _fenced(quick_start, "python")
    assert len(python) == 1, "the quick start has exactly one Python example"
    quickstart = (EXAMPLES / "quickstart.py").read_text(encoding="utf-8")
    assert python[0] == quickstart, "README's example must equal examples/quickstart.py"
    assert len(quickstart.splitlines()) == 10


def test_site_symlinks() -> None:
    for name in ("spec", "schemas"):
        link = ROOT / "docs" / name
        assert link.is_symlink(), f"docs/{name} must be a symlink to ../{name}"
        assert os.readlink(link) == f"../{name}"


def _site_url() -> str:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    url = config["site_url"]
    assert isinstance(url, str) and url.endswith("/")
    return url


def test_schema_ids_are_where_the_site_publishes_them() -> None:
    """$id = <site_url>schemas/<path under schemas/>, site_url being set in mkdocs.yml."""
    site = _site_url()
    schemas = sorted((ROOT / "schemas").rglob("*.schema.json"))
    wrong = []
    for path in schemas:
        expected = site + path.relative_to(ROOT).as_posix()
        found = json.loads(path.read_text(encoding="utf-8")).get("$id")
        if found != expected:
            wrong.append(f"{path.relative_to(ROOT)}: $id {found!r}, expected {expected!r}")
    assert not wrong, "\n".join(wrong)
