"""`skship conformance ...`: run the conformance vectors through a harness, and build a
status page from reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skship.cli.conformance_serve import register as _register_serve

app = typer.Typer(help="conformance commands.", no_args_is_help=True)


@app.command("run")
def run(
    harness: Annotated[
        str,
        typer.Option(
            "--harness",
            help="The implementation under test: a command speaking harness protocol 1 on "
            "stdin/stdout, or entry-point:<name> for a Python implementation registered in "
            "the skship.conformance entry-point group.",
        ),
    ],
    suite: Annotated[Path, typer.Option("--suite", help="The vectors' root directory.")] = Path(
        "conformance"
    ),
    classes: Annotated[
        str, typer.Option("--classes", help="Comma-separated classes to test.")
    ] = "reader,writer,auditor",
    skips: Annotated[
        Path | None,
        typer.Option("--skips", help="Skip file: known failures by exact id, with issue links."),
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the JSON report here.")
    ] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for each answer.")
    ] = 120.0,
) -> None:
    """Run every vector the implementation claims, judge each answer, and exit 1 on any
    failure or unexpected pass."""
    import json

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.table import Table

    from skship.conformance.harness import HarnessFailure, open_harness
    from skship.conformance.runner import (
        ALL_CLASSES,
        FAILING,
        Runner,
        Skips,
        junit_xml,
        load_suite,
    )
    from skship.conformance.runner import report as make_report

    console = Console(stderr=True)
    wanted = [c.strip() for c in classes.split(",") if c.strip()]
    unknown = sorted(set(wanted) - set(ALL_CLASSES))
    if unknown:
        raise typer.BadParameter(f"unknown classes {unknown}; choose from {list(ALL_CLASSES)}")
    cases = load_suite(suite)
    if not cases:
        raise typer.BadParameter(f"no vectors under {suite / 'format'}")
    try:
        impl = open_harness(harness, timeout)
    except (HarnessFailure, OSError) as err:
        console.print(f"[red]cannot start the harness:[/red] {err}")
        raise typer.Exit(2) from None
    try:
        runner = Runner(impl, cases, wanted, Skips.load(skips))
        info = runner.start()
        planned = runner.planned()
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task(f"{info['name']} {info['version']}", total=len(planned))
            results = runner.run(lambda _: progress.advance(task))
    except HarnessFailure as err:
        console.print(f"[red]harness failure:[/red] {err}")
        raise typer.Exit(2) from None
    finally:
        impl.close()

    data = make_report(info, results, cases)
    table = Table(title=f"{info['name']} {info['version']}: conformance")
    for col in ("class", "level", "pass", "fail", "skip", "known failure", "unexpected pass"):
        table.add_column(col)
    for cls, levels in sorted(data["summary"].items()):
        for level, counts in sorted(levels.items()):
            table.add_row(
                cls,
                level,
                *(
                    str(counts.get(k, 0))
                    for k in ("pass", "fail", "skip", "known-failure", "unexpected-pass")
                ),
            )
    Console().print(table)
    for r in results:
        if r.outcome in FAILING:
            console.print(f"[red]{r.outcome}[/red] {r.cls} {r.id}: {r.detail}")
    if report is not None:
        report.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if junit is not None:
        junit.write_text(junit_xml(info, results), encoding="utf-8")
    if not data["ok"]:
        raise typer.Exit(1)


@app.command("status")
def status(
    reports: Annotated[list[Path], typer.Argument(help="Report files written by 'run --report'.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the Markdown page here.")] = None,
) -> None:
    """A Markdown status page (implementations x classes x levels) built from reports."""
    import json

    from skship.conformance.status import status_page

    page = status_page([json.loads(p.read_text(encoding="utf-8")) for p in reports])
    if out is None:
        typer.echo(page, nl=False)
    else:
        out.write_text(page, encoding="utf-8")


# `skship conformance serve --url URL` (the serving contract's checker) lives with the
# serving commands' module but belongs to this group.
_register_serve(app)
