"""Hub commands against a Hub on loopback: real huggingface_hub, real sockets, our real code.

Only the HTTP boundary is fake (tests/test_hub_fake.py); nothing of skship is mocked.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from test_hub_fake import FakeHub
from typer.testing import CliRunner

import skship
from skship.card import Card, hub
from skship.cli._app import build_app
from skship.errors import CardError, HubError, UntrustedTypesError


class PrivateScaler(StandardScaler):
    """A type the default trust list does not name."""


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHub]:
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with FakeHub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


@pytest.fixture
def model_files(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    y = (X["a"] + 0.5 * rng.normal(size=60) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    skship.dump(model, tmp_path / "model.skops", sample=X.head())
    X.assign(y=y).to_csv(tmp_path / "data.csv", index=False)
    return tmp_path / "model.skops", tmp_path / "data.csv"


def test_init_push_pull_round_trip(
    fake_hub: FakeHub, model_files: tuple[Path, Path], tmp_path: Path
) -> None:
    model_path, data = model_files
    folder = hub.init(
        tmp_path / "repo", model_path, data=data, target="y", license="mit", repo_id="user/clf"
    )
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert {"README.md", "config.json", "model.skops", "images/roc-curve.png"} <= set(names)
    config = json.loads((folder / "config.json").read_text())
    assert config["sklearn"]["model"]["file"] == "model.skops"
    assert config["sklearn"]["columns"] == ["a", "b"]
    card = Card.load(folder / "README.md")
    recorded = card.metadata["sklearn"]["model_file"]["sha256"]
    assert recorded == hashlib.sha256(model_path.read_bytes()).hexdigest()

    url = hub.push(folder, "user/clf")
    repo = fake_hub.repos["user/clf"]
    assert url.startswith(fake_hub.url + "/user/clf/commit/")
    assert sorted(repo.files) == names
    assert all(repo.files[n] == (folder / n).read_bytes() for n in names)
    assert not repo.private
    assert ("POST", "/api/validate-yaml") in fake_hub.requests  # the Hub's own check ran

    pulled = hub.pull("user/clf", tmp_path / "pulled")
    assert pulled.untrusted == [] and pulled.sha256_matches is True
    assert pulled.model_file.read_bytes() == model_path.read_bytes()
    model = pulled.load()
    original = skship.load(model_path)
    X = pd.read_csv(data).drop(columns=["y"])
    assert np.array_equal(model.predict_proba(X), original.predict_proba(X))


def test_push_private_and_pull_request(
    fake_hub: FakeHub, model_files: tuple[Path, Path], tmp_path: Path
) -> None:
    model_path, data = model_files
    folder = hub.init(tmp_path / "repo", model_path, data=data, license="mit", plots=False)
    hub.push(folder, "user/p", private=True)
    assert fake_hub.repos["user/p"].private
    before = dict(fake_hub.repos["user/p"].files)
    (folder / "README.md").write_text(
        (folder / "README.md").read_text() + "\nOne more line.\n", encoding="utf-8"
    )
    url = hub.push(folder, "user/p", create_pr=True)
    assert url == f"{fake_hub.url}/user/p/discussions/1"
    assert fake_hub.repos["user/p"].files == before  # main is untouched
    assert fake_hub.repos["user/p"].pulls[0]["README.md"].endswith(b"One more line.\n")


def test_pull_request_of_a_card_without_its_model_file(
    fake_hub: FakeHub, model_files: tuple[Path, Path], tmp_path: Path
) -> None:
    """A card opened alone (a README, as the app opens one) is checked against the
    model file the repository already holds, and the pull request carries the card
    only; a card whose recorded sha256 is not that file's is refused."""
    model_path, data = model_files
    folder = hub.init(tmp_path / "repo", model_path, data=data, license="mit", plots=False)
    hub.push(folder, "user/alone")
    readme_only = tmp_path / "readme-only"
    readme_only.mkdir()
    text = (folder / "README.md").read_text(encoding="utf-8") + "\nEdited alone.\n"
    (readme_only / "README.md").write_text(text, encoding="utf-8")
    for image in folder.glob("*.png"):
        (readme_only / image.name).write_bytes(image.read_bytes())
    hub.push(readme_only, "user/alone", create_pr=True)
    pull = fake_hub.repos["user/alone"].pulls[0]
    assert pull["README.md"].endswith(b"Edited alone.\n")
    assert sorted(pull) == sorted(p.name for p in readme_only.iterdir())  # no model file
    card = Card.load(readme_only / "README.md")
    card.metadata["sklearn"]["model_file"]["sha256"] = "0" * 64
    card.save(readme_only)
    with pytest.raises(CardError, match="sha256"):
        hub.push(readme_only, "user/alone", create_pr=True)


