"""`skship card ...`: commands of this group are added to `app`."""

from __future__ import annotations

import typer

app = typer.Typer(help="card commands.", no_args_is_help=True)
