"""Votes end to end: the real bot on the Discord emulator; reactions, commands, /top, untracking, restarts, bursts
and a SIGKILL in the middle of a burst."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app.core import ShowBot
from bot.app.harness import FAKE_TOKEN
from bot.app.ui import make_votable
from bot.common.config import Settings
from bot.common.render import KEYCAPS
from bot.emulator import DemoServer, DiscordDriver, DiscordEmulator
from bot.emulator.permissions import ADD_REACTIONS, MANAGE_MESSAGES
from bot.emulator.state import Channel, Message, User, parse_emoji, snowflake
from bot.storage import Database, open_database
from bot.votes import THUMBS_DOWN, THUMBS_UP, VoteStore, list_emoji_map, show_emoji_map
from cogs.votes import Votes

pytestmark = pytest.mark.e2e

Expected = dict[tuple[int, int, int], tuple[int, int | None, str | None]]


@pytest.fixture
def settings(database_path: Path) -> Settings:
    # No spacing between reaction-list requests: the tests reconcile a few dozen messages.
    return Settings(
        database_path=database_path, discord_token=FAKE_TOKEN, log_level="WARNING", vote_reconcile_delay=0.0
    )


def votes_cog(bot: ShowBot) -> Votes:
    cog = bot.get_cog("Votes")
    # The extension loader imports cogs/votes.py as a fresh module: compare by name, not by class identity.
    assert type(cog).__qualname__ == "Votes"
    return cog  # type: ignore[return-value]


async def settle(discord: DiscordDriver, bot: ShowBot) -> None:
    await discord.settle()
    await votes_cog(bot).processor.drain()


async def stored(db: Database) -> Expected:
    rows = await db.fetchall("SELECT guild_id, user_id, show_id, value, message_id, emoji FROM votes")
    return {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in rows}


async def show_ids(db: Database, count: int) -> list[int]:
    rows = await db.fetchall("SELECT id FROM shows ORDER BY id LIMIT ?", (count,))
    return [row[0] for row in rows]


async def post_votable(bot: ShowBot, channel: Channel, show_id: int) -> Message:
    """The bot posts a message about one show and makes it votable, as the show cog does."""
    sent = await bot.get_partial_messageable(channel.id, guild_id=channel.guild_id).send(f"Show {show_id}")
    message = await sent.channel.fetch_message(sent.id)
    await make_votable(bot, message, "show", show_emoji_map(show_id))
    return message_in(bot, channel, message.id)


def message_in(bot: ShowBot, channel: Channel, message_id: int) -> Message:
    return channel.messages[message_id]


# The rules ----------------------------------------------------------------------------------------------------------


async def test_reactions_follow_the_rules(
    bot: ShowBot, discord: DiscordDriver, db: Database, demo: DemoServer, emulator: DiscordEmulator
) -> None:
    guild = demo.guild.id
    alice, bob = demo.members["alice"], demo.members["bob"]
    (show,) = await show_ids(db, 1)
    message = await post_votable(bot, demo.general, show)
    assert message.reaction_users(THUMBS_UP) == [emulator.bot_user.id]  # the bot's own: no vote
    assert message.reaction_users(THUMBS_DOWN) == [emulator.bot_user.id]

    await discord.react(message, THUMBS_UP, user=alice)
    await discord.react(message, THUMBS_DOWN, user=alice)  # latest wins
    await discord.react(message, THUMBS_UP, user=bob)
    await settle(discord, bot)
    assert await stored(db) == {
        (guild, alice.id, show): (-1, message.id, THUMBS_DOWN),
        (guild, bob.id, show): (1, message.id, THUMBS_UP),
    }
    await discord.unreact(message, THUMBS_UP, user=alice)  # no longer defines her vote
    await settle(discord, bot)
    assert (await stored(db))[(guild, alice.id, show)] == (-1, message.id, THUMBS_DOWN)
    await discord.unreact(message, THUMBS_DOWN, user=alice)  # the one that set it: retracted
    await settle(discord, bot)
    assert set(await stored(db)) == {(guild, bob.id, show)}

    # Other bots and other emoji count for nothing.
    robot = emulator.create_user("robot", bot=True)
    emulator.add_member(demo.guild, robot)
    await discord.react(message, THUMBS_UP, user=robot)
    await discord.react(message, "🔥", user=alice)
    await discord.unreact(message, THUMBS_UP, user=robot)
    await settle(discord, bot)
    assert set(await stored(db)) == {(guild, bob.id, show)}


async def test_each_listener_task_cannot_reorder_a_members_events(
    bot: ShowBot, discord: DiscordDriver, db: Database, demo: DemoServer, emulator: DiscordEmulator
) -> None:
    """Quick switches sent back to back, without waiting for the bot: the stored vote is the last action's."""
    alice, bob = demo.members["alice"], demo.members["bob"]
    (show,) = await show_ids(db, 1)
    message = await post_votable(bot, demo.general, show)
    up, down = parse_emoji(THUMBS_UP), parse_emoji(THUMBS_DOWN)
    for _ in range(30):
        await emulator.add_reaction(message, up, alice)
        await emulator.add_reaction(message, down, alice)
        await emulator.remove_reaction(message, down, alice)
        await emulator.remove_reaction(message, up, alice)
    await emulator.add_reaction(message, down, alice)
    await emulator.add_reaction(message, up, alice)  # final: 👍
    await emulator.add_reaction(message, up, bob)
    await emulator.add_reaction(message, down, bob)
    await emulator.remove_reaction(message, down, bob)  # final: none (👍 stays, but it no longer set the vote)
    await settle(discord, bot)
    assert await stored(db) == {(demo.guild.id, alice.id, show): (1, message.id, THUMBS_UP)}


