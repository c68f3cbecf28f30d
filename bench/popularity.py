"""Deriving shows.popularity from the sources' numbers (bot.catalog.popularity.recompute_popularity) at 90,000 shows.

    python bench/popularity.py --shows 90000 --json

The catalog: a real SQLite file made by the bot's migrations, holding `--shows` TVmaze shows imported with the bot's
importer (bench/tvmaze_index.py's generated index: copies of the recorded index page's shows with new ids, titles,
years and a Pareto-distributed weight, mapped by the TVmaze mapper), of which `--tmdb` (default 10,000) also have a
TMDB popularity (Pareto-distributed, unbounded, as TMDB's is). Building it is not timed.

Timed, each the median of `--repeat` runs in one run of this script, each in its own committed transaction:
- `all_rows_written`: every show's popularity was unknown (set to 0 first, not timed): the statement computes and
  writes all of them (the first derivation after the migration, or the end of the TVmaze bootstrap);
- `one_number_changed`: one show's TMDB popularity changed (not timed), then the whole catalog is derived again and
  only the rows whose value moved are written (what the end of a sync does: import_each, the index run's end);
- `one_page_of_250`: 250 shows' popularity derived against the whole catalog (a bootstrap page, `show_ids` given).
Left out: the import that changed the numbers, and the bot re-reading the changed shows afterwards.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

from _common import emit  # noqa: E402
from tvmaze_index import generated_pages  # noqa: E402

from bot.catalog.importer import import_records  # noqa: E402
from bot.catalog.popularity import recompute_popularity  # noqa: E402
from bot.catalog.sources.tvmaze import show_to_record  # noqa: E402
from bot.storage import SyncConnection, connect_sync, open_database  # noqa: E402


async def create(path: Path) -> None:
    async with open_database(path):
        pass


def build(path: Path, shows: int, tmdb: int, seed: int) -> None:
    import asyncio

    asyncio.run(create(path))
    records = [show_to_record(show) for page in generated_pages(shows, seed) for show in json.loads(page)]
    conn = connect_sync(path)
    try:
        import_records(conn, records, derive_popularity="none")
        rng = random.Random(seed)
        ids = [int(row[0]) for row in conn.execute("SELECT id FROM shows WHERE tvmaze_id IS NOT NULL")]
        conn.execute("BEGIN")
        conn.executemany(
            "UPDATE shows SET tmdb_popularity = ? WHERE id = ?",
            [(round(rng.paretovariate(1.1) * 3, 3), show_id) for show_id in rng.sample(ids, min(tmdb, len(ids)))],
        )
        conn.execute("COMMIT")
        recompute_popularity(conn)
    finally:
        conn.close()


def timed(conn: SyncConnection, show_ids: list[int] | None = None) -> tuple[float, int]:
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    changed = recompute_popularity(conn, show_ids)
    conn.execute("COMMIT")
    return (time.perf_counter() - started) * 1000, changed


def measure(path: Path, repeat: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed + 1)
    conn = connect_sync(path)
    try:
        total = int(conn.execute("SELECT COUNT(*) FROM shows").fetchone()[0])
        with_tmdb = [int(r[0]) for r in conn.execute("SELECT id FROM shows WHERE tmdb_popularity IS NOT NULL")]
        all_ids = [int(r[0]) for r in conn.execute("SELECT id FROM shows")]
        runs: dict[str, list[float]] = {"all_rows_written": [], "one_number_changed": [], "one_page_of_250": []}
        written: dict[str, list[int]] = {name: [] for name in runs}
        for _ in range(repeat):
            conn.execute("UPDATE shows SET popularity = 0")
            ms, changed = timed(conn)
            runs["all_rows_written"].append(ms)
            written["all_rows_written"].append(changed)
            conn.execute(
                "UPDATE shows SET tmdb_popularity = ? WHERE id = ?",
                (round(rng.paretovariate(1.1) * 3, 3), rng.choice(with_tmdb)),
            )
            ms, changed = timed(conn)
            runs["one_number_changed"].append(ms)
            written["one_number_changed"].append(changed)
            page = rng.sample(all_ids, 250)
            conn.execute(f"UPDATE shows SET popularity = 0 WHERE id IN ({','.join('?' * len(page))})", page)
            ms, changed = timed(conn, page)
            runs["one_page_of_250"].append(ms)
            written["one_page_of_250"].append(changed)
        low, high = conn.execute("SELECT MIN(popularity), MAX(popularity) FROM shows").fetchone()
    finally:
        conn.close()
    return {
        "shows": total,
        "with_tmdb_popularity": len(with_tmdb),
        "repeat": repeat,
        "popularity_range": [low, high],
        **{
            name: {
                "median_ms": round(statistics.median(times), 1),
                "max_ms": round(max(times), 1),
                "rows_written_median": statistics.median(written[name]),
            }
            for name, times in runs.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shows", type=int, default=90_000)
    parser.add_argument("--tmdb", type=int, default=10_000, help="how many of the shows have a TMDB popularity")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "popularity.db"
        started = time.perf_counter()
        build(path, args.shows, args.tmdb, args.seed)
        built_s = time.perf_counter() - started
        result = measure(path, args.repeat, args.seed)
    result["build_seconds_untimed"] = round(built_s, 1)
    result["path"] = (
        "recompute_popularity(conn[, show_ids]) in its own BEGIN IMMEDIATE ... COMMIT on a real SQLite file of "
        f"{args.shows} imported TVmaze-shaped shows ({args.tmdb} with a TMDB popularity). Leaves out the import that "
        "changed the numbers and the bot re-reading changed shows"
    )
    emit(result, args.json)


if __name__ == "__main__":
    main()
