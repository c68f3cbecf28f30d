"""/recommend and /similar end to end: the real bot on the Discord emulator, votes flowing into the recommender."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.app.core import ShowBot
from bot.common.clock import FakeClock
from bot.common.render import KEYCAPS
from bot.emulator import DemoServer, DiscordDriver, DiscordEmulator, Reply, build_demo_server
from bot.emulator.state import Message, User
from bot.recommend.picks import COLD_START_HINT, SERVER_COLD_START_HINT
from bot.storage import Database
from bot.votes import VoteStore

pytestmark = pytest.mark.e2e

LINE = re.compile(r"^(\S+) \*\*(.+?)\*\*")  # "1️⃣ **Title** (2018) · Netflix"


def picks(reply: Reply | Message) -> list[tuple[str, str]]:
    """(title, reason) of each numbered line of a list embed."""
    embed = reply.embeds[0]
    found = []
    for block in embed["description"].split("\n\n"):
        lines = block.split("\n")
        match = LINE.match(lines[0])
        assert match is not None, lines[0]
        reason = lines[-1].strip("*") if len(lines) > 1 else ""
        found.append((match[2], reason))
    return found


def titles(reply: Reply | Message) -> list[str]:
    return [title for title, _ in picks(reply)]


def footer(reply: Reply | Message) -> str:
    return str(reply.embeds[0].get("footer", {}).get("text", ""))


def buttons(message: Message) -> list[dict[str, Any]]:
    return [c for row in message.components for c in row.get("components", []) if c.get("type") == 2]


def votes_store(bot: ShowBot) -> VoteStore:
    store = getattr(bot.get_cog("Votes"), "store", None)
    assert type(store).__qualname__ == "VoteStore"
    return store  # type: ignore[return-value]


async def show_id(db: Database, title: str) -> int:
    found = await db.fetchval("SELECT id FROM shows WHERE title = ?", (title,))
    assert found is not None, title
    return int(found)


async def vote(bot: ShowBot, guild_id: int, user_id: int, title: str, value: int) -> None:
    """A vote through the votes cog's own store (as /vote would store it): the recommender hears of it."""
    await votes_store(bot).set_vote(guild_id, user_id, await show_id(bot.db, title), value, "command")


async def genres_of(db: Database, title: str) -> set[str]:
    rows = await db.fetchall(
        """SELECT g.name FROM show_genres sg JOIN genres g ON g.id = sg.genre_id JOIN shows s ON s.id = sg.show_id
           WHERE s.title = ?""",
        (title,),
    )
    return {row[0] for row in rows}


# Cold start ---------------------------------------------------------------------------------------------------------


async def test_cold_start_member_and_server_get_the_best_known_shows_with_a_hint(
    discord: DiscordDriver, alice: User, db: Database
) -> None:
    reply = await discord.slash("recommend", user=alice)
    assert not reply.ephemeral
    assert reply.embed["title"] == "Picks for Alice"
    listed = picks(reply)
    assert len(listed) == 5
    assert {reason for _, reason in listed} == {"one of the best-known shows"}
    assert COLD_START_HINT in footer(reply) and "Picks 1–5" in footer(reply)
    message = reply.message
    assert message is not None
    assert list(message.reaction_counts()) == list(KEYCAPS[:5])  # votable: the bot's own keycaps
    assert [b["label"] for b in buttons(message)] == ["More"]

    server = await discord.slash("recommend", user=alice, options={"for": "server"})
    assert server.embed["title"] == "Picks for this server"
    assert len(picks(server)) == 5 and SERVER_COLD_START_HINT in footer(server)
    assert {reason for _, reason in picks(server)} == {"one of the best-known shows"}


async def test_cold_start_member_gets_the_servers_favourites_first_filtered(
    bot: ShowBot, discord: DiscordDriver, demo: DemoServer, db: Database
) -> None:
    guild = demo.guild.id
    bob, carol = demo.members["bob"], demo.members["carol"]
    for title in ("The Crown", "Dark", "Breaking Bad"):
        await vote(bot, guild, bob.id, title, 1)
    await vote(bot, guild, carol.id, "Dark", 1)
    await vote(bot, guild, carol.id, "Breaking Bad", -1)  # net 0: not a favourite
    reply = await discord.slash("recommend", user="alice")
    listed = picks(reply)
    assert listed[:2] == [("Dark", "popular in this server"), ("The Crown", "popular in this server")]
    assert all(reason == "one of the best-known shows" for _, reason in listed[2:])
    assert "Breaking Bad" in titles(reply)  # best known, though not a favourite here
    assert COLD_START_HINT in footer(reply)

    drama = await discord.slash("recommend", user="alice", genre="Science Fiction")
    assert drama.embed["title"] == "Picks for Alice (Science Fiction)"
    assert picks(drama)[0] == ("Dark", "popular in this server")
    for title in titles(drama):
        assert "Science Fiction" in await genres_of(db, title)


