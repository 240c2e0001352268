"""The model-card app's session logic (no browser): trust decisions, pickle opt-in,
editing with undo, loading a README without losing unknown metadata, exports.

The browser test (tests/test_card_app_browser.py) drives the same code through Gradio.
"""

from __future__ import annotations

import importlib.util
import json
import pickle
import subprocess
import sys
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
    rendered, error = section_preview(card, "Notes", "**bold**", "Read more")
    assert error == "" and "&lt;summary&gt;Read more&lt;/summary&gt;" in rendered
    rendered, error = section_preview(card, "Notes", "**bold**", "two\nlines")
    assert rendered == "" and "E-CARD-CONTENT" in error


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


# -- confusion matrix, fold summaries, the Hub ------------------------------------------
@pytest.fixture(scope="module")
def classifier_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path_factory.mktemp("clf")
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80)})
    y = (X["a"] + rng.normal(scale=0.8, size=80) > 0).astype(int)
    skship.dump(LogisticRegression().fit(X, y), folder / "clf.skops")
    X.assign(group=rng.choice(["x", "y"], size=80), label=y).to_csv(
        folder / "test.csv", index=False
    )
    return folder / "clf.skops", folder / "test.csv"


def _generated(files: tuple[Path, Path], normalize: str | None = None) -> Session:
    session = Session()
    session.upload_model(files[0])
    session.load_model()
    session.upload_data(files[1])
    session.frame = session.frame.drop(columns=["group"])  # (the browser test uses it)
    session.generate("label", "classification", normalize=normalize)
    return session


def _matrix(session: Session) -> tuple[str, bytes]:
    card = session.card
    assert card is not None
    section = next(s for s in card.walk() if s.title == "Confusion matrix")
    return section.content, card.assets["images/confusion-matrix.png"]


def test_confusion_matrix_normalize_redraws_the_plot(classifier_files: tuple[Path, Path]) -> None:
    from skship.card.evaluate import CONFUSION_NORMALIZE

    session = _generated(classifier_files)
    counts_text, counts_png = _matrix(session)
    assert CONFUSION_NORMALIZE[None] in counts_text
    drawn = {None: counts_png}
    for how in ["true", "pred", "all"]:
        before = session.card.render()  # type: ignore[union-attr]
        session.set_normalize(how)
        text, png = _matrix(session)
        assert CONFUSION_NORMALIZE[how] in text and f"normalized over {how}" in text
        assert png not in drawn.values()  # a different picture for each normalization
        drawn[how] = png
        assert session.undo() and session.card.render() == before  # type: ignore[union-attr]
        session.set_normalize(how)
    # Back to counts: the very bytes of the first drawing (plots are deterministic), and
    # the card API draws the same picture when asked at generation time.
    session.set_normalize(None)
    assert _matrix(session) == (counts_text, counts_png)
    assert _matrix(_generated(classifier_files, "pred"))[1] == drawn["pred"]
    before = session.card.render()  # type: ignore[union-attr]
    with pytest.raises(SkshipError) as info:
        session.set_normalize("rows")
    assert info.value.code == "E-INVALID-ARGUMENT"
    assert session.card.render() == before  # type: ignore[union-attr]


