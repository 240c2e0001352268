"""`skship onnx ...`: check whether a model converts, convert it (always verified).

Exit codes: 0 the model converts and verifies (check: is predicted to); 1 it does not
(or is predicted not to); 2 the command could not run (unreadable or untrusted file, bad
sample, missing ``[onnx]`` extra).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(
    help="Check, convert and verify models as ONNX (needs the [onnx] extra).",
    no_args_is_help=True,
)

_MODEL = typer.Argument(..., help="A .skops model file.", exists=True, dir_okay=False)
_SAMPLE = typer.Option(
    None,
    "--sample",
    help="CSV of rows like the training data (a header row with the column names).",
    exists=True,
    dir_okay=False,
)
_TRUST = typer.Option(
    None, "--trust", help="Also trust this type or function name when loading (repeatable)."
)
_JSON = typer.Option(False, "--json", help="Print the report as JSON (for CI).")
_OUTPUT = typer.Option(..., "--output", "-o", help="Where to write the .onnx file.")
_DTYPE = typer.Option("auto", help="Input precision: auto, float32 or float64.")
_RTOL = typer.Option(1e-4, help="Relative tolerance of the verification.")
_ATOL = typer.Option(1e-5, help="Absolute tolerance (times the output's scale).")


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _load(model: Path, trust: list[str] | None, sample: Path | None) -> tuple[Any, Any]:
    import skship
    from skship.errors import SkshipError

    try:
        estimator = skship.load(model, trusted=trust or None)
    except SkshipError as err:
        raise _fail(str(err)) from err
    if sample is None:
        return estimator, None
    try:
        import pandas as pd
    except ImportError as err:
        raise _fail("reading --sample needs pandas: pip install pandas") from err
    return estimator, pd.read_csv(sample)


@app.command()
def check(
    model: Path = _MODEL,
    sample: Path | None = _SAMPLE,
    trust: list[str] | None = _TRUST,
    as_json: bool = _JSON,
) -> None:
    """Predict, without converting, whether MODEL converts to ONNX and verifies."""
    from skship.errors import SkshipError
    from skship.onnx import check as run_check

    estimator, frame = _load(model, trust, sample)
    try:
        report = run_check(estimator, frame)
    except SkshipError as err:
        raise _fail(str(err)) from err
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        typer.echo(f"model: {report.model}")
        for step in report.steps:
            converter = step.converter or "none"
            typer.echo(
                f"  {step.path or '<model>':30s} {step.status:13s} {step.type} [{converter}]"
            )
            for finding in step.findings:
                typer.echo(f"      {finding.severity}: {finding.message}")
        for finding in report.findings:
            typer.echo(f"  {finding.severity}: {finding.message}")
        for info in report.inputs:
            typer.echo(f"  input {info.name!r}: {info.type} {info.shape}")
        typer.echo(f"outcome: {report.outcome}: {report.summary}")
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def convert(
    model: Path = _MODEL,
    output: Path = _OUTPUT,
    sample: Path | None = _SAMPLE,
    dtype: str = _DTYPE,
    rtol: float = _RTOL,
    atol: float = _ATOL,
    trust: list[str] | None = _TRUST,
    as_json: bool = _JSON,
) -> None:
    """Convert MODEL to ONNX and verify it with onnxruntime against scikit-learn.

    The file is written only when verification passes.
    """
    from skship.errors import OnnxConversionError, OnnxVerificationError, SkshipError
    from skship.onnx import convert as run_convert

    estimator, frame = _load(model, trust, sample)
    try:
        conversion = run_convert(estimator, frame, dtype=dtype, rtol=rtol, atol=atol)  # type: ignore[arg-type]
    except OnnxVerificationError as err:
        if as_json:
            typer.echo(
                json.dumps(
                    {"ok": False, "code": err.code, "verification": err.report.to_dict()}, indent=2
                )
            )
        typer.echo(f"FAILED [{err.code}]: {err.detail}", err=True)
        raise typer.Exit(1) from err
    except OnnxConversionError as err:
        if as_json:
            typer.echo(json.dumps({"ok": False, "code": err.code, "message": err.detail}, indent=2))
        typer.echo(f"FAILED [{err.code}]: {err.detail}", err=True)
        raise typer.Exit(1) from err
    except SkshipError as err:
        raise _fail(str(err)) from err
    conversion.save(output)
    if as_json:
        typer.echo(json.dumps(conversion.report(str(output)).to_dict(), indent=2))
        raise typer.Exit(0)
    typer.echo(
        f"wrote {output} ({len(conversion.onnx):,} bytes, {conversion.dtype} inputs, "
        f"converted in {conversion.seconds * 1e3:.0f} ms)"
    )
    report = conversion.verification
    typer.echo(
        f"verified on {report.sample_rows} sample rows and {len(report.edge_rows)} edge cases "
        f"({', '.join(report.edge_rows) or 'none'}):"
    )
    typer.echo(report.describe())
    for note in conversion.notes:
        typer.echo(f"note: {note}")
    typer.echo("OK")
