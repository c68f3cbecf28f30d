"""Benchmark: one weekly tick for N servers, every REST call through the Discord emulator and its rate limits.

    python bench/weekly.py --servers 1000 --json

Builds a fresh database (the shipped catalog, releases around the post time, votes in every server) with N servers in
assorted time zones, all due at the tick; starts the Discord emulator (Discord's global and per-route rate limits on)
with those N servers, and the real bot (every cog) on them. Headline: one tick, timed from its start until its last
request is answered: the due list, claims, each server's content and rendering, its post, the post's record in the
ledger and its tracking for votes, and its keycap reactions, every request through discord.py, the bot's global
limiter and the emulator. The floor is what Discord's global limit alone allows: requests / 50 per second.
Also reported: the same tick with a poster that renders and returns a made-up id (no REST: the bot's own work), and
an idle tick straight after (the loop's steady cost every minute).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import shutil
import sys
import tempfile
import time as wallclock
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import emit

from bot.app.harness import FAKE_TOKEN, running_bot
from bot.catalog import seed_if_empty
from bot.common.clock import FakeClock, utc_iso
from bot.common.config import Settings
from bot.emulator import DiscordEmulator
from bot.emulator.ratelimits import GLOBAL_LIMIT_PER_SECOND, counts_towards_global
from bot.storage import open_database
from bot.weekly import DuePost, PostResult, WeeklyContent, format_local_time, render_weekly, run_tick

PATH = (
    "headline tick_s: from the tick's start (every server due) until its last request is answered: due list, claims, "
    "content, rendering, POST of each server's message, its ledger record and vote tracking, then its keycap "
    "reactions; every request through the real discord.py client, the bot's global limiter (bot/common/ratelimit.py) "
    "and the Discord emulator enforcing Discord's rate limits. Leaves out: network latency (the emulator is on "
    "127.0.0.1, in the same process, sharing its CPU) and Discord's own processing time. offline_tick_ms: the same "
    "tick with a poster that renders and returns a made-up id (no REST at all)."
)
POST_ROUTE = ("POST", "/channels/{channel_id}/messages")
REACTION_ROUTE = ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me")
CHANNEL_BASE = 10**9  # channel ids: CHANNEL_BASE + guild id, apart from every guild id

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
                    CHANNEL_BASE + guild_id,
                    local.weekday(),
                    format_local_time(local.time()),
                    zone,
                    utc_iso(NOW - timedelta(days=1)),  # last week's post is not owed: no catch-up
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


async def offline_tick(base: Path, directory: Path) -> dict[str, Any]:
    """The tick with a poster that renders and returns a made-up message id, then an idle tick (nothing due)."""
    path = directory / "offline.db"
    shutil.copyfile(base, path)
    poster = RenderingPoster()
    async with open_database(path) as db:
        started = wallclock.perf_counter()
        report = await run_tick(db, NOW, poster)
        offline_ms = (wallclock.perf_counter() - started) * 1000
        started = wallclock.perf_counter()
        idle = await run_tick(db, NOW + timedelta(minutes=1), poster)
        idle_ms = (wallclock.perf_counter() - started) * 1000
    return {
        "offline_tick_ms": round(offline_ms, 1),
        "offline_posts": report.posted,
        "idle_tick_ms": round(idle_ms, 1),
        "idle_due": idle.due,
        "items_listed": poster.items_listed,
        "longest_description": poster.longest_description,
    }


async def emulated_tick(base: Path, directory: Path, servers: int) -> dict[str, Any]:
    """The real bot on the emulator: start it before the posting time, then time one tick at the posting time."""
    path = directory / "emulated.db"
    shutil.copyfile(base, path)
    emulator = DiscordEmulator(token=FAKE_TOKEN, require_spec=False)
    for guild_id in range(1, servers + 1):
        guild = emulator.create_guild(f"Server {guild_id}", emulator.owner_user, guild_id=guild_id)
        emulator.create_channel(guild, "new-this-week", channel_id=CHANNEL_BASE + guild_id)
    clock = FakeClock(NOW - timedelta(hours=1))  # nothing due yet: the loop's first pass posts nothing
    settings = Settings(database_path=path, discord_token=FAKE_TOKEN, log_level="WARNING")
    async with emulator, open_database(path) as db:
        async with running_bot(emulator, settings, db, clock=clock, ready_timeout=300) as bot:
            cog: Any = bot.get_cog("Weekly")
            await asyncio.wait_for(cog.first_pass_done.wait(), 60)
            clock.set(NOW)
            first = len(emulator.requests)
            started = wallclock.perf_counter()
            report = await cog.tick()
            elapsed = wallclock.perf_counter() - started
            sent = emulator.requests[first:]
            posted_rows = await db.fetchval("SELECT count(*) FROM weekly_posts WHERE status = 'posted'")
            tracked = await db.fetchval("SELECT count(*) FROM vote_messages WHERE kind = 'weekly'")
        keycaps_expected = sum(1 for r in sent if (r.method, r.route) == REACTION_ROUTE)
        keycaps_on_posts = sum(
            len(message.reaction_counts())
            for guild in emulator.guilds.values()
            for channel in guild.channels.values()
            for message in channel.messages.values()
        )
    routes = [(r.method, r.route) for r in sent]
    posts_at = [r.received_at for r in sent if (r.method, r.route) == POST_ROUTE]
    post_indexes = [index for index, route in enumerate(routes) if route == POST_ROUTE]
    reaction_indexes = [index for index, route in enumerate(routes) if route == REACTION_ROUTE]
    counted = sum(1 for r in sent if counts_towards_global(r.route))
    floor = counted / GLOBAL_LIMIT_PER_SECOND
    return {
        "tick_s": round(elapsed, 2),
        "requests": len(sent),
        "requests_global": counted,
        "floor_s": round(floor, 2),
        "ratio_to_floor": round(elapsed / floor, 3) if floor else None,
        "posts_sent": len(post_indexes),
        "reactions_sent": len(reaction_indexes),
        "other_requests": len(sent) - len(post_indexes) - len(reaction_indexes),
        "all_posts_out_s": round(max(posts_at) - started, 2) if posts_at else None,
        "posts_before_reactions": not reaction_indexes or not post_indexes or max(post_indexes) < min(reaction_indexes),
        "rate_limited_429": len(emulator.rate_limited),
        "due": report.due,
        "posted": report.posted,
        "failed": report.failed + report.retrying,
        "errors": len(report.errors),
        "ledger_posted": posted_rows,
        "tracked_for_votes": tracked,
        "keycaps_on_posts": keycaps_on_posts,
        "keycaps_requested": keycaps_expected,
    }


async def measure(servers: int, releases: int, votes_per_server: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="showbot-bench-weekly-") as name:
        directory = Path(name)
        base = directory / "base.db"
        facts = await build(base, servers, releases, votes_per_server, rng)
        offline = await offline_tick(base, directory)
        emulated = await emulated_tick(base, directory, servers)
    return {"path": PATH, "servers": servers, **emulated, **offline, **facts}


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--releases", type=int, default=60, help="release events around the post time")
    parser.add_argument("--votes-per-server", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print one JSON object on one line")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the bot's warnings would drown the result; errors still show
    result = asyncio.run(measure(args.servers, args.releases, args.votes_per_server, args.seed))
    emit(result, args.json)
    healthy = (
        result["posted"] == result["servers"]
        and result["rate_limited_429"] == 0
        and result["posts_before_reactions"]
        and result["keycaps_on_posts"] == result["keycaps_requested"]
    )
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
