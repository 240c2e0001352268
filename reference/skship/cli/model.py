"""Top-level `skship` commands that look inside model files: inspect, audit, convert,
upgrade, diff. `register(root)` adds them.

Thin on purpose: each command calls the function of the same name in the API
(skship.inspect, skship.audit, ...) and prints its result; every import beyond typer
happens inside the command, so `skship --help` stays fast.

Exit codes (the same for every command):
  0  success: the file(s) would load / were written / are the same
  1  the answer is "no": untrusted names (audit, inspect --strict, convert, upgrade) or
     differences (diff)
  2  the command line is wrong (unknown option, missing argument)
  3  a file was refused or could not be read; the message starts with its error code
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

EXIT_OK, EXIT_NO, EXIT_USAGE, EXIT_ERROR = 0, 1, 2, 3

EXIT_CODES = """\b
Exit codes:
  0  success
  1  untrusted names, or differences (diff)
  2  wrong command line
  3  a file was refused or unreadable (the message starts with its error code)"""

F = TypeVar("F", bound=Callable[..., Any])

_TRUST_HELP = "Trust this qualified name everywhere in the file (repeatable)."
_POLICY_HELP = "A TOML trust policy (names, modules, names trusted only at a path)."
# Every command that reads a model file takes trust the same way.
TrustOption = Annotated[
    list[str] | None, typer.Option("--trust", "-t", help=_TRUST_HELP, metavar="NAME")
]
PolicyOption = Annotated[
    Path | None, typer.Option("--policy", "-p", help=_POLICY_HELP, metavar="FILE")
]


def _errors(func: F) -> F:
    """Turn skship's typed errors into a one-line message with the code, and exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from skship.errors import SkshipError, UntrustedGlobalsError, UntrustedTypesError

        try:
            return func(*args, **kwargs)
        except (UntrustedTypesError, UntrustedGlobalsError) as exc:
            typer.echo(f"refused: {exc}", err=True)
            raise typer.Exit(EXIT_NO) from None
        except SkshipError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_ERROR) from None
        except OSError as exc:
            typer.echo(f"error: [E-FILE-UNREADABLE] {exc}", err=True)
            raise typer.Exit(EXIT_ERROR) from None

    return wrapper  # type: ignore[return-value]


def _print_json(obj: Any) -> None:
    import json

    typer.echo(json.dumps(obj, indent=2, ensure_ascii=False))


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def inspect(
    file: Annotated[Path, typer.Argument(help="A .skops file (protocol 0-3).", metavar="FILE")],
    json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    trust: TrustOption = None,
    policy: PolicyOption = None,
    max_depth: Annotated[
        int | None,
        typer.Option("--max-depth", "-d", help="Show the tree to this depth only (text output)."),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 when a name is not trusted.")
    ] = False,
) -> None:
    """Show what a model file holds, without importing anything it names.

    Every node with its path in Python terms, its type and the bytes of array data under
    it; every name the default trust (plus --trust and --policy) does not cover, where
    it is used and why it matters. Reads no array bytes.

    \b
    Examples:
      skship inspect model.skops
      skship inspect model.skops --max-depth 3
      skship inspect model.skops --json > model.json
    """
    from skship.inspection import inspect as run
    from skship.inspection import render

    report = run(file, trusted=trust or None, policy=policy)
    if json:
        _print_json(report)
    else:
        render(report, _console(), max_depth)
    if strict and not report["loads"]:
        raise typer.Exit(EXIT_NO)


def audit(
    files: Annotated[
        list[Path], typer.Argument(help="Model files (protocol 0-3).", metavar="FILE...")
    ],
    trust: TrustOption = None,
    policy: PolicyOption = None,
    format: Annotated[
        str, typer.Option("--format", "-f", help="text, json or sarif.", metavar="FORMAT")
    ] = "text",
) -> None:
    """Check that every file would load under the trust policy (for CI and pre-commit).

    Exits 0 when every file would load; otherwise 1 with each untrusted name, the path
    where it is used and why it matters (or 3 when a file is refused outright).

    \b
    Examples:
      skship audit models/*.skops
      skship audit model.skops --trust mypackage.MyEstimator
      skship audit model.skops --policy skship-policy.toml --format sarif > audit.sarif
    """
    from skship.auditing import audit as run
    from skship.auditing import to_sarif

    if format not in ("text", "json", "sarif"):
        typer.echo("error: [E-INVALID-ARGUMENT] --format must be text, json or sarif", err=True)
        raise typer.Exit(EXIT_USAGE)
    report = run(files, trusted=trust or None, policy=policy)
    if format == "json":
        _print_json(report)
    elif format == "sarif":
        _print_json(to_sarif(report))
    else:
        for f in report["files"]:
            if f["error"] is not None:
                typer.echo(f"{f['file']}: refused [{f['error']['code']}] {f['error']['message']}")
            elif f["untrusted"]:
                typer.echo(f"{f['file']}: would not load, {len(f['untrusted'])} untrusted use(s)")
                for u in f["untrusted"]:
                    typer.echo(f"  {u['name']} ({u['kind']}) at {u['path'] or '(root)'}")
                    typer.echo(f"    {u['why']}")
            else:
                typer.echo(f"{f['file']}: ok (protocol {f['protocol']})")
    if any(f["error"] is not None for f in report["files"]):
        raise typer.Exit(EXIT_ERROR)
    if not report["ok"]:
        raise typer.Exit(EXIT_NO)


