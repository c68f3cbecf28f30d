"""Replies in time: every command acknowledges its interaction before it waits on storage, the vote queue or the
network, so a stalled database never ends an interaction in "The application did not respond" (10062); the result
still arrives, as the answer to the deferral."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.app.core import ShowBot
from bot.emulator import DemoServer, DiscordDriver, DiscordEmulator
from bot.emulator.driver import Reply
from bot.storage import Database
from bot.votes import THUMBS_UP, VoteStore

pytestmark = pytest.mark.e2e

STALL_SECONDS = 4.0


@contextlib.asynccontextmanager
async def stalled_database(db: Database, seconds: float = STALL_SECONDS) -> AsyncIterator[None]:
    """Every statement on the bot's connections (reads and writes) waits until `seconds` from now, inside SQLite:
    a disk or lock stall as the bot would meet it. The event loop itself is never blocked."""
    deadline = time.monotonic() + seconds

    def stall() -> int:
        remaining = deadline - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
        return 0  # go on

    connections = {id(db.connection): db.connection, id(db.reader): db.reader}.values()
    for connection in connections:
        await connection.set_progress_handler(stall, 1)
    try:
        yield
    finally:
        for connection in connections:
            await connection.set_progress_handler(None, 1)


def answered_after_deferral(reply: Reply, emulator: DiscordEmulator, *, private: bool) -> None:
    assert reply.deferred, f"not deferred first: callback type {reply.type}"
    assert reply.record.callback_latency is not None and reply.record.callback_latency < 3
    assert reply.text.strip(), "no result arrived after the deferral"
    assert reply.ephemeral is private
    assert all(r.error_code != 10062 for r in reply.record.requests)


async def test_every_command_defers_before_a_4_second_database_stall(
    bot: ShowBot, emulator: DiscordEmulator, demo: DemoServer, db: Database
) -> None:
    """All of them at once, during one 4 s stall: none breaks the 3 s rule, each result arrives as the follow-up."""
    discord = DiscordDriver(emulator, demo, timeout=30.0)
    alice, bob, owner = (demo.members[name] for name in ("alice", "bob", "owner"))
    store = VoteStore(db)
    show = int(await db.fetchval("SELECT id FROM shows WHERE title = 'Seven Seconds'"))
    for user in (alice, bob):
        await store.set_vote(demo.guild.id, user.id, show, 1, "command")
    calls: dict[str, tuple[bool, Any]] = {
        "show": (False, discord.slash("show", title="Seven Seconds", user=alice)),
        "cast": (False, discord.slash("cast", title="Seven Seconds", user=alice)),
        "trailer": (False, discord.slash("trailer", title="Seven Seconds", user=alice)),
        "search": (True, discord.slash("search", query="seven", user=alice)),
        "vote": (True, discord.slash("vote", title="Seven Seconds", choice="down", user=bob)),
        "myvotes": (True, discord.slash("myvotes", user=alice)),
        "forgetme": (True, discord.slash("forgetme", user=alice)),
        "top": (False, discord.slash("top", user=alice)),
        "recommend": (False, discord.slash("recommend", user=alice)),
        "similar": (False, discord.slash("similar", title="Seven Seconds", user=alice)),
        "weekly set": (
            True,
            discord.slash(
                "weekly set", user=owner, channel="#watch-party", day=4, time="18:00", timezone="Europe/London"
            ),
        ),
        "weekly preview": (True, discord.slash("weekly preview", user=owner)),
        "weekly status": (True, discord.slash("weekly status", user=owner)),
    }
    async with stalled_database(db):
        started = time.monotonic()
        replies = dict(zip(calls, await asyncio.gather(*(call for _private, call in calls.values())), strict=True))
    assert time.monotonic() - started >= STALL_SECONDS - 0.5  # the stall really held them back
    for name, reply in replies.items():
        answered_after_deferral(reply, emulator, private=calls[name][0])
    assert "Seven Seconds" in replies["show"].text and THUMBS_UP in replies["show"].text
    assert "Your vote for **Seven Seconds**: 👎" in replies["vote"].content
    assert "Delete your 1 vote in this server?" in replies["forgetme"].content
    # Commands that exist but were not run above would not be covered: every command is in the list.
    assert {command.qualified_name for command in bot.tree.walk_commands() if not hasattr(command, "commands")} == set(
        calls
    ) | {"weekly off"}


async def test_the_forgetme_confirmation_and_weekly_off_defer_while_the_vote_queue_waits(
    bot: ShowBot, emulator: DiscordEmulator, demo: DemoServer, db: Database
) -> None:
    discord = DiscordDriver(emulator, demo, timeout=30.0)
    alice, owner = demo.members["alice"], demo.members["owner"]
    show = int(await db.fetchval("SELECT id FROM shows WHERE title = 'Seven Seconds'"))
    await VoteStore(db).set_vote(demo.guild.id, alice.id, show, 1, "command")
    question = await discord.slash("forgetme", user=alice)
    async with stalled_database(db):
        done, off = await asyncio.gather(
            discord.click(question, "Delete my votes", user=alice), discord.slash("weekly off", user=owner)
        )
    assert done.deferred and done.content == "Done: deleted 1 vote of yours."
    assert done.record.callback_latency is not None and done.record.callback_latency < 3
    answered_after_deferral(off, emulator, private=True)
    assert await db.fetchval("SELECT count(*) FROM votes") == 0


def test_every_command_declares_how_it_answers(bot: ShowBot) -> None:
    from bot.app.ui import ANSWER  # here: the stall tests above run (and fail) on a bot without it

    undeclared = [
        command.qualified_name
        for command in bot.tree.walk_commands()
        if not hasattr(command, "commands") and command.extras.get(ANSWER) not in ("public", "private")
    ]
    assert undeclared == []
