"""The vote path under a burst: reaction events from the Discord emulator's gateway, to votes committed in SQLite.

    python bench/votes.py --events 5000 --json

Events from --members members over --messages tracked messages (half 👍/👎 show messages, half 1️⃣…🔟 lists) are
what members do (add a reaction they do not hold, remove one they hold). Headline (`gateway`): the real bot (every
cog) connected to the emulator; the emulator's gateway sends each event as MESSAGE_REACTION_ADD/REMOVE as fast as it
can, discord.py parses it and runs the votes cog's listener, which queues it for the vote processor; the clock stops
when the last vote is committed. Second, labelled number (`store_only`): the same events handed straight to a
VoteProcessor (no gateway, no discord.py). Both final votes tables are compared with the state computed by
replaying the events in order with the plain rules: `lost` counts expected votes missing or different,
`double_counted` votes stored that the replay does not have.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import emit

from bot.app.harness import FAKE_TOKEN, running_bot
from bot.common.clock import SystemClock, utc_iso
from bot.common.config import Settings
from bot.emulator import DiscordDriver, DiscordEmulator, build_demo_server
from bot.emulator.state import Message, User, parse_emoji
from bot.storage import Database, open_database
from bot.votes import ReactionEvent, VoteProcessor, VoteStore, list_emoji_map, show_emoji_map

PATH = (
    "gateway (headline): from the emulator sending the first reaction event on the gateway websocket until the last "
    "vote is committed: the emulator's dispatch, discord.py's parsing and event dispatch, the votes cog's listener, "
    "the vote processor's batched commits to a real SQLite file. Leaves out: network latency (the emulator is on "
    "127.0.0.1, in the same process, and its sending shares the CPU with the bot). store_only: the same events "
    "handed straight to a VoteProcessor, from the first submit to the last commit (no gateway, no discord.py)."
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


def replay(
    events: list[ReactionEvent], maps: dict[int, dict[str, tuple[int, int]]], *, guild: int | None = None
) -> VoteState:
    """The votes the events leave, by the plain rules (in `guild` instead of the events' own when given)."""
    votes: VoteState = {}
    for event in events:
        show_id, value = maps[event.message_id][event.emoji]
        key = (guild or event.guild_id, event.user_id, show_id)
        if event.added:
            votes[key] = (value, event.message_id, event.emoji)
        elif key in votes and votes[key][1:] == (event.message_id, event.emoji):
            del votes[key]
    return votes


async def prepare(db: Database, maps: dict[int, dict[str, tuple[int, int]]]) -> None:
    """The shows the messages are about (the messages are tracked by the caller, in the store it measures)."""
    now = utc_iso(SystemClock().now())
    shows = {show_id for emoji_map in maps.values() for show_id, _value in emoji_map.values()}
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO shows (id, title, title_norm, updated_at) VALUES (?, ?, ?, ?)",
            [(show_id, f"Show {show_id}", f"show {show_id}", now) for show_id in sorted(shows)],
        )


def score(stored: VoteState, expected: VoteState) -> dict[str, int]:
    return {
        "lost": sum(1 for key, vote in expected.items() if stored.get(key) != vote),
        "double_counted": sum(1 for key in stored if key not in expected),
    }


async def stored_votes(db: Database, guild_id: int) -> VoteState:
    rows = await db.fetchall(
        "SELECT guild_id, user_id, show_id, value, message_id, emoji FROM votes WHERE guild_id = ?", (guild_id,)
    )
    return {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in rows}


async def store_only(burst: list[ReactionEvent], maps: dict[int, dict[str, tuple[int, int]]], max_batch: int,
                     directory: Path) -> dict[str, Any]:  # fmt: skip
    async with open_database(directory / "store-only.sqlite3") as db:
        store = VoteStore(db)
        await prepare(db, maps)
        for message_id, emoji_map in maps.items():
            await store.track_message(message_id, GUILD, CHANNEL, "bench", emoji_map)
        processor = VoteProcessor(store, max_batch=max_batch)
        processor.start()
        started = time.perf_counter()
        for event in burst:
            processor.submit(event)
        await processor.drain()
        elapsed = time.perf_counter() - started
        await processor.stop()
        stored = await stored_votes(db, GUILD)
        integrity = await db.fetchval("PRAGMA integrity_check")
    return {
        "events_per_s": round(len(burst) / elapsed),
        "seconds": round(elapsed, 4),
        **score(stored, replay(burst, maps)),
        "batches": processor.stats.batches,
        "failed_batches": processor.stats.failed_batches,
        "integrity_check": integrity,
    }


