"""Discord's rate limits: the emulator enforces them as Discord does, and the bot stays under them on its own."""

from __future__ import annotations

import asyncio
from datetime import time
from typing import Any

import aiohttp
import discord
import pytest

from bot.app.harness import FAKE_TOKEN
from bot.common.clock import FakeClock
from bot.common.render import KEYCAPS
from bot.emulator import DiscordEmulator
from bot.emulator.demo import DemoServer
from bot.emulator.ratelimits import GLOBAL_LIMIT_PER_SECOND, RateLimiter
from bot.storage import Database
from bot.weekly import set_weekly

pytestmark = pytest.mark.e2e
SAMPLE = ["e2e_sample_cog"]
AUTH = {"Authorization": f"Bot {FAKE_TOKEN}"}


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_route_bucket_opens_a_window_and_answers_429_with_discords_headers() -> None:
    time = FakeTime()
    limiter = RateLimiter(clock=time, wall_clock=time)
    route = "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me"
    first = limiter.check("PUT", route, {"channel_id": "1", "message_id": "9"})
    assert first.allowed
    assert first.headers["X-RateLimit-Limit"] == "1" and first.headers["X-RateLimit-Remaining"] == "0"
    assert first.headers["X-RateLimit-Reset-After"] == "0.250" and first.headers["X-RateLimit-Reset"] == "1000.250"
    bucket = first.headers["X-RateLimit-Bucket"]
    assert limiter.check("PUT", route, {"channel_id": "2", "message_id": "9"}).allowed  # another channel's bucket
    time.now += 0.1
    refused = limiter.check("PUT", route, {"channel_id": "1", "message_id": "8"})
    assert not refused.allowed and not refused.is_global
    assert refused.body == {"message": "You are being rate limited.", "retry_after": 0.15, "global": False}
    assert refused.headers["X-RateLimit-Scope"] == "user" and refused.headers["X-RateLimit-Bucket"] == bucket
    assert refused.headers["Via"] and refused.headers["Retry-After"] == "1"
    time.now += 0.15
    assert limiter.check("PUT", route, {"channel_id": "1", "message_id": "8"}).allowed


def test_global_limit_is_50_a_second_and_spares_interaction_endpoints() -> None:
    time = FakeTime()
    limiter = RateLimiter(clock=time, wall_clock=time)
    channel = {"channel_id": "1"}
    for _ in range(GLOBAL_LIMIT_PER_SECOND):
        assert limiter.check("GET", "/channels/{channel_id}", channel).allowed
    refused = limiter.check("GET", "/channels/{channel_id}", channel)
    assert not refused.allowed and refused.is_global
    assert refused.headers["X-RateLimit-Global"] == "true" and refused.headers["X-RateLimit-Scope"] == "global"
    assert refused.body is not None and refused.body["global"] is True
    callback = "/interactions/{interaction_id}/{interaction_token}/callback"
    assert limiter.check("POST", callback, {}).allowed
    time.now += 0.1  # five requests' worth refilled
    assert sum(limiter.check("GET", "/channels/{channel_id}", channel).allowed for _ in range(10)) == 5


async def test_the_emulator_answers_429_beyond_a_bucket(emulator: DiscordEmulator, demo: DemoServer) -> None:
    url = f"{emulator.api_base_url}/channels/{demo.general.id}/messages"
    async with aiohttp.ClientSession(headers=AUTH) as session:
        statuses = []
        for index in range(6):
            async with session.post(url, json={"content": f"hello {index}"}) as response:
                statuses.append(response.status)
                headers = response.headers
                body = await response.json()
        assert statuses == [200] * 5 + [429]
        assert headers["X-RateLimit-Limit"] == "5" and headers["X-RateLimit-Remaining"] == "0"
        assert float(headers["X-RateLimit-Reset-After"]) > 4 and headers["Via"]
        assert body["retry_after"] > 4 and body["global"] is False
    assert [r.status for r in emulator.rate_limited] == [429]
    emulator.rate_limited.clear()  # provoked on purpose


async def test_the_switch_turns_the_limits_off(demo: DemoServer) -> None:
    async with DiscordEmulator(token=FAKE_TOKEN, rate_limits=False) as emulator:
        guild = emulator.create_guild("Quiet", emulator.owner_user)
        channel = emulator.create_channel(guild, "general")
        url = f"{emulator.api_base_url}/channels/{channel.id}/messages"
        async with aiohttp.ClientSession(headers=AUTH) as session:
            for index in range(8):
                async with session.post(url, json={"content": f"hello {index}"}) as response:
                    assert response.status == 200 and "X-RateLimit-Limit" not in response.headers
        assert emulator.rate_limited == []


async def test_the_bot_stays_under_the_global_limit_on_its_own(
    emulator: DiscordEmulator, demo: DemoServer, make_bot: Any
) -> None:
    """120 messages to 120 channels at once: discord.py paces each channel's bucket but not the global limit."""
    channels = [emulator.create_channel(demo.guild, f"room-{index}") for index in range(120)]
    bot = await make_bot(extensions=SAMPLE)
    targets = [bot.get_channel(channel.id) for channel in channels]
    assert all(isinstance(target, discord.TextChannel) for target in targets)
    sent_from = len(emulator.requests)
    await asyncio.gather(*(target.send("hello") for target in targets))  # type: ignore[union-attr]
    assert len(emulator.requests) - sent_from == 120
    assert emulator.rate_limited == []  # without bot/common/ratelimit.py's limiter, dozens of them are a global 429


async def test_a_weekly_tick_posts_in_every_server_before_adding_any_reaction(
    emulator: DiscordEmulator, demo: DemoServer, make_bot: Any, db: Database, clock: FakeClock
) -> None:
    """Reactions take 0.25 s each per channel: one server's keycaps must never hold back another server's post."""
    channels = [demo.channels["watch-party"]]
    for index in range(5):  # more servers than run_tick posts at once
        guild = emulator.create_guild(f"Server {index}", emulator.owner_user)
        channels.append(emulator.create_channel(guild, "weekly"))
    friday_noon = clock.now()
    for channel in channels:
        assert channel.guild_id is not None
        await set_weekly(
            db,
            channel.guild_id,
            channel_id=channel.id,
            weekday=friday_noon.weekday(),
            local_time=time(19, 0),
            tz_name="Europe/Paris",  # 18:00 UTC in January
            now=friday_noon,
        )
    bot = await make_bot()
    weekly = bot.get_cog("Weekly")
    assert weekly is not None
    await asyncio.wait_for(weekly.first_pass_done.wait(), 10)  # type: ignore[attr-defined]
    clock.set(friday_noon.replace(hour=18))
    report = await weekly.tick()  # type: ignore[attr-defined]
    assert (report.due, report.posted, report.errors) == (6, 6, [])
    sent = [(r.method, r.route) for r in emulator.requests]
    posted_at = [index for index, route in enumerate(sent) if route == ("POST", "/channels/{channel_id}/messages")]
    reacted_at = [index for index, route in enumerate(sent) if route[1].endswith("/reactions/{emoji_name}/@me")]
    assert len(posted_at) == 6 and reacted_at and max(posted_at) < min(reacted_at)
    for channel in channels:
        (post,) = channel.visible_messages()
        keycaps = post.reaction_counts()
        assert keycaps and set(keycaps) == set(KEYCAPS[: len(keycaps)])
