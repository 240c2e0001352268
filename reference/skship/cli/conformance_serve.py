"""`skship conformance serve --url URL`: check a running server against the serving vectors.

Registered into the `conformance` group by `cli/conformance.py`.
"""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the `serve` command to the `conformance` group."""

    @app.command("serve")
    def serve(
        url: Annotated[
            str, typer.Option(help="Base URL of the server, e.g. http://127.0.0.1:8080")
        ],
        model: Annotated[
            str, typer.Option(help="Name the conformance model is served under.")
        ] = "conformance",
        level: Annotated[
            list[str] | None,
            typer.Option(
                help="Levels to run (repeatable): core, recommended, optional:tabular, "
                "optional:sagemaker, optional:huggingface. Default: all."
            ),
        ] = None,
        cases: Annotated[
            str | None, typer.Option(help="Folder of vectors (default: conformance/serving/1).")
        ] = None,
        json_out: Annotated[
            bool, typer.Option("--json", help="Print the results as JSON lines.")
        ] = False,
    ) -> None:
        """Send every serving vector to URL and compare the answers; exit 1 on a core failure."""
        import json
        from pathlib import Path

        from skship.serve.conformance import LEVELS, check

        levels = tuple(level) if level else LEVELS
        unknown = set(levels) - set(LEVELS)
        if unknown:
            typer.echo(f"error: unknown level(s) {sorted(unknown)}; choose from {LEVELS}", err=True)
            raise typer.Exit(2)
        results = check(url, model=model, cases_dir=Path(cases) if cases else None, levels=levels)
        for r in results:
            if json_out:
                typer.echo(json.dumps(r.__dict__))
            else:
                mark = "PASS" if r.passed else "FAIL"
                typer.echo(f"{mark}  {r.level:<22} {r.id:<24} {r.detail}")
        if not json_out:
            for lvl in levels:
                sel = [r for r in results if r.level == lvl]
                if sel:
                    passed = sum(r.passed for r in sel)
                    typer.echo(f"{lvl}: {passed}/{len(sel)} passed")
        if any(not r.passed and r.level == "core" for r in results):
            raise typer.Exit(1)
