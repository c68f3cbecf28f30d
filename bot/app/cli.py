"""The command line: `python -m bot [run|console|catalog ...|votes ...|evaluate ...]`.

Every failure the user can cause prints one line on stderr and exits non-zero (2 for configuration, 1 otherwise);
no traceback reaches the terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from bot.common.config import ConfigError, Settings
from bot.common.errors import UserFacingError
from bot.storage import Database, DatabaseError, database_location, open_database

EXIT_FAILURE = 1
EXIT_USAGE = 2
MAX_DISCORD_ID = 2**63 - 1  # ids are stored as SQLite integers


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (argparse prints the whole usage block before it)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _discord_id(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 0 < int(text) <= MAX_DISCORD_ID):
        raise argparse.ArgumentTypeError(f"not a Discord id: {text!r}")
    return int(text)


def _vote_space(text: str) -> int:
    """A server's id, or 0 for members' own votes (`bot.votes.PERSONAL_GUILD_ID`)."""
    return 0 if text.strip() == "0" else _discord_id(text)


def _positive_int(text: str) -> int:
    if not (text.isascii() and text.isdigit() and int(text) > 0):
        raise argparse.ArgumentTypeError(f"not a whole number above 0: {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m bot", description="Showbot: the Discord bot that helps a server decide what to watch."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("run", help="connect to Discord and serve (the default)")
    cluster = commands.add_parser(
        "cluster", help="run the bot as several processes, each with a slice of the gateway shards, supervised"
    )
    cluster.add_argument(
        "--processes", type=_positive_int, required=True, metavar="N", help="how many bot processes to run"
    )

    console = commands.add_parser("console", help="try the bot offline against a local Discord emulator")
    console.add_argument("-c", dest="lines", action="append", default=[], metavar="LINE", help="run LINE and exit")
    console.add_argument("--as", dest="member", default=None, metavar="MEMBER", help="act as this demo member")
    console.add_argument("--json", action="store_true", help="print the REST requests the bot sent, one per line")
    console.add_argument(
        "--locale", default="en-US", metavar="LOCALE", help="the members' Discord language: de, fr, es-ES, pt-BR, ja..."
    )

    catalog = commands.add_parser("catalog", help="inspect and fill the show catalog").add_subparsers(
        dest="catalog_command", metavar="ACTION", required=True
    )
    importer = catalog.add_parser("import", help="import shows from a file")
    importer.add_argument("path", type=Path)
    importer.add_argument("--format", default="showbot", help="showbot (default) or netflix-csv")
    show = catalog.add_parser("show", help="print one show")
    show.add_argument("title", metavar="TITLE_OR_ID", help="a title (digits too: 24), or id:ID")
    show.add_argument("--json", action="store_true")
    search = catalog.add_parser("search", help="search titles (typo-tolerant)")
    search.add_argument("query")
    search.add_argument("--limit", type=int, default=10)
    search.add_argument("--json", action="store_true")
    stats = catalog.add_parser("stats", help="count what the database holds")
    stats.add_argument("--json", action="store_true")
    from bot.catalog import add_sync_parser

    add_sync_parser(catalog)

    votes = commands.add_parser("votes", help="the votes members cast").add_subparsers(
        dest="votes_command", metavar="ACTION", required=True
    )
    export = votes.add_parser("export", help="print every stored vote (a backup; what a server owner may see)")
    export.add_argument(
        "--guild",
        type=_vote_space,
        default=None,
        metavar="ID",
        help="only this server's votes (0: members' own votes, cast outside servers with the bot)",
    )
    export.add_argument("--json", action="store_true", help="one JSON list")
    export.add_argument("--jsonl", action="store_true", help="JSON Lines: one vote object per line")

    evaluate = commands.add_parser("evaluate", help="measure the recommender offline on MovieLens (research use)")
    evaluate.add_argument("--dataset", type=Path, required=True, help="a MovieLens directory (ratings.csv, movies.csv)")
    evaluate.add_argument(
        "--users", type=_positive_int, default=None, help="a deterministic subsample of this many users"
    )
    evaluate.add_argument(
        "--no-tune", action="store_true", help="skip tuning every model on the validation split (default parameters)"
    )
    evaluate.add_argument("--no-peers", action="store_true", help="skip the peer library's models")
    evaluate.add_argument("--json", action="store_true")
    commands.add_parser(
        "messages", help="for translators: refresh the message template and merge it into every language's .po file"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    from bot.common.logs import setup_logging

    # One-shot commands print their own results; their logs only matter from WARNING up, unless asked for.
    quiet = args.command not in (None, "run", "cluster") and "LOG_LEVEL" not in os.environ
    setup_logging("WARNING" if quiet else settings.log_level)
    handlers: dict[str | None, Callable[[argparse.Namespace, Settings], int]] = {
        None: _run,
        "run": _run,
        "cluster": _cluster,
        "console": _console,
        "catalog": _catalog,
        "votes": _votes,
        "evaluate": _evaluate,
        "messages": _messages,
    }
    try:
        return handlers[args.command](args, settings)
    except (UserFacingError, DatabaseError, ConfigError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


@asynccontextmanager
async def open_catalog(settings: Settings) -> AsyncIterator[Database]:
    """The configured database, migrated, and seeded with the shipped catalog when it holds no show yet."""
    from bot.catalog import seed_if_empty

    async with open_database(database_location(settings)) as db:
        await seed_if_empty(db)
        yield db


def _cluster(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app.cluster import ClusterGaveUp, run_cluster
    from bot.app.runner import StartupError

    try:
        asyncio.run(run_cluster(settings, args.processes, os.environ))
    except StartupError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except ClusterGaveUp as exc:
        print(exc, file=sys.stderr)
        return exc.status
    return 0


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app.runner import StartupError, run_bot

    try:
        asyncio.run(run_bot(settings))
    except StartupError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    return 0


def _evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.recommend import run_cli

    return run_cli(args.dataset, users=args.users, tune=not args.no_tune, peers=not args.no_peers, as_json=args.json)


def _messages(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app.messages import catalog_path, update_catalogs, write_template

    missing = update_catalogs(write_template())
    for locale, count in missing.items():
        path = catalog_path(locale).relative_to(Path.cwd()) if catalog_path(locale).is_relative_to(Path.cwd()) else None
        print(f"{path or catalog_path(locale)}: " + (f"{count} message(s) to translate" if count else "complete"))
    return EXIT_FAILURE if any(missing.values()) else 0


def _console(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app.console import run_console

    if not os.environ.get("CATALOG_SYNC", "").strip():
        # The offline console never touches the network unless CATALOG_SYNC is set explicitly.
        settings = replace(settings, catalog_sync=None)
    return run_console(settings, lines=args.lines, member=args.member, as_json=args.json, locale=args.locale)


def _catalog(args: argparse.Namespace, settings: Settings) -> int:
    handler = {
        "import": _catalog_import,
        "show": _catalog_show,
        "search": _catalog_search,
        "stats": _catalog_stats,
        "sync": _catalog_sync,
    }
    return asyncio.run(handler[args.catalog_command](args, settings))


def _votes(args: argparse.Namespace, settings: Settings) -> int:
    from bot.votes import VoteStore, votes_table

    async def export() -> list[dict[str, Any]]:
        async with open_database(database_location(settings)) as db:
            return await VoteStore(db).export(args.guild)

    rows = asyncio.run(export())
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    elif args.jsonl:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
    else:
        print(votes_table(rows))
    return 0


async def _catalog_import(args: argparse.Namespace, settings: Settings) -> int:
    from bot.catalog import CatalogFormatError, import_path

    if not args.path.is_file():
        raise UserFacingError(f"{'Not a file' if args.path.exists() else 'No such file'}: {args.path}")
    if args.format not in ("showbot", "netflix-csv"):
        raise UserFacingError(f"Unknown format {args.format!r}: use showbot or netflix-csv.")
    async with open_catalog(settings):
        pass  # creates, migrates and seeds the database before the import's own connection opens it
    if args.format == "netflix-csv":
        from bot.catalog import import_netflix

        return await import_netflix(settings, args.path)
    progress = _progress_bar("Importing")
    try:
        summary = await asyncio.to_thread(import_path, database_location(settings), args.path, progress=progress)
    except CatalogFormatError as exc:
        raise UserFacingError(f"Nothing imported: {exc}.") from None
    finally:
        _end_progress()
    print(summary.line())
    return 0


async def _catalog_sync(args: argparse.Namespace, settings: Settings) -> int:
    from bot.catalog import run_sync

    async with open_catalog(settings):
        pass  # creates, migrates and seeds the database before the sync's own connections open it
    return await run_sync(args, settings)


async def _resolve_show_id(db: Database, text: str) -> int:
    """A show's id from `id:<id>` (as the JSON output and the bot's choices give it), or a title resolved by the search
    module, digits included ("24" is a title); unknown titles raise with suggestions."""
    from bot.catalog import SearchIndex, not_found_message, show_exists, show_id_of_choice

    text = text.strip()
    show_id = show_id_of_choice(text)
    if show_id is not None:
        if not await show_exists(db, show_id):
            raise UserFacingError(f"No show has the id {show_id}.")
        return show_id
    index = await SearchIndex.load(db)
    match = index.resolve(text)
    if match is None:
        raise UserFacingError(not_found_message(text, index.search(text, limit=5)))
    return match.show_id


async def _catalog_show(args: argparse.Namespace, settings: Settings) -> int:
    from bot.catalog import show_json

    async with open_catalog(settings) as db:
        show = await show_json(db, await _resolve_show_id(db, args.title))
    assert show is not None
    if args.json:
        print(json.dumps(show, ensure_ascii=False, indent=2))
    else:
        print(_show_text(show))
    return 0


def _show_text(show: dict[str, Any]) -> str:
    lines = [f"{show['title']} (id {show['id']})"]
    facts = [
        ("Premiered", show["premiered"]),
        ("Network", show["network"]),
        ("Genres", ", ".join(show["genres"])),
        ("Created by", ", ".join(show["creators"])),
        ("Seasons", show["seasons"]),
        ("Episodes", show["episodes"]),
        ("Status", show["status"]),
        ("Trailer", show["trailer_url"]),
    ]
    lines += [f"  {label}: {value}" for label, value in facts if value]
    if show["cast"]:
        lines.append("  Cast:")
        lines += [
            f"    {member['name']}" + (f" as {member['character']}" if member["character"] else "")
            for member in show["cast"]
        ]
    if show["synopsis"]:
        lines.append(f"  {show['synopsis']}")
    return "\n".join(lines)


async def _catalog_search(args: argparse.Namespace, settings: Settings) -> int:
    from bot.catalog import MAX_QUERY_CHARS, SearchIndex

    if not 1 <= args.limit <= 100:
        raise UserFacingError("--limit must be between 1 and 100.")
    if not args.query.strip():
        raise UserFacingError("Give some words of a title to search for.")
    if len(args.query) > MAX_QUERY_CHARS:
        raise UserFacingError(f"The search text is too long: {len(args.query)} characters (at most {MAX_QUERY_CHARS}).")
    async with open_catalog(settings) as db:
        index = await SearchIndex.load(db)
    matches = index.search(args.query, limit=args.limit)
    if args.json:
        print(json.dumps([{"id": m.show_id, "title": m.title, "year": m.year} for m in matches], ensure_ascii=False))
    elif not matches:
        print(f"No show matches {args.query!r}.")
    else:
        for match in matches:
            year = f" ({match.year})" if match.year else ""
            print(f"{match.show_id:>7}  {match.title}{year}")
    return 0


async def _catalog_stats(args: argparse.Namespace, settings: Settings) -> int:
    from bot.catalog import catalog_stats

    async with open_catalog(settings) as db:
        stats = await catalog_stats(db)
    if args.json:
        print(json.dumps(stats))
    else:
        width = max(map(len, stats))
        for table, count in stats.items():
            print(f"{table:<{width}}  {count}")
    return 0


_progress_state: dict[str, Any] = {}


def _progress_bar(label: str) -> Callable[[int], None] | None:
    """A one-line progress counter on a terminal; nothing when stderr is redirected."""
    if not sys.stderr.isatty():
        return None
    _progress_state["active"] = True

    def update(count: int) -> None:
        if count % 50 == 0:
            print(f"\r{label}: {count} shows", end="", file=sys.stderr, flush=True)

    return update


def _end_progress() -> None:
    if _progress_state.pop("active", False):
        print(file=sys.stderr)
