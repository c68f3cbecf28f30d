"""The bot on two gateway shards, end to end through the emulator: one process running both, and two bots (as two
processes would be) running one shard each on one SQLite file. Servers are spread over both shards; each server's
events must reach its own shard only, `/show` must answer on both, and a burst of votes across the servers must be
stored exactly."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import discord
import pytest

from bot.app.core import ShowBot
from bot.app.harness import running_bot
from bot.app.shards import IdentifyPacer, StartLimits
from bot.common.clock import FakeClock
from bot.common.config import Settings
from bot.emulator import DemoServer, DiscordDriver, DiscordEmulator, Reply, build_demo_server
from bot.emulator.sharding import IDENTIFY_WINDOW_SECONDS, shard_of
from bot.storage import Database, open_database

SHARDS = 2
SERVERS = 6
UP, DOWN = {"id": None, "name": "👍"}, {"id": None, "name": "👎"}

Votes = dict[tuple[int, int, int], int]


def servers_on_both_shards(emulator: DiscordEmulator) -> list[DemoServer]:
    """SERVERS demo servers, alternately on shard 0 and shard 1 (a guild's shard comes from its ID)."""
    servers = []
    for n in range(SERVERS):
        guild_id = ((100 + n) << 22) | 1 << 12  # member, role and channel IDs follow it (build_demo_server)
        assert shard_of(guild_id, SHARDS) == n % SHARDS
        servers.append(build_demo_server(emulator, f"Server {n}", guild_id=guild_id))
    return servers


async def show_everywhere(emulator: DiscordEmulator, servers: list[DemoServer], db: Database) -> list[Reply]:
    """`/show` in every server (each a different show), answered by whichever bot runs the server's shard."""
    rows = await db.fetchall("SELECT title FROM shows ORDER BY id LIMIT ?", (len(servers),))
    replies = []
    for server, row in zip(servers, rows, strict=True):
        reply = await DiscordDriver(emulator, server).slash("show", title=row[0], user="alice")
        assert reply.embed["title"].startswith(row[0]) and not reply.ephemeral
        assert reply.message is not None and reply.message.reaction_counts() == {"👍": 1, "👎": 1}
        replies.append(reply)
    return replies


async def vote_burst(emulator: DiscordEmulator, servers: list[DemoServer], cards: list[Reply]) -> None:
    """In every server at once: alice 👍; bob 👍 then 👎 (the latest wins); carol 👍 then takes it back."""

    async def one_server(server: DemoServer, card: Reply) -> None:
        assert card.message is not None
        alice, bob, carol = (server.members[name] for name in ("alice", "bob", "carol"))
        for emoji, user in ((UP, alice), (UP, bob), (UP, carol), (DOWN, bob)):
            assert await emulator.add_reaction(card.message, emoji, user)
        assert await emulator.remove_reaction(card.message, UP, carol)

    await asyncio.gather(*(one_server(server, card) for server, card in zip(servers, cards, strict=True)))


async def settle(emulator: DiscordEmulator, servers: list[DemoServer], bots: list[ShowBot]) -> None:
    await DiscordDriver(emulator, servers[0]).settle()  # every session's events read, every handler finished
    for bot in bots:
        await bot.get_cog("Votes").processor.drain()  # type: ignore[union-attr]


async def stored_votes(db: Database) -> Votes:
    rows = await db.fetchall("SELECT guild_id, user_id, show_id, value FROM votes")
    return {(row[0], row[1], row[2]): row[3] for row in rows}


async def expected_votes(db: Database, servers: list[DemoServer]) -> Votes:
    rows = await db.fetchall("SELECT id FROM shows ORDER BY id LIMIT ?", (len(servers),))
    expected: Votes = {}
    for server, row in zip(servers, rows, strict=True):
        expected[(server.guild.id, server.members["alice"].id, row[0])] = 1
        expected[(server.guild.id, server.members["bob"].id, row[0])] = -1
    return expected


def assert_events_on_their_shard_only(emulator: DiscordEmulator, servers: list[DemoServer]) -> None:
    """Every dispatch a shard's session got concerns a server of that shard; every server's reactions and
    interactions went to exactly one session, its shard's."""
    sessions = [s for s in emulator.sessions.values() if s.shard.count == SHARDS]
    assert sorted(session.shard.id for session in sessions) == list(range(SHARDS))
    seen: dict[int, set[int]] = {}
    for session in sessions:
        for frame in session.buffer:
            data = frame["d"]
            guild_id = data.get("guild_id") or (data.get("id") if frame["t"] == "GUILD_CREATE" else None)
            if guild_id is None:
                continue
            assert shard_of(int(guild_id), SHARDS) == session.shard.id, (frame["t"], guild_id, session.shard)
            if frame["t"] in ("MESSAGE_REACTION_ADD", "INTERACTION_CREATE"):
                seen.setdefault(int(guild_id), set()).add(session.shard.id)
    assert seen == {server.guild.id: {shard_of(server.guild.id, SHARDS)} for server in servers}


@pytest.fixture
def two_buckets(emulator: DiscordEmulator) -> DiscordEmulator:
    """Discord's max_concurrency 2: shards 0 and 1 may IDENTIFY at once (each bot's own pacer reads it)."""
    emulator.session_start_limit.max_concurrency = 2
    return emulator


async def test_one_process_with_two_shards(
    two_buckets: DiscordEmulator, demo: DemoServer, make_bot: Callable[..., Awaitable[ShowBot]], db: Database
) -> None:
    emulator = two_buckets
    servers = servers_on_both_shards(emulator)
    bot = await make_bot(shard_count=SHARDS)
    assert sorted(bot.shards) == [0, 1] and emulator.too_fast_identifies == 0
    assert {server.guild.id for server in servers} <= {guild.id for guild in bot.guilds}
    cards = await show_everywhere(emulator, servers, db)
    await vote_burst(emulator, servers, cards)
    await settle(emulator, servers, [bot])
    assert await stored_votes(db) == await expected_votes(db, servers)
    assert_events_on_their_shard_only(emulator, servers)


@contextlib.asynccontextmanager
async def bot_on_shard(
    emulator: DiscordEmulator, settings: Settings, shard_id: int, clock: FakeClock
) -> AsyncIterator[ShowBot]:
    """A bot as one process of a cluster would run it: its own connection to the shared SQLite file, one shard."""
    shard_settings = replace(settings, shard_count=SHARDS, shard_ids=(shard_id,))
    async with (
        open_database(settings.database_path) as db,
        running_bot(emulator, shard_settings, db, clock=clock) as bot,
    ):
        yield bot


async def test_two_bots_each_with_one_shard_on_one_database(
    two_buckets: DiscordEmulator, demo: DemoServer, settings: Settings, db: Database, clock: FakeClock
) -> None:
    emulator = two_buckets
    servers = servers_on_both_shards(emulator)
    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(bot_on_shard(emulator, settings, 0, clock))
        second_stack = await stack.enter_async_context(contextlib.AsyncExitStack())
        second = await second_stack.enter_async_context(bot_on_shard(emulator, settings, 1, clock))
        assert (first.shard_ids, second.shard_ids) == ([0], [1])
        for bot, shard_id in ((first, 0), (second, 1)):  # each bot holds its own shard's servers only
            on_shard = {server.guild.id for server in servers if shard_of(server.guild.id, SHARDS) == shard_id}
            assert on_shard <= {guild.id for guild in bot.guilds}
            assert all(shard_of(guild.id, SHARDS) == shard_id for guild in bot.guilds)
        # Commands are synced once, by the bot running shard 0.
        syncs = [r for r in emulator.requests if r.method == "PUT" and r.route.endswith("/commands")]
        assert len(syncs) == 1

        cards = await show_everywhere(emulator, servers, db)
        await vote_burst(emulator, servers, cards)
        await settle(emulator, servers, [first, second])
        assert await stored_votes(db) == await expected_votes(db, servers)
        assert_events_on_their_shard_only(emulator, servers)

        # The shard-1 bot restarts (5 s later, as a restart takes): its new session reconciles the votes of its own
        # servers' messages only; the shard-0 bot, whose session goes on, reads nothing meanwhile.
        await second_stack.aclose()
        emulator.advance_time(IDENTIFY_WINDOW_SECONDS)
        mark = len(emulator.requests)
        restarted = await stack.enter_async_context(bot_on_shard(emulator, settings, 1, clock))
        reconciliations: dict[int, Any] = restarted.get_cog("Votes").reconciliations  # type: ignore[union-attr]
        assert sorted(reconciliations) == [1]
        await asyncio.wait_for(reconciliations[1], 30)
        reads = [r for r in emulator.requests[mark:] if r.method == "GET" and r.route.endswith("/{emoji_name}")]
        read_channels = {r.path.split("/")[2] for r in reads}
        shard_one_channels = {str(s.general.id) for s in servers if shard_of(s.guild.id, SHARDS) == 1}
        assert read_channels == shard_one_channels  # every card of shard 1's servers, none of shard 0's
        assert await stored_votes(db) == await expected_votes(db, servers)  # nothing changed offline: nothing fixed


async def test_a_process_with_too_few_shards_stops_with_one_line(bot_process: Any, emulator: DiscordEmulator) -> None:
    emulator.max_guilds_per_shard = 2
    for n in range(2):  # with the demo server: 3 servers, too many for one shard
        emulator.create_guild(f"Server {n}", emulator.owner_user)
    process = await bot_process(SHARD_COUNT="1")
    _, stderr = await asyncio.wait_for(process.process.communicate(), 30)
    assert process.process.returncode == 2
    lines = stderr.decode().strip().splitlines()
    assert lines[-1].startswith("Discord requires more shards for this many servers (close 4011)")
    assert "Traceback" not in "\n".join(lines)


async def test_a_process_without_shard_zero_does_not_sync_commands(
    bot_process: Any, emulator: DiscordEmulator, demo: DemoServer
) -> None:
    emulator.session_start_limit.max_concurrency = 2
    process = await bot_process(SHARD_COUNT="2", SHARD_IDS="1")
    await emulator.wait_for(
        lambda: any(s.shard.id == 1 for s in emulator.live_sessions()) or process.process.returncode is not None,
        timeout=30,
        what="shard 1 to connect",
    )
    assert [(s.shard.id, s.shard.count) for s in emulator.live_sessions()] == [(1, 2)]
    assert emulator.global_commands == [] and not any(r.route.endswith("/commands") for r in emulator.requests)
    assert await process.stop() == 0


async def test_identify_pacing_falls_back_to_one_bucket_when_the_limits_cannot_be_read() -> None:
    async def unreachable() -> StartLimits:
        raise discord.GatewayNotFound()

    pacer = IdentifyPacer(unreachable, window=0.0)
    await pacer.wait_turn(3)
    assert pacer.max_concurrency == 1  # as the smallest bots must: one IDENTIFY per 5 s
