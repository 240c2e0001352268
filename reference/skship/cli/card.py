"""`skship card ...`: create, validate and render model cards."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Model cards: create, validate, render.", no_args_is_help=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


@app.command("validate")
def validate(
    path: Annotated[Path, typer.Argument(help="README.md, or the folder that holds it.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the problems as JSON lines.")
    ] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings too.")] = False,
) -> None:
    """Check a card's metadata (and its model file, images and config.json) offline.

    Says what the Hugging Face Hub would reject and how to fix it. Exit status 1 when
    there are errors (or warnings, with --strict).
    """
    import json

    from skship.card.validate import validate_folder
    from skship.errors import SkshipError

    try:
        problems = validate_folder(path)
    except SkshipError as exc:
        raise _fail(str(exc)) from None
    for p in problems:
        if as_json:
            typer.echo(json.dumps(p.__dict__, ensure_ascii=False))
        else:
            typer.echo(f"{p.severity}: {p.where}: {p.message}\n  fix: {p.fix}")
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    if not as_json:
        verdict = "the Hub would reject it" if errors else "OK"
        typer.echo(f"{path}: {errors} error(s), {warnings} warning(s): {verdict}")
    if errors or (strict and warnings):
        raise typer.Exit(1)


@app.command("create")
def create(
    model: Annotated[Path, typer.Argument(help="The model file (.skops).")],
    data: Annotated[
        Path | None, typer.Option("--data", help="Test data as CSV (features and target).")
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="Name of the target column in --data.")
    ] = None,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Folder to write README.md into.")
    ] = Path("."),
    trusted: Annotated[
        list[str] | None,
        typer.Option(
            "--trust", help="A type the model file may name beyond the default trusted set."
        ),
    ] = None,
    license: Annotated[
        str | None, typer.Option("--license", help="A Hub license id (mit, apache-2.0, ...).")
    ] = None,
    plots: Annotated[
        bool, typer.Option("--plots/--no-plots", help="Draw plots (needs matplotlib).")
    ] = True,
    html: Annotated[
        bool, typer.Option("--html", help="Also write card.html with images inlined.")
    ] = False,
) -> None:
    """Write a card for a model: metrics, plots, permutation importance, data summary.

    OUTPUT gets README.md, its images and a copy of the model file.
    """
    import skship
    from skship.card.evaluate import from_model
    from skship.errors import SkshipError

    try:
        untrusted = skship.get_untrusted_types(model, trusted=trusted)
        if untrusted:
            raise _fail(
                f"{model} names untrusted types: {', '.join(untrusted)}. Check them; if you "
                "trust them, repeat with --trust NAME for each."
            )
        estimator = skship.load(model, trusted=trusted)
        X = y = None
        if data is not None:
            import pandas as pd  # type: ignore[import-untyped]

            frame = pd.read_csv(data)
            if target is not None:
                if target not in frame.columns:
                    raise _fail(f"--target {target!r} is not a column of {data}")
                X, y = frame.drop(columns=[target]), frame[target]
        card = from_model(
            estimator,
            X,
            y,
            model_file=model.name,
            model_bytes=model.read_bytes(),
            license=license,
            plots=plots,
        )
        written = card.save(output)
        copy = output / model.name
        if not copy.exists() or not copy.samefile(model):
            import shutil

            shutil.copyfile(model, copy)  # the card names the file: keep them together
        typer.echo(f"wrote {written} ({len(card.assets)} image(s)) and {copy}")
        if html:
            page = output / "card.html"
            page.write_text(card.to_html(), encoding="utf-8")
            typer.echo(f"wrote {page}")
    except SkshipError as exc:
        raise _fail(str(exc)) from None


@app.command("html")
def html(
    path: Annotated[Path, typer.Argument(help="README.md, or the folder that holds it.")],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="HTML file (default: card.html next to it)."),
    ] = None,
) -> None:
    """Render a card to one standalone HTML file, images inlined."""
    from skship.card.card import Card
    from skship.errors import SkshipError

    readme = path / "README.md" if path.is_dir() else path
    try:
        page = Card.load(readme).to_html()
    except (SkshipError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    target = output or readme.parent / "card.html"
    target.write_text(page, encoding="utf-8")
    typer.echo(f"wrote {target}")


@app.command("app")
def app_command(
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 7860,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (0.0.0.0 to serve others).")
    ] = "127.0.0.1",
    browser: Annotated[
        bool, typer.Option("--browser/--no-browser", help="Open the app in a web browser.")
    ] = True,
) -> None:
    """Open the model-card app in the browser (needs skship[app]: Gradio).

    Upload a .skops model and test data to generate a card, or open a README.md;
    edit metadata and sections with a live preview; export a zip, HTML or JSON.
    """
    try:
        import gradio  # noqa: F401
    except ModuleNotFoundError:
        raise _fail("the app needs Gradio: pip install 'skship[app]'") from None
    from skship.card.app import launch

    typer.echo(f"skship card app on http://{host}:{port}/ (Ctrl+C to stop)")
    launch(port, host, open_browser=browser)
