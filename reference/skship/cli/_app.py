"""Assembles the root command from one module per command family.

Each family lives in its own module and exposes either ``register(root)`` (commands at the
top level) or a ``typer.Typer`` named ``app`` (a sub-command group). A group with no commands
yet is left out, so work in progress never shows as an empty group.
"""

from __future__ import annotations

import importlib

import typer

# (module, group name or None for top-level commands)
_FAMILIES: tuple[tuple[str, str | None], ...] = (
    ("skship.cli.model", None),
    ("skship.cli.onnx", "onnx"),
    ("skship.cli.card", "card"),
    ("skship.cli.hub", "hub"),
    ("skship.cli.serve", None),
    ("skship.cli.conformance", "conformance"),
)


def build_app() -> typer.Typer:
    root = typer.Typer(
        name="skship",
        help="Ship scikit-learn models safely: inspect, audit, convert and serve .skops files.",
        invoke_without_command=True,
        # Plain click help: rich's help formatter alone costs ~0.3 s of imports.
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
    )

    @root.callback()
    def _root(
        ctx: typer.Context,
        version: bool = typer.Option(False, "--version", help="Print the skship version and exit."),
    ) -> None:
        if version:
            from skship import __version__

            typer.echo(__version__)
            raise typer.Exit(0)
        if ctx.invoked_subcommand is None:
            typer.echo(ctx.get_help())
            raise typer.Exit(0)

    for module_name, group in _FAMILIES:
        module = importlib.import_module(module_name)
        if group is None:
            register = getattr(module, "register", None)
            if register is not None:
                register(root)
            continue
        sub: typer.Typer | None = getattr(module, "app", None)
        if sub is not None and (sub.registered_commands or sub.registered_groups):
            root.add_typer(sub, name=group)
    return root
