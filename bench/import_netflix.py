"""Import the whole Netflix titles CSV into a fresh database and measure it.

Prints one JSON object: {"seconds", "rss_mb", "shows", ...}. `seconds` is the Netflix import (reading the CSV and
importing its TV shows in one transaction), after the database was seeded with the shipped catalog (when
data/catalog/*.json exist); `rss_mb` is the peak resident memory of the whole process. The CSV is then imported a
second time, which must change nothing ("second_import_changed": 0). Targets: under 20 s and 200 MB.

`write_lock_seconds` is how long the import held the database's write lock (the bot's votes wait that long at
most); the import prepares everything first and then only writes. For comparison, `direct_import_seconds` is the
same import into another freshly seeded database done the way it was before staging (matching and writing in one
`BEGIN IMMEDIATE` transaction, so it held the lock for all of it), measured in the same run. Target: the lock well
under 1 s.

    python bench/import_netflix.py --json [--csv PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.catalog import connect_sync, import_records, seed_if_empty, shipped_catalog_files  # noqa: E402
from bot.db import open_database  # noqa: E402
from bot.sources.netflix import import_netflix_csv, read_netflix_csv  # noqa: E402

DEFAULT_CSV = ROOT.parent / "shared" / "data" / "netflix_titles.csv"


async def measure(csv_path: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.db"
        async with open_database(db_path) as db:
            started = time.perf_counter()
            seeded = await seed_if_empty(db) if shipped_catalog_files() else None
            seed_seconds = time.perf_counter() - started

            started = time.perf_counter()
            first, report = import_netflix_csv(db_path, csv_path)
            seconds = time.perf_counter() - started

            started = time.perf_counter()
            second, _ = import_netflix_csv(db_path, csv_path)
            second_seconds = time.perf_counter() - started

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
        "seconds": round(seconds, 3),
        "write_lock_seconds": round(first.lock_seconds or 0.0, 3),  # of `seconds`, the part other writers wait
        "direct_import_seconds": round(direct_seconds, 3),  # the lock was held for all of it
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "shows": shows,
        "tv_rows": len(report.records) + len(report.skipped),
        "added": first.added,
        "matched_existing": first.updated + first.unchanged,
        "skipped": len(first.skipped),
        "seeded_shows": seeded.added if seeded else 0,
        "seed_seconds": round(seed_seconds, 3),
        "catalog_shows": total_shows,
        "second_import_changed": second.added + second.updated,
        "second_import_seconds": round(second_seconds, 3),
        "second_import_write_lock_seconds": round(second.lock_seconds or 0.0, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print one JSON object (the default output anyway)")
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="the Netflix titles CSV")
    args = parser.parse_args()
    if not args.csv.is_file():
        print(json.dumps({"error": f"no such file: {args.csv}"}))
        return 1
    print(json.dumps(asyncio.run(measure(args.csv))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
