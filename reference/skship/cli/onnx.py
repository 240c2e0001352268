"""`skship onnx ...`: commands of this group are added to `app`."""

from __future__ import annotations

import typer

app = typer.Typer(help="onnx commands.", no_args_is_help=True)