# Personal picks -----------------------------------------------------------------------------------------------------


async def test_reasons_and_never_a_show_already_voted_on(
    bot: ShowBot, discord: DiscordDriver, demo: DemoServer, db: Database, clock: FakeClock
) -> None:
    guild, alice = demo.guild.id, demo.members["alice"]
    # Members who like Seven Seconds also like The Sopranos (no shared creator, cast or genre needed).
    for member in range(900_001, 900_007):
        await vote(bot, guild, member, "Seven Seconds", 1)
        await vote(bot, guild, member, "The Sopranos", 1)
    await vote(bot, guild, alice.id, "Seven Seconds", 1)
    await vote(bot, guild, alice.id, "Breaking Bad", -1)
    reply = await discord.slash("recommend", user=alice)
    listed = dict(picks(reply))
    assert listed["The Sopranos"] == "popular with members who like Seven Seconds"
    assert "Seven Seconds" not in listed and "Breaking Bad" not in listed
    assert "because you liked Seven Seconds" in listed.values()  # content: The Killing, same creator
    assert COLD_START_HINT not in footer(reply)

    # A show released this week, in a genre alice likes: the catalog change reaches the recommender.
    wire = await show_id(db, "The Wire")
    await db.execute(
        "INSERT INTO releases (show_id, date, kind, service, season) VALUES (?, ?, 'season_premiere', 'HBO', 6)",
        (wire, clock.now().date().isoformat()),
    )
    await bot.catalog_changed([wire])
    listed = dict(picks(await discord.slash("recommend", user=alice)))
    assert listed["The Wire"] == "new this week, in a genre you like"

    # Every page, "More" included, leaves out what she voted on.
    seen = set(listed)
    message = (await discord.slash("recommend", user=alice)).message
    for _ in range(3):
        assert message is not None
        more = await discord.click(message, "More", user=alice)
        message = more.message
        seen |= set(titles(message))
    assert not seen & {"Seven Seconds", "Breaking Bad"}


async def test_more_is_for_the_asker_and_posts_the_next_five_votable(
    bot: ShowBot, discord: DiscordDriver, demo: DemoServer, db: Database
) -> None:
    alice, bob = demo.members["alice"], demo.members["bob"]
    await vote(bot, demo.guild.id, alice.id, "Dark", 1)
    first = await discord.slash("recommend", user=alice)
    first_message = first.message
    assert first_message is not None
    refused = await discord.click(first_message, "More", user=bob)
    assert refused.ephemeral and "Only the member who asked" in refused.content
    assert buttons(first_message)  # still there for alice

    await discord.click(first_message, "More", user=alice)
    assert buttons(first_message) == []  # the button moved to the new page
    second = discord.last_message()
    assert second.id != first_message.id and not second.ephemeral
    assert "Picks 6–10" in footer(second)
    assert len(titles(second)) == 5 and not set(titles(second)) & set(titles(first))
    assert list(second.reaction_counts()) == list(KEYCAPS[:5])
    assert [b["label"] for b in buttons(second)] == ["More"]

    # A keycap on the second page upvotes the show at that position, for whoever reacts.
    await discord.react(second, KEYCAPS[1], user=bob)
    await votes_cog_drain(bot)
    row = await db.fetchone(
        "SELECT show_id, value, source, message_id FROM votes WHERE guild_id = ? AND user_id = ?",
        (demo.guild.id, bob.id),
    )
    assert row is not None
    assert tuple(row) == (await show_id(db, titles(second)[1]), 1, "reaction", second.id)


async def votes_cog_drain(bot: ShowBot) -> None:
    processor = getattr(bot.get_cog("Votes"), "processor", None)
    assert processor is not None
    await processor.drain()


