"""The model-card app driven in a real browser: Debian's headless Chromium via Playwright.

Starts ``skship card app`` on a free loopback port in a subprocess, uploads the demo model
(Pipeline(StandardScaler, HistGradientBoostingClassifier) on breast_cancer, saved with
skship) and its test CSV, waits for the plots, edits a section and the license, exports
the zip and checks the exported card against the schema. Every request the page makes
must stay on loopback. Screenshots go to docs/card/app/ (the app's docs page shows them) when
SKSHIP_UPDATE_SCREENSHOTS=1 is set.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

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
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    cli = "from skship.cli import main; main()"
    command = [sys.executable, "-c", cli, "card", "app", "--port", str(port), "--no-browser"]
    with _serving(command, port, tmp_path_factory.mktemp("server")) as url:
        yield url


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


def test_create_edit_export_in_chromium(
    server: str, demo_files: tuple[Path, Path], tmp_path: Path
) -> None:
    from skship.card.validate import schema, validate_folder

    model_path, csv_path = demo_files
    external: list[str] = []
    # The docs' screenshots are refreshed only on request (they differ by a few pixels
    # from run to run); otherwise they are taken all the same, into tmp_path.
    shots = SHOTS if os.environ.get("SKSHIP_UPDATE_SCREENSHOTS") else tmp_path / "shots"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)

            def guard(route: object) -> None:
                request_url = route.request.url  # type: ignore[attr-defined]
                if request_url.startswith(("http://127.0.0.1", "data:", "blob:")):
                    route.continue_()  # type: ignore[attr-defined]
                else:
                    external.append(request_url)
                    route.abort()  # type: ignore[attr-defined]

            page.route("**/*", guard)
            page.goto(server)
            expect = sync_api.expect
            expect(page.locator("#generate")).to_be_visible(timeout=30_000)

            # 1. the model: audited first, loaded only on the explicit button press
            page.locator("#model-file input[type=file]").set_input_files(str(model_path))
            expect(page.locator("#model-report")).to_contain_text("default trusted", timeout=20_000)
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

            # 4. edit: a section's Markdown with live preview, then the license
            page.get_by_role("tab", name="Edit").click()
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
            page.screenshot(path=str(shots / "edit.png"))

            # 5. export the zip and check it as the Hub would
            page.get_by_role("tab", name="Export").click()
            page.locator("#export-zip").click()
            link = page.locator("#download a").first
            expect(link).to_be_visible(timeout=20_000)
            with page.expect_download() as info:
                link.click()
            zipped = tmp_path / "card.zip"
            info.value.save_as(zipped)
            page.screenshot(path=str(shots / "export.png"))
        finally:
            browser.close()

    with zipfile.ZipFile(zipped) as z:
        z.extractall(tmp_path / "card")
    readme = (tmp_path / "card" / "README.md").read_text(encoding="utf-8")
    assert text in readme
    assert "license: mit" in readme
    assert len(list((tmp_path / "card").rglob("*.png"))) >= 4
    errors = [p for p in validate_folder(tmp_path / "card") if p.severity == "error"]
    assert errors == []
    assert external == [], f"the page tried to reach the network: {external}"