def test_normalize_needs_the_model_and_data(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(README, encoding="utf-8")
    session = Session()
    session.open_card([tmp_path / "README.md"])
    with pytest.raises(SkshipError) as info:
        session.set_normalize("true")
    assert info.value.code == "E-INVALID-ARGUMENT"


@settings(max_examples=60)
@given(st.text(max_size=40))
def test_fold_summary_round_trips_through_markdown(summary: str) -> None:
    session = Session()
    session.set_card(Card.parse(README))
    path = ["Model card", "Details"]
    before = session.card.render()  # type: ignore[union-attr]
    try:
        session.save_section(path, "Folded *details*.", fold=True, summary=summary)
    except SkshipError as exc:
        assert exc.code == "E-CARD-CONTENT"
        assert "\n" in summary or "\r" in summary or "</summary>" in summary
        assert session.card.render() == before  # type: ignore[union-attr]
        return
    expected = summary.strip() or "Click to expand"
    text = session.card.render()  # type: ignore[union-attr]
    reread = Card.parse(text).select(path)
    assert reread.fold == expected and reread.content == "Folded *details*."
    # Unfolding keeps the text; folding again without a summary keeps the last one.
    session.save_section(path, "Folded *details*.", fold=False)
    assert Card.parse(session.card.render()).select(path).fold is None  # type: ignore[union-attr]
    session.card.select(path).fold = expected  # type: ignore[union-attr]
    session.save_section(path, "Folded *details*.", fold=True, summary="")
    assert Card.parse(session.card.render()).select(path).fold == expected  # type: ignore[union-attr]


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    from test_hub_fake import FakeHub

    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_TOKEN", "hf_machine_login")
    with FakeHub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


def test_push_shows_the_diff_and_waits_for_confirmation(
    fake_hub: Any, classifier_files: tuple[Path, Path]
) -> None:
    session = _generated(classifier_files)
    session.set_metadata("license", "mit")
    with pytest.raises(SkshipError, match="diff"):
        session.push(True)
    plan = session.prepare_push("user/app", "new", private=True, token="hf_typed")
    card_text = session.card.render()  # type: ignore[union-attr]
    assert plan.remote is None and plan.diff.startswith("--- /dev/null")
    added = [line[1:] for line in plan.diff.splitlines()[3:] if line.startswith("+")]
    assert added == card_text.splitlines()
    assert plan.files == sorted(["README.md", "clf.skops", *session.card.assets])  # type: ignore[union-attr]
    assert "new private repository `user/app`" in plan.summary()
    with pytest.raises(SkshipError, match="tick"):
        session.push(False)
    assert not any(m == "POST" for m, _ in fake_hub.requests)  # nothing was written
    url = session.push(True, token="hf_typed")
    repo = fake_hub.repos["user/app"]
    assert url.startswith(f"{fake_hub.url}/user/app/commit/") and repo.private
    assert repo.files["README.md"].decode() == card_text
    assert repo.files["clf.skops"] == classifier_files[0].read_bytes()
    assert set(fake_hub.authorization) == {"Bearer hf_typed"}
    with pytest.raises(SkshipError, match="diff"):
        session.push(True)  # a confirmed push is used once

    # A second push of the same repo as "new" is refused before any upload.
    with pytest.raises(SkshipError, match="pull request"):
        session.prepare_push("user/app", "new")

    # An edit, then a pull request: the diff shows exactly the changed line.
    path = ["Model details", "Model description"]
    old = session.card.select(path).content  # type: ignore[union-attr]
    session.save_section(path, "Edited in the app.")
    fake_hub.authorization.clear()
    plan = session.prepare_push("user/app", "pr", token=False)
    assert plan.remote == card_text
    removed = [line[1:] for line in plan.diff.splitlines()[2:] if line.startswith("-")]
    added = [line[1:] for line in plan.diff.splitlines()[2:] if line.startswith("+")]
    assert removed == old.splitlines() and added == ["Edited in the app."]
    # Editing after the diff was shown voids the confirmation.
    session.set_metadata("tags", ["changed"])
    with pytest.raises(SkshipError, match="changed after"):
        session.push(True, token=False)
    session.undo()
    plan = session.prepare_push("user/app", "pr", token=False)
    url = session.push(True, token=False)
    assert url == f"{fake_hub.url}/user/app/discussions/1"
    assert repo.files["README.md"].decode() == card_text  # main untouched
    assert repo.pulls[0]["README.md"].decode() == session.card.render()  # type: ignore[union-attr]
    assert set(fake_hub.authorization) == {None}  # token=False: no machine login sent


def test_push_of_a_reopened_export_keeps_the_model_file(
    fake_hub: Any, classifier_files: tuple[Path, Path]
) -> None:
    session = _generated(classifier_files)
    session.set_metadata("license", "mit")
    zipped = session.export("zip")
    again = Session()
    again.open_card([zipped])
    assert again.card == session.card
    plan = again.prepare_push("user/reopened", "new")
    assert "clf.skops" in plan.files
    again.push(True)
    files = fake_hub.repos["user/reopened"].files
    with zipfile.ZipFile(zipped) as z:
        assert {name: z.read(name) for name in z.namelist()} == files
    assert set(fake_hub.authorization) == {"Bearer hf_machine_login"}  # token None: the login


def test_push_of_an_invalid_card_uploads_nothing(
    fake_hub: Any, classifier_files: tuple[Path, Path]
) -> None:
    session = _generated(classifier_files)
    session.set_metadata("license", "not-a-license")
    session.prepare_push("user/bad", "new")
    with pytest.raises(SkshipError) as info:
        session.push(True)
    assert info.value.code == "E-CARD-METADATA-INVALID"
    assert "user/bad" not in fake_hub.repos


def test_docs_push_example_runs_against_the_loopback_hub(
    fake_hub: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """docs/card/app.md shows the push as a no-run block (it needs the Hub): run the
    page's blocks, that one included, against the Hub on loopback."""
    from test_docs import ROOT, code_blocks

    page = ROOT / "docs" / "card" / "app.md"
    blocks = code_blocks(page)
    assert [b.runs for b in blocks][-1] is False and "session.push(" in blocks[-1].code
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    for block in blocks:
        exec(compile("\n" * (block.line - 1) + block.code, str(page), "exec"), namespace)
    repo = fake_hub.repos["me/iris-card"]
    assert repo.private
    assert repo.files["README.md"].decode() == namespace["session"].card.render()
    out = capsys.readouterr().out
    assert "new private repository `me/iris-card`" in out and "--- /dev/null" in out
    assert namespace["url"] in out
    assert set(fake_hub.authorization) == {"Bearer hf_..."}


def test_space_signs_in_and_never_uses_its_own_token(monkeypatch: pytest.MonkeyPatch) -> None:
    import gradio as gr

    from skship.card.app import push_token

    def sign_in_buttons() -> int:
        # In a subprocess: building Gradio Blocks leaves event loops open in the process.
        code = (
            "import gradio as gr; from skship.card.app import build; "
            "print(sum(isinstance(b, gr.LoginButton) for b in build().blocks.values()))"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
        )
        return int(done.stdout.strip().splitlines()[-1])

    monkeypatch.delenv("SPACE_ID", raising=False)
    assert sign_in_buttons() == 0  # run locally: a token, or the machine's login
    monkeypatch.setenv("SPACE_ID", "user/space")
    oauth_extra = all(importlib.util.find_spec(m) for m in ("authlib", "itsdangerous"))
    # As a Space: Gradio's sign-in, when its [oauth] extra is installed (the Space's
    # requirements.txt installs it; this environment may not have it).
    assert sign_in_buttons() == int(oauth_extra)
    visitor = gr.OAuthToken(token="hf_visitor", scope="write-repos", expires_at=0)
    assert push_token(" hf_typed ", visitor, on_space=True) == "hf_typed"
    assert push_token("", visitor, on_space=True) == "hf_visitor"
    assert push_token("", None, on_space=True) is False  # not the Space's HF_TOKEN
    assert push_token("  ", None, on_space=False) is None  # locally: this machine's login