async def test_a_moderator_clearing_reactions_retracts_the_votes_they_set_live(
    bot: ShowBot, discord: DiscordDriver, db: Database, demo: DemoServer, emulator: DiscordEmulator
) -> None:
    """MESSAGE_REACTION_REMOVE_EMOJI and MESSAGE_REACTION_REMOVE_ALL, through the REST routes a moderator's client (or
    a bot) calls: each cleared reaction is retracted like a member's own removal, at once, without a restart."""
    guild = demo.guild.id
    alice, bob, carol, owner = (demo.members[name] for name in ("alice", "bob", "carol", "owner"))
    first, second, third = await show_ids(db, 3)
    card = await post_votable(bot, demo.general, first)
    listing = await bot.get_partial_messageable(demo.general.id, guild_id=guild).send("Top")
    await make_votable(bot, listing, "top", list_emoji_map([second, third]))
    listing_message = message_in(bot, demo.general, listing.id)
    await discord.react(card, THUMBS_UP, user=alice)
    await discord.react(card, THUMBS_DOWN, user=bob)
    await discord.react(card, THUMBS_UP, user=carol)
    await discord.react(card, THUMBS_DOWN, user=carol)  # carol's vote: 👎 (her 👍 stays but no longer decides)
    await discord.react(listing_message, KEYCAPS[0], user=alice)
    await discord.react(listing_message, KEYCAPS[1], user=bob)
    await discord.slash("vote", title=f"id:{third}", choice="down", user=owner)  # a command vote no clear touches
    await settle(discord, bot)

    # Every 👍 of the card is removed through the REST route (here by the bot, given Manage Messages: the emulator
    # serves the bot only): alice's vote goes; carol's 👎 decides hers and stays.
    await emulator.set_overwrite(demo.general, emulator.bot_user, allow=MANAGE_MESSAGES)
    await bot.http.clear_single_reaction(demo.general.id, card.id, THUMBS_UP)
    await settle(discord, bot)
    assert card.reaction_counts() == {THUMBS_DOWN: 3}  # the bot's own 👎, bob's, carol's
    assert await stored(db) == {
        (guild, bob.id, first): (-1, card.id, THUMBS_DOWN),
        (guild, carol.id, first): (-1, card.id, THUMBS_DOWN),
        (guild, alice.id, second): (1, listing.id, KEYCAPS[0]),
        (guild, bob.id, third): (1, listing.id, KEYCAPS[1]),
        (guild, owner.id, third): (-1, None, None),
    }
    # Every reaction of the list (DELETE .../reactions): alice's and bob's keycap votes go, the owner's /vote stays.
    await bot.http.clear_reactions(demo.general.id, listing.id)
    await settle(discord, bot)
    assert listing_message.reaction_counts() == {}
    assert await stored(db) == {
        (guild, bob.id, first): (-1, card.id, THUMBS_DOWN),
        (guild, carol.id, first): (-1, card.id, THUMBS_DOWN),
        (guild, owner.id, third): (-1, None, None),
    }
    assert [(r.route.rsplit("/", 1)[-1], r.status) for r in emulator.requests if r.method == "DELETE"] == [
        ("{emoji_name}", 204),
        ("reactions", 204),
    ]
    # A moderator in their own client clears the whole card (the event alone, as the console drives it).
    await discord.clear_reactions(card)
    await settle(discord, bot)
    assert await stored(db) == {(guild, owner.id, third): (-1, None, None)}

    # Reacting again votes again.
    await discord.react(card, THUMBS_UP, user=alice)
    await settle(discord, bot)
    assert (await stored(db))[(guild, alice.id, first)] == (1, card.id, THUMBS_UP)


