"""Cards filled from scikit-learn objects: metrics, plots, tables, metadata, HTML, CLI."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from typer.testing import CliRunner

import skship
from skship.card import Card, parse, render, validate_config, validate_folder, validate_metadata
from skship.card.config import make_config
from skship.card.evaluate import environment, markdown_table
from skship.cli._app import build_app
from skship.format.schemas import validator

PNG = b"\x89PNG\r\n\x1a\n"


def _table(content: str) -> list[list[str]]:
    rows = [line for line in content.splitlines() if line.startswith("|")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows[2:]]


@pytest.fixture(scope="module")
def binary() -> tuple[object, pd.DataFrame, pd.Series]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    X, y = X[y < 2], y[y < 2]  # binary: every classifier plot applies
    X = X.assign(group=np.where(np.arange(len(X)) % 3 == 0, "a", "b"))
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0)
    features = ["sepal length (cm)", "sepal width (cm)"]  # not separable: metrics below 1
    model = make_pipeline(StandardScaler(), LogisticRegression())
    model.fit(X_train[features], y_train)
    return model, X_test[features].assign(group=X_test["group"]), y_test


def test_from_model_classifier(
    binary: tuple[object, pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    model, X, y = binary
    features = X.drop(columns=["group"])
    card = Card.from_model(model, features, y, license="mit", dataset="iris")
    # Metrics equal scikit-learn's own, in the table and in model-index.
    pred = model.predict(features)
    expected = skm.accuracy_score(y, pred)
    rows = dict(_table(card.select("Metrics").content))
    assert float(rows["accuracy"]) == pytest.approx(expected, abs=5e-5)
    assert expected < 1.0
    meta = card.metadata.to_dict()
    values = {m["name"]: m["value"] for m in meta["model-index"][0]["results"][0]["metrics"]}
    assert values["accuracy"] == pytest.approx(expected)
    assert values["roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, model.predict_proba(features)[:, 1])
    )
    assert all(type(v) is float for v in values.values())
    assert meta["pipeline_tag"] == "tabular-classification"
    assert meta["sklearn"]["estimator"] == "sklearn.pipeline.Pipeline"
    assert [f["name"] for f in meta["sklearn"]["input_signature"]["features"]] == list(features)
    assert meta["sklearn"]["environment"]["sklearn"] == environment()["sklearn"]
    # Plots: real PNGs, linked with alt text by relative path.
    assert {
        "images/confusion-matrix.png",
        "images/roc-curve.png",
        "images/precision-recall-curve.png",
        "images/calibration-curve.png",
        "images/permutation-importance-plot.png",
    } <= set(card.assets)
    assert all(data.startswith(PNG) for data in card.assets.values())
    out = render(card)
    assert re.search(r"!\[[^\]]+\]\(images/roc-curve\.png\)", out)
    assert "Classification report" in out and "Permutation importance" in out
    report = dict((r[0], r) for r in _table(card.select("Classification report").content))
    assert "macro avg" in report
    # Data summary: rows and class balance.
    target = dict((r[0], r) for r in _table(card.select("Evaluation data/Target").content))
    assert int(target["1"][1]) == int((y == 1).sum())
    # Saved: README plus images; reads back; validates; canonical JSON follows the schema.
    card.save(tmp_path)
    assert (tmp_path / "images" / "roc-curve.png").read_bytes() == card.assets[
        "images/roc-curve.png"
    ]
    assert Card.load(tmp_path / "README.md") == card
    assert not [p for p in validate_metadata(meta) if p.severity == "error"]
    assert not list(validator("card/1/card").iter_errors(json.loads(card.to_json())))
    # The same card twice gives the same bytes (plots included).
    again = Card.from_model(model, features, y, license="mit", dataset="iris")
    assert render(again) == out and again.assets == card.assets


def test_sliced_metrics_match_per_group(binary: tuple[object, pd.DataFrame, pd.Series]) -> None:
    model, X, y = binary
    card = Card()
    features = X.drop(columns=["group"])
    section = card.add_sliced_metrics(model, features, y, list(X["group"]))
    rows = {r[0]: r for r in _table(section.content)}
    for group in ("a", "b"):
        mask = (X["group"] == group).to_numpy()
        acc = skm.accuracy_score(y[mask], model.predict(features[mask]))
        assert int(rows[group][1]) == mask.sum()
        assert float(rows[group][2]) == pytest.approx(acc, abs=5e-5)


def test_from_model_regressor() -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    model = Ridge().fit(X_train, y_train)
    card = Card.from_model(model, X_test, y_test, permutation=False)
    rows = dict(_table(card.select("Metrics").content))
    assert float(rows["r2"]) == pytest.approx(skm.r2_score(y_test, model.predict(X_test)), abs=5e-5)
    assert {"images/residuals.png", "images/prediction-error.png"} == set(card.assets)
    assert card.metadata["pipeline_tag"] == "tabular-regression"
    assert parse(render(card)) == card


def test_tables_escape_and_read_back() -> None:
    frame = pd.DataFrame({"a|b": ["x|y", "line\nbreak"], "n": [np.float32(0.5), np.int64(2)]})
    table = markdown_table(frame)
    assert _table(table) == [["x\\|y", "0.5"], ["line<br>break", "2"]]
    card = Card()
    card.add_table("Data", frame)
    card.add_metrics({"accuracy": np.float64(0.91234)})
    assert parse(render(card)) == card
    assert _table(card.select("Metrics").content) == [["accuracy", "0.9123"]]


def test_helpers_hyperparameters_diagram_get_started(
    binary: tuple[object, pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    model, _X, _y = binary
    card = Card()
    hp = card.add_hyperparameters(model)
    assert hp.fold == "Click to expand"
    assert ["logisticregression__C", "1.0"] in _table(hp.content)
    diagram = card.add_model_diagram(model)
    assert diagram.fold and "<div" in diagram.content and "\n\n" not in diagram.content
    code = card.add_get_started("model.skops", repo_id="user/iris").content
    assert "get_untrusted_types" in code and "hf_hub_download('user/iris', 'model.skops')" in code
    assert parse(render(card)) == card
    # The get-started code really loads a model saved with skship.
    skship.dump(model, tmp_path / "model.skops")
    snippet = re.search(r"```python\n(.*?)```", card.add_get_started("model.skops").content, re.S)
    assert snippet is not None
    namespace: dict[str, object] = {}
    import contextlib
    import io
    import os

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(snippet[1], namespace)
    finally:
        os.chdir(cwd)
    assert type(namespace["model"]).__name__ == "Pipeline"


def test_add_plot_needs_alt_text_and_html_inlines_images(tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure()
    fig.subplots().plot([0, 1], [1, 0])
    card = Card()
    with pytest.raises(skship.errors.SkshipError):
        card.add_plot("Line", fig, alt=" ")
    card.add_plot("Line", fig, alt="A falling line")
    page = card.to_html()
    src = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(src) == 1 and src[0].startswith("data:image/png;base64,")
    assert base64.b64decode(src[0].split(",", 1)[1]) == card.assets["images/line.png"]
    assert 'alt="A falling line"' in page
    # Loaded from a folder, images are found next to README.md.
    card.save(tmp_path)
    loaded_page = Card.load(tmp_path / "README.md").to_html()
    assert "data:image/png;base64," in loaded_page


def test_validate_folder_checks_files(
    binary: tuple[object, pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    model, X, y = binary
    features = X.drop(columns=["group"])
    skship.dump(model, tmp_path / "model.skops")
    card = Card.from_model(
        model,
        features,
        y,
        model_bytes=(tmp_path / "model.skops").read_bytes(),
        license="mit",
        permutation=False,
    )
    card.save(tmp_path)
    assert not [p for p in validate_folder(tmp_path) if p.severity == "error"]
    (tmp_path / "images" / "roc-curve.png").unlink()
    (tmp_path / "model.skops").write_bytes(skship.dumps(LogisticRegression()))
    errors = {p.where: p for p in validate_folder(tmp_path) if p.severity == "error"}
    assert "sklearn.model_file.sha256" in errors
    assert any("roc-curve.png" in p.message for p in errors.values())


def test_config_json_contract() -> None:
    X = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0], "b": ["x", "y", "z", "w"]})
    config = make_config(
        model_file="model.skops", task="tabular-classification", environment=environment(), sample=X
    )
    assert config["sklearn"]["example_input"] == {"a": [1.0, None, 3.0], "b": ["x", "y", "z"]}
    assert config["sklearn"]["columns"] == ["a", "b"]
    assert validate_config(config) == []
    config["sklearn"]["example_input"]["a"] = [1.0]
    config["sklearn"]["task"] = "classification"
    wheres = {p.where for p in validate_config(config)}
    assert wheres == {"sklearn.task", "sklearn.example_input"}


# -- CLI -----------------------------------------------------------------------------------------
runner = CliRunner()


def test_cli_card_create_and_validate(
    binary: tuple[object, pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    model, X, y = binary
    skship.dump(model, tmp_path / "model.skops")
    X.drop(columns=["group"]).assign(target=y.to_numpy()).to_csv(tmp_path / "test.csv", index=False)
    out = tmp_path / "card"
    result = runner.invoke(
        build_app(),
        [
            "card",
            "create",
            str(tmp_path / "model.skops"),
            "--data",
            str(tmp_path / "test.csv"),
            "--target",
            "target",
            "-o",
            str(out),
            "--license",
            "mit",
            "--html",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (out / "README.md").is_file() and (out / "card.html").is_file()
    assert (out / "images" / "confusion-matrix.png").is_file()
    result = runner.invoke(build_app(), ["card", "validate", str(out)])
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.output
    # A card the Hub would reject: exit 1, and the message says what to fix.
    bad = tmp_path / "bad.md"
    bad.write_text("---\nlicense: MIT License\ntags: sklearn\n---\n# Model\n", encoding="utf-8")
    result = runner.invoke(build_app(), ["card", "validate", str(bad)])
    assert result.exit_code == 1
    assert "the Hub rejects 'MIT License'" in result.output and "'mit'" in result.output
    assert "tags" in result.output and "the Hub would reject it" in result.output
    result = runner.invoke(build_app(), ["card", "validate", str(bad), "--json"])
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert {"license", "tags"} <= {line["where"] for line in lines}
    broken = tmp_path / "broken.md"
    broken.write_text("---\nlicense: [mit\n---\n", encoding="utf-8")
    result = runner.invoke(build_app(), ["card", "validate", str(broken)])
    assert result.exit_code == 1 and "YAML" in result.output


class UntrustedScaler(StandardScaler):
    """A type no default trust list names."""


def test_cli_card_create_refuses_untrusted_model(tmp_path: Path) -> None:
    skship.dump(UntrustedScaler().fit([[1.0], [2.0]]), tmp_path / "m.skops")
    assert skship.get_untrusted_types(tmp_path / "m.skops") == [f"{__name__}.UntrustedScaler"]
    result = runner.invoke(
        build_app(), ["card", "create", str(tmp_path / "m.skops"), "-o", str(tmp_path / "c")]
    )
    assert result.exit_code == 1 and "untrusted" in result.output
    assert "UntrustedScaler" in result.output
    assert not (tmp_path / "c").exists()


def test_validate_folder_checks_html_images(tmp_path: Path) -> None:
    card = Card({"license": "mit", "library_name": "sklearn", "pipeline_tag": "tabular-regression"})
    card.add("Plot", '<img src="images/missing.png" alt="x" width="300"/>')
    card.save(tmp_path)
    errors = [p for p in validate_folder(tmp_path) if p.severity == "error"]
    assert [p.where for p in errors] == ["Plot"] and "missing.png" in errors[0].message


@pytest.mark.parametrize("labels", ["binary-int", "binary-str", "multiclass"])
def test_from_model_with_numpy_inputs(labels: str) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=80) > 0).astype(int)
    if labels == "binary-str":
        y = np.array(["no", "yes"])[y]
    elif labels == "multiclass":
        y = np.digitize(X[:, 0], [-0.5, 0.5])
    model = LogisticRegression().fit(X, y)  # no feature names: no warning may be raised
    card = Card.from_model(model, X, y, n_repeats=2, plots=labels == "binary-str")
    rows = dict(_table(card.select("Metrics").content))
    assert float(rows["accuracy"]) == pytest.approx(
        skm.accuracy_score(y, model.predict(X)), abs=5e-5
    )
    features = card.metadata["sklearn"]["input_signature"]["features"]
    assert [f["name"] for f in features] == ["x0", "x1", "x2"]
    section = card.add_sliced_metrics(model, X, y, list(np.where(X[:, 1] > 0, "hi", "lo")))
    assert {r[0] for r in _table(section.content)} == {"hi", "lo"}
    assert parse(render(card)) == card


def test_validate_lists_sections_still_to_write(tmp_path: Path) -> None:
    Card.default(
        {"license": "mit", "library_name": "sklearn", "pipeline_tag": "tabular-classification"}
    ).save(tmp_path)
    todo = [p for p in validate_folder(tmp_path) if p.where == "(sections)"]
    assert len(todo) == 1 and todo[0].severity == "warning"
    expected = len(Card.default().placeholders())
    assert todo[0].message.startswith(f"{expected} section(s)")
    assert "'Factors/Relevant factors'" in todo[0].message
    result = runner.invoke(build_app(), ["card", "validate", str(tmp_path), "--strict"])
    assert result.exit_code == 1
    result = runner.invoke(build_app(), ["card", "validate", str(tmp_path)])
    assert result.exit_code == 0
