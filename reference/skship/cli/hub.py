"""`skship hub ...`: prepare, push and pull Hugging Face Hub repositories."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help="Hugging Face Hub: init a repo folder, push it, pull one (always audited).",
    no_args_is_help=True,
)


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(1)


@app.command("init")
def init(
    folder: Path = typer.Argument(..., help="Folder to create or fill."),
    model: Path = typer.Option(..., "--model", help="The model file (.skops)."),
    data: Path = typer.Option(None, "--data", help="Sample rows as CSV (example input, signature)."),
    target: str = typer.Option(None, "--target", help="Target column in --data: evaluate the model."),
    trusted: list[str] = typer.Option([], "--trust", help="A type to trust beyond the defaults."),
    license: str = typer.Option(None, "--license", help="A Hub license id (mit, apache-2.0, ...)."),
    repo: str = typer.Option(None, "--repo", help="user/name, for the card's download code."),
) -> None:
    """Write the model file, config.json and a README.md card into FOLDER."""
    from skship.card import hub
    from skship.errors import SkshipError

    try:
        hub.init(folder, model, data=data, target=target, trusted=trusted, license=license,
                 repo_id=repo)
    except SkshipError as exc:
        raise _fail(str(exc)) from None
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    typer.echo(f"{folder}: {', '.join(files)}")


@app.command("push")
def push(
    folder: Path = typer.Argument(..., help="A folder made by `skship hub init`."),
    repo: str = typer.Option(..., "--repo", help="user/name on the Hub."),
    private: bool = typer.Option(False, "--private", help="Create the repository as private."),
    create_pr: bool = typer.Option(False, "--create-pr", help="Open a pull request instead."),
    message: str = typer.Option("Upload model with skship", "-m", "--message"),
) -> None:
    """Validate FOLDER's card, then upload the folder (one commit). HF_TOKEN authenticates."""
    from skship.card import hub
    from skship.errors import SkshipError

    try:
        url = hub.push(folder, repo, private=private, create_pr=create_pr, commit_message=message)
    except SkshipError as exc:
        raise _fail(str(exc)) from None
    typer.echo(url)


@app.command("pull")
def pull(
    repo: str = typer.Argument(..., help="user/name on the Hub."),
    folder: Path = typer.Argument(..., help="Folder to download into."),
    revision: str = typer.Option(None, "--revision", help="Branch, tag or commit."),
    trusted: list[str] = typer.Option([], "--trust", help="A type to trust beyond the defaults."),
) -> None:
    """Download REPO into FOLDER and audit its model file (nothing is loaded or imported).

    Exit status 1 if the file names untrusted types or does not match its card.
    """
    from huggingface_hub.utils import disable_progress_bars

    from skship.card import hub
    from skship.errors import SkshipError

    disable_progress_bars()
    try:
        pulled = hub.pull(repo, folder, revision=revision, trusted=trusted)
    except SkshipError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"downloaded {repo} into {folder}; model file {pulled.model_file.name}")
    for p in pulled.problems:
        typer.echo(f"card {p.severity}: {p.where}: {p.message}")
    if pulled.sha256_matches is False:
        raise _fail("the model file's sha256 differs from the one its card records: do not load it")
    if pulled.untrusted:
        raise _fail(
            f"audit: the model file names {len(pulled.untrusted)} untrusted type(s): "
            f"{', '.join(pulled.untrusted)}. It was not loaded. Check each one; load it with "
            "skship.load(path, trusted=[...]) naming exactly those you trust."
        )
    typer.echo("audit: every type the model file names is trusted; load it with skship.load")
