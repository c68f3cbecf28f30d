"""The CLI side of the sources: `catalog import --format netflix-csv` and `catalog sync ...` (wired in bot/cli.py).

Each command prints a progress bar on a terminal, one summary line on stdout, and every skipped or failed show on
stderr, one per line. Exit status: 0 when everything was imported, 1 when some shows failed or were skipped, 2 for
configuration problems (a missing TMDB key).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.catalog import ImportSummary
from bot.config import Settings
from bot.db import open_database
from bot.errors import UserFacingError
from bot.sources.base import SourceError
from bot.sources.progress import ProgressBar

IMPORT_FORMATS = ("showbot", "netflix-csv")


def print_outcome(summary: ImportSummary, notes: list[str] | None = None) -> int:
    """Notes and each skipped show on stderr, the summary line on stdout; the exit status."""
    for note in notes or []:
        sys.stderr.write(f"Note: {note}\n")
    for skipped in summary.skipped:
        sys.stderr.write(f"Skipped {skipped}\n")
    sys.stdout.write(summary.line() + "\n")
    return 1 if summary.skipped else 0


async def import_netflix(settings: Settings, path: Path) -> int:
    from bot.sources.netflix import import_report, read_netflix_csv

    async with open_database(settings.database_path):
        pass  # creates and migrates the database before the import's own connection opens it
    try:
        report = await asyncio.to_thread(read_netflix_csv, path)
        with ProgressBar("Importing Netflix TV shows", len(report.records)) as bar:
            summary = await asyncio.to_thread(import_report, settings.database_path, report, progress=bar.update)
    except SourceError as exc:
        raise UserFacingError(f"Nothing imported: {exc}.") from None
    return print_outcome(summary, report.notes)
