"""Top-level `skship` commands of this family; `register(root)` adds them."""

from __future__ import annotations

import typer


def register(root: typer.Typer) -> None:
    """Add this family's commands to the root command (none yet)."""
