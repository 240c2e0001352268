"""The model-card app driven in a real browser: Debian's headless Chromium via Playwright.

Starts ``skship card app`` on a free loopback port in a subprocess (one server and one
browser for the module; a fresh page per test), with the Hub pointed at the loopback Hub
of tests/test_hub_fake.py. The tests upload the demo model (Pipeline(StandardScaler,
HistGradientBoostingClassifier) on breast_cancer, saved with skship) and its test CSV,
wait for the plots, redraw the confusion matrix normalized, edit a section and the
metadata (validated per key press), export the zip and check it against the schema, and
push it to the Hub after its diff; then a sensitive-feature column and the section
operations (add, move, fold with a summary, delete, undo), opening a zipped card folder
with its images, and the pickle opt-in. Every request the page makes must stay on
loopback. Screenshots go to docs/card/app/ (the app's docs page shows them) when
SKSHIP_UPDATE_SCREENSHOTS=1 is set.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_hub_fake import FakeHub

pytest.importorskip("gradio")
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "card" / "app"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (make test installs it)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    import skship

    folder = tmp_path_factory.mktemp("demo")
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    model = Pipeline(
        [
            ("scale", StandardScaler()),
            ("model", HistGradientBoostingClassifier(max_iter=50, random_state=0)),
        ]
    ).fit(X_train, y_train)
    skship.dump(model, folder / "model.skops")
    X_test.assign(target=y_test).to_csv(folder / "test.csv", index=False)
    return folder / "model.skops", folder / "test.csv"


@contextlib.contextmanager
def _serving(command: list[str], port: int, scratch: Path, **env: str) -> Iterator[str]:
    """Run an app server in a subprocess until it answers on ``port``; stop it after.
    Its temporary files (uploads, exports) go under ``scratch``."""
    environment = {
        **os.environ,
        "GRADIO_ANALYTICS_ENABLED": "False",
        "TMPDIR": str(scratch),
        "GRADIO_TEMP_DIR": str(scratch / "gradio"),
        **env,
    }
    proc = subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    try:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    pytest.fail(f"the app did not start:\n{out}")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture(scope="module")
def hub() -> Iterator[FakeHub]:
    with FakeHub() as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, hub: FakeHub) -> Iterator[str]:
    port = _free_port()
    cli = "from skship.cli import main; main()"
    command = [sys.executable, "-c", cli, "card", "app", "--port", str(port), "--no-browser"]
    scratch = tmp_path_factory.mktemp("server")
    with _serving(
        command,
        port,
        scratch,
        HF_ENDPOINT=hub.url,
        HF_HOME=str(scratch / "hf-home"),
        HF_TOKEN="hf_machine_login",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
    ) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    """A fresh page on the app; every request it makes must stay on loopback."""
    external: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()

    def guard(route: Any) -> None:
        request_url = route.request.url
        if request_url.startswith(("http://127.0.0.1", "data:", "blob:")):
            route.continue_()
        else:
            external.append(request_url)
            route.abort()

    page.route("**/*", guard)
    page.goto(server)
    sync_api.expect(page.locator("#generate")).to_be_visible(timeout=30_000)
    try:
        yield page
    finally:
        context.close()
    assert external == [], f"the page tried to reach the network: {external}"


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    # The docs' screenshots are refreshed only on request (they differ by a few pixels
    # from run to run); otherwise they are taken all the same, into tmp_path.
    folder = SHOTS if os.environ.get("SKSHIP_UPDATE_SCREENSHOTS") else tmp_path / "shots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


expect = sync_api.expect


def _upload_model(page: Any, path: Path, report: str) -> None:
    page.locator("#model-file input[type=file]").set_input_files(str(path))
    expect(page.locator("#model-report")).to_contain_text(report, timeout=20_000)


def _pick(page: Any, elem_id: str, option: str) -> None:
    """Choose ``option`` in the dropdown ``elem_id`` (labels may be indented)."""
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option").filter(has_text=option).first.click()


def _download(page: Any, button: str, target: Path) -> Path:
    page.get_by_role("tab", name="Export").click()
    page.locator(f"#{button}").click()
    expect(page.locator("#status")).to_contain_text("Exported", timeout=20_000)
    link = page.locator("#download a").first
    expect(link).to_be_visible(timeout=20_000)
    with page.expect_download() as info:
        link.click()
    info.value.save_as(target)
    return target


def test_space_app_serves_the_same_app(tmp_path: Path) -> None:
    """examples/space runs as a Space: front matter names app.py and this Gradio."""
    import gradio

    from skship.card import Card

    space = Path(__file__).resolve().parent.parent / "examples" / "space"
    text = (space / "README.md").read_text(encoding="utf-8")
    front = Card.parse(text).metadata.to_dict()
    assert front["sdk"] == "gradio" and front["sdk_version"] == gradio.__version__
    assert (space / front["app_file"]).is_file()
    port = _free_port()
    with (
        _serving(
            [sys.executable, str(space / front["app_file"])],
            port,
            tmp_path,
            GRADIO_SERVER_PORT=str(port),
        ) as url,
        urllib.request.urlopen(url + "config", timeout=10) as response,
    ):
        config = json.loads(response.read())
    assert config["title"] == "skship model card"
    ids = {c.get("props", {}).get("elem_id") for c in config["components"]}
    assert {"model-file", "data-file", "license", "content", "export-zip"} <= ids


def test_create_edit_export_push_in_chromium(
    page: Any, hub: FakeHub, demo_files: tuple[Path, Path], shots: Path, tmp_path: Path
) -> None:
    from skship.card.validate import schema, validate_folder

    model_path, csv_path = demo_files
    # 1. the model: audited first, loaded only on the explicit button press
    _upload_model(page, model_path, "default trusted")
    page.locator("#load-model").click()
    expect(page.locator("#status")).to_contain_text("Loaded Pipeline", timeout=30_000)

    # 2. the data: target column guessed, task detected
    page.locator("#data-file input[type=file]").set_input_files(str(csv_path))
    expect(page.locator("#status")).to_contain_text("rows", timeout=20_000)
    expect(page.locator("#task input[value=classification]")).to_be_checked()
    page.screenshot(path=str(shots / "inputs.png"))

    # 3. generate: the preview shows the plots, rendered by the browser
    page.locator("#generate").click()
    expect(page.locator("#status")).to_contain_text("Card generated", timeout=90_000)
    page.get_by_role("tab", name="Preview").click()
    frame = page.frame_locator("#card-preview")
    images = frame.locator("img")
    expect(images.first).to_be_visible(timeout=20_000)
    assert images.count() >= 4
    widths = images.evaluate_all("els => els.map(e => e.naturalWidth)")
    assert all(w > 100 for w in widths), widths
    expect(frame.locator("table").first).to_be_visible()
    page.screenshot(path=str(shots / "preview.png"), full_page=False)
    images.first.screenshot(path=str(shots / "plot.png"))

    # 4. the normalize toggle redraws the confusion matrix (a different image) in place
    matrix = frame.locator("img[alt^='Confusion matrix']")
    counts = matrix.get_attribute("src")
    page.get_by_role("tab", name="Model and data").click()
    page.locator("#normalize").get_by_label("over true labels (rows)").check()
    expect(page.locator("#status")).to_contain_text("Confusion matrix redrawn", timeout=30_000)
    page.get_by_role("tab", name="Preview").click()
    expect(frame.locator("img[alt$='normalized over true']")).to_be_visible(timeout=20_000)
    expect(frame.get_by_text("each row sums to 1")).to_be_visible()
    assert frame.locator("img[alt^='Confusion matrix']").get_attribute("src") != counts
    frame.locator("img[alt^='Confusion matrix']").screenshot(
        path=str(shots / "plot-normalized.png")
    )

    # 5. edit: a section's Markdown with live preview, then the license
    page.get_by_role("tab", name="Edit").click()
    _select(page, "Model description")
    text = "Trained on **breast cancer** data in a browser test."
    page.locator("#content textarea").fill(text)
    live = page.frame_locator("#section-preview")
    expect(live.locator("strong", has_text="breast cancer")).to_be_visible(timeout=20_000)
    page.locator("#save-section").click()
    license_input = page.locator("#license input")
    license_input.click()
    # the dropdown offers exactly the schema's license ids
    enum = schema("metadata")["properties"]["license"]["enum"]
    expect(page.get_by_role("option")).to_have_count(len(enum), timeout=10_000)
    license_input.fill("mit")
    page.get_by_role("option", name="mit", exact=True).click()
    expect(page.locator("#problems")).not_to_contain_text("license", timeout=20_000)

    # 6. validation as you type: an invalid base model id is flagged before leaving the
    # field, and the message goes once the id is fixed
    problems = page.locator("#problems")
    base = page.locator("#base-model textarea, #base-model input").first
    base.press_sequentially("my model!", delay=20)
    expect(problems).to_contain_text("the Hub rejects 'my model!'", timeout=20_000)
    expect(base).to_be_focused()
    page.screenshot(path=str(shots / "edit.png"))
    base.fill("")
    base.press_sequentially("user/base-model", delay=20)
    expect(problems).not_to_contain_text("base_model", timeout=20_000)
    expect(problems).to_contain_text("valid", timeout=20_000)

    # 7. export the zip and check it as the Hub would
    zipped = _download(page, "export-zip", tmp_path / "card.zip")
    page.screenshot(path=str(shots / "export.png"))
    with zipfile.ZipFile(zipped) as z:
        z.extractall(tmp_path / "card")
    readme = (tmp_path / "card" / "README.md").read_text(encoding="utf-8")
    assert text in readme
    assert "license: mit" in readme and "base_model: user/base-model" in readme
    assert len(list((tmp_path / "card").rglob("*.png"))) >= 4
    errors = [p for p in validate_folder(tmp_path / "card") if p.severity == "error"]
    assert errors == []

    # 8. push to the (loopback) Hub: the diff first; Push stays disabled until then and
    # refuses until the diff is confirmed
    push, confirm = page.locator("#push"), page.locator("#confirm-push input")
    expect(push).to_be_disabled()
    expect(confirm).to_be_disabled()
    page.locator("#repo-id textarea, #repo-id input").first.fill("user/browser-card")
    page.locator("#hub-token input").fill("hf_typed_in_the_page")
    page.locator("#show-diff").click()
    summary = page.locator("#push-summary")
    expect(summary).to_contain_text("as a new public repository", timeout=30_000)
    expect(summary).to_contain_text("no card for this repository yet")
    diff = page.locator("#push-diff")
    expect(diff).to_contain_text("--- /dev/null", timeout=10_000)
    expect(diff).to_contain_text("+license: mit")
    expect(push).to_be_enabled()
    assert "user/browser-card" not in hub.repos
    push.click()
    expect(page.locator("#push-result")).to_contain_text("tick", timeout=20_000)
    assert "user/browser-card" not in hub.repos
    page.locator("#hub-token").scroll_into_view_if_needed()
    page.mouse.wheel(0, -120)
    page.screenshot(path=str(shots / "push.png"))
    confirm.check()
    push.click()
    expect(page.locator("#push-result")).to_contain_text("Pushed", timeout=30_000)
    files = hub.repos["user/browser-card"].files
    with zipfile.ZipFile(zipped) as z:
        assert {n: z.read(n) for n in z.namelist()} == files  # the push is the export
    assert "Bearer hf_typed_in_the_page" in hub.authorization
    expect(push).to_be_disabled()  # a confirmed push is used once

    # 9. the same repository again, as a pull request: the diff shows the one change
    page.get_by_role("tab", name="Edit").click()
    page.locator("#content textarea").fill(text + " Second edit.")
    page.locator("#save-section").click()
    expect(page.locator("#live-preview")).to_be_visible()
    page.get_by_role("tab", name="Export").click()
    page.locator("#push-mode").get_by_label("Pull request on an existing repository").check()
    page.locator("#show-diff").click()
    expect(summary).to_contain_text("a pull request on user/browser-card", timeout=30_000)
    expect(diff).to_contain_text("+" + text + " Second edit.", timeout=10_000)
    expect(diff).to_contain_text("-" + text)
    confirm.check()
    push.click()
    expect(page.locator("#push-result")).to_contain_text("discussions/1", timeout=30_000)
    repo = hub.repos["user/browser-card"]
    assert repo.files == files and b"Second edit." in repo.pulls[0]["README.md"]


@pytest.fixture(scope="module")
def grouped_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small classifier whose test data has a column it ignores: a sensitive feature."""
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    import skship

    folder = tmp_path_factory.mktemp("grouped")
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    X["group"] = rng.choice(["north", "south"], size=120)
    y = (X["a"] + rng.normal(scale=0.7, size=120) > 0).astype(int)
    model = Pipeline(
        [
            ("cols", ColumnTransformer([("keep", "passthrough", ["a", "b"])])),
            ("clf", LogisticRegression()),
        ]
    ).fit(X, y)
    skship.dump(model, folder / "grouped.skops")
    X.assign(label=y).to_csv(folder / "grouped.csv", index=False)
    return folder / "grouped.skops", folder / "grouped.csv"


