"""User installs, end to end: the read-only commands installed on a member's own account and used in direct messages
or in a server without the bot answer with cards whose 👍/👎 are buttons; a press stores the member's own vote, which
feeds their /recommend there and in a server with the bot; where the bot is in the server, cards keep reactions."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import discord as discord_py
import pytest
from test_cli import run

from bot.app.core import ShowBot
from bot.emulator import ActionError, DiscordDriver, DiscordEmulator
from bot.emulator.state import User
from bot.emulator.user_installs import CONTEXT_BOT_DM, CONTEXT_GUILD, CONTEXT_PRIVATE_CHANNEL
from bot.storage import Database
from bot.votes import PERSONAL_GUILD_ID

USER_INSTALLABLE = {"show", "cast", "trailer", "search", "similar", "recommend", "myvotes", "forgetme"}


def vote_buttons(reply_buttons: list[dict[str, object]]) -> dict[str, str]:
    return {str(b["emoji"]["name"]): str(b["custom_id"]) for b in reply_buttons if "custom_id" in b}  # type: ignore[index]


async def test_synced_commands_declare_installs_and_contexts(discord: DiscordDriver, emulator: DiscordEmulator) -> None:
    synced = {command["name"]: command for command in emulator.global_commands}
    for name in USER_INSTALLABLE:
        assert synced[name]["integration_types"] == [0, 1], name
        assert synced[name]["contexts"] == [0, 1, 2], name
    for name in ("vote", "top", "weekly"):
        assert synced[name]["contexts"] == [0], name  # server-only, as before
        assert synced[name]["integration_types"] == [0], name
    assert emulator.violations == []  # the PUT was valid by the spec and the documented rules


async def test_show_in_direct_messages_votes_as_the_members_own(
    discord: DiscordDriver, emulator: DiscordEmulator, alice: User, db: Database, database_path: Path
) -> None:
    emulator.install_for_user(alice)
    dm = discord.direct_messages(alice)
    reply = await discord.slash("show", title="Seven Seconds", user=alice, in_channel=dm)
    assert reply.record.context == CONTEXT_BOT_DM and reply.record.owners == {"0": "0", "1": str(alice.id)}
    assert reply.embed["title"].startswith("Seven Seconds") and not reply.ephemeral
    assert "Votes" not in [field["name"] for field in reply.embed.get("fields", [])]  # no server's tally here
    buttons = vote_buttons(reply.buttons)
    assert set(buttons) == {"👍", "👎"}
    assert not any("/reactions/" in request.path for request in reply.record.requests + emulator.requests)

    pressed = await discord.click(reply, buttons["👍"], user=alice)
    assert pressed.ephemeral and "Seven Seconds" in pressed.content and "👍" in pressed.content
    rows = await db.fetchall("SELECT guild_id, user_id, value, source FROM votes")
    assert [tuple(row) for row in rows] == [(PERSONAL_GUILD_ID, alice.id, 1, "button")]
    exported = await asyncio.to_thread(run, "votes", "export", "--guild", "0", "--json", database=database_path)
    assert exported.returncode == 0, exported.stderr
    assert [(v["guild_id"], v["user_id"], v["source"]) for v in json.loads(exported.stdout)] == [
        (PERSONAL_GUILD_ID, alice.id, "button")
    ]

    picks = await discord.slash("recommend", user=alice, in_channel=dm)
    assert picks.embed["title"].startswith("Picks for")
    footer = picks.embed["footer"]["text"]
    assert "vote with" not in footer.lower()  # personal picks, not the cold start
    assert "React with a number" not in footer  # no reactions where the bot cannot read them
    refused = await discord.slash("recommend", user=alice, in_channel=dm, options={"for": "server"})
    assert refused.ephemeral and "need the bot in the server" in refused.content

    mine = await discord.slash("myvotes", user=alice, in_channel=dm)
    assert mine.ephemeral and "Seven Seconds" in mine.content
    in_server = await discord.slash("myvotes", user=alice)  # the demo server's votes: none of hers
    assert in_server.content == "You have no votes in this server."
    asked = await discord.slash("forgetme", user=alice, in_channel=dm)
    assert "1 vote of your own" in asked.content
    done = await discord.click(asked, "Delete my votes", user=alice)
    assert "deleted 1 vote" in done.content
    assert await db.fetchval("SELECT COUNT(*) FROM votes") == 0
    in_german = await discord.click(reply, buttons["👎"], user=alice, locale="de")  # answered in the presser's language
    assert in_german.content.startswith("Deine eigene Stimme für **Seven Seconds**: 👎")


async def test_own_votes_are_no_servers_favourites(
    discord: DiscordDriver, emulator: DiscordEmulator, alice: User, bob: User
) -> None:
    emulator.install_for_user(bob)
    card = await discord.slash("show", title="Seven Seconds", user=bob, in_channel=discord.direct_messages(bob))
    await discord.click(card, vote_buttons(card.buttons)["👍"], user=bob)
    emulator.install_for_user(alice)
    picks = await discord.slash("recommend", user=alice, in_channel=discord.direct_messages(alice))
    assert "this server" not in picks.text  # bob's own vote makes no "popular in this server" pick for alice


async def test_own_votes_feed_recommend_in_a_server_with_the_bot(
    discord: DiscordDriver, emulator: DiscordEmulator, alice: User, bot: ShowBot
) -> None:
    before = await discord.slash("recommend", user=alice)  # in #general of the demo server: no votes of hers yet
    assert "vote with" in before.embed["footer"]["text"].lower()  # the cold start
    emulator.install_for_user(alice)
    dm = discord.direct_messages(alice)
    card = await discord.slash("show", title="Seven Seconds", user=alice, in_channel=dm)
    await discord.click(card, vote_buttons(card.buttons)["👍"], user=alice)
    after = await discord.slash("recommend", user=alice)
    assert "vote with" not in after.embed["footer"]["text"].lower()  # personal now, from her own vote
    assert after.record.owners == {"0": str(discord.guild.id), "1": str(alice.id)}

    card_here = await discord.slash("show", title="Seven Seconds", user=alice)  # the bot is in this server
    assert card_here.message is not None and card_here.message.reaction_counts() == {"👍": 1, "👎": 1}
    assert vote_buttons(card_here.buttons) == {}  # reactions, as before: no vote buttons


async def test_server_without_the_bot_and_private_channels(
    discord: DiscordDriver, emulator: DiscordEmulator, alice: User, bob: User, bot: ShowBot
) -> None:
    elsewhere = emulator.create_guild_without_bot("Elsewhere", bob)
    emulator.add_member(elsewhere, alice)
    channel = emulator.create_channel(elsewhere, "chat")
    with pytest.raises(ActionError, match="not installed"):
        await discord.slash("show", title="Seven Seconds", user=alice, in_channel=channel)
    emulator.install_for_user(alice)
    reply = await discord.slash("show", title="Seven Seconds", user=alice, in_channel=channel)
    assert reply.record.context == CONTEXT_GUILD and reply.record.owners == {"1": str(alice.id)}
    assert set(vote_buttons(reply.buttons)) == {"👍", "👎"}
    assert reply.message is not None and reply.message.reaction_counts() == {}

    # Discord refuses the bot what it cannot see: a reaction in that server's channel, a DM channel it is not in.
    with pytest.raises(discord_py.Forbidden) as refused:
        await bot.http.add_reaction(channel.id, reply.message.id, "👍")
    assert refused.value.code == 50001
    with_bob = discord.direct_messages(alice, bob)
    in_private = await discord.slash("trailer", title="Seven Seconds", user=alice, in_channel=with_bob)
    assert in_private.record.context == CONTEXT_PRIVATE_CHANNEL and "youtube.com" in in_private.content
    assert in_private.message is not None
    with pytest.raises(discord_py.NotFound) as unknown:
        await bot.http.add_reaction(with_bob.id, in_private.message.id, "👍")
    assert unknown.value.code == 10003

    # Commands for servers only stay there; a member without the install has none in other members' messages (in the
    # bot's own direct messages the server install offers them, as Discord does to members sharing a server with it).
    with pytest.raises(ActionError, match="cannot be used in direct"):
        await discord.slash("vote", title="Seven Seconds", choice="up", user=alice, in_channel=with_bob)
    with pytest.raises(ActionError, match="not installed"):
        await discord.slash("show", title="Seven Seconds", user=bob, in_channel=with_bob)
    in_bot_dm = await discord.slash("show", title="Seven Seconds", user=bob, in_channel=discord.direct_messages(bob))
    assert in_bot_dm.record.owners == {"0": "0"} and set(vote_buttons(in_bot_dm.buttons)) == {"👍", "👎"}


async def test_vote_buttons_work_after_a_restart(
    discord: DiscordDriver, emulator: DiscordEmulator, alice: User, bot: ShowBot, make_bot: object, db: Database
) -> None:
    emulator.install_for_user(alice)
    dm = discord.direct_messages(alice)
    card = await discord.slash("show", title="Seven Seconds", user=alice, in_channel=dm)
    await bot.close()
    await make_bot()  # type: ignore[operator]
    pressed = await discord.click(card, vote_buttons(card.buttons)["👎"], user=alice)
    assert pressed.ephemeral and "👎" in pressed.content
    value = await db.fetchval(
        "SELECT value FROM votes WHERE guild_id = ? AND user_id = ?", (PERSONAL_GUILD_ID, alice.id)
    )
    assert value == -1