def test_pull_request_needs_an_existing_repo(
    fake_hub: FakeHub, model_files: tuple[Path, Path], tmp_path: Path
) -> None:
    model_path, data = model_files
    folder = hub.init(tmp_path / "repo", model_path, data=data, license="mit", plots=False)
    with pytest.raises(HubError, match="nothing to open a pull request on"):
        hub.push(folder, "user/absent", create_pr=True)
    assert "user/absent" not in fake_hub.repos  # not created on the way
    assert all(method == "GET" for method, _ in fake_hub.requests)
    with pytest.raises(HubError, match="not both"):
        hub.push(folder, "user/absent", create_pr=True, new_repo=True)
    assert "user/absent" not in fake_hub.repos


def test_push_refuses_an_invalid_card_before_any_request(
    fake_hub: FakeHub, model_files: tuple[Path, Path], tmp_path: Path
) -> None:
    model_path, data = model_files
    folder = hub.init(tmp_path / "repo", model_path, data=data, license="mit", plots=False)
    card = Card.load(folder / "README.md")
    card.metadata["license"] = "MIT License"
    card.save(folder)
    with pytest.raises(CardError) as err:
        hub.push(folder, "user/bad")
    assert "MIT License" in str(err.value) and "'mit'" in str(err.value)
    assert fake_hub.requests == []
    (folder / "README.md").unlink()
    with pytest.raises(CardError, match="hub init"):
        hub.push(folder, "user/bad")


def test_hub_refusal_becomes_a_hub_error(
    fake_hub: FakeHub, model_files: tuple[Path, Path], tmp_path: Path
) -> None:
    model_path, data = model_files
    folder = hub.init(tmp_path / "repo", model_path, data=data, license="llama2", plots=False)
    fake_hub.rejected_licenses.add("llama2")
    with pytest.raises(HubError) as err:
        hub.push(folder, "user/x")
    assert err.value.code == "E-HUB-REQUEST"
    assert "user/x" in str(err.value)
    assert fake_hub.repos["user/x"].files == {}  # nothing was committed


def test_pull_audits_before_loading(
    fake_hub: FakeHub, model_files: tuple[Path, Path], tmp_path: Path
) -> None:
    model_path, data = model_files
    folder = hub.init(tmp_path / "repo", model_path, data=data, license="mit", plots=False)
    hub.push(folder, "user/m")
    # Someone replaces the model with one that names a type nobody trusted.
    evil = skship.dumps(PrivateScaler().fit([[1.0], [2.0]]))
    fake_hub.repos["user/m"].files["model.skops"] = evil
    pulled = hub.pull("user/m", tmp_path / "pulled")
    assert pulled.untrusted == [f"{__name__}.PrivateScaler"]
    assert pulled.sha256_matches is False  # and the card no longer describes it
    with pytest.raises(HubError) as err:
        pulled.load()
    assert err.value.code == "E-HUB-REPO-CONTENT"
    # A file whose card matches but that names untrusted types: load refuses too.
    card = Card.load(tmp_path / "pulled" / "README.md")
    sk = card.metadata["sklearn"]
    sk["model_file"]["sha256"] = hashlib.sha256(evil).hexdigest()
    card.metadata["sklearn"] = sk
    card.save(tmp_path / "pulled")
    pulled = hub.audit_folder(tmp_path / "pulled")
    assert pulled.sha256_matches is True
    with pytest.raises(UntrustedTypesError):
        pulled.load()
    loaded = pulled.load(trusted=pulled.untrusted)  # only what the audit named, explicitly
    assert type(loaded).__name__ == "PrivateScaler"


def test_pull_unknown_repo(fake_hub: FakeHub, tmp_path: Path) -> None:
    with pytest.raises(HubError) as err:
        hub.pull("user/missing", tmp_path / "x")
    assert "user/missing" in str(err.value)


def test_unreachable_hub_is_a_hub_error(
    model_files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_path, data = model_files
    folder = hub.init(tmp_path / "repo", model_path, data=data, license="mit", plots=False)
    with FakeHub() as server:
        url = server.url  # a port that was listening and no longer is
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "2")
    with pytest.raises(HubError):
        hub.push(folder, "user/x", endpoint=url)


runner = CliRunner()


