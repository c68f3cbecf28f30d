"""The CLI side of the sources: `catalog import --format netflix-csv` and `catalog sync ...` (wired in bot/app/cli.py).

Each command prints a progress bar on a terminal, one summary line on stdout, and every skipped or failed show on
stderr, one per line. Exit status: 0 when everything was imported, 1 when some shows failed or were skipped, 2 for
configuration problems (a missing TMDB key).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from bot.catalog.importer import ImportSummary
from bot.catalog.sources.base import SourceError
from bot.catalog.sources.progress import Meter, ProgressBar
from bot.common.config import Settings
from bot.common.errors import UserFacingError
from bot.storage import database_location, open_database

EXIT_USAGE = 2
T = TypeVar("T")


def print_outcome(summary: ImportSummary, notes: list[str] | None = None) -> int:
    """Notes and each skipped show on stderr, the summary line on stdout; the exit status."""
    for note in notes or []:
        sys.stderr.write(f"Note: {note}\n")
    for skipped in summary.skipped:
        sys.stderr.write(f"Skipped {skipped}\n")
    sys.stdout.write(summary.line() + "\n")
    return 1 if summary.skipped else 0


async def import_netflix(settings: Settings, path: Path) -> int:
    from bot.catalog.sources.netflix import import_report, read_netflix_csv

    async with open_database(database_location(settings)):
        pass  # creates and migrates the database before the import's own connection opens it
    try:
        report = await asyncio.to_thread(read_netflix_csv, path)
        with ProgressBar("Importing Netflix TV shows", len(report.records)) as bar:
            summary = await asyncio.to_thread(import_report, database_location(settings), report, progress=bar.update)
    except SourceError as exc:
        raise UserFacingError(f"Nothing imported: {exc}.") from None
    return print_outcome(summary, report.notes)


# What `catalog sync tvmaze` and `catalog sync tmdb` can do, one per run: (option, metavar or None for a switch, help).
TVMAZE_TASKS = (
    ("--show", "NAME", "look up one show by name and add or update it"),
    ("--schedule", None, "the streaming and broadcast schedules from today"),
    ("--updates", None, "refresh the catalog's shows TVmaze changed"),
    (
        "--all",
        None,
        "every show TVmaze knows (its whole index, about 90,000 shows); resumes where an interrupted run stopped",
    ),
)
TMDB_TASKS = (
    ("--trailers", None, "official YouTube trailers and posters"),
    ("--providers", "REGION", "where to watch in REGION (e.g. US, GB)"),
    ("--translations", None, "titles and synopses in other languages, for shows with a TMDB id (cards, autocomplete)"),
    ("--on-the-air", None, "the next episode of the catalog's shows on TMDB's 'on the air' list (for the weekly post)"),
)


def add_sync_parser(catalog: Any) -> None:
    """`catalog sync tvmaze ...` and `catalog sync tmdb ...` (catalog: the `catalog` subparsers object)."""
    sync = catalog.add_parser("sync", help="fetch shows and release dates from TVmaze or TMDB").add_subparsers(
        dest="sync_source", metavar="SOURCE", required=True
    )
    tvmaze = sync.add_parser("tvmaze", help="TVmaze (no key; CC BY-SA): a show, the schedules, or updated shows")
    _add_tasks(tvmaze, TVMAZE_TASKS)
    tvmaze.add_argument("--days", type=int, default=7, help="with --schedule: how many days (default 7, max 31)")
    tvmaze.add_argument("--country", default=None, metavar="CC", help="with --schedule: broadcast country (US)")
    tvmaze.add_argument(
        "--since", default="day", choices=("day", "week", "month"), help="with --updates: the period (day)"
    )
    tmdb = sync.add_parser("tmdb", help="TMDB (needs TMDB_API_KEY): trailers and posters, or watch providers")
    _add_tasks(tmdb, TMDB_TASKS)
    tmdb.add_argument("--limit", type=int, default=100, help="at most this many shows (default 100)")


def _add_tasks(parser: Any, tasks: tuple[tuple[str, str | None, str], ...]) -> None:
    """The tasks as options of which exactly one must be given."""
    group = parser.add_mutually_exclusive_group(required=True)
    for option, metavar, help_text in tasks:
        if metavar is None:
            group.add_argument(option, action="store_true", help=help_text)
        else:
            group.add_argument(option, metavar=metavar, help=help_text)


async def run_sync(args: Any, settings: Settings) -> int:
    """Run `catalog sync ...`; the database must exist (bot/app/cli.py opens and seeds it first)."""
    from datetime import UTC, datetime

    from bot.catalog.sources import sync, tvmaze_index

    location = database_location(settings)
    if args.sync_source == "tmdb":
        if not settings.tmdb_api_key:
            sys.stderr.write("TMDB needs an API key: set TMDB_API_KEY (https://www.themoviedb.org/settings/api).\n")
            return EXIT_USAGE
        if not 1 <= args.limit <= 100_000:
            raise UserFacingError("--limit must be between 1 and 100000.")
        tmdb = (settings.tmdb_base_url, settings.tmdb_api_key, location)
        if args.translations:
            return await _run_with_bar(
                "TMDB translations", lambda bar: sync.tmdb_translations(*tmdb, limit=args.limit, meter=bar)
            )
        if args.on_the_air:
            return await _run_with_bar("TMDB on the air", lambda bar: sync.tmdb_on_the_air(*tmdb, meter=bar))
        region = _two_letter_code(args.providers, "--providers", "region")
        return await _run_with_bar(
            "TMDB", lambda bar: sync.tmdb_enrich(*tmdb, region=region, limit=args.limit, meter=bar)
        )

    base_url = settings.tvmaze_base_url
    if args.show is not None:
        if not args.show.strip():
            raise UserFacingError("--show needs the name of a show.")
        summary, record = await _guarded(sync.tvmaze_show(base_url, location, args.show))
        if record is not None:
            sys.stderr.write(f"TVmaze: {record.title} (TVmaze id {record.ids['tvmaze']})\n")
        return print_outcome(summary)
    if args.schedule:
        if not 1 <= args.days <= 31:
            raise UserFacingError("--days must be between 1 and 31.")
        country = _two_letter_code(args.country, "--country", "country")
        today = datetime.now(UTC).date()
        return await _run_with_bar(
            "Importing schedule",
            lambda bar: sync.tvmaze_schedule(base_url, location, today, args.days, country=country, meter=bar),
        )
    if args.all:
        with ProgressBar("TVmaze show index", None) as bar:
            run = await _guarded(tvmaze_index.tvmaze_index(base_url, location, meter=bar))
        sys.stderr.write(
            f"TVmaze show index: pages {run.first_page}-{run.first_page + run.pages - 1} read, the whole index is in "
            f"({run.position.shows} shows read over all runs).\n"
            if run.pages
            else "TVmaze show index: nothing new past the last page.\n"
        )
        return print_outcome(run.summary)
    return await _run_with_bar(
        "Refreshing from TVmaze", lambda bar: sync.tvmaze_updates(base_url, location, period=args.since, meter=bar)
    )


async def _run_with_bar(label: str, job: Callable[[Meter], Awaitable[ImportSummary]]) -> int:
    """Run a sync job with a progress bar (its total once the job knows it), then print its outcome."""
    with ProgressBar(label, None) as bar:
        summary = await _guarded(job(bar))
    return print_outcome(summary)


def _two_letter_code(value: str | None, option: str, kind: str) -> str | None:
    """The option's value as an upper-case two-letter code (None when not given); anything else is refused."""
    code = value.strip().upper() if value else None
    if code is not None and not (len(code) == 2 and code.isalpha()):
        raise UserFacingError(f"{option} takes a two-letter {kind} code like US, not {value!r}.")
    return code


async def _guarded(work: Awaitable[T]) -> T:
    """A source that fails as a whole (API down, refused) is one line for the user, not a traceback."""
    try:
        return await work
    except SourceError as exc:
        raise UserFacingError(f"Sync failed: {exc}") from None