async def test_a_vote_on_the_list_changes_the_next_picks_incrementally(
    bot: ShowBot, discord: DiscordDriver, demo: DemoServer, db: Database
) -> None:
    guild, alice = demo.guild.id, demo.members["alice"]
    for member in range(900_001, 900_005):
        await vote(bot, guild, member, "Stranger Things", 1)
        await vote(bot, guild, member, "Fleabag", 1)
    reply = await discord.slash("recommend", user=alice)
    assert COLD_START_HINT in footer(reply)
    state = await bot.recommender.guild(guild)
    position = titles(reply).index("Stranger Things")
    assert reply.message is not None
    await discord.react(reply.message, KEYCAPS[position], user=alice)
    await votes_cog_drain(bot)
    stranger = await show_id(db, "Stranger Things")
    assert await db.fetchval("SELECT value FROM votes WHERE user_id = ? AND show_id = ?", (alice.id, stranger)) == 1
    # The same in-memory state, updated by the vote: nothing was rebuilt.
    assert await bot.recommender.guild(guild) is state
    assert state.user_votes[alice.id] == {stranger: 1}

    after = await discord.slash("recommend", user=alice)
    listed = dict(picks(after))
    assert "Stranger Things" not in listed
    assert listed.get("Fleabag") == "popular with members who like Stranger Things"
    assert COLD_START_HINT not in footer(after)

    # Taking the reaction back retracts the vote, and /forgetme makes her a newcomer again.
    await discord.unreact(reply.message, KEYCAPS[position], user=alice)
    await votes_cog_drain(bot)
    assert alice.id not in state.user_votes
    await vote(bot, guild, alice.id, "Dark", 1)
    confirm = await discord.slash("forgetme", user=alice)
    assert confirm.message is not None
    await discord.click(confirm.message, "Delete my votes", user=alice)
    assert alice.id not in state.user_votes
    assert COLD_START_HINT in footer(await discord.slash("recommend", user=alice))


async def test_for_server_suggests_what_the_server_has_not_seen_yet(
    bot: ShowBot, discord: DiscordDriver, demo: DemoServer
) -> None:
    guild = demo.guild.id
    for member in range(900_001, 900_006):
        await vote(bot, guild, member, "Succession", 1)
        await vote(bot, guild, member, "The Crown", 1)
        if member < 900_004:
            await vote(bot, guild, member, "Veep", 1)
    reply = await discord.slash("recommend", user="carol", options={"for": "server"})
    listed = dict(picks(reply))
    assert reply.embed["title"] == "Picks for this server"
    assert SERVER_COLD_START_HINT not in footer(reply)
    seeds = {reason.removeprefix("popular with members who like ") for reason in listed.values()} - {
        "one of the best-known shows"
    }
    assert seeds and seeds <= {"Succession", "The Crown"}  # its top favourites seed the picks...
    assert not seeds & set(listed)  # ...and are not picks themselves
    assert set(listed) & {"Veep", "Succession", "The Crown"}  # co-liked with them


# Filters ------------------------------------------------------------------------------------------------------------


async def test_filters_autocomplete_apply_and_explain_an_empty_result(
    bot: ShowBot, discord: DiscordDriver, db: Database
) -> None:
    genres = await discord.autocomplete("recommend", "genre", "cri", user="alice")
    assert [choice["name"] for choice in genres] == ["Crime"]
    services = await discord.autocomplete("recommend", "service", "netf", user="alice")
    assert services[0]["name"] == "Netflix"
    assert len(await discord.autocomplete("recommend", "genre", "", user="alice")) <= 25

    reply = await discord.slash("recommend", user="alice", genre="crime", service="netflix")  # any case
    assert reply.embed["title"] == "Picks for Alice (Crime · on Netflix)"
    for title in titles(reply):
        assert "Crime" in await genres_of(db, title)
        on_netflix = await db.fetchval(
            """SELECT count(*) FROM shows s WHERE s.title = ?1
                AND (EXISTS (SELECT 1 FROM availability a WHERE a.show_id = s.id AND a.service = 'Netflix')
                     OR EXISTS (SELECT 1 FROM releases r WHERE r.show_id = s.id AND r.service = 'Netflix'))""",
            (title,),
        )
        assert on_netflix, title

    # A genre and a service with no show in common: a clear answer only the asker sees.
    catalog = bot.recommender.catalog
    genre = "Western"
    service = next(
        name for name in ("Netflix", "HBO", "BBC One", "AMC") if not any(
            catalog.matches(show, genre.lower(), name.lower()) for show in catalog.shows
        )
    )  # fmt: skip
    empty = await discord.slash("recommend", user="alice", genre=genre, service=service)
    assert empty.ephemeral and empty.content.startswith(f"No picks match {genre} · on {service}.")
    unknown = await discord.slash("recommend", user="alice", genre="Telenovela Noir")
    assert unknown.ephemeral and unknown.content.startswith('I know no genre called "Telenovela Noir".')


