"""`skship hub ...`: commands of this group are added to `app`."""

from __future__ import annotations

import typer

app = typer.Typer(help="hub commands.", no_args_is_help=True)
