"""/show, /cast, /trailer and /search through the real client and the emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import bot.app.ui
from bot.catalog.importer import import_records
from bot.catalog.validation import parse_document
from bot.emulator import ActionError, DiscordDriver, DiscordEmulator
from bot.emulator.state import User
from bot.storage import Database, connect_sync

pytestmark = pytest.mark.e2e


def field(embed: dict[str, Any], name: str) -> str:
    return next(f["value"] for f in embed.get("fields", []) if f["name"] == name)


async def test_show_seven_seconds_card(discord: DiscordDriver, alice: User) -> None:
    reply = await discord.slash("show", title="Seven Seconds", user=alice)
    embed = reply.embed
    assert embed["title"] == "Seven Seconds"
    assert "police officer" in embed["description"] and "cover it up" in embed["description"]
    assert field(embed, "Premiered") == "<t:1519387200:D>"  # 2018-02-23
    assert field(embed, "Network") == "Netflix"
    assert field(embed, "Created by") == "Veena Sud"
    cast = field(embed, "Cast")
    for line in ("Beau Knapp as Pete Jablonski", "Clare-Hope Ashitey as KJ Harper", "Regina King as Latrice Butler"):
        assert line in cast
    assert "Crime" in field(embed, "Genres")
    assert field(embed, "Votes") == "👍 0 · 👎 0"
    assert embed["footer"]["text"] == "Catalog: Showbot"
    (button,) = reply.buttons
    assert button["label"] == "Search trailer" and button["style"] == 5
    assert button["url"].startswith("https://www.youtube.com/results?search_query=Seven+Seconds+2018+official+trailer")
    assert not reply.ephemeral
    message = reply.message
    assert message is not None
    assert list(message.reaction_counts()) == ["👍", "👎"]


async def test_cards_carry_the_facts_reviewed_on_2026_12_03(discord: DiscordDriver, alice: User) -> None:
    boys = (await discord.slash("show", title="The Boys", user=alice)).embed
    assert (field(boys, "Status"), field(boys, "Seasons")) == ("Ended", "5 seasons · 40 episodes")
    stranger = (await discord.slash("show", title="Stranger Things", user=alice)).embed
    assert field(stranger, "Created by") == "Matt Duffer, Ross Duffer"
    assert field(stranger, "Seasons") == "5 seasons · 42 episodes"
    for title in ("Mindhunter", "Bodyguard"):
        assert field((await discord.slash("show", title=title, user=alice)).embed, "Status") == "Ended"
    korey = (await discord.slash("show", title="When They See Us", user=alice)).embed["description"]
    assert "Korey Wise, at sixteen the oldest of the five and the only one tried as an adult" in korey


async def test_typed_title_without_picking_and_misspelt(discord: DiscordDriver, alice: User) -> None:
    reply = await discord.slash("show", title="sevn secnds", user=alice)
    assert reply.embed["title"] == "Seven Seconds"


async def test_unknown_title_is_ephemeral_with_suggestions(discord: DiscordDriver, alice: User) -> None:
    reply = await discord.slash("show", title="Breaking Badger Extravaganza", user=alice)
    assert reply.ephemeral
    assert reply.content.startswith('No show called "Breaking Badger Extravaganza".')
    assert "Breaking Bad" in reply.content
    # Digits are an id only within SQLite's range (a longer number was an OverflowError: "something went wrong").
    for text in ["9" * 30, "²"]:
        reply = await discord.slash("show", title=text, user=alice)
        assert (reply.ephemeral, reply.content) == (True, f'No show called "{text}".')


async def test_autocomplete_returns_ids_and_handles_hostile_text(discord: DiscordDriver, alice: User) -> None:
    prefix = await discord.autocomplete("show", "title", "sev", user=alice)
    assert "Seven Seconds (2018)" in [choice["name"] for choice in prefix]
    choices = await discord.autocomplete("show", "title", "seven sec", user=alice)
    assert choices[0]["name"] == "Seven Seconds (2018)"
    assert choices[0]["value"].startswith("id:") and choices[0]["value"][3:].isdigit()
    picked = await discord.slash("show", title=choices[0]["value"], user=alice)
    assert picked.embed["title"] == "Seven Seconds"
    for text in ['"', "NEAR(a b)", "* AND OR", "'; DROP TABLE shows; --", "🎬" * 50, "\x00\x1b"]:
        choices = await discord.autocomplete("show", "title", text, user=alice)
        assert len(choices) <= 25
    empty = await discord.autocomplete("show", "title", "", user=alice)
    assert len(empty) == 25


NUMERIC_TITLES = ("24", "1883", "1899", "9-1-1", "911")  # real shows' titles; the records hold nothing but the title


async def test_a_title_made_of_digits_opens_that_show_not_the_show_with_that_id(
    database_path: Path, make_bot: Any, driver: DiscordDriver, db: Database, alice: User
) -> None:
    conn = connect_sync(database_path)
    try:
        import_records(conn, parse_document([{"title": title} for title in NUMERIC_TITLES]))
    finally:
        conn.close()
    show_24 = await db.fetchval("SELECT title FROM shows WHERE id = 24")
    assert show_24 is not None and show_24 not in NUMERIC_TITLES  # what `/show title:24` opened before
    await make_bot()

    for title in NUMERIC_TITLES:
        typed = await driver.slash("show", title=title, user=alice)
        assert typed.embed["title"] == title
        show_id = await db.fetchval("SELECT id FROM shows WHERE title = ?", (title,))
        choices = await driver.autocomplete("show", "title", title, user=alice)
        assert (choices[0]["name"], choices[0]["value"]) == (title, f"id:{show_id}")
        picked = await driver.slash("show", title=choices[0]["value"], user=alice)
        assert picked.embed["title"] == title
    # The show whose id is 24 is still reached by its own choice; a choice whose show is gone says so.
    assert (await driver.slash("show", title="id:24", user=alice)).embed["title"] == show_24
    gone = await driver.slash("show", title="id:999999", user=alice)
    assert (gone.ephemeral, gone.content) == (True, "That show is no longer in the catalog.")


async def test_mentions_in_catalog_text_never_ping(discord: DiscordDriver, alice: User) -> None:
    reply = await discord.slash("show", title="Seven Seconds", user=alice)
    assert reply.deferred  # the card comes as the edit of the deferred answer
    sent = [r.body for r in reply.record.requests if r.method in ("PATCH", "POST") and r.body and "embeds" in r.body]
    assert sent and all(body["allowed_mentions"] == {"parse": []} for body in sent)


async def test_cast_of_a_small_show_is_one_page(discord: DiscordDriver, alice: User) -> None:
    reply = await discord.slash("cast", title="Seven Seconds", user=alice)
    text = reply.embed["description"]
    assert "Russell Hornsby as Isaiah Butler" in text
    assert field(reply.embed, "Created by") == "Veena Sud"
    assert reply.embed["footer"]["text"] == "Page 1/1"
    assert reply.buttons == []


async def test_cast_pages_belong_to_the_asker_and_expire(
    database_path: Path, make_bot: Any, driver: DiscordDriver, emulator: DiscordEmulator, alice: User, bob: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    cast = [{"name": f"Actor Number {i}", "character": f"Role {i}"} for i in range(1, 41)]
    conn = connect_sync(database_path)
    try:
        import_records(
            conn, parse_document([{"title": "A Very Large Ensemble", "creators": ["Someone"], "cast": cast}])
        )
    finally:
        conn.close()
    await make_bot()

    reply = await driver.slash("cast", title="A Very Large Ensemble", page=2, user=alice)
    assert reply.embed["footer"]["text"] == "Page 2/3"
    assert "Actor Number 16 as Role 16" in reply.embed["description"]
    refused = await driver.click(reply, "Next", user=bob)
    assert refused.ephemeral and "Only the member who asked" in refused.content
    turned = await driver.click(reply, "Next", user=alice)
    assert turned.embed["footer"]["text"] == "Page 3/3"
    assert "Actor Number 40 as Role 40" in turned.embed["description"]
    assert [b["disabled"] for b in turned.buttons if b["label"] == "Next"] == [True]

    # Expiry, on a second answer nobody clicks: its buttons go after a short inactivity. (Shortening the timeout of the
    # answer clicked above made the clicks race it on a busy machine.)
    monkeypatch.setattr(bot.app.ui, "VIEW_TIMEOUT", 0.3)
    unclicked = await driver.slash("cast", title="A Very Large Ensemble", page=3, user=alice)
    message = unclicked.message
    assert message is not None and message.components
    await emulator.wait_for(lambda: not message.components, timeout=10, what="the expired buttons to go away")
    assert message.embeds[0]["footer"]["text"] == "Page 3/3"  # the page stays readable


async def test_trailer_is_a_plain_message_with_the_link(discord: DiscordDriver, alice: User) -> None:
    reply = await discord.slash("trailer", title="Breaking Bad", user=alice)
    assert "Breaking Bad" in reply.content
    assert "https://www.youtube.com/results?search_query=Breaking+Bad+2008+official+trailer" in reply.content
    assert not reply.embeds


async def test_search_with_filters_and_select_opens_a_card(discord: DiscordDriver, alice: User) -> None:
    reply = await discord.slash("search", query="seven", genre="Crime", service="Netflix", user=alice)
    assert reply.ephemeral
    assert "Seven Seconds" in reply.embed["description"]
    message = reply.message
    assert message is not None
    options = next(c for row in message.components for c in row["components"] if c["type"] == 3)["options"]
    seven = next(o["value"] for o in options if o["label"].startswith("Seven Seconds"))
    card = await discord.select(message, "search:open", [seven], user=alice)
    assert card.embed["title"] == "Seven Seconds"
    assert not card.ephemeral


async def test_search_pages_belong_to_the_asker(discord: DiscordDriver, alice: User, bob: User) -> None:
    reply = await discord.slash("search", genre="Drama", user=alice)
    assert reply.embed["footer"]["text"].startswith("Page 1/")
    message = reply.message
    assert message is not None
    refused = await discord.click(message, "Next", user=bob)
    assert refused.ephemeral and "Only the member who asked" in refused.content
    turned = await discord.click(message, "Next", user=alice)
    assert turned.embed["footer"]["text"].startswith("Page 2/")


async def test_search_nothing_found(discord: DiscordDriver, alice: User) -> None:
    reply = await discord.slash("search", query="zzqxj", year=1901, user=alice)
    assert reply.ephemeral and reply.content.startswith("No show matches")


HOSTILE = "**@everyone** `x` <@123> ||spoiler|| " + "y" * 20  # 58 characters: within the options' limit


async def test_search_options_are_bounded_and_echoed_only_as_a_short_inert_excerpt(
    discord: DiscordDriver, emulator: DiscordEmulator, alice: User
) -> None:
    (search,) = [c for c in emulator.commands_for(discord.guild.id) if c["name"] == "search"]
    limits = {o["name"]: (o.get("min_length"), o.get("max_length")) for o in search["options"] if o["type"] == 3}
    assert limits["genre"] == limits["service"] == (1, 60)
    with pytest.raises(ActionError, match="must be 1-60 characters long"):  # Discord's client refuses to send it
        await discord.slash("search", genre="y" * 61, user=alice)

    reply = await discord.slash("search", genre=HOSTILE, service=HOSTILE, user=alice)
    assert reply.ephemeral and reply.content.startswith('No show matches genre "')
    assert "**@everyone**" not in reply.content and "`x`" not in reply.content and "||spoiler||" not in reply.content
    assert "y" * 20 not in reply.content  # no more than a short excerpt of each
    assert len(reply.content) < 160


async def test_a_known_trailer_is_linked_as_the_trailer(
    database_path: Path, make_bot: Any, driver: DiscordDriver, alice: User
) -> None:
    trailer = "https://www.youtube.com/watch?v=test-video-1"  # a test record, not a real show
    conn = connect_sync(database_path)
    try:
        record = {
            "title": "A Show With A Trailer",
            "premiered": "2020-05-01",
            "status": "running",
            "videos": [{"url": trailer, "site": "YouTube", "kind": "trailer", "official": True}],
        }
        import_records(conn, parse_document([record]))
    finally:
        conn.close()
    await make_bot()
    card = await driver.slash("show", title="A Show With A Trailer", user=alice)
    (button,) = card.buttons
    assert (button["label"], button["url"]) == ("Trailer", trailer)
    plain = await driver.slash("trailer", title="A Show With A Trailer", user=alice)
    assert plain.content == f"**A Show With A Trailer**: {trailer}"
    running = await driver.slash("search", status="running", year=2020, user=alice)
    assert "A Show With A Trailer" in running.embed["description"]