def _select(page: Any, title: str) -> None:
    """Pick a section in the Edit tab and wait until its fields show it."""
    _pick(page, "section", title)
    live = page.frame_locator("#section-preview")
    expect(live.get_by_role("heading", name=title, exact=True)).to_have_count(1, timeout=20_000)


def _until(condition: Any, timeout: float = 20.0) -> None:
    """Poll ``condition`` (the preview is a sandboxed iframe: no page-side wait)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the page"
        time.sleep(0.2)


def _headings(frame: Any) -> list[str]:
    texts = frame.locator("h1, h2, h3, h4, h5").all_inner_texts()
    return [t.strip() for t in texts]


def test_sensitive_feature_and_section_operations_in_chromium(
    page: Any, grouped_files: tuple[Path, Path], shots: Path, tmp_path: Path
) -> None:
    from skship.card import Card

    model_path, csv_path = grouped_files
    _upload_model(page, model_path, "default trusted")
    page.locator("#load-model").click()
    expect(page.locator("#status")).to_contain_text("Loaded Pipeline", timeout=30_000)
    page.locator("#data-file input[type=file]").set_input_files(str(csv_path))
    expect(page.locator("#status")).to_contain_text("120 rows", timeout=20_000)
    _pick(page, "sensitive", "group")
    page.locator("#generate").click()
    expect(page.locator("#status")).to_contain_text("Card generated", timeout=90_000)

    # the sliced metrics: one row per group, in the preview
    page.get_by_role("tab", name="Preview").click()
    frame = page.frame_locator("#card-preview")
    expect(frame.get_by_role("heading", name="Metrics by group")).to_be_visible(timeout=20_000)
    sliced = frame.locator("table", has=frame.locator("th", has_text="group"))
    expect(sliced.locator("td", has_text="north")).to_have_count(1)
    expect(sliced.locator("td", has_text="south")).to_have_count(1)

    # add two sections under Metrics; write into the first; move the second above it
    page.get_by_role("tab", name="Edit").click()
    for title in ["Browser notes", "Second notes"]:
        _select(page, "Metrics")
        page.locator("#new-title textarea, #new-title input").first.fill(title)
        page.locator("#add-section").click()
        # (the dropdown's labels are indented by depth)
        expect(page.locator("#section input")).to_have_value(
            re.compile(rf"^\s*{title}$"), timeout=20_000
        )
    _select(page, "Browser notes")
    page.locator("#content textarea").fill("Notes written in the browser.")
    page.locator("#save-section").click()
    expect(frame.get_by_text("Notes written in the browser.")).to_have_count(1, timeout=20_000)
    heads = _headings(frame)
    assert heads.index("Browser notes") < heads.index("Second notes")
    _select(page, "Second notes")
    page.locator("#move-up").click()
    _until(lambda: _headings(frame).index("Second notes") < _headings(frame).index("Browser notes"))

    # fold one with a summary of our own; it reads back from the Markdown
    _select(page, "Browser notes")
    expect(page.locator("#content textarea")).to_have_value("Notes written in the browser.")
    page.locator("#fold input[type=checkbox]").check()
    summary_box = page.locator("#fold-summary textarea, #fold-summary input").first
    summary_box.fill("Open the browser notes")
    live = page.frame_locator("#section-preview")  # follows the fold before it is saved
    expect(live.locator("summary", has_text="Open the browser notes")).to_have_count(
        1, timeout=20_000
    )
    page.locator("#save-section").click()
    folded = frame.locator("details", has=frame.locator("summary", has_text="Open the browser"))
    expect(folded).to_have_count(1, timeout=20_000)
    page.screenshot(path=str(shots / "sections.png"))
    _select(page, "Second notes")
    expect(summary_box).to_have_value("", timeout=20_000)
    expect(page.locator("#fold input[type=checkbox]")).not_to_be_checked()
    _select(page, "Browser notes")
    expect(summary_box).to_have_value("Open the browser notes", timeout=20_000)
    expect(page.locator("#fold input[type=checkbox]")).to_be_checked()
    page.get_by_role("tab", name="Preview").click()
    closed_height = folded.bounding_box()["height"]
    assert folded.evaluate("d => d.open") is False  # collapsed by default
    expect(folded).to_contain_text("Notes written in the browser.")
    folded.locator("summary").click()
    assert folded.evaluate("d => d.open") is True
    _until(lambda: folded.bounding_box()["height"] > closed_height)

    # delete it, then undo: back with its fold and summary
    page.get_by_role("tab", name="Edit").click()
    page.locator("#delete-section").click()
    page.get_by_role("tab", name="Preview").click()
    expect(frame.get_by_role("heading", name="Browser notes")).to_have_count(0, timeout=20_000)
    page.get_by_role("tab", name="Edit").click()
    page.locator("#undo").click()
    page.get_by_role("tab", name="Preview").click()
    expect(frame.get_by_role("heading", name="Browser notes")).to_have_count(1, timeout=20_000)
    expect(folded).to_have_count(1)

    zipped = _download(page, "export-zip", tmp_path / "card.zip")
    with zipfile.ZipFile(zipped) as z:
        readme = z.read("README.md").decode("utf-8")
    card = Card.parse(readme)
    notes = card.select(["Metrics", "Browser notes"])
    assert notes.fold == "Open the browser notes"
    assert notes.content == "Notes written in the browser."
    assert [s.title for s in card.select(["Metrics"]).children] == [
        "Second notes",
        "Browser notes",
    ]
    sliced_md = card.select(["Quantitative analyses", "Metrics by group"]).content
    assert "| north |" in sliced_md and "| south |" in sliced_md


OPENED = """---
# a comment the app keeps
zeta_custom: 1
license: mit
alpha_custom:
  b: 2
  a: 1
