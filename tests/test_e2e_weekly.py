"""The weekly post end to end: the real bot on the Discord emulator, driven by a FakeClock (nothing waits for time).

/weekly set|preview|status|off as members with and without Manage Server, the post made once with its keycaps and
counted votes, restarts, catch-up after downtime, and the faults: a deleted channel, a server the bot left, a lost
permission, a 429 and a 503 on the post route.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.app.core import ShowBot
from bot.app.harness import running_bot
from bot.common.clock import FakeClock
from bot.common.config import Settings
from bot.common.render import KEYCAPS
from bot.emulator import ActionError, DemoServer, DiscordDriver, DiscordEmulator, build_demo_server
from bot.emulator.permissions import ADD_REACTIONS, READ_MESSAGE_HISTORY, SEND_MESSAGES
from bot.emulator.state import Channel, Message, Overwrite
from bot.storage import Database
from bot.weekly import message_link, weekly_marker

pytestmark = pytest.mark.e2e

# conftest's clock starts on Friday 2025-01-10 12:00 UTC. The schedule used throughout: Fridays 19:00 in Paris,
# which is 18:00 UTC in January.
FIRST_POST = datetime(2025, 1, 10, 18, 0, tzinfo=UTC)
SECOND_POST = FIRST_POST + timedelta(weeks=1)
FRIDAY = 4
POST_ROUTE = "/channels/{channel_id}/messages"
REACTION_ROUTE = "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me"


def weekly_cog(bot: ShowBot) -> Any:
    cog = bot.get_cog("Weekly")
    # The extension loader imports cogs/weekly.py as a fresh module: compare by name, not by class identity.
    assert cog is not None and type(cog).__qualname__ == "Weekly"
    return cog


async def first_pass(bot: ShowBot) -> ShowBot:
    """Wait for the loop's pass at start (the catch-up): the next one is a minute away, so the test's own ticks and
    clock moves cannot race a background pass."""
    await asyncio.wait_for(weekly_cog(bot).first_pass_done.wait(), 10)
    return bot


@pytest.fixture
async def bot(make_bot: Any) -> ShowBot:
    return await first_pass(await make_bot())


async def tick(bot: ShowBot) -> Any:
    report = await weekly_cog(bot).tick()
    await settle(bot)
    return report


async def settle(bot: ShowBot) -> None:
    votes = bot.get_cog("Votes")
    if votes is not None:
        await votes.processor.drain()  # type: ignore[attr-defined]


async def configure(driver: DiscordDriver, channel: str = "#watch-party", user: str = "owner") -> Any:
    return await driver.slash(
        "weekly set", user=user, channel=channel, day=FRIDAY, time="19:00", timezone="Europe/Paris"
    )


async def configure_then_deny(
    driver: DiscordDriver, emulator: DiscordEmulator, channel: Channel, denied: int, *, behind_its_back: bool = False
) -> None:
    """/weekly set (which asks for every permission the post needs), then the `denied` permission bits taken from
    the bot in `channel`: told to the bot (CHANNEL_UPDATE), or behind its back (its cache still says it may)."""
    await configure(driver, f"#{channel.name}")
    if behind_its_back:
        channel.overwrites[emulator.bot_user.id] = Overwrite(emulator.bot_user.id, 1, deny=denied)
    else:
        await emulator.set_overwrite(channel, emulator.bot_user, deny=denied)
        await driver.settle()


def posts(channel: Channel) -> list[Message]:
    """The weekly posts the bot made in `channel`."""
    return [
        message
        for message in channel.visible_messages()
        if message.embeds and "week " in str(message.embeds[0].get("footer", {}).get("text", ""))
    ]


def stamp(when: datetime) -> int:
    return int(when.timestamp())


async def add_releases(db: Database, count: int, day: str = "2025-01-08") -> list[int]:
    """Releases of `count` catalog shows in the week before the first post, so that it has "Out this week"."""
    rows = await db.fetchall("SELECT id FROM shows ORDER BY id LIMIT ?", (count,))
    ids = [int(row[0]) for row in rows]
    for show_id in ids:
        await db.execute(
            "INSERT INTO releases (show_id, kind, date, service) VALUES (?, 'episodes', ?, 'Netflix')", (show_id, day)
        )
    return ids


@asynccontextmanager
async def bot_running(
    emulator: DiscordEmulator, settings: Settings, db: Database, clock: FakeClock
) -> AsyncIterator[ShowBot]:
    async with running_bot(emulator, settings, db, clock=clock) as bot:
        yield await first_pass(bot)


# Configuration and the post ----------------------------------------------------------------------------------------


async def test_configure_post_once_with_reactions_that_record_votes(
    bot: ShowBot, discord: DiscordDriver, db: Database, demo: DemoServer, clock: FakeClock, emulator: DiscordEmulator
) -> None:
    released = await add_releases(db, 3)
    reply = await configure(discord)
    assert reply.ephemeral
    assert (
        "every Friday at 19:00 (Europe/Paris)" in reply.content
        and f"<#{demo.channels['watch-party'].id}>" in reply.content
    )
    assert f"<t:{stamp(FIRST_POST)}:F>" in reply.content and f"<t:{stamp(FIRST_POST)}:R>" in reply.content
    channel = demo.channels["watch-party"]

    clock.set(FIRST_POST - timedelta(minutes=1))
    assert (await tick(bot)).due == 0 and posts(channel) == []

    clock.set(FIRST_POST)
    preview = await discord.slash("weekly preview", user="owner")
    assert preview.ephemeral
    report = await tick(bot)
    assert (report.due, report.posted, report.failed) == (1, 1, 0)
    (post,) = posts(channel)
    # /weekly preview showed exactly this post.
    assert post.content == preview.content
    for key in ("title", "description", "footer", "timestamp"):
        assert post.embeds[0][key] == preview.embed[key], key
    assert weekly_marker("2025-01-10T18:00:00+00:00") in post.embeds[0]["footer"]["text"]
    assert "Out this week" in post.embeds[0]["description"]

    # The keycaps are on it, one per listed show, added by the bot; the post is tracked for votes.
    numbered = await db.fetchall(
        "SELECT emoji, show_id FROM vote_emoji WHERE message_id = ? ORDER BY emoji", (post.id,)
    )
    listed = dict(numbered)
    assert set(released) <= set(listed.values())
    assert set(post.reaction_counts()) == set(listed) and set(listed) == set(KEYCAPS[: len(listed)])
    for emoji in listed:
        assert post.reaction_users(emoji) == [emulator.bot_user.id]

    # A second tick, and a later one the same week, do not post again.
    assert (await tick(bot)).posted == 0
    clock.advance(timedelta(hours=3))
    assert (await tick(bot)).posted == 0
    assert len(posts(channel)) == 1

    # Reactions on it record votes (the bot's own keycaps do not).
    await discord.react(post, KEYCAPS[1], user="alice")
    await discord.react(post, KEYCAPS[0], user="bob")
    await settle(bot)
    votes = await db.fetchall("SELECT guild_id, user_id, show_id, value, message_id, emoji FROM votes ORDER BY emoji")
    assert [tuple(row) for row in votes] == [
        (demo.guild.id, demo.members["bob"].id, listed[KEYCAPS[0]], 1, post.id, KEYCAPS[0]),
        (demo.guild.id, demo.members["alice"].id, listed[KEYCAPS[1]], 1, post.id, KEYCAPS[1]),
    ]

    # /weekly status: the next post as a Discord timestamp, the last post with its link.
    status = await discord.slash("weekly status", user="owner")
    assert status.ephemeral
    assert f"<t:{stamp(SECOND_POST)}:F>" in status.content
    assert message_link(demo.guild.id, channel.id, post.id) in status.content
    assert "Needs attention" not in status.content and "not posted" not in status.content

    # /weekly off: no post the next week.
    off = await discord.slash("weekly off", user="owner")
    assert (off.ephemeral, off.content) == (True, "The weekly post is off. Turn it on again with /weekly set.")
    again = await discord.slash("weekly off", user="owner")
    assert again.content == "The weekly post was not on. Turn it on again with /weekly set."
    clock.set(SECOND_POST)
    assert (await tick(bot)).due == 0 and len(posts(channel)) == 1


async def test_a_big_week_with_hostile_catalog_text_is_one_valid_post(
    bot: ShowBot, discord: DiscordDriver, db: Database, demo: DemoServer, clock: FakeClock, emulator: DiscordEmulator
) -> None:
    """30 releases, one of them with mentions and Markdown in a huge title and synopsis: one post Discord accepts
    (the emulator fails the test on any body over a limit), ten keycaps, nobody pinged."""
    ids = await add_releases(db, 30)
    await db.execute(
        "UPDATE shows SET title = ?, synopsis = ?, popularity = 1e9 WHERE id = ?",
        ("@everyone <@&1> **Loud** " + "very long title " * 40, "Ping @here <@2> " * 400, ids[0]),
    )
    await configure(discord)
    clock.set(FIRST_POST)
    assert (await tick(bot)).posted == 1
    (post,) = posts(demo.channels["watch-party"])
    description = post.embeds[0]["description"]
    for mention in ("@everyone", "@here", "<@&1>", "<@2>"):
        assert mention not in description and mention not in post.content
    assert description.startswith("**Out this week**\n1️⃣ **@\u200beveryone")
    assert "…and 20 more." in description
    assert set(post.reaction_counts()) == set(KEYCAPS)
    (body,) = [r.body for r in emulator.requests if r.method == "POST" and r.route == POST_ROUTE]
    assert body["allowed_mentions"] == {"parse": []}


async def test_timezone_autocomplete(bot: ShowBot, discord: DiscordDriver) -> None:
    choices = await discord.autocomplete(
        "weekly set", "timezone", "new york", user="owner", channel="#general", day=FRIDAY, time="18:00"
    )
    assert [choice["value"] for choice in choices][:1] == ["America/New_York"]
    assert len(await discord.autocomplete("weekly set", "timezone", "", user="owner")) <= 25


async def test_bad_time_and_zone_are_answered_clearly(bot: ShowBot, discord: DiscordDriver, db: Database) -> None:
    reply = await discord.slash(
        "weekly set", user="owner", channel="#general", day=FRIDAY, time="25:00", timezone="Europe/Paris"
    )
    assert reply.ephemeral and "not a time of day" in reply.content
    reply = await discord.slash(
        "weekly set", user="owner", channel="#general", day=FRIDAY, time="18:00", timezone="Mars/Olympus"
    )
    assert reply.ephemeral and "not a time zone" in reply.content
    # What was typed comes back as a short quoted excerpt with its markdown made inert, never in full.
    typed = "**loud** `18:00`" + " zone" * 16
    reply = await discord.slash(
        "weekly set", user="owner", channel="#general", day=FRIDAY, time="18:00", timezone=typed
    )
    assert reply.content.startswith('"\\*\\*loud\\*\\* \\`18:00\\`') and "is not a time zone" in reply.content
    assert "zone zone zone zone zone zone" not in reply.content
    reply = await discord.slash(
        "weekly set", user="owner", channel="#general", day=FRIDAY, time="**9**:`00`", timezone="Europe/Paris"
    )
    assert reply.content.startswith('"\\*\\*9\\*\\*:\\`00\\`" is not a time of day')
    assert await db.fetchval("SELECT count(*) FROM guild_settings WHERE weekly_enabled = 1") == 0


async def test_only_manage_server_may_configure(
    bot: ShowBot, discord: DiscordDriver, db: Database, emulator: DiscordEmulator, demo: DemoServer
) -> None:
    # By default Discord hides the commands from members without Manage Server...
    with pytest.raises(ActionError, match="cannot see /weekly"):
        await configure(discord, user="alice")
    # ...but a server's admins can override that: the bot checks again itself.
    for command in emulator.commands_for(demo.guild.id):
        if command["name"] == "weekly":
            command["default_member_permissions"] = None
    for subcommand in ("weekly status", "weekly preview", "weekly off"):
        reply = await discord.slash(subcommand, user="alice")
        assert reply.ephemeral and reply.content.startswith("You need the Manage Server permission"), subcommand
    reply = await configure(discord, user="alice")
    assert reply.ephemeral and reply.content.startswith("You need the Manage Server permission")
    assert await db.fetchval("SELECT count(*) FROM guild_settings") == 0
    # A member given the Admin role (Manage Server) may.
    emulator.add_member(demo.guild, demo.members["alice"], demo.admin_role)
    assert "every Friday" in (await configure(discord, user="alice")).content


async def test_set_names_the_permissions_the_bot_lacks(
    bot: ShowBot, discord: DiscordDriver, db: Database, emulator: DiscordEmulator, demo: DemoServer
) -> None:
    await emulator.set_overwrite(demo.channels["watch-party"], emulator.bot_user, deny=ADD_REACTIONS | SEND_MESSAGES)
    await discord.settle()
    reply = await configure(discord)
    assert reply.ephemeral
    assert "I am missing Send Messages and Add Reactions there" in reply.content
    assert await db.fetchval("SELECT count(*) FROM guild_settings WHERE weekly_enabled = 1") == 0


# Faults ------------------------------------------------------------------------------------------------------------


async def test_deleted_channel_and_left_server_do_not_stop_the_others(
    emulator: DiscordEmulator, demo: DemoServer, make_bot: Any, db: Database, clock: FakeClock
) -> None:
    second = build_demo_server(emulator, "Second Server")
    third = build_demo_server(emulator, "Third Server")
    bot = await first_pass(await make_bot())
    for server in (demo, second, third):
        assert "every Friday" in (await configure(DiscordDriver(emulator, server))).content

    await emulator.delete_channel(demo.channels["watch-party"])
    await emulator.remove_guild(third.guild)
    await DiscordDriver(emulator, demo).settle()
    clock.set(FIRST_POST)
    report = await tick(bot)
    assert (report.due, report.posted, report.failed) == (3, 1, 2)
    assert len(posts(second.channels["watch-party"])) == 1

    rows = await db.fetchall("SELECT guild_id, status, detail FROM weekly_posts ORDER BY guild_id")
    by_guild = {row[0]: (row[1], row[2]) for row in rows}
    assert by_guild[second.guild.id][0] == "posted"
    assert by_guild[demo.guild.id][0] == "failed" and "no longer exists" in by_guild[demo.guild.id][1]
    assert by_guild[third.guild.id][0] == "failed" and "no longer in this server" in by_guild[third.guild.id][1]

    status = await DiscordDriver(emulator, demo).slash("weekly status", user="owner")
    assert "Needs attention" in status.content and "no longer exists" in status.content
    assert "failed" in status.content  # the week that was not posted


async def test_lost_permission_is_reported_and_fixed_by_set(
    bot: ShowBot, discord: DiscordDriver, db: Database, emulator: DiscordEmulator, demo: DemoServer, clock: FakeClock
) -> None:
    channel = demo.channels["watch-party"]
    await configure_then_deny(discord, emulator, channel, SEND_MESSAGES)
    clock.set(FIRST_POST)
    report = await tick(bot)
    assert (report.posted, report.failed) == (0, 1) and posts(channel) == []
    status = await discord.slash("weekly status", user="owner")
    assert "Needs attention" in status.content and "Send Messages" in status.content

    # Permission back, schedule confirmed: the problem is cleared and the next week is posted.
    await emulator.set_overwrite(channel, emulator.bot_user)
    await discord.settle()
    await configure(discord)
    assert "Needs attention" not in (await discord.slash("weekly status", user="owner")).content
    clock.set(SECOND_POST)
    assert (await tick(bot)).posted == 1 and len(posts(channel)) == 1


async def test_a_429_is_waited_out_and_a_503_retried_at_a_later_tick(
    bot: ShowBot, discord: DiscordDriver, emulator: DiscordEmulator, demo: DemoServer, clock: FakeClock
) -> None:
    channel = demo.channels["watch-party"]
    await configure(discord)
    emulator.fail_with_429("POST", POST_ROUTE, retry_after=0.05)
    clock.set(FIRST_POST)
    assert (await tick(bot)).posted == 1
    sent = [r.status for r in emulator.requests if r.method == "POST" and r.route == POST_ROUTE]
    assert sent == [429, 200] and len(posts(channel)) == 1

    emulator.fail_with_5xx("POST", POST_ROUTE, status=503)
    clock.set(SECOND_POST)
    report = await tick(bot)
    assert (report.posted, report.retrying) == (0, 1) and len(posts(channel)) == 1
    clock.advance(timedelta(minutes=1))
    assert (await tick(bot)).due == 0  # not before its retry time
    clock.advance(timedelta(minutes=1))
    assert (await tick(bot)).posted == 1 and len(posts(channel)) == 2


def requests_to(emulator: DiscordEmulator, method: str, route: str) -> list[Any]:
    return [r for r in emulator.requests if r.method == method and r.route == route]


async def test_the_post_is_recorded_before_its_reactions(
    bot: ShowBot, discord: DiscordDriver, db: Database, demo: DemoServer, clock: FakeClock, emulator: DiscordEmulator
) -> None:
    await add_releases(db, 3)
    await configure(discord)
    emulator.slow_route("PUT", REACTION_ROUTE, 0.3)  # each keycap takes a while, as under rate limits
    clock.set(FIRST_POST)
    ticking = asyncio.create_task(tick(bot))
    await emulator.wait_for(lambda: requests_to(emulator, "PUT", REACTION_ROUTE) != [], timeout=10, what="a keycap")
    (post,) = posts(demo.channels["watch-party"])
    # While the first keycap is still on its way, the week is already recorded with the message: a crash or a
    # cancellation now cannot make the post go out twice.
    row = await db.fetchone("SELECT status, message_id FROM weekly_posts WHERE guild_id = ?", (demo.guild.id,))
    assert row is not None and (row[0], row[1]) == ("posted", post.id)
    assert (await ticking).posted == 1
    assert list(post.reaction_counts()) == list(KEYCAPS[:3])


@pytest.mark.parametrize("can_read_history", [True, False])
async def test_a_retry_after_a_lost_reply_never_posts_twice(
    bot: ShowBot, discord: DiscordDriver, db: Database, demo: DemoServer, clock: FakeClock, emulator: DiscordEmulator,
    can_read_history: bool,
) -> None:  # fmt: skip
    channel = demo.channels["watch-party"]
    if can_read_history:
        await configure(discord)
    else:  # taken away after /weekly set (which asks for it)
        await configure_then_deny(discord, emulator, channel, READ_MESSAGE_HISTORY)
    # Discord creates the message, but its answer is lost: the bot sees a 503.
    emulator.fail_with_5xx("POST", POST_ROUTE, status=503, after_processing=True)
    clock.set(FIRST_POST)
    assert (await tick(bot)).retrying == 1 and len(posts(channel)) == 1
    clock.advance(timedelta(minutes=2))
    report = await tick(bot)
    assert len(posts(channel)) == 1 and len(requests_to(emulator, "POST", POST_ROUTE)) == 1  # never sent again
    row = await db.fetchone("SELECT status, message_id FROM weekly_posts WHERE guild_id = ?", (demo.guild.id,))
    assert row is not None
    status = await discord.slash("weekly status", user="owner")
    if can_read_history:  # it looked, found its post and took it as the week's
        assert report.posted == 1 and (row[0], row[1]) == ("posted", posts(channel)[0].id)
        assert "Needs attention" not in status.content
    else:  # it cannot look: it skips the week rather than post blind, and tells the admins
        assert report.failed == 1 and (row[0], row[1]) == ("failed", None)
        assert "Needs attention" in status.content and "without Read Message History" in status.content
        assert "**Weeks not posted:**" in status.content


async def test_a_post_without_add_reactions_is_a_problem_in_status(
    bot: ShowBot, discord: DiscordDriver, db: Database, demo: DemoServer, clock: FakeClock, emulator: DiscordEmulator
) -> None:
    await add_releases(db, 3)
    channel = demo.channels["watch-party"]
    await configure_then_deny(discord, emulator, channel, ADD_REACTIONS)
    clock.set(FIRST_POST)
    assert (await tick(bot)).posted == 1
    (post,) = posts(channel)
    assert post.reaction_counts() == {} and requests_to(emulator, "PUT", REACTION_ROUTE) == []
    status = await discord.slash("weekly status", user="owner")
    (attention,) = [line for line in status.content.splitlines() if "Needs attention" in line]
    assert "Add Reactions" in attention and "without its keycaps" in attention
    assert "**Channel:**" not in status.content  # the live check says the same: not twice
    assert f"Last post:** <t:{stamp(FIRST_POST)}:F>" in status.content


async def test_what_discord_refuses_in_the_channel_is_not_asked_again(
    bot: ShowBot, discord: DiscordDriver, db: Database, demo: DemoServer, clock: FakeClock, emulator: DiscordEmulator
) -> None:
    """Discord bans clients that send 10,000 failed requests in 10 minutes: a 403 or 404 is asked once."""
    await add_releases(db, 3)
    channel = demo.channels["watch-party"]
    # Add Reactions denied behind the bot's back: the first keycap is refused.
    await configure_then_deny(discord, emulator, channel, ADD_REACTIONS, behind_its_back=True)
    clock.set(FIRST_POST)
    assert (await tick(bot)).posted == 1
    assert [r.status for r in requests_to(emulator, "PUT", REACTION_ROUTE)] == [403]  # not the other two keycaps
    status = await discord.slash("weekly status", user="owner")
    assert "Needs attention" in status.content and "refused some of its keycap reactions" in status.content

    # The channel deleted: looked up once (404), then no request at all in the following weeks.
    await emulator.delete_channel(channel)
    await discord.settle()
    lookups = len(requests_to(emulator, "GET", "/channels/{channel_id}"))
    for week in (SECOND_POST, SECOND_POST + timedelta(weeks=1), SECOND_POST + timedelta(weeks=2)):
        clock.set(week)
        assert (await tick(bot)).failed == 1
    assert len(requests_to(emulator, "GET", "/channels/{channel_id}")) <= lookups + 1
    status = await discord.slash("weekly status", user="owner")
    assert "Needs attention" in status.content and "no longer exists" in status.content


# Restarts and downtime ---------------------------------------------------------------------------------------------


async def test_restart_catch_up_and_skip(
    emulator: DiscordEmulator,
    demo: DemoServer,
    driver: DiscordDriver,
    settings: Settings,
    db: Database,
    clock: FakeClock,
) -> None:
    channel = demo.channels["watch-party"]
    async with bot_running(emulator, settings, db, clock):
        await configure(driver)

    # Down at the scheduled time, back 16 hours later: the post is made at start (the loop's first pass).
    clock.set(FIRST_POST + timedelta(hours=16))
    async with bot_running(emulator, settings, db, clock) as bot:
        assert len(posts(channel)) == 1  # by the loop's first pass
        assert (await tick(bot)).due == 0
    # A restart on the same database does not post it again.
    async with bot_running(emulator, settings, db, clock) as bot:
        assert (await tick(bot)).posted == 0
    assert len(posts(channel)) == 1

    # Down for the whole of the next week's window: that week is skipped, and status says so.
    clock.set(SECOND_POST + timedelta(hours=25))
    async with bot_running(emulator, settings, db, clock) as bot:
        report = await tick(bot)
        assert report.posted == 0 and len(posts(channel)) == 1
        status = await driver.slash("weekly status", user="owner")
        assert "skipped" in status.content and f"<t:{stamp(SECOND_POST)}:D>" in status.content
        assert f"<t:{stamp(SECOND_POST + timedelta(weeks=1))}:F>" in status.content


async def test_interrupted_post_is_found_not_repeated(
    bot: ShowBot, discord: DiscordDriver, db: Database, demo: DemoServer, clock: FakeClock
) -> None:
    """The process died after sending but before recording the message: the next claim finds the post."""
    channel = demo.channels["watch-party"]
    await configure(discord)
    clock.set(FIRST_POST)
    assert (await tick(bot)).posted == 1
    (post,) = posts(channel)
    # As if the ledger never heard back: the claim is still open without a message id.
    await db.execute(
        "UPDATE weekly_posts SET status = 'claimed', message_id = NULL, retry_at = ? WHERE guild_id = ?",
        ("2025-01-10T18:10:00+00:00", demo.guild.id),
    )
    clock.set(FIRST_POST + timedelta(minutes=11))
    report = await tick(bot)
    assert report.posted == 1 and len(posts(channel)) == 1
    assert await db.fetchval("SELECT message_id FROM weekly_posts WHERE guild_id = ?", (demo.guild.id,)) == post.id
