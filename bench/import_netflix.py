"""Import the whole Netflix titles CSV into a fresh database and measure it.

Prints one JSON object: {"path", "seconds", "rss_mb", "shows", ...}. `seconds` is the Netflix import (reading the CSV
and importing its TV shows), after the database was seeded with the shipped catalog (when data/catalog/*.json
exist); `rss_mb` is the peak resident memory of the whole process. The CSV is then imported a second time, which
must change nothing: neither by the import's own count ("second_import_changed") nor in the database's content (a
digest of every table before and after, "second_import_changed_content"); the exit status is 1 when it changed
anything. Targets: under 20 s and 200 MB. `--rows N` imports only the file's first N records (the test suite's
small size).

`write_lock_seconds` is how long the import held the database's write lock (the bot's votes wait that long at
most); the import prepares everything first and then only writes. For comparison, `direct_import_seconds` is the
same import into another freshly seeded database done the way it was before staging (matching and writing in one
`BEGIN IMMEDIATE` transaction, so it held the lock for all of it), measured in the same run. Target: the lock well
under 1 s.

    python bench/import_netflix.py --json [--csv PATH] [--rows N]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import emit, rss_mb  # noqa: E402

from bot.catalog.files import seed_if_empty, shipped_catalog_files  # noqa: E402
from bot.catalog.importer import import_records  # noqa: E402
from bot.catalog.sources.netflix import import_netflix_csv, read_netflix_csv  # noqa: E402
from bot.storage import connect_sync, open_database  # noqa: E402

DEFAULT_CSV = ROOT.parent / "shared" / "data" / "netflix_titles.csv"
PATH = (
    "seconds: import_netflix_csv on a database seeded with the shipped catalog: reading and validating the CSV, "
    "matching its TV shows with the catalog, then writing them (write_lock_seconds of it hold the write lock). "
    "Leaves out: seeding (seed_seconds) and the second import (second_import_seconds), timed apart."
)


def content_digest(db_path: Path) -> str:
    """A digest of every row of every table (SQL text dump): equal digests, same content."""
    conn = sqlite3.connect(db_path)
    try:
        digest = hashlib.sha256()
        for line in conn.iterdump():
            digest.update(line.encode())
        return digest.hexdigest()
    finally:
        conn.close()


def first_rows(csv_path: Path, rows: int, into: Path) -> Path:
    """The CSV's header and its first `rows` records, in a copy (records may span lines: read as CSV)."""
    with csv_path.open(newline="", encoding="utf-8") as source, into.open("w", newline="", encoding="utf-8") as copy:
        reader, writer = csv.reader(source), csv.writer(copy)
        for number, record in enumerate(reader):
            if number > rows:
                break
            writer.writerow(record)
    return into


async def measure(csv_path: Path, rows: int | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        if rows is not None:
            csv_path = first_rows(csv_path, rows, Path(tmp) / "first-rows.csv")
        db_path = Path(tmp) / "bench.db"
        async with open_database(db_path) as db:
            started = time.perf_counter()
            seeded = await seed_if_empty(db) if shipped_catalog_files() else None
            seed_seconds = time.perf_counter() - started

            started = time.perf_counter()
            first, report = import_netflix_csv(db_path, csv_path)
            seconds = time.perf_counter() - started

            before = content_digest(db_path)
            started = time.perf_counter()
            second, _ = import_netflix_csv(db_path, csv_path)
            second_seconds = time.perf_counter() - started
            after = content_digest(db_path)

            shows = int(await db.fetchval("SELECT COUNT(*) FROM shows WHERE netflix_id IS NOT NULL"))
            total_shows = int(await db.fetchval("SELECT COUNT(*) FROM shows"))
        direct_path = Path(tmp) / "direct.db"
        async with open_database(direct_path) as db:
            if shipped_catalog_files():
                await seed_if_empty(db)
        records = read_netflix_csv(csv_path).records
        conn = connect_sync(direct_path)
        try:
            started = time.perf_counter()
            import_records(conn, records)
            direct_seconds = time.perf_counter() - started
        finally:
            conn.close()
    return {
        "path": PATH,
        "seconds": round(seconds, 3),
        "write_lock_seconds": round(first.lock_seconds or 0.0, 3),  # of `seconds`, the part other writers wait
        "direct_import_seconds": round(direct_seconds, 3),  # the lock was held for all of it
        "rss_mb": rss_mb(),
        "shows": shows,
        "tv_rows": len(report.records) + len(report.skipped),
        "added": first.added,
        "matched_existing": first.updated + first.unchanged,
        "skipped": len(first.skipped),
        "seeded_shows": seeded.added if seeded else 0,
        "seed_seconds": round(seed_seconds, 3),
        "catalog_shows": total_shows,
        "second_import_changed": second.added + second.updated,
        "second_import_changed_content": before != after,
        "second_import_seconds": round(second_seconds, 3),
        "second_import_write_lock_seconds": round(second.lock_seconds or 0.0, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print one JSON object on one line")
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="the Netflix titles CSV")
    parser.add_argument("--rows", type=int, default=None, help="import only the CSV's first N records")
    args = parser.parse_args()
    if not args.csv.is_file():
        print(f"no such file: {args.csv}", file=sys.stderr)
        return 2
    result = asyncio.run(measure(args.csv, args.rows))
    emit(result, args.json)
    return 1 if result["second_import_changed"] or result["second_import_changed_content"] else 0


if __name__ == "__main__":
    sys.exit(main())