# /similar -----------------------------------------------------------------------------------------------------------


async def test_similar_by_content_and_by_co_votes_votable(
    bot: ShowBot, discord: DiscordDriver, demo: DemoServer, db: Database
) -> None:
    choices = await discord.autocomplete("similar", "title", "seven sec", user="alice")
    assert choices[0]["name"].startswith("Seven Seconds")
    reply = await discord.slash("similar", title=choices[0]["value"], user="alice")
    assert reply.embed["title"] == "Shows like Seven Seconds" and not reply.ephemeral
    listed = dict(picks(reply))
    assert listed["The Killing"] == "from the same creator"
    assert "Seven Seconds" not in listed and len(listed) == 5
    assert reply.message is not None
    assert list(reply.message.reaction_counts()) == list(KEYCAPS[:5])
    await discord.react(reply.message, KEYCAPS[0], user="bob")
    await votes_cog_drain(bot)
    first = await show_id(db, titles(reply)[0])
    bob = demo.members["bob"]
    assert await db.fetchval("SELECT value FROM votes WHERE user_id = ? AND show_id = ?", (bob.id, first)) == 1

    for member in range(900_001, 900_007):  # this server's members like both
        await vote(bot, demo.guild.id, member, "Seven Seconds", 1)
        await vote(bot, demo.guild.id, member, "Ted Lasso", 1)
    typed = await discord.slash("similar", title="seven secnds", user="alice")  # typed, misspelt
    assert dict(picks(typed))["Ted Lasso"] == "members who like Seven Seconds like it too"

    missing = await discord.slash("similar", title="Qwxz Nothing Like It", user="alice")
    assert missing.ephemeral and missing.content.startswith("No show called")


# Isolation ----------------------------------------------------------------------------------------------------------


async def test_one_servers_votes_never_show_in_another(
    bot: ShowBot, discord: DiscordDriver, demo: DemoServer, emulator: DiscordEmulator
) -> None:
    other = build_demo_server(emulator, "Other Server")
    alice = demo.members["alice"]
    emulator.add_member(other.guild, alice)  # the same member in both servers
    await emulator.add_guild(other.guild)
    await discord.settle()
    await vote(bot, demo.guild.id, alice.id, "Seven Seconds", 1)

    async def answers_here() -> list[list[tuple[str, str]]]:
        return [
            picks(await discord.slash("recommend", user=alice)),
            picks(await discord.slash("recommend", user="carol")),
            picks(await discord.slash("recommend", user="bob", options={"for": "server"})),
            picks(await discord.slash("similar", title="Seven Seconds", user=alice)),
        ]

    before = await answers_here()
    # The other server loves Seven Seconds and Ted Lasso together, and alice likes Dark there.
    elsewhere = other.guild.id
    for member in range(900_001, 900_008):
        await vote(bot, elsewhere, member, "Seven Seconds", 1)
        await vote(bot, elsewhere, member, "Ted Lasso", 1)
    await vote(bot, elsewhere, alice.id, "Dark", 1)
    assert await answers_here() == before  # nothing here moved
    mine, newcomer, server, similar = before
    assert {reason for _, reason in mine} == {"because you liked Seven Seconds"}
    assert newcomer[0] == ("Seven Seconds", "popular in this server")  # alice's vote here, not the other server's
    assert "Ted Lasso" not in [title for title, _ in mine + newcomer + server + similar]

    channel = other.channels["general"]
    there = dict(picks(await discord.slash("recommend", user=alice, in_channel=channel)))
    assert "Dark" not in there  # she voted on it there
    assert there["Ted Lasso"] == "popular in this server"
    similar_there = dict(picks(await discord.slash("similar", title="Seven Seconds", user=alice, in_channel=channel)))
    assert similar_there["Ted Lasso"] == "members who like Seven Seconds like it too"
    newcomer_there = picks(await discord.slash("recommend", user=other.members["bob"], in_channel=channel))
    assert [reason for _, reason in newcomer_there[:3]] == ["popular in this server"] * 3
