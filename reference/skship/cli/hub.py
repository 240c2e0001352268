"""`skship hub ...`: prepare, push and pull Hugging Face Hub repositories."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
    folder: Annotated[Path, typer.Argument(help="Folder to create or fill.")],
    model: Annotated[Path, typer.Option("--model", help="The model file (.skops).")],
    data: Annotated[
        Path | None, typer.Option("--data", help="Sample rows as CSV (example input, signature).")
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="Target column in --data: evaluate the model.")
    ] = None,
    trusted: Annotated[
        list[str] | None, typer.Option("--trust", help="A type to trust beyond the defaults.")
    ] = None,
    license: Annotated[
        str | None, typer.Option("--license", help="A Hub license id (mit, apache-2.0, ...).")
    ] = None,
    repo: Annotated[
        str | None, typer.Option("--repo", help="user/name, for the card's download code.")
    ] = None,
) -> None:
    """Write the model file, config.json and a README.md card into FOLDER."""
    from skship.card import hub
    from skship.errors import SkshipError

    try:
        hub.init(
            folder, model, data=data, target=target, trusted=trusted, license=license, repo_id=repo
        )
    except SkshipError as exc:
        raise _fail(str(exc)) from None
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    typer.echo(f"{folder}: {', '.join(files)}")


@app.command("push")
def push(
    folder: Annotated[Path, typer.Argument(help="A folder made by `skship hub init`.")],
    repo: Annotated[str, typer.Option("--repo", help="user/name on the Hub.")],
    private: Annotated[
        bool, typer.Option("--private", help="Create the repository as private.")
    ] = False,
    create_pr: Annotated[
        bool, typer.Option("--create-pr", help="Open a pull request instead.")
    ] = False,
    new_repo: Annotated[
        bool,
        typer.Option(
            "--new-repo", help="Refuse (upload nothing) if the repository already exists."
        ),
    ] = False,
    message: Annotated[str, typer.Option("-m", "--message")] = "Upload model with skship",
) -> None:
    """Validate FOLDER's card, then upload the folder (one commit). HF_TOKEN authenticates."""
    from skship.card import hub
    from skship.errors import SkshipError

    try:
        url = hub.push(
            folder,
            repo,
            private=private,
            create_pr=create_pr,
            new_repo=new_repo,
            commit_message=message,
        )
    except SkshipError as exc:
        raise _fail(str(exc)) from None
    typer.echo(url)


@app.command("pull")
def pull(
    repo: Annotated[str, typer.Argument(help="user/name on the Hub.")],
    folder: Annotated[Path, typer.Argument(help="Folder to download into.")],
    revision: Annotated[
        str | None, typer.Option("--revision", help="Branch, tag or commit.")
    ] = None,
    trusted: Annotated[
        list[str] | None, typer.Option("--trust", help="A type to trust beyond the defaults.")
    ] = None,
) -> None:
    """Download REPO into FOLDER and audit its model file (nothing is loaded or imported).

    Exit status 1 if the file names untrusted types or does not match its card.
    """
    from skship.card import hub
    from skship.errors import SkshipError

    try:
        from huggingface_hub.utils import disable_progress_bars  # type: ignore[attr-defined]

        disable_progress_bars()
    except ModuleNotFoundError:
        pass  # hub.pull says how to install it
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