@pytest.mark.parametrize("session_ends", ["invalid session", "close that cannot be resumed"])
async def test_a_new_gateway_session_reconciles_what_happened_between_sessions(
    bot: ShowBot, discord: DiscordDriver, db: Database, demo: DemoServer, emulator: DiscordEmulator,
    caplog: pytest.LogCaptureFixture, session_ends: str,
) -> None:  # fmt: skip
    """Discord invalidates the session (op 9, d: false), or closes the connection and refuses the RESUME: events
    until the new READY are never delivered. The new session reconciles the tracked messages, without a restart; a
    RESUME needs nothing extra."""
    guild = demo.guild.id
    alice, bob, carol = (demo.members[name] for name in ("alice", "bob", "carol"))
    first, second = await show_ids(db, 2)
    card = await post_votable(bot, demo.general, first)
    other = await post_votable(bot, demo.general, second)
    await discord.react(card, THUMBS_UP, user=alice)
    await discord.react(card, THUMBS_UP, user=bob)
    await settle(discord, bot)
    cog = votes_cog(bot)
    first_reconciliation = cog.reconciliation

    # A RESUME: the missed event is replayed, and no reconciliation starts.
    await emulator.disconnect_gateway()
    await emulator.add_reaction(other, parse_emoji(THUMBS_DOWN), carol)  # buffered for the resume
    await emulator.wait_for(lambda: emulator.resume_count == 1, what="a resume")
    await settle(discord, bot)
    assert cog.reconciliation is first_reconciliation
    assert (await stored(db))[(guild, carol.id, second)] == (-1, other.id, THUMBS_DOWN)

    # An invalidated session: the bot is between sessions (its new IDENTIFY is held), members react meanwhile.
    caplog.set_level("INFO", logger="cogs.votes")
    caplog.clear()
    emulator.hold_identify()
    if session_ends == "invalid session":
        await emulator.invalidate_session(resumable=False)
    else:
        await emulator.end_sessions(4009)  # the client tries to RESUME, gets op 9 d: false, and IDENTIFYs
    assert await emulator.remove_reaction(card, parse_emoji(THUMBS_UP), alice)  # dispatched to no session
    assert await emulator.remove_reaction(card, parse_emoji(THUMBS_UP), bob)
    assert await emulator.add_reaction(card, parse_emoji(THUMBS_DOWN), bob)
    assert await emulator.add_reaction(other, parse_emoji(THUMBS_UP), alice)
    assert await emulator.remove_reaction(other, parse_emoji(THUMBS_DOWN), carol)
    await emulator.wait_for(lambda: emulator.identify_count == 2, timeout=15, what="a new IDENTIFY")
    assert emulator.resume_count == 1  # only the first break was resumed
    assert await stored(db) == {
        (guild, alice.id, first): (1, card.id, THUMBS_UP),
        (guild, bob.id, first): (1, card.id, THUMBS_UP),
        (guild, carol.id, second): (-1, other.id, THUMBS_DOWN),
    }
    emulator.release_identify()
    await emulator.wait_for(lambda: emulator.live_sessions() != [], what="the new session")
    await settle(discord, bot)  # READY read, its listeners run: a reconciliation has started if the bot starts one
    assert cog.reconciliation is not None
    await asyncio.wait_for(cog.reconciliation, 10)
    await settle(discord, bot)
    assert await stored(db) == {
        (guild, bob.id, first): (-1, card.id, THUMBS_DOWN),
        (guild, alice.id, second): (1, other.id, THUMBS_UP),
    }
    assert "Vote reconciliation fixed 4 votes (1 added, 2 removed, 1 changed)" in caplog.text
    # Live voting goes on in the new session.
    await discord.react(card, THUMBS_UP, user=carol)
    await settle(discord, bot)
    assert (await stored(db))[(guild, carol.id, first)] == (1, card.id, THUMBS_UP)


# Commands -----------------------------------------------------------------------------------------------------------