library_name: sklearn
---

# My model

![A red square](images/pic.png)

## Details

Some details.
"""


def _png(color: str) -> bytes:
    from matplotlib.figure import Figure

    from skship.card.evaluate import figure_png

    fig = Figure(figsize=(2, 2))
    fig.patch.set_facecolor(color)
    return figure_png(fig)


def test_open_a_card_folder_with_its_images_in_chromium(
    page: Any, shots: Path, tmp_path: Path
) -> None:
    from skship.card import Card

    pic = _png("red")
    width = int.from_bytes(pic[16:20], "big")  # from the PNG's header
    folder_zip = tmp_path / "my-card.zip"
    with zipfile.ZipFile(folder_zip, "w") as z:
        z.writestr("my-card/README.md", OPENED)
        z.writestr("my-card/images/pic.png", pic)
    page.get_by_text("Or open an existing card").click()
    page.locator("#card-files input[type=file]").set_input_files(str(folder_zip))
    page.locator("#open-card").click()
    expect(page.locator("#status")).to_contain_text("Opened a card", timeout=20_000)
    page.get_by_role("tab", name="Preview").click()
    frame = page.frame_locator("#card-preview")
    image = frame.get_by_role("img", name="A red square")
    expect(image).to_be_visible(timeout=20_000)
    assert image.evaluate("e => e.naturalWidth") == width
    page.screenshot(path=str(shots / "open.png"))

    page.get_by_role("tab", name="Edit").click()
    tags = page.locator("#tags textarea, #tags input").first
    tags.press_sequentially("opened, opened", delay=10)
    expect(page.locator("#problems")).to_contain_text("repeated entries", timeout=20_000)
    for _ in "opened":
        tags.press("Backspace")
    tags.press_sequentially("browser", delay=10)
    expect(page.locator("#problems")).not_to_contain_text("repeated", timeout=20_000)
    zipped = _download(page, "export-zip", tmp_path / "card.zip")
    with zipfile.ZipFile(zipped) as z:
        readme = z.read("README.md").decode("utf-8")
        assert z.read("images/pic.png") == pic
    assert readme.startswith("---\n# a comment the app keeps\nzeta_custom: 1\n")
    card = Card.parse(readme)
    assert list(card.metadata) == ["zeta_custom", "license", "alpha_custom", "library_name", "tags"]
    assert list(card.metadata["alpha_custom"]) == ["b", "a"]
    assert card.metadata["tags"] == ["opened", "browser"]
    assert readme.endswith(OPENED.split("---\n", 2)[2])

    # a README.md and its image as separate files works the same
    page.reload()
    (tmp_path / "loose").mkdir()
    (tmp_path / "loose" / "README.md").write_text(OPENED, encoding="utf-8")
    (tmp_path / "loose" / "pic.png").write_bytes(pic)
    page.get_by_text("Or open an existing card").click()
    page.locator("#card-files input[type=file]").set_input_files(
        [str(tmp_path / "loose" / "README.md"), str(tmp_path / "loose" / "pic.png")]
    )
    page.locator("#open-card").click()
    expect(page.locator("#status")).to_contain_text("Opened a card", timeout=20_000)
    page.get_by_role("tab", name="Preview").click()
    expect(frame.get_by_role("img", name="A red square")).to_be_visible(timeout=20_000)
    assert frame.get_by_role("img", name="A red square").evaluate("e => e.naturalWidth") == width


class _MakesADirectory:
    """Unpickling this creates a directory: proof of whether the pickle ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.mkdir, (self.path,))