def test_cli_hub_commands(
    fake_hub: FakeHub, model_files: tuple[Path, Path], tmp_path: Path
) -> None:
    model_path, data = model_files
    folder = tmp_path / "repo"
    result = runner.invoke(
        build_app(),
        [
            "hub",
            "init",
            str(folder),
            "--model",
            str(model_path),
            "--data",
            str(data),
            "--license",
            "mit",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "config.json" in result.output and "README.md" in result.output
    result = runner.invoke(
        build_app(), ["hub", "push", str(folder), "--repo", "user/cli", "--private", "--new-repo"]
    )
    assert result.exit_code == 0, result.output
    assert fake_hub.repos["user/cli"].private
    commits = len(fake_hub.repos["user/cli"].commits)
    result = runner.invoke(
        build_app(), ["hub", "push", str(folder), "--repo", "user/cli", "--new-repo"]
    )
    assert result.exit_code == 1 and "user/cli" in result.output
    assert len(fake_hub.repos["user/cli"].commits) == commits  # nothing uploaded
    result = runner.invoke(
        build_app(), ["hub", "push", str(folder), "--repo", "user/cli", "--create-pr"]
    )
    assert result.exit_code == 0 and "/discussions/1" in result.output
    result = runner.invoke(build_app(), ["hub", "pull", "user/cli", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "every type the model file names is trusted" in result.output
    fake_hub.repos["user/cli"].files["model.skops"] = skship.dumps(PrivateScaler())
    result = runner.invoke(build_app(), ["hub", "pull", "user/cli", str(tmp_path / "out2")])
    assert result.exit_code == 1
    assert "sha256 differs" in result.output


def test_new_repo_refuses_an_existing_one(
    fake_hub: FakeHub, model_files: tuple[Path, Path], tmp_path: Path
) -> None:
    model_path, data = model_files
    folder = hub.init(tmp_path / "repo", model_path, data=data, license="mit", plots=False)
    hub.push(folder, "user/once", new_repo=True)
    before = dict(fake_hub.repos["user/once"].files)
    commits = len(fake_hub.repos["user/once"].commits)
    (folder / "README.md").write_text("changed", encoding="utf-8")
    with pytest.raises(HubError, match="already exists"):
        hub.push(folder, "user/once", new_repo=True)
    assert fake_hub.repos["user/once"].files == before
    assert len(fake_hub.repos["user/once"].commits) == commits


def test_remote_card(fake_hub: FakeHub, model_files: tuple[Path, Path], tmp_path: Path) -> None:
    model_path, data = model_files
    folder = hub.init(tmp_path / "repo", model_path, data=data, license="mit", plots=False)
    assert hub.remote_card("user/none", cache_dir=tmp_path / "c") is None  # no such repo
    hub.push(folder, "user/card")
    text = (folder / "README.md").read_text(encoding="utf-8")
    assert hub.remote_card("user/card", cache_dir=tmp_path / "c") == text
    del fake_hub.repos["user/card"].files["README.md"]
    assert hub.remote_card("user/card", cache_dir=tmp_path / "c2") is None  # no README
    with pytest.raises(HubError, match="repository id"):
        hub.remote_card("not a/valid/id", cache_dir=tmp_path / "c")


def test_remote_card_on_an_unreachable_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeHub() as server:
        url = server.url  # a port that was listening and no longer is
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "2")
    with pytest.raises(HubError):  # not "no card": the Hub could not say
        hub.remote_card("user/x", endpoint=url, cache_dir=tmp_path / "c")


lines = st.lists(st.text(alphabet=st.characters(exclude_characters="\r\n"), max_size=8), max_size=8)


@settings(max_examples=60)
@given(lines, lines)
def test_card_diff_is_a_unified_diff_of_the_cards(old: list[str], new: list[str]) -> None:
    from collections import Counter

    before, after = "".join(f"{x}\n" for x in old), "".join(f"{x}\n" for x in new)
    diff = hub.card_diff(before, after, "u/r")
    assert (diff == "") == (before == after)
    body = [line for line in diff.split("\n")[2:-1] if not line.startswith("@@")]
    removed = Counter(line[1:] for line in body if line.startswith("-"))
    added = Counter(line[1:] for line in body if line.startswith("+"))
    assert removed <= Counter(old) and added <= Counter(new)
    assert len(old) - removed.total() + added.total() == len(new)
    created = hub.card_diff(None, after, "u/r")
    assert created == "" if not new else created.startswith("--- /dev/null\n")
    assert [line[1:] for line in created.split("\n")[3:-1]] == new


def test_card_diff_without_a_final_newline() -> None:
    marker = "\\ No newline at end of file"
    diff = hub.card_diff("a\nb", "a\nb\nc\n", "u/r")
    assert diff.split("\n")[3:] == [" a", "-b", marker, "+b", "+c", ""]
    # Only the final newline differs: still a change, shown as git shows it.
    assert hub.card_diff("a\nb", "a\nb\n").split("\n")[3:] == [" a", "-b", marker, "+b", ""]
    assert hub.card_diff("a\nb\n", "a\nb").split("\n")[3:] == [" a", "-b", "+b", marker, ""]
    assert hub.card_diff("a\nb", "a\nb") == ""
