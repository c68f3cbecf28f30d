"""Benchmark: one weekly tick that finds every server due.

    python bench/weekly.py --servers 1000 --json

Builds a fresh database (the shipped catalog, releases around the post time, votes in every server), configures
N servers in assorted time zones so that all of them are due at the tick, and times `run_tick`: the due-list query
and schedule maths, claiming each week, building each server's content, rendering it, and recording each post.
Posting itself is excluded: the poster renders the message and returns a made-up message id without any network.
Also timed: a second tick straight after, when nothing is due (the loop's steady cost every minute).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time as wallclock
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.catalog import seed_if_empty
from bot.clock import utc_iso
from bot.db import open_database
from bot.weekly import DuePost, PostResult, WeeklyContent, format_local_time, render_weekly, run_tick

ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Australia/Lord_Howe",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Africa/Lagos",
)
NOW = datetime(2024, 6, 7, 18, 0, tzinfo=UTC)
RELEASE_KINDS = ("premiere", "season_premiere", "episodes", "added")


async def build(path: Path, servers: int, releases: int, votes_per_server: int, rng: random.Random) -> dict[str, int]:
    async with open_database(path) as db:
        await seed_if_empty(db)
        show_ids = [int(row[0]) for row in await db.fetchall("SELECT id FROM shows")]
        release_rows = set()
        while len(release_rows) < min(releases, len(show_ids) * 4):
            day = (NOW + timedelta(days=rng.uniform(-9, 9))).date().isoformat()
            release_rows.add(
                (rng.choice(show_ids), rng.choice(RELEASE_KINDS), day, rng.choice(["Netflix", "Hulu", ""]))
            )
        await db.executemany("INSERT INTO releases (show_id, kind, date, service) VALUES (?, ?, ?, ?)", release_rows)
        settings_rows = []
        for guild_id in range(1, servers + 1):
            zone = ZONES[guild_id % len(ZONES)]
            local = (NOW - timedelta(minutes=guild_id % 50)).astimezone(ZoneInfo(zone))
            settings_rows.append(
                (
                    guild_id,
                    guild_id * 10,
                    local.weekday(),
                    format_local_time(local.time()),
                    zone,
                    utc_iso(NOW - timedelta(days=30)),
                    utc_iso(NOW),
                )
            )
        await db.executemany(
            """INSERT INTO guild_settings (guild_id, weekly_enabled, weekly_channel_id, weekly_weekday, weekly_time,
                   weekly_timezone, weekly_since, updated_at) VALUES (?, 1, ?, ?, ?, ?, ?, ?)""",
            settings_rows,
        )
        vote_rows = [
            (guild_id, user_id, rng.choice(show_ids), rng.choice((1, 1, -1)), utc_iso(NOW))
            for guild_id in range(1, servers + 1)
            for user_id in range(votes_per_server)
        ]
        await db.executemany(
            """INSERT OR IGNORE INTO votes (guild_id, user_id, show_id, value, source, updated_at)
               VALUES (?, ?, ?, ?, 'command', ?)""",
            vote_rows,
        )
        return {
            "shows": len(show_ids),
            "releases": int(await db.fetchval("SELECT count(*) FROM releases")),
            "votes": int(await db.fetchval("SELECT count(*) FROM votes")),
        }


async def measure(servers: int, releases: int, votes_per_server: int, seed: int, repeat: int) -> dict[str, object]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as directory:
        base = Path(directory) / "base.db"
        facts = await build(base, servers, releases, votes_per_server, rng)
        runs: list[float] = []
        idle_runs: list[float] = []
        for run in range(repeat):
            path = Path(directory) / f"run{run}.db"
            shutil.copyfile(base, path)  # every run starts from the same state: all servers due
            poster = RenderingPoster()
            async with open_database(path) as db:
                started = wallclock.perf_counter()
                report = await run_tick(db, NOW, poster)
                runs.append((wallclock.perf_counter() - started) * 1000)
                started = wallclock.perf_counter()
                idle = await run_tick(db, NOW + timedelta(minutes=1), poster)
                idle_runs.append((wallclock.perf_counter() - started) * 1000)
        return {
            "servers": servers,
            "tick_ms": round(statistics.median(runs), 1),
            "tick_ms_min": round(min(runs), 1),
            "tick_ms_runs": [round(value, 1) for value in runs],
            "per_server_ms": round(statistics.median(runs) / max(1, report.due), 3),
            "due": report.due,
            "posts": report.posted,
            "failed": report.failed + report.retrying + len(report.errors),
            "idle_tick_ms": round(statistics.median(idle_runs), 1),
            "idle_due": idle.due,
            "posting": "excluded: the poster renders the message and returns a fake message id, no network I/O",
            "items_listed": poster.items_listed,
            "longest_description": poster.longest_description,
            **facts,
            "python": sys.version.split()[0],
            "sqlite": sqlite3.sqlite_version,
        }


class RenderingPoster:
    """Does what a real poster does before sending (render the message), then returns a made-up message id."""

    def __init__(self) -> None:
        self.next_message_id = 10**17
        self.items_listed = 0
        self.longest_description = 0

    async def __call__(self, due: DuePost, content: WeeklyContent) -> PostResult:
        _, embed = render_weekly(content)
        self.items_listed += len(content.items)
        self.longest_description = max(self.longest_description, len(embed.description or ""))
        self.next_message_id += 1
        return PostResult(self.next_message_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--releases", type=int, default=60, help="release events around the post time")
    parser.add_argument("--votes-per-server", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--repeat", type=int, default=3, help="ticks timed, each on a fresh copy; the median is reported"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object (the default output anyway)")
    args = parser.parse_args()
    result = asyncio.run(measure(args.servers, args.releases, args.votes_per_server, args.seed, max(1, args.repeat)))
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
