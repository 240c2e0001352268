"""The ``skship`` command line: thin, it parses arguments and calls the layers above.

Importing this package imports nothing heavy; every command imports what it needs when it
runs, so ``skship --help`` stays fast and never imports scikit-learn.
"""

from __future__ import annotations


def main() -> None:
    """Console-script entry point (``skship``)."""
    from skship.cli._app import build_app

    build_app()(prog_name="skship")
