"""The model-card app's session logic (no browser): trust decisions, pickle opt-in,
editing with undo, loading a README without losing unknown metadata, exports.

The browser test (tests/test_card_app_browser.py) drives the same code through Gradio.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.preprocessing import StandardScaler

import skship
from skship.card import Card
from skship.card.app import Session, check_model, section_choices, section_preview
from skship.card.testing import contents, titles
from skship.errors import SkshipError

pytest.importorskip("gradio")


class UntrustedScaler(StandardScaler):
    """A type no default trust list names."""


class _Tripwire:
    """Unpickling this calls _touch: proof of whether the pickle was ever loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (_touch, (self.path,))


def _touch(path: str) -> None:
    Path(path).write_text("unpickled", encoding="utf-8")


def test_untrusted_skops_types_need_a_decision(tmp_path: Path) -> None:
    skship.dump(UntrustedScaler().fit([[1.0], [2.0]]), tmp_path / "m.skops")
    name = f"{__name__}.UntrustedScaler"
    session = Session()
    check = session.upload_model(tmp_path / "m.skops")
    assert check.kind == "skops" and check.untrusted == [name] and name in check.report
    with pytest.raises(SkshipError) as info:
        session.load_model()
    assert info.value.code == "E-TRUST-UNTRUSTED-TYPE" and session.model is None
    assert "Loaded `UntrustedScaler`" in session.load_model([name])
    assert isinstance(session.model, UntrustedScaler)


def test_pickle_is_scanned_never_loaded_without_opt_in(tmp_path: Path) -> None:
    mark = tmp_path / "unpickled.txt"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_Tripwire(str(mark))))
    session = Session()
    check = session.upload_model(path)
    wanted = f"{__name__}._touch"
    assert check.kind == "pickle" and check.untrusted == [wanted]
    assert wanted in check.report and "is a pickle" in check.report
    for trusted, allow in [([], False), ([wanted], False), ([], True)]:
        with pytest.raises(SkshipError) as info:
            session.load_model(trusted, allow_pickle=allow)
        assert info.value.code == "E-CONVERT-UNTRUSTED-GLOBAL"
    assert not mark.exists() and session.model is None


def test_pickle_opt_in_loads_through_skops(tmp_path: Path) -> None:
    import joblib

    model = StandardScaler().fit([[1.0], [3.0]])
    joblib.dump(model, tmp_path / "scaler.joblib")
    session = Session()
    check = session.upload_model(tmp_path / "scaler.joblib")
    assert check.kind == "pickle" and check.untrusted == []
    session.load_model([], allow_pickle=True)
    assert session.model_name == "scaler.skops" and session.model_bytes is not None
    assert session.model.mean_.tolist() == model.mean_.tolist()
    assert check_model(session.workdir / "scaler.skops").untrusted == []


def test_generate_detects_task_and_evaluates(tmp_path: Path) -> None:
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    rng = __import__("numpy").random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    y = 2 * X["a"] - X["b"] + rng.normal(scale=0.1, size=60)
    skship.dump(LinearRegression().fit(X, y), tmp_path / "lr.skops")
    X.assign(price=y).to_parquet(tmp_path / "test.parquet")
    session = Session()
    session.upload_model(tmp_path / "lr.skops")
    session.load_model()
    assert session.upload_data(tmp_path / "test.parquet") == ["a", "b", "price"]
    assert session.detect_task("price") == "regression"
    card = session.generate("price", "regression")
    assert card.metadata["pipeline_tag"] == "tabular-regression"
    assert "r2" in card.select("Metrics").content.lower() and card.assets
    with zipfile.ZipFile(session.export("zip")) as z:
        assert {"README.md", "lr.skops", *card.assets} == set(z.namelist())


README = """---
license: mit
# a comment the app must keep
custom_field:
  nested: [1, 2]
library_name: sklearn
tags:
- a
---

# Model card

Intro text.

## Details

Some *details*.
"""


def test_open_readme_keeps_unknown_metadata_and_order(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(README, encoding="utf-8")
    session = Session()
    card = session.open_card([tmp_path / "README.md"])
    assert card.render() == README
    session.set_metadata("license", "apache-2.0")
    session.set_metadata("datasets", ["scikit-learn/breast-cancer"])
    text = card.render()
    assert "# a comment the app must keep" in text
    keys = list(Card.parse(text).metadata)
    assert keys == ["license", "custom_field", "library_name", "tags", "datasets"]
    assert card.metadata["custom_field"] == {"nested": [1, 2]}
    assert text.endswith(README.split("---\n", 2)[2])
    session.set_metadata("tags", [])
    assert "tags" not in card.metadata
    assert session.undo() and card is not session.card and session.card.metadata["tags"] == ["a"]


def test_section_preview_refuses_what_would_not_read_back() -> None:
    card = Card.default()
    rendered, error = section_preview(card, "Notes", "# a heading inside content")
    assert rendered == "" and "E-CARD-CONTENT" in error
    rendered, error = section_preview(card, "Notes", "**bold**")
    assert error == "" and "&lt;strong&gt;bold&lt;/strong&gt;" in rendered


operations = st.lists(
    st.one_of(
        st.tuples(st.just("license"), st.sampled_from(["mit", "apache-2.0", "", "other"])),
        st.tuples(st.just("add"), titles()),
        st.tuples(st.just("content"), contents()),
        st.tuples(st.just("delete"), st.integers(0, 40)),
        st.tuples(st.just("move"), st.sampled_from([-1, 1])),
    ),
    max_size=8,
)


@settings(max_examples=40)
@given(operations)
def test_undo_restores_every_earlier_state(ops: list[tuple[str, Any]]) -> None:
    session = Session()
    session.set_card(Card.default({"license": "mit"}))
    states = [session.card.render()]  # type: ignore[union-attr]
    last = None  # the kind of the last edit that made an undo step
    for kind, arg in ops:
        card = session.card
        assert card is not None
        paths = [json.loads(v) for _, v in section_choices(card)]
        before = len(session.history)
        try:
            if kind == "license":
                session.set_metadata("license", arg)
            elif kind == "add":
                session.add_section(arg, paths[0] if paths else None)
            elif kind == "content" and paths:
                session.save_section(paths[-1], arg)
            elif kind == "delete" and paths:
                session.delete_section(paths[arg % len(paths)])
            elif kind == "move" and paths:
                session.move_section(paths[-1], arg)
        except SkshipError:
            pass
        now = session.card.render()  # type: ignore[union-attr]
        if len(session.history) > before:
            states.append(now)
            last = kind
        elif kind == "license" and last == "license":
            states[-1] = now  # typing into one field again: the same undo step
        else:
            assert now == states[-1], "an edit changed the card without an undo step"
    # Every successful edit can be undone, newest first, back to the first card.
    while session.undo():
        states.pop()
        assert session.card.render() == states[-1]  # type: ignore[union-attr]
    assert states == [states[0]]
    exported = Card.from_dict(json.loads(session.export("json").read_bytes()))
    assert exported == session.card
