"""`python -m bot` and the `showbot` console script."""

from __future__ import annotations

import sys

from bot.app.cli import main as cli_main


def main() -> None:
    sys.exit(cli_main())


if __name__ == "__main__":
    main()