async def test_vote_command_autocomplete_and_errors(
    bot: ShowBot, discord: DiscordDriver, db: Database, demo: DemoServer
) -> None:
    alice = demo.members["alice"]
    choices = await discord.autocomplete("vote", "title", "seven secon", user=alice)
    assert choices and choices[0]["name"].startswith("Seven Seconds")
    show = int(choices[0]["value"].removeprefix("id:"))
    assert choices[0]["value"] == f"id:{show}"
    reply = await discord.slash("vote", title=choices[0]["value"], choice="up", user=alice)
    assert reply.ephemeral and THUMBS_UP in reply.content and "Seven Seconds" in reply.content
    reply = await discord.slash("vote", title="Seven Seconds", choice="down", user=alice)  # typed, not picked
    assert THUMBS_DOWN in reply.content
    assert await stored(db) == {(demo.guild.id, alice.id, show): (-1, None, None)}
    reply = await discord.slash("vote", title="Seven Seconds", choice="clear", user=alice)
    assert reply.ephemeral and "cleared" in reply.content
    assert await stored(db) == {}
    reply = await discord.slash("vote", title="qqqqzzzz no such show", choice="up", user=alice)
    assert reply.ephemeral and reply.content.startswith("No show called")
    # Autocomplete puts the server's favourites first when nothing is typed.
    await discord.slash("vote", title=f"id:{show}", choice="up", user=alice)
    assert (await discord.autocomplete("vote", "title", "", user=alice))[0]["value"] == f"id:{show}"


async def test_myvotes_pages_belong_to_the_requester_and_forgetme_confirms(
    bot: ShowBot, discord: DiscordDriver, db: Database, demo: DemoServer
) -> None:
    alice, bob = demo.members["alice"], demo.members["bob"]
    assert (await discord.slash("myvotes", user=alice)).content == "You have no votes in this server."
    store = VoteStore(db)
    shows = await show_ids(db, 23)
    for position, show in enumerate(shows):
        await store.set_vote(demo.guild.id, alice.id, show, 1 if position % 3 else -1, "command")
    await store.set_vote(demo.guild.id, bob.id, shows[0], 1, "command")
    reply = await discord.slash("myvotes", user=alice)
    assert reply.ephemeral and "page 1/3" in reply.content and len(reply.content.splitlines()) == 11
    reply = await discord.click(reply, "Next", user=alice)
    assert "page 2/3" in reply.content
    refused = await discord.click(reply, "Next", user=bob)
    assert refused.ephemeral and "someone else" in refused.content
    reply = await discord.click(reply, "Next", user=alice)
    assert "page 3/3" in reply.content and len(reply.content.splitlines()) == 4
    assert any(button.get("disabled") for button in reply.buttons if button.get("label") == "Next")

    reply = await discord.slash("forgetme", user=alice)
    assert reply.ephemeral and "23 votes" in reply.content
    cancelled = await discord.click(reply, "Cancel", user=alice)
    assert "Nothing deleted" in cancelled.content
    reply = await discord.slash("forgetme", user=alice)
    done = await discord.click(reply, "Delete my votes", user=alice)
    assert "deleted 23 votes" in done.content
    assert set(await stored(db)) == {(demo.guild.id, bob.id, shows[0])}


async def test_top_ranks_by_wilson_and_is_votable(
    bot: ShowBot, discord: DiscordDriver, db: Database, demo: DemoServer, emulator: DiscordEmulator
) -> None:
    alice = demo.members["alice"]
    store = VoteStore(db)
    first, second, third = await show_ids(db, 3)
    for user in range(30):  # 25 up, 5 down: ranks above 3 up, 0 down
        await store.set_vote(demo.guild.id, 10_000 + user, second, 1 if user < 25 else -1, "command")
    for user in range(3):
        await store.set_vote(demo.guild.id, 10_000 + user, third, 1, "command")
    await store.set_vote(demo.guild.id, 10_000, first, -1, "command")
    reply = await discord.slash("top", user=alice)
    assert not reply.ephemeral
    description = reply.embed["description"]
    positions = [description.index(f"{KEYCAPS[n]}") for n in range(3)]
    assert positions == sorted(positions)
    titles = {row[0]: row[1] for row in await db.fetchall("SELECT id, title FROM shows WHERE id IN (?, ?, ?)",
                                                          (first, second, third))}  # fmt: skip
    order = [titles[second], titles[third], titles[first]]
    assert [description.index(title) for title in order] == sorted(description.index(title) for title in order)
    assert "👍 25 · 👎 5" in description
    message = discord.message(reply)
    assert [message.reaction_users(keycap) for keycap in KEYCAPS[:3]] == [[emulator.bot_user.id]] * 3
    await discord.react(message, KEYCAPS[1], user=alice)  # 2️⃣: the second listed show, `third`
    await settle(discord, bot)
    assert (await stored(db))[(demo.guild.id, alice.id, third)] == (1, message.id, KEYCAPS[1])

    # Without Add Reactions the list is still posted and tracked; members add the keycaps themselves.
    await emulator.set_overwrite(demo.general, demo.guild.everyone, deny=ADD_REACTIONS)
    await discord.settle()
    reply = await discord.slash("top", period="week", user=alice)
    message = discord.message(reply)
    assert message.reactions == {}
    tracked = """SELECT count(*) FROM vote_messages AS m JOIN vote_emoji AS e ON e.message_id = m.message_id
                 WHERE m.message_id = ? AND m.active = 1 AND e.emoji = ?"""
    assert await db.fetchval(tracked, (message.id, KEYCAPS[0])) == 1
    empty = await discord.slash("top", genre="No Such Genre", user=alice)
    assert empty.ephemeral and "No votes" in empty.content