def test_pickle_needs_the_opt_in_in_chromium(page: Any, shots: Path, tmp_path: Path) -> None:
    import joblib
    from sklearn.preprocessing import StandardScaler

    mark = tmp_path / "the-pickle-ran"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(_MakesADirectory(str(mark))))
    name = f"{os.mkdir.__module__}.mkdir"  # posix.mkdir

    _upload_model(page, evil, "is a pickle")
    report = page.locator("#model-report")
    expect(report).to_contain_text("runs code chosen by whoever wrote the file")
    expect(report.locator("td", has_text=name)).to_have_count(1)  # shown before loading
    allow = page.locator("#allow-pickle input[type=checkbox]")
    expect(allow).to_be_visible()
    expect(allow).not_to_be_checked()
    expect(page.locator("#trust").get_by_label(name)).not_to_be_checked()
    page.screenshot(path=str(shots / "pickle.png"))
    page.locator("#load-model").click()
    expect(page.locator("#status")).to_contain_text("tick 'I trust this pickle'", timeout=20_000)
    allow.check()  # the opt-in alone does not trust what the pickle calls
    page.locator("#load-model").click()
    expect(page.locator("#status")).to_contain_text(
        f"untrusted name the pickle imports first: {name}", timeout=20_000
    )
    assert not mark.exists()

    scaler = tmp_path / "scaler.joblib"
    joblib.dump(StandardScaler().fit([[1.0], [3.0]]), scaler)
    page.locator("#model-file").get_by_label("Clear").click()
    _upload_model(page, scaler, "scaler.joblib is a pickle")
    expect(allow).not_to_be_checked()  # a new file needs a new decision
    page.locator("#load-model").click()
    expect(page.locator("#status")).to_contain_text("tick 'I trust this pickle'", timeout=20_000)
    allow.check()
    page.locator("#load-model").click()
    expect(page.locator("#status")).to_contain_text(
        "Loaded StandardScaler from scaler.skops", timeout=30_000
    )
    assert not mark.exists()
