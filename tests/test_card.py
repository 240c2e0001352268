"""Model cards: lossless Markdown, the section tree, metadata that keeps its YAML."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skship.card import PLACEHOLDER, Card, Section, parse, render, validate_metadata
from skship.card.markdown import scan, split_front_matter
from skship.card.testing import cards, contents, markdown_texts, titles
from skship.errors import CardError
from skship.format.schemas import validator

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "conformance" / "card" / "1"
CORPUS = json.loads((VECTORS / "markdown.json").read_text(encoding="utf-8"))["vectors"]


def _read(vector: dict[str, object]) -> str:
    with open(VECTORS / str(vector["file"]), encoding="utf-8", newline="") as f:
        return f.read()


# -- the corpus ------------------------------------------------------------------------------
@pytest.mark.parametrize("vector", CORPUS, ids=lambda v: v["id"])
def test_corpus_round_trips_byte_for_byte(vector: dict[str, object]) -> None:
    text = _read(vector)
    card = parse(text)
    assert render(card) == text
    assert [[s.level, s.title] for s in card.walk()] == vector["outline"]
    assert list(card.metadata) == vector["metadata_keys"]
    assert parse(render(card)) == card


@pytest.mark.parametrize("vector", CORPUS, ids=lambda v: v["id"])
def test_corpus_edits_read_back(vector: dict[str, object]) -> None:
    """After edits, unchanged pieces keep their bytes and the card reads back equal."""
    text = _read(vector)
    card = parse(text)
    sections = list(card.walk())
    card.add("Added by skship", "New *content*.\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    if sections:
        sections[-1].content = "Replaced."
        card.move(sections[0], under="Added by skship")
    card.metadata["skship_edit"] = 1
    out = render(card)
    again = parse(out)
    assert again == card
    # Untouched sections keep their exact text.
    for section in sections[1:-1]:
        source = section._source
        assert source is not None
        if section.level == source.level:
            assert source.heading + source.body in out


def test_corpus_files_are_what_the_index_says() -> None:
    files = sorted(p.name for p in (VECTORS / "markdown").glob("*.md"))
    assert files == sorted(Path(str(v["file"])).name for v in CORPUS)
    assert len({v["id"] for v in CORPUS}) == len(CORPUS) >= 20
    texts = {v["id"]: _read(v) for v in CORPUS}
    assert "\r\n" in texts["crlf"] and not texts["no-trailing-newline"].endswith("\n")


# -- headings --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "titles"),
    [
        ("# a\n## b\n", ["a", "b"]),
        ("```\n# no\n```\n# yes\n", ["yes"]),
        ("````\n```\n# no\n```\n````\n", []),
        ("~~~\n# no\n```\n# still no\n~~~\n# yes\n", ["yes"]),
        ("    # indented code\n", []),
        ("   # three spaces\n", ["three spaces"]),
        ("#hashtag\n####### seven\n", []),
        ("# closing ##\n# C#\n# x \\#\n", ["closing", "C#", "x \\#"]),
        ("para\n===\n", ["para"]),
        ("two\nlines\n---\n", ["two lines"]),
        ("\n---\n", []),
        ("- item\n---\n", []),
        ("<!--\n# no\n-->\n# yes\n", ["yes"]),
        ("<div>\n# no\n\n# yes\n", ["yes"]),
        ("text\n<span>\n---\n", ["text <span>"]),
        ("<pre>\n\n# no\n</pre>\n# yes\n", ["yes"]),
        ("> # quoted\n", []),
    ],
)
def test_headings_follow_commonmark(text: str, titles: list[str]) -> None:
    assert [h.title for h in scan(text).headings] == titles


def test_front_matter_uses_the_hubs_pattern() -> None:
    assert split_front_matter("---\na: 1\n---\nrest")[1] == "a: 1"
    assert split_front_matter("---\n---\n")[0] is None  # empty: not front matter to the Hub
    assert split_front_matter("\ufeff---\na: 1\n---\n")[1] == "a: 1"
    assert split_front_matter("text\n---\na: 1\n---\n")[0] is None


# -- metadata ----------------------------------------------------------------------------------
def test_metadata_edit_changes_only_its_line() -> None:
    vector = next(v for v in CORPUS if v["id"] == "front-matter-comments")
    text = _read(vector)
    card = parse(text)
    card.metadata["license"] = "mit"
    out = render(card)
    before, after = text.splitlines(), out.splitlines()
    assert len(before) == len(after)
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1
    assert changed[0][0] == 'license: "bsd-3-clause"   # quoted on purpose'
    # ruamel keeps the comment in its column.
    # and the value's quoting style.
    assert re.fullmatch(r'license: "mit" +# quoted on purpose', changed[0][1])


def test_metadata_keeps_unknown_keys_order_and_comments_when_adding() -> None:
    text = "---\n# top comment\nzeta: 1\nalpha: [b, a]  # flow\nmid:\n  deep: x\n---\n# T\n"
    card = parse(text)
    card.metadata["new"] = {"k": np.float32(0.5), "n": np.int64(3), "arr": np.arange(2)}
    out = render(card)
    assert out.startswith("---\n# top comment\nzeta: 1\nalpha: [b, a]  # flow\nmid:\n  deep: x\n")
    again = parse(out)
    assert list(again.metadata) == ["zeta", "alpha", "mid", "new"]
    assert again.metadata["new"] == {"k": 0.5, "n": 3, "arr": [0, 1]}
    assert type(again.metadata["new"]["n"]) is int
    assert out.endswith("---\n# T\n")


def test_unchanged_metadata_is_written_back_as_read() -> None:
    text = "---\nb:   1\na: 'x'   # c\n---\n"
    card = parse(text)
    card.metadata["a"] = "x"  # same value: still unchanged
    assert render(card) == text
    del card.metadata["b"]
    assert render(card) == "---\na: 'x'   # c\n---\n"


@pytest.mark.parametrize(
    "text", ["---\na: [1\n---\n", "---\n- a\n- b\n---\n", "---\na: 1\na: 2\n---\n# T\n"]
)
def test_bad_front_matter_is_kept_or_refused(text: str) -> None:
    with pytest.raises(CardError) as err:
        Card.parse(text, strict=True)
    assert err.value.code == "E-CARD-FRONT-MATTER"
    card = parse(text)  # lenient: read anyway, written back as it was
    assert card.metadata.error and not len(card.metadata)
    assert render(card) == text
    card.metadata["license"] = "mit"  # setting metadata replaces the broken block
    assert render(card).startswith("---\nlicense: mit\n---\n")


# -- the section tree --------------------------------------------------------------------------
def test_section_tree_operations() -> None:
    card = Card({"license": "mit"})
    card.add("A", "a text")
    b = card.add("B")
    card.add("B1", "b1", under="B")
    card.add("B2", PLACEHOLDER, under=b)
    assert card.select("B/B1").content == "b1"
    assert card["B1"] is card.select("B/B1")  # a unique title is found anywhere
    assert [s.level for s in card.walk()] == [1, 1, 2, 2]
    card.move("B1", at=0)  # un-nest to the top
    assert [s.title for s in card.sections] == ["B1", "A", "B"]
    card.nest("A", under="B2")
    assert card.select("A").path == ("B", "B2", "A") and card.select("A").level == 3
    card.fold("B1", "Show")
    assert card["B1"].fold == "Show"
    assert card.placeholders() == ["B/B2"]
    removed = card.delete("B/B2")
    assert [s.title for s in removed.walk()] == ["B2", "A"]
    assert "A" not in card
    assert parse(render(card)) == card
    with pytest.raises(CardError) as err:
        card.select("Nope")
    assert err.value.code == "E-CARD-SECTION-NOT-FOUND"
    with pytest.raises(CardError):
        card.move("B", under="B")


def test_ambiguous_titles_need_a_path() -> None:
    card = Card()
    card.add("Notes", under=card.add("X"))
    card.add("Notes", under=card.add("Y"))
    with pytest.raises(CardError) as err:
        card.select("Notes")
    assert err.value.code == "E-CARD-SECTION-AMBIGUOUS"
    assert card.select(("Y", "Notes")).path == ("Y", "Notes")


@pytest.mark.parametrize(
    "content",
    ["# heading", "text\n---", "```\nunclosed", "<!-- open comment", "para\n\n## sub"],
)
def test_content_that_would_not_read_back_is_refused(content: str) -> None:
    with pytest.raises(CardError) as err:
        Section("T", content)
    assert err.value.code == "E-CARD-CONTENT"


@pytest.mark.parametrize("title", ["", "two\nlines", "   "])
def test_bad_titles_are_refused(title: str) -> None:
    with pytest.raises(CardError):
        Section(title)


def test_fold_and_toc_read_back() -> None:
    card = Card()
    card.add("Intro", "Hello")
    card.add("Details", "| a |\n|---|\n| 1 |", fold="Click to expand")
    toc = card.add_toc()
    card.add("Later", "x", under="Details")
    assert "- [Later](#later)" in toc.content  # kept up to date
    card.select("Later").title = "Renamed"
    assert "[Renamed](#renamed)" in toc.content and "Later" not in toc.content
    out = render(card)
    assert "<details>\n<summary>Click to expand</summary>\n\n| a |" in out
    assert parse(out) == card


def test_default_template_follows_mitchell() -> None:
    card = Card.default({"license": "mit"})
    top = [s.title for s in card.sections]
    for title in (
        "Model details",
        "Intended use",
        "Factors",
        "Metrics",
        "Evaluation data",
        "Training data",
        "Quantitative analyses",
        "Ethical considerations",
        "Caveats and recommendations",
    ):
        assert title in top
    assert "Metrics" in card.placeholders()
    assert parse(render(card)) == card


def test_custom_templates(tmp_path: Path) -> None:
    template = "---\nlicense: {{ license }}\n---\n# {{name}}\n\n{{ summary }}\n\n## Use\n"
    card = Card.from_template(template, license="mit", name="Iris model")
    assert card.metadata["license"] == "mit"
    assert card.sections[0].title == "Iris model"
    assert card.sections[0].content == PLACEHOLDER
    path = tmp_path / "t.md"
    path.write_text(template, encoding="utf-8")
    assert Card.from_template(path, license="mit", name="Iris model") == card
    outline = Card.from_outline({"Overview": {"": "{what}", "Data": "d"}}, what="A model")
    assert outline.select("Overview").content == "A model"
    assert outline.select("Overview/Data").level == 2


def test_canonical_json_validates_and_round_trips() -> None:
    card = parse(_read(next(v for v in CORPUS if v["id"] == "transformers-autogen")))
    data = json.loads(card.to_json())
    errors = list(validator("card/1/card").iter_errors(data))
    assert not errors, errors
    assert Card.from_dict(data) == card
    assert card.to_json() == Card.from_dict(data).to_json()
    assert b" " not in card.to_json().split(b'"')[0]


def test_load_and_save_keep_bytes(tmp_path: Path) -> None:
    for vector in CORPUS:
        src = VECTORS / str(vector["file"])
        card = Card.load(src)
        out = card.save(tmp_path / f"{vector['id']}.md")
        assert out.read_bytes() == src.read_bytes()


def test_parse_refuses_bytes() -> None:
    with pytest.raises(CardError):
        Card.parse(b"# x")  # type: ignore[arg-type]


# -- validation vectors -------------------------------------------------------------------------
METADATA = json.loads((VECTORS / "metadata.json").read_text(encoding="utf-8"))["vectors"]


@pytest.mark.parametrize("vector", METADATA, ids=lambda v: v["id"])
def test_metadata_vectors(vector: dict[str, object]) -> None:
    meta = vector["metadata"]
    assert isinstance(meta, dict)
    errors = [p for p in validate_metadata(meta) if p.severity == "error"]
    if vector["valid"]:
        assert errors == []
    else:
        assert [p.where for p in errors] == [vector["where"]]
        assert errors[0].message and errors[0].fix


def test_validation_messages_say_how_to_fix() -> None:
    problems = validate_metadata({"license": "Apache 2.0", "tags": "sklearn"})
    license = next(p for p in problems if p.where == "license")
    assert "Hub rejects" in license.message and "apache-2.0" in license.fix
    assert {p.where for p in problems if p.severity == "warning"} >= {
        "library_name",
        "pipeline_tag",
    }


# -- properties ------------------------------------------------------------------------------------
_titles = titles()
_contents = contents()


@given(markdown_texts())
def test_property_render_parse_is_identity_on_text(text: str) -> None:
    assert render(parse(text)) == text


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=200))
def test_property_any_text_round_trips(text: str) -> None:
    assert render(parse(text)) == text


@given(cards())
def test_property_parse_render_is_identity_on_cards(card: Card) -> None:
    assert parse(render(card)) == card


@given(markdown_texts(), st.data())
def test_property_edited_parsed_cards_read_back(text: str, data: st.DataObject) -> None:
    card = parse(text)
    for _ in range(data.draw(st.integers(1, 4))):
        sections = list(card.walk())
        before = card.copy()
        op = data.draw(
            st.sampled_from(["add", "content", "delete", "move", "move", "title", "meta", "fold"])
        )
        try:
            if op == "add" or not sections:
                card.add(data.draw(_titles), data.draw(_contents))
            elif op == "content":
                data.draw(st.sampled_from(sections)).content = data.draw(_contents)
            elif op == "delete":
                card.delete(data.draw(st.sampled_from(sections)))
            elif op == "move":
                target = data.draw(st.sampled_from([None, *sections]))
                card.move(
                    data.draw(st.sampled_from(sections)),
                    under=target,
                    at=data.draw(st.sampled_from([None, 0, 1, -1])),
                )
            elif op == "fold":
                data.draw(st.sampled_from(sections)).fold = data.draw(
                    st.sampled_from([None, "Click to expand"])
                )
            elif op == "title":
                data.draw(st.sampled_from(sections)).title = data.draw(_titles)
            else:
                card.metadata["edited"] = True
        except CardError:
            assert card == before  # a refused edit changes nothing
    assert parse(render(card)) == card


def test_generated_headings_escape_closing_hashes() -> None:
    card = Card()
    card.add("C#")
    card.add("ends with #")
    card.add("#")
    assert [s.title for s in parse(render(card)).walk()] == ["C#", "ends with #", "#"]
    assert re.search(r"^# ends with # #$", render(card), re.M)


def test_schema_is_usable_for_forms() -> None:
    from skship.card import schema

    meta = schema("metadata")
    license = meta["properties"]["license"]
    assert "mit" in license["enum"] and license["title"]
    assert all("title" in v or "$ref" in v for v in meta["properties"].values())
    assert schema("config")["$id"].endswith("card/1/config.schema.json")
    with pytest.raises(CardError):
        schema("nope")
