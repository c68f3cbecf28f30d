"""The emulator shards as Discord does: GET /gateway/bot, IDENTIFY with `shard`, each guild's events on its shard's
session only, events without a guild on shard 0, close 4010/4011, and op 9 for an IDENTIFY faster than
max_concurrency allows. Rules a well-behaved client never breaks are driven by a raw websocket client (`RawShard`);
the rest by discord.py's own sharded client (the real ShowBot)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.app.harness import FAKE_TOKEN
from bot.emulator import DiscordEmulator
from bot.emulator.protocol import INTENT_GUILD_MESSAGE_REACTIONS, INTENT_GUILDS
from bot.emulator.sharding import IDENTIFY_WINDOW_SECONDS, recommended_shards, shard_of
from bot.emulator.state import Guild

INTENTS = INTENT_GUILDS | INTENT_GUILD_MESSAGE_REACTIONS


def guild_on(emulator: DiscordEmulator, shard_id: int, shard_count: int, n: int) -> Guild:
    """A guild whose ID puts it on `shard_id` of `shard_count` (the shard comes from the ID's timestamp bits)."""
    guild_id = ((n * shard_count + shard_id) << 22) | 1
    assert shard_of(guild_id, shard_count) == shard_id
    return emulator.create_guild(f"server {n} on shard {shard_id}", emulator.owner_user, guild_id=guild_id)


class RawShard:
    """A bare gateway client: HELLO, IDENTIFY with whatever `shard` a test asks for, then frames one by one (answering
    the emulator's heartbeat requests, as a client must)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.seq = 0

    @classmethod
    async def identify(cls, http: aiohttp.ClientSession, emulator: DiscordEmulator, shard: Any = None) -> RawShard:
        ws = await http.ws_connect(emulator.gateway_url)
        hello = await ws.receive_json(timeout=5)
        assert hello["op"] == 10
        data: dict[str, Any] = {"token": FAKE_TOKEN, "intents": INTENTS, "properties": {"os": "linux"}}
        if shard is not None:
            data["shard"] = shard
        await ws.send_json({"op": 2, "d": data})
        return cls(ws)

    async def next(self) -> dict[str, Any]:
        """The next frame the emulator sends (a dispatch, op 9, ...); a close raises."""
        while True:
            message = await self.ws.receive(timeout=5)
            if message.type is not aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"closed with {self.ws.close_code}")
            frame: dict[str, Any] = json.loads(message.data)
            if frame["op"] == 1:
                await self.ws.send_json({"op": 1, "d": self.seq})
                continue
            if frame["op"] == 0:
                self.seq = frame["s"]
            return frame

    async def ready(self) -> dict[str, Any]:
        frame = await self.next()
        assert frame["t"] == "READY", frame
        return frame["d"]  # type: ignore[no-any-return]

    async def dispatch(self) -> tuple[str, dict[str, Any]]:
        """The next dispatch other than the GUILD_CREATEs after READY."""
        while True:
            frame = await self.next()
            if frame["op"] == 0 and frame["t"] != "GUILD_CREATE":
                return frame["t"], frame["d"]

    async def close_code(self) -> int | None:
        while (await self.ws.receive(timeout=5)).type is aiohttp.WSMsgType.TEXT:
            pass
        return self.ws.close_code


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def gateway_bot(http: aiohttp.ClientSession, emulator: DiscordEmulator) -> dict[str, Any]:
    headers = {"Authorization": f"Bot {FAKE_TOKEN}"}
    async with http.get(f"{emulator.api_base_url}/gateway/bot", headers=headers) as response:
        assert response.status == 200 and response.headers["Content-Type"] == "application/json"
        return await response.json()  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------------------- GET /gateway/bot


def test_recommended_shards_keep_shards_under_the_limit() -> None:
    assert [recommended_shards(n) for n in (0, 2499, 2500, 4999, 5000, 7500)] == [1, 1, 2, 2, 3, 4]


async def test_gateway_bot_recommends_shards_and_counts_identifies_down(
    emulator: DiscordEmulator, http: aiohttp.ClientSession
) -> None:
    emulator.max_guilds_per_shard = 3
    emulator.session_start_limit.max_concurrency = 2
    for n in range(4):
        guild_on(emulator, n % 2, 2, n)
    first = await gateway_bot(http, emulator)
    assert first == {
        "url": emulator.gateway_url,
        "shards": 2,
        "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 2},
    }
    shards = [await RawShard.identify(http, emulator, [shard_id, 2]) for shard_id in (0, 1)]
    for shard in shards:
        await shard.ready()
    limit = (await gateway_bot(http, emulator))["session_start_limit"]
    assert limit["remaining"] == 998
    assert 0 < limit["reset_after"] <= 24 * 3600 * 1000
    emulator.advance_time(24 * 3600)  # a day later the budget is whole again
    assert (await gateway_bot(http, emulator))["session_start_limit"]["remaining"] == 1000


# ------------------------------------------------------------------------------------------- IDENTIFY with a shard


async def test_each_guilds_events_reach_its_shard_only_and_direct_messages_shard_zero(
    emulator: DiscordEmulator, http: aiohttp.ClientSession
) -> None:
    emulator.session_start_limit.max_concurrency = 2
    on_zero, on_one = guild_on(emulator, 0, 2, 0), guild_on(emulator, 1, 2, 1)
    zero = await RawShard.identify(http, emulator, [0, 2])
    one = await RawShard.identify(http, emulator, [1, 2])
    ready_zero, ready_one = await zero.ready(), await one.ready()
    assert ready_zero["shard"] == [0, 2] and ready_one["shard"] == [1, 2]
    assert [g["id"] for g in ready_zero["guilds"]] == [str(on_zero.id)]
    assert [g["id"] for g in ready_one["guilds"]] == [str(on_one.id)]

    channels = {guild.id: emulator.create_channel(guild, "general") for guild in (on_zero, on_one)}
    for guild in (on_one, on_zero):
        await emulator.set_overwrite(channels[guild.id], guild.roles[guild.id], deny=1 << 11)
    await emulator.dispatch("MESSAGE_REACTION_ADD", {"user_id": "1", "emoji": {"name": "👍"}}, guild_id=None)
    last = emulator.create_channel(on_one, "last")
    await emulator.set_overwrite(last, on_one.roles[on_one.id], deny=1 << 11)

    # Each session's dispatches in order: its own guild's events only; the guild-less event on shard 0 only.
    first_on_zero = await zero.dispatch()
    assert (first_on_zero[0], first_on_zero[1]["id"]) == ("CHANNEL_UPDATE", str(channels[on_zero.id].id))
    assert (await zero.dispatch())[0] == "MESSAGE_REACTION_ADD"
    first_on_one = await one.dispatch()
    assert (first_on_one[0], first_on_one[1]["id"]) == ("CHANNEL_UPDATE", str(channels[on_one.id].id))
    last_on_one = await one.dispatch()  # not the guild-less event: shard 1 never got it
    assert (last_on_one[0], last_on_one[1]["id"]) == ("CHANNEL_UPDATE", str(last.id))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (None, [2, 2]),  # shard id not below the count
        (None, [-1, 2]),
        (None, [0, 0]),
        (None, "0,2"),
        ([0, 2], [1, 3]),  # a count other than the live session's
    ],
)
async def test_an_invalid_shard_is_closed_with_4010(
    emulator: DiscordEmulator, http: aiohttp.ClientSession, first: Any, second: Any
) -> None:
    live = None if first is None else await RawShard.identify(http, emulator, first)
    if live is not None:
        await live.ready()
    refused = await RawShard.identify(http, emulator, second)
    assert await refused.close_code() == 4010
    assert emulator.session_start_limit.used == (1 if live else 0)  # a refused IDENTIFY costs nothing
    assert len(emulator.live_sessions()) == (1 if live else 0)


async def test_a_bot_with_too_many_guilds_must_shard(emulator: DiscordEmulator, http: aiohttp.ClientSession) -> None:
    emulator.max_guilds_per_shard = 3
    emulator.session_start_limit.max_concurrency = 2
    for n in range(4):
        guild_on(emulator, n % 2, 2, n)
    assert await (await RawShard.identify(http, emulator)).close_code() == 4011  # unsharded: 4 guilds
    assert await (await RawShard.identify(http, emulator, [0, 1])).close_code() == 4011
    assert (await gateway_bot(http, emulator))["shards"] == 2
    for shard_id in (0, 1):  # with the recommended count each shard carries fewer than the limit
        await (await RawShard.identify(http, emulator, [shard_id, 2])).ready()


async def test_identifying_faster_than_max_concurrency_gets_an_invalid_session(
    emulator: DiscordEmulator, http: aiohttp.ClientSession
) -> None:
    guild_on(emulator, 0, 4, 0)
    emulator.session_start_limit.max_concurrency = 2  # buckets: shard_id % 2
    await (await RawShard.identify(http, emulator, [0, 4])).ready()
    await (await RawShard.identify(http, emulator, [1, 4])).ready()  # another bucket: at once is fine
    too_soon = await RawShard.identify(http, emulator, [2, 4])  # bucket 0 again within 5 s
    assert await too_soon.next() == {"op": 9, "d": False}
    assert emulator.too_fast_identifies == 1 and emulator.session_start_limit.used == 2
    emulator.advance_time(IDENTIFY_WINDOW_SECONDS)
    await (await RawShard.identify(http, emulator, [2, 4])).ready()
    assert emulator.session_start_limit.used == 3


# ------------------------------------------------------------------------------------------ discord.py's own client


async def test_discord_py_asks_for_the_count_and_gets_each_guild_on_its_shard(
    emulator: DiscordEmulator, make_bot: Any
) -> None:
    """ShowBot without SHARD_COUNT: discord.py's sharded client takes the count from GET /gateway/bot; the pacer
    reads max_concurrency there too, so both shards identify at once without an invalid session."""
    emulator.max_guilds_per_shard = 4
    emulator.session_start_limit.max_concurrency = 2
    guilds = [guild_on(emulator, n % 2, 2, n) for n in range(4)]  # with the demo server: 5 guilds, 2 shards
    bot = await make_bot(extensions=[])
    assert bot.shard_count == 2 and sorted(bot.shards) == [0, 1]
    assert {guild.id for guild in guilds} <= {guild.id for guild in bot.guilds}
    for guild in bot.guilds:
        assert guild.shard_id == shard_of(guild.id, 2)
    sessions = {session.shard.id: session for session in emulator.live_sessions()}
    assert sorted(sessions) == [0, 1] and emulator.too_fast_identifies == 0
    for shard_id, session in sessions.items():
        ready = session.buffer[0]["d"]
        assert ready["shard"] == [shard_id, 2]
        assert all(shard_of(int(g["id"]), 2) == shard_id for g in ready["guilds"])


async def test_discord_py_with_one_bucket_identifies_one_shard_per_five_seconds(
    emulator: DiscordEmulator, make_bot: Any
) -> None:
    loop = asyncio.get_running_loop()
    identified: list[float] = []
    original = emulator.session_start_limit.count_identify

    def count_identify(shard_id: int, now: float) -> None:
        identified.append(loop.time())
        original(shard_id, now)

    emulator.session_start_limit.count_identify = count_identify  # type: ignore[method-assign]
    await make_bot(extensions=[], shard_count=2, ready_timeout=20)
    assert len(identified) == 2 and emulator.too_fast_identifies == 0
    assert identified[1] - identified[0] >= IDENTIFY_WINDOW_SECONDS
