"""The vote path under a burst: reaction events in, votes committed to a real SQLite file, checked against a replay.

    python bench/votes.py --events 5000 --json

Events from --members members over --messages tracked messages (half 👍/👎 show messages, half 1️⃣…🔟 lists) are
submitted to a VoteProcessor as fast as a gateway burst would deliver them; the clock stops when the last one is
committed. The final votes table is compared with the state computed by replaying the events in order with the plain
rules: `lost` counts expected votes missing or different, `double_counted` votes stored that the replay does not have.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.clock import SystemClock, utc_iso
from bot.db import Database, open_database
from bot.votes import (
    ReactionEvent,
    VoteProcessor,
    VoteStore,
    list_emoji_map,
    show_emoji_map,
)

GUILD = 1
CHANNEL = 2
FIRST_MESSAGE = 10_000
FIRST_MEMBER = 100_000

VoteState = dict[tuple[int, int, int], tuple[int, int, str]]


def make_maps(messages: int) -> dict[int, dict[str, tuple[int, int]]]:
    """Even messages are about one show (👍/👎); odd ones are lists of ten shows (keycaps), sharing shows."""
    maps = {}
    for index in range(messages):
        if index % 2 == 0:
            maps[FIRST_MESSAGE + index] = show_emoji_map(index + 1)
        else:
            maps[FIRST_MESSAGE + index] = list_emoji_map([(index + k) % messages + 1 for k in range(10)])
    return maps


def make_events(
    count: int, members: int, maps: dict[int, dict[str, tuple[int, int]]], seed: int
) -> list[ReactionEvent]:
    """Reaction traffic as Discord sends it: a member adds a reaction he does not hold, removes one he holds."""
    rng = random.Random(seed)
    holding: set[tuple[int, int, str]] = set()
    message_ids = list(maps)
    events = []
    while len(events) < count:
        user = FIRST_MEMBER + rng.randrange(members)
        message = rng.choice(message_ids)
        emoji = rng.choice(list(maps[message]))
        key = (user, message, emoji)
        added = key not in holding
        (holding.add if added else holding.discard)(key)
        events.append(ReactionEvent(added, GUILD, user, message, emoji))
    return events


def replay(events: list[ReactionEvent], maps: dict[int, dict[str, tuple[int, int]]]) -> VoteState:
    votes: VoteState = {}
    for event in events:
        show_id, value = maps[event.message_id][event.emoji]
        key = (event.guild_id, event.user_id, show_id)
        if event.added:
            votes[key] = (value, event.message_id, event.emoji)
        elif key in votes and votes[key][1:] == (event.message_id, event.emoji):
            del votes[key]
    return votes


async def prepare(db: Database, maps: dict[int, dict[str, tuple[int, int]]], store: VoteStore) -> None:
    now = utc_iso(SystemClock().now())
    shows = {show_id for emoji_map in maps.values() for show_id, _value in emoji_map.values()}
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO shows (id, title, title_norm, updated_at) VALUES (?, ?, ?, ?)",
            [(show_id, f"Show {show_id}", f"show {show_id}", now) for show_id in sorted(shows)],
        )
    for message_id, emoji_map in maps.items():
        await store.track_message(message_id, GUILD, CHANNEL, "bench", emoji_map)


async def measure(events: int, members: int, messages: int, seed: int, max_batch: int) -> dict[str, Any]:
    maps = make_maps(messages)
    burst = make_events(events, members, maps, seed)
    with tempfile.TemporaryDirectory(prefix="showbot-bench-votes-") as directory:
        async with open_database(Path(directory) / "votes.sqlite3") as db:
            store = VoteStore(db)
            await prepare(db, maps, store)
            processor = VoteProcessor(store, max_batch=max_batch)
            processor.start()
            started = time.perf_counter()
            for event in burst:
                processor.submit(event)
            await processor.drain()
            elapsed = time.perf_counter() - started
            await processor.stop()
            rows = await db.fetchall("SELECT guild_id, user_id, show_id, value, message_id, emoji FROM votes")
            integrity = await db.fetchval("PRAGMA integrity_check")
    stored = {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in rows}
    expected = replay(burst, maps)
    lost = sum(1 for key, vote in expected.items() if stored.get(key) != vote)
    double_counted = sum(1 for key in stored if key not in expected)
    return {
        "events_per_s": round(events / elapsed),
        "lost": lost,
        "double_counted": double_counted,
        "events": events,
        "members": members,
        "messages": messages,
        "votes": len(stored),
        "seconds": round(elapsed, 4),
        "batches": processor.stats.batches,
        "failed_batches": processor.stats.failed_batches,
        "integrity_check": integrity,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--max-batch", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object (the default output too)")
    args = parser.parse_args()
    result = asyncio.run(measure(args.events, args.members, args.messages, args.seed, args.max_batch))
    print(json.dumps(result))
    return 0 if result["lost"] == 0 and result["double_counted"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
