"""``python -m skship.serve MODEL.skops ...``: the same as ``skship serve``."""

from __future__ import annotations

import sys


def main() -> None:
    from skship.cli._app import build_app

    build_app()(args=["serve", *sys.argv[1:]], prog_name="skship")


if __name__ == "__main__":
    main()