def convert(
    src: Annotated[
        Path,
        typer.Argument(help="A .pkl/.pickle/.joblib file, or a folder of them.", metavar="SRC"),
    ],
    dst: Annotated[
        Path | None,
        typer.Argument(
            help="The .skops file (or folder) to write; omit with --list.", metavar="DST"
        ),
    ] = None,
    trust: Annotated[
        list[str] | None, typer.Option("--trust", "-t", help="Trust this global (repeatable).")
    ] = None,
    compression: Annotated[
        str | None, typer.Option("--compression", "-c", help="none (default), deflate or zstd.")
    ] = None,
    list_only: Annotated[
        bool, typer.Option("--list", help="Only list the globals the pickle would import.")
    ] = False,
    json: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON.", metavar="DST")
    ] = False,
) -> None:
    """Convert pickle or joblib files to .skops, refusing before anything is unpickled.

    The pickle is read opcode by opcode first (nothing executed) to list every global
    it would import; unless each one is trusted by default or named with --trust,
    nothing is unpickled. Converting a folder shows a progress bar.

    \b
    Examples:
      skship convert model.joblib model.skops
      skship convert model.pkl --list
      skship convert model.pkl model.skops --trust mypackage.MyEstimator
      skship convert models/ converted/
    """
    from skship.conversion import convert as run
    from skship.conversion import convert_folder, pickle_files, scan_pickle

    if list_only:
        found = scan_pickle(src, trusted=trust or [])
        rows = [
            {"name": g.name, "called": g.called, "trusted": g.trusted, "why": g.why} for g in found
        ]
        if json:
            _print_json({"source": str(src), "globals": rows})
        else:
            for r in rows:
                mark = "ok       " if r["trusted"] else "UNTRUSTED"
                use = "called" if r["called"] else "referenced"
                typer.echo(f"{mark} {r['name']} ({use}): {r['why']}")
        if not all(g.trusted for g in found):
            raise typer.Exit(EXIT_NO)
        return
    if dst is None:
        typer.echo("error: [E-INVALID-ARGUMENT] give DST, or --list", err=True)
        raise typer.Exit(EXIT_USAGE)
    if src.is_dir():
        from rich.progress import Progress

        total = len(pickle_files(src))
        with Progress(transient=json) as progress:
            task = progress.add_task("converting", total=total)
            report = convert_folder(
                src,
                dst,
                trusted=trust or [],
                compression=compression,
                progress=lambda path: progress.advance(task),
            )
        if json:
            _print_json(report)
        else:
            for f in report["files"]:
                if f["error"] is None:
                    typer.echo(f"{f['source']} -> {f['output']}")
                else:
                    typer.echo(
                        f"{f['source']}: refused [{f['error']['code']}] {f['error']['message']}"
                    )
        if not report["ok"]:
            raise typer.Exit(EXIT_NO)
        return
    result = run(src, dst, trusted=trust or [], compression=compression)
    if json:
        _print_json(result)
    else:
        typer.echo(f"{src} -> {dst} ({len(result['globals'])} globals, all trusted)")


def upgrade(
    src: Annotated[
        Path, typer.Argument(help="An upstream skops file (protocol 0-2).", metavar="SRC")
    ],
    dst: Annotated[
        Path, typer.Argument(help="The protocol-3 .skops file to write.", metavar="DST")
    ],
    trust: TrustOption = None,
    policy: PolicyOption = None,
    compression: Annotated[
        str | None, typer.Option("--compression", "-c", help="none (default), deflate or zstd.")
    ] = None,
    json: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON.", metavar="METHOD")
    ] = False,
) -> None:
    """Rewrite an upstream skops file (protocol 0-2) as protocol 3, after the same audit.

    Trust comes from --trust and --policy only, never from the file.

    \b
    Examples:
      skship upgrade old.skops new.skops
      skship upgrade old.skops new.skops --policy skship-policy.toml
    """
    from skship.upgrading import upgrade as run

    result = run(src, dst, trusted=trust or None, policy=policy, compression=compression)
    if json:
        _print_json(result)
    else:
        typer.echo(f"{src} (protocol {result['protocol_from']}) -> {dst} (protocol 3)")


def diff(
    a: Annotated[Path, typer.Argument(help="A model file.", metavar="A")],
    b: Annotated[Path, typer.Argument(help="Another model file.", metavar="B")],
    json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    limit: Annotated[
        int, typer.Option("--limit", help="Show at most this many differences.")
    ] = 200,
) -> None:
    """Show what differs between two model files, without loading either.

    Versions, hyperparameters, fitted attributes, array shapes and contents. Exits 0
    when the files hold the same model, 1 when they differ.

    \b
    Examples:
      skship diff old.skops new.skops
      skship diff old.skops new.skops --json
    """
    from skship.diffing import diff as run
    from skship.diffing import render

    report = run(a, b)
    if json:
        _print_json(report)
    else:
        render(report, _console(), limit)
    if not report["same"]:
        raise typer.Exit(EXIT_NO)


def register(root: typer.Typer) -> None:
    """Add this family's commands to the root command."""
    root.command("inspect", epilog=EXIT_CODES)(_errors(inspect))
    root.command("audit", epilog=EXIT_CODES)(_errors(audit))
    root.command("convert", epilog=EXIT_CODES)(_errors(convert))
    root.command("upgrade", epilog=EXIT_CODES)(_errors(upgrade))
    root.command("diff", epilog=EXIT_CODES)(_errors(diff))