async def test_deleted_messages_channels_and_servers_stop_being_tracked(
    bot: ShowBot, discord: DiscordDriver, db: Database, demo: DemoServer, emulator: DiscordEmulator
) -> None:
    alice = demo.members["alice"]
    shows = await show_ids(db, 4)
    in_general = await post_votable(bot, demo.general, shows[0])
    in_party = await post_votable(bot, demo.channels["watch-party"], shows[1])
    other = await post_votable(bot, demo.general, shows[2])
    await discord.react(in_general, THUMBS_UP, user=alice)
    await discord.delete_message(in_general)
    await emulator.delete_channel(demo.channels["watch-party"])
    await settle(discord, bot)
    active = {row[0]: row[1] for row in await db.fetchall("SELECT message_id, active FROM vote_messages")}
    assert active == {in_general.id: 0, in_party.id: 0, other.id: 1}
    assert set(await stored(db)) == {(demo.guild.id, alice.id, shows[0])}  # the vote stays
    await emulator.remove_guild(demo.guild)
    await settle(discord, bot)
    assert await db.fetchval("SELECT count(*) FROM vote_messages WHERE active = 1") == 0


# Restarts -----------------------------------------------------------------------------------------------------------


async def test_restart_reconciles_what_changed_while_offline(
    make_bot: Callable[..., Awaitable[ShowBot]],
    driver: DiscordDriver,
    db: Database,
    demo: DemoServer,
    emulator: DiscordEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    guild = demo.guild.id
    alice, bob, carol, owner = (demo.members[name] for name in ("alice", "bob", "carol", "owner"))
    first_show, second_show, third_show = await show_ids(db, 3)
    bot = await make_bot()
    message = await post_votable(bot, demo.general, first_show)
    doomed = await post_votable(bot, demo.general, second_show)
    listing = discord_message = await bot.get_partial_messageable(demo.general.id, guild_id=guild).send("Top")
    await make_votable(bot, discord_message, "top", list_emoji_map([third_show, first_show]))
    listing_message = message_in(bot, demo.general, listing.id)
    await driver.react(message, THUMBS_UP, user=alice)
    await driver.react(message, THUMBS_UP, user=bob)
    await driver.react(message, THUMBS_UP, user=owner)
    await driver.react(doomed, THUMBS_DOWN, user=carol)
    await settle(driver, bot)
    await bot.close()

    # While the bot is away: alice takes her 👍 back, bob switches to 👎, carol upvotes 1️⃣ on the list, the doomed
    # message is deleted (its vote stays), and Discord rate-limits the reaction route once.
    await emulator.remove_reaction(message, parse_emoji(THUMBS_UP), alice)
    await emulator.remove_reaction(message, parse_emoji(THUMBS_UP), bob)
    await emulator.add_reaction(message, parse_emoji(THUMBS_DOWN), bob)
    await emulator.add_reaction(listing_message, parse_emoji(KEYCAPS[0]), carol)
    await emulator.user_deletes_message(doomed)
    emulator.fail_with_429("GET", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}")

    caplog.set_level("INFO", logger="cogs.votes")
    restarted = await make_bot()
    reconciliation = votes_cog(restarted).reconciliation
    assert reconciliation is not None
    await asyncio.wait_for(reconciliation, 10)
    assert "Vote reconciliation fixed 3 votes (1 added, 1 removed, 1 changed)" in caplog.text
    assert await stored(db) == {
        (guild, bob.id, first_show): (-1, message.id, THUMBS_DOWN),
        (guild, owner.id, first_show): (1, message.id, THUMBS_UP),
        (guild, carol.id, second_show): (-1, doomed.id, THUMBS_DOWN),
        (guild, carol.id, third_show): (1, listing.id, KEYCAPS[0]),
    }
    assert await db.fetchval("SELECT active FROM vote_messages WHERE message_id = ?", (doomed.id,)) == 0
    assert any(r.status == 429 for r in emulator.requests), "the 429 was never served"

    # Live voting works after reconciliation, and a restart with nothing changed fixes nothing.
    await driver.react(listing_message, KEYCAPS[1], user=alice)
    await settle(driver, restarted)
    assert (await stored(db))[(guild, alice.id, first_show)] == (1, listing.id, KEYCAPS[1])
    await restarted.close()
    caplog.clear()
    again = await make_bot()
    assert votes_cog(again).reconciliation is not None
    await asyncio.wait_for(votes_cog(again).reconciliation, 10)  # type: ignore[arg-type]
    assert "Vote reconciliation fixed 0 votes" in caplog.text


# Bursts -------------------------------------------------------------------------------------------------------------

MESSAGES, MEMBERS, EVENTS = 20, 500, 5000


def add_members(emulator: DiscordEmulator, demo: DemoServer, count: int) -> list[User]:
    members = []
    for number in range(count):
        member = emulator.create_user(f"member{number}")
        emulator.add_member(demo.guild, member)
        members.append(member)
    return members


def burst_plan(
    members: list[User], messages: list[Message], maps: dict[int, dict[str, tuple[int, int]]], seed: int
) -> list[tuple[bool, User, Message, str]]:
    """5,000 reaction changes as Discord allows them: add what a member does not hold, remove what he holds.

    On a 👍/👎 message a member holds at most one of the two (he takes one back before adding the other), the usual
    way to switch, so the result after a crash is fully determined by the reactions left on the messages.
    """
    rng = random.Random(seed)
    holding: set[tuple[int, int, str]] = set()
    plan = []
    while len(plan) < EVENTS:
        member, message = rng.choice(members), rng.choice(messages)
        emoji = rng.choice(list(maps[message.id]))
        held = [key for key in holding if key[:2] == (member.id, message.id)]
        if THUMBS_UP in maps[message.id] and held and held[0][2] != emoji:
            emoji = held[0][2]  # take the other one back first
        key = (member.id, message.id, emoji)
        added = key not in holding
        (holding.add if added else holding.discard)(key)
        plan.append((added, member, message, emoji))
    return plan


def apply_event(
    votes: Expected, guild: int, event: tuple[bool, User, Message, str], maps: dict[int, dict[str, tuple[int, int]]]
) -> None:
    """One reaction added or removed: an add sets the vote, a removal undoes only the vote that reaction made."""
    added, member, message, emoji = event
    show_id, value = maps[message.id][emoji]
    key = (guild, member.id, show_id)
    if added:
        votes[key] = (value, message.id, emoji)
    elif key in votes and votes[key][1:] == (message.id, emoji):
        del votes[key]


def replay(
    guild: int, plan: list[tuple[bool, User, Message, str]], maps: dict[int, dict[str, tuple[int, int]]]
) -> Expected:
    votes: Expected = {}
    for event in plan:
        apply_event(votes, guild, event, maps)
    return votes


async def send(emulator: DiscordEmulator, step: tuple[bool, User, Message, str]) -> None:
    added, member, message, emoji = step
    if added:
        assert await emulator.add_reaction(message, parse_emoji(emoji), member)
    else:
        assert await emulator.remove_reaction(message, parse_emoji(emoji), member)


async def votable_messages(
    emulator: DiscordEmulator, demo: DemoServer, db: Database
) -> tuple[list[Message], dict[int, dict[str, tuple[int, int]]]]:
    """20 bot messages, tracked: 10 about one show (👍/👎), 10 lists of 10 shows (keycaps); no show on two messages."""
    shows = await show_ids(db, 10 + 10 * 10)
    store = VoteStore(db)
    messages, maps = [], {}
    for number in range(MESSAGES):
        message = Message(snowflake(), demo.general.id, demo.guild.id, emulator.bot_user, content=f"post {number}")
        demo.general.messages[message.id] = message
        if number < 10:
            emoji_map = show_emoji_map(shows[number])
        else:
            emoji_map = list_emoji_map(shows[10 + 10 * (number - 10) : 20 + 10 * (number - 10)])
        await store.track_message(message.id, demo.guild.id, demo.general.id, "show", emoji_map)
        messages.append(message)
        maps[message.id] = emoji_map
    return messages, maps


async def test_a_burst_of_5000_reactions_leaves_exactly_the_expected_votes(
    make_bot: Callable[..., Awaitable[ShowBot]],
    driver: DiscordDriver,
    db: Database,
    demo: DemoServer,
    emulator: DiscordEmulator,
) -> None:
    members = add_members(emulator, demo, MEMBERS)
    messages, maps = await votable_messages(emulator, demo, db)
    plan = burst_plan(members, messages, maps, seed=7)
    bot = await make_bot()
    processor = votes_cog(bot).processor
    await asyncio.wait_for(votes_cog(bot).reconciliation, 10)  # type: ignore[arg-type]
    before = processor.stats.events
    started = asyncio.get_running_loop().time()
    for step in plan:
        await send(emulator, step)
    await settle(driver, bot)
    elapsed = asyncio.get_running_loop().time() - started
    expected = replay(demo.guild.id, plan, maps)
    assert await stored(db) == expected
    assert len(expected) > 1000
    stats = processor.stats
    assert stats.events - before == EVENTS and stats.failed_events == 0
    print(f"burst: {EVENTS} events through the gateway in {elapsed:.2f}s, {stats.batches} batches")


def prefix_matching(stored_votes: Expected, guild: int, plan: list[tuple[bool, User, Message, str]],
                    maps: dict[int, dict[str, tuple[int, int]]]) -> int | None:  # fmt: skip
    """The largest k such that replaying the first k events gives exactly `stored_votes`, or None."""
    target = frozenset(stored_votes.items())
    votes: Expected = {}
    found = 0 if not stored_votes else None
    for index, event in enumerate(plan, start=1):
        apply_event(votes, guild, event, maps)
        if len(votes) == len(stored_votes) and frozenset(votes.items()) == target:
            found = index
    return found


class LogLines:
    """A bot process's stderr, line by line; waiting for a line wakes on each new line, not on a timer."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ended = False
        self.changed = asyncio.Condition()

    async def collect(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            async with self.changed:
                self.lines.append(line.decode(errors="replace").rstrip())
                self.changed.notify_all()
        async with self.changed:
            self.ended = True
            self.changed.notify_all()

    def search(self, regex: re.Pattern[str]) -> re.Match[str] | None:
        return next((match for line in self.lines if (match := regex.search(line))), None)

    async def wait_for(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:  # noqa: ASYNC109
        regex = re.compile(pattern)

        def done() -> bool:
            return self.ended or self.search(regex) is not None

        async with self.changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait_for(done), timeout)
            match = self.search(regex)
        if match is None:
            raise AssertionError(f"No log line matching {pattern!r}; the bot logged:\n" + "\n".join(self.lines[-30:]))
        return match


@pytest.mark.slow
async def test_sigkill_in_a_burst_loses_nothing_processed_and_reconciliation_restores_the_rest(
    bot_process: Callable[[], Awaitable[Any]],
    db: Database,
    demo: DemoServer,
    emulator: DiscordEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VOTE_RECONCILE_DELAY", "0")
    members = add_members(emulator, demo, MEMBERS)
    messages, maps = await votable_messages(emulator, demo, db)
    plan = burst_plan(members, messages, maps, seed=11)
    guild = demo.guild.id

    first = await bot_process()
    assert first.process.stderr is not None
    first_log = LogLines()
    reader = asyncio.create_task(first_log.collect(first.process.stderr))
    await first.wait_connected()
    await first_log.wait_for(r"Vote reconciliation fixed 0 votes")
    for step in plan[:2500]:
        await send(emulator, step)
    for _ in range(750):  # until the bot has committed some of them (15 s at most, for a slow CI machine)
        if await db.fetchval("SELECT count(*) FROM votes"):
            break
        await asyncio.sleep(0.02)
    for step in plan[2500:3000]:
        await send(emulator, step)
    first.process.send_signal(signal.SIGKILL)  # in the middle of the burst
    await first.process.wait()
    await reader
    for step in plan[3000:]:  # members go on reacting while the bot is down
        await send(emulator, step)

    async with open_database(first.database_path) as check:
        assert await check.fetchval("PRAGMA integrity_check") == "ok"
        after_crash = await stored(check)
    processed = prefix_matching(after_crash, guild, plan, maps)
    assert processed is not None, "the stored votes are not the result of any prefix of the events"
    assert 0 < processed <= 3000
    print(f"crash: the bot had committed the first {processed} of 3000 events it was sent")

    second = await bot_process()
    assert second.process.stderr is not None
    second_log = LogLines()
    reader = asyncio.create_task(second_log.collect(second.process.stderr))
    await second.wait_connected()
    fixed = await second_log.wait_for(r"Vote reconciliation fixed (\d+) votes")
    assert int(fixed.group(1)) > 0
    assert await stored(db) == replay(guild, plan, maps)
    assert await second.stop() == 0
    await reader


async def test_a_database_error_is_logged_and_voting_goes_on(
    bot: ShowBot, discord: DiscordDriver, db: Database, demo: DemoServer, caplog: pytest.LogCaptureFixture
) -> None:
    alice, bob = demo.members["alice"], demo.members["bob"]
    (show,) = await show_ids(db, 1)
    message = await post_votable(bot, demo.general, show)
    # A real SQLite error for alice's writes, on the bot's own connection (the test shares it).
    await db.connection.execute(
        f"""CREATE TEMP TRIGGER refuse_alice BEFORE INSERT ON votes WHEN new.user_id = {alice.id:d}
            BEGIN SELECT RAISE(ABORT, 'disk I/O error (injected)'); END"""
    )
    await discord.react(message, THUMBS_UP, user=alice)
    await discord.react(message, THUMBS_UP, user=bob)
    await settle(discord, bot)
    assert set(await stored(db)) == {(demo.guild.id, bob.id, show)}
    assert "Dropped a vote event that cannot be stored" in caplog.text
    await db.connection.execute("DROP TRIGGER refuse_alice")
    await discord.react(message, THUMBS_DOWN, user=alice)
    await settle(discord, bot)
    assert (await stored(db))[(demo.guild.id, alice.id, show)] == (-1, message.id, THUMBS_DOWN)


LOCK_HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


@pytest.mark.slow
async def test_votes_wait_out_another_process_holding_the_write_lock_and_none_is_dropped(
    bot: ShowBot,
    discord: DiscordDriver,
    db: Database,
    demo: DemoServer,
    emulator: DiscordEmulator,
    database_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Another process (a catalog import, a second bot on the same file) holds SQLite's write lock for 15 s while
    300 members vote once each: every vote is stored, in order, and reads answer meanwhile."""
    members = add_members(emulator, demo, 300)
    (show,) = await show_ids(db, 1)
    message = await post_votable(bot, demo.general, show)
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LOCK_HOLDER, str(database_path), "15", stdout=asyncio.subprocess.PIPE
    )
    assert holder.stdout is not None
    assert await holder.stdout.readline() == b"locked\n"
    for number, member in enumerate(members):
        await emulator.add_reaction(message, parse_emoji(THUMBS_UP if number % 3 else THUMBS_DOWN), member)
    await discord.settle()  # every event read and queued: the consumer is waiting for the lock
    # Reads do not wait behind the stalled write: /myvotes answers at once (from the votes committed so far).
    reply = await discord.slash("myvotes", user=members[0])
    assert "You have no votes in this server." in reply.text
    assert holder.returncode is None, "the lock was released before the reads ran"
    # A card posted now (deferred first) becomes votable once the lock is free: tracking it waits, it is not lost.
    patient = DiscordDriver(emulator, demo, timeout=30.0)
    card_shown = asyncio.create_task(patient.slash("show", title="Seven Seconds", user=members[1]))
    assert await holder.wait() == 0
    card = await card_shown
    assert card.deferred and card.embed["title"].startswith("Seven Seconds")
    await votes_cog(bot).processor.drain()
    votes = await stored(db)
    assert len(votes) == 300
    assert votes == {
        (demo.guild.id, member.id, show): (1, message.id, THUMBS_UP) if number % 3 else (-1, message.id, THUMBS_DOWN)
        for number, member in enumerate(members)
    }
    assert "Votes stalled" in caplog.text and "none is dropped" in caplog.text
    assert "Dropped a vote event" not in caplog.text
    stats = votes_cog(bot).processor.stats
    assert stats.stalls >= 1 and stats.failed_events == 0
    seven_seconds = int(await db.fetchval("SELECT id FROM shows WHERE title = 'Seven Seconds'"))
    await discord.react(card, THUMBS_UP, user=members[2])
    await settle(discord, bot)
    assert (await stored(db))[(demo.guild.id, members[2].id, seven_seconds)] == (1, card.message.id, THUMBS_UP)


async def test_vote_command_resolves_typed_and_misspelt_titles(
    discord: DiscordDriver, db: Database, demo: DemoServer
) -> None:
    alice = demo.members["alice"]
    choices = await discord.autocomplete("vote", "title", "sevn secnds", user=alice)
    assert choices[0]["name"].startswith("Seven Seconds")
    reply = await discord.slash("vote", title="Seven Seconds", choice="up", user=alice)
    assert THUMBS_UP in reply.content
    assert [vote[0] for vote in (await stored(db)).values()] == [1]
    assert (await discord.slash("vote", title="zzzz qqqq", choice="up", user=alice)).content.startswith("No show")