async def through_gateway(
    burst: list[ReactionEvent], maps: dict[int, dict[str, tuple[int, int]]], members: int, directory: Path
) -> dict[str, Any]:
    """The same burst as MESSAGE_REACTION_ADD/REMOVE frames from the emulator, to the real bot."""
    path = directory / "gateway.sqlite3"
    emulator = DiscordEmulator(token=FAKE_TOKEN, require_spec=False)
    demo = build_demo_server(emulator, guild_id=GUILD)
    users: dict[int, User] = {}
    for index in range(members):
        user = emulator.create_user(f"member{index}", user_id=FIRST_MEMBER + index)
        emulator.add_member(demo.guild, user)
        users[user.id] = user
    messages: dict[int, Message] = {}
    for message_id in maps:
        message = Message(message_id, demo.general.id, demo.guild.id, emulator.bot_user, content=f"post {message_id}")
        demo.general.messages[message_id] = message
        messages[message_id] = message
    settings = Settings(database_path=path, discord_token=FAKE_TOKEN, log_level="WARNING")
    async with emulator, open_database(path) as db:
        await prepare(db, maps)
        async with running_bot(emulator, settings, db) as bot:
            votes: Any = bot.get_cog("Votes")
            if votes.reconciliation is not None:
                await votes.reconciliation  # nothing tracked yet: nothing to read
            for message_id, emoji_map in maps.items():  # tracked through the bot's own store, as a post would be
                await bot.votes.track_message(message_id, demo.guild.id, demo.general.id, "bench", emoji_map)
            driver = DiscordDriver(emulator, demo)
            before = votes.processor.stats.events
            started = time.perf_counter()
            for event in burst:
                message, user = messages[event.message_id], users[event.user_id]
                if event.added:
                    sent = await emulator.add_reaction(message, parse_emoji(event.emoji), user)
                else:
                    sent = await emulator.remove_reaction(message, parse_emoji(event.emoji), user)
                assert sent, "the event plan and the emulator's reactions disagree"
            dispatched = time.perf_counter() - started
            await driver.settle()  # the client has read every frame and run every listener
            await votes.processor.drain()  # ... and the last vote is committed
            elapsed = time.perf_counter() - started
            processed = votes.processor.stats.events - before
            stored = await stored_votes(db, demo.guild.id)
    return {
        "events_per_s": round(len(burst) / elapsed),
        "seconds": round(elapsed, 4),
        "dispatch_seconds": round(dispatched, 4),
        **score(stored, replay(burst, maps, guild=demo.guild.id)),
        "events_processed": processed,
        "rate_limited_429": len(emulator.rate_limited),
    }


async def measure(events: int, members: int, messages: int, seed: int, max_batch: int) -> dict[str, Any]:
    maps = make_maps(messages)
    burst = make_events(events, members, maps, seed)
    with tempfile.TemporaryDirectory(prefix="showbot-bench-votes-") as name:
        gateway = await through_gateway(burst, maps, members, Path(name))
        batch = await store_only(burst, maps, max_batch, Path(name))
    return {
        "path": PATH,
        "events_per_s": gateway["events_per_s"],
        "lost": gateway["lost"],
        "double_counted": gateway["double_counted"],
        "gateway": gateway,
        "store_only": batch,
        "events": events,
        "members": members,
        "messages": messages,
        "votes": len(replay(burst, maps)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--max-batch", type=int, default=500, help="the store-only processor's batch size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object on one line")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    result = asyncio.run(measure(args.events, args.members, args.messages, args.seed, args.max_batch))
    emit(result, args.json)
    clean = all(part["lost"] == 0 and part["double_counted"] == 0 for part in (result["gateway"], result["store_only"]))
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
