"""Catalog changes reach the recommender: a show added by a title lookup, and this week's releases from a sync."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fake_tvmaze import FakeTvmaze

from bot.app.core import ShowBot
from bot.catalog import shows_to_refresh
from bot.common.config import Settings
from bot.emulator import DemoServer, DiscordDriver
from bot.storage import Database

pytestmark = pytest.mark.e2e


@pytest.fixture
def settings(settings: Settings, tvmaze: FakeTvmaze) -> Settings:
    return replace(settings, catalog_sync="tvmaze", tvmaze_base_url=tvmaze.base_url)


async def test_a_show_added_by_a_lookup_can_be_recommended_from(
    bot: ShowBot, discord: DiscordDriver, db: Database
) -> None:
    card = await discord.slash("show", title="quiet lighthouse", user="alice")
    assert card.embed["title"] == "The Quiet Lighthouse Test Show"
    show_id = await db.fetchval("SELECT id FROM shows WHERE tvmaze_id = 990001")
    assert show_id in bot.recommender.catalog.shows
    similar = await discord.slash("similar", title=f"id:{show_id}", user="alice")
    assert not similar.ephemeral, similar.content
    assert similar.embed["title"] == "Shows like The Quiet Lighthouse Test Show"


async def test_this_weeks_releases_from_a_sync_are_new_in_a_genre_you_like(
    bot: ShowBot, discord: DiscordDriver, demo: DemoServer, db: Database
) -> None:
    cog = bot.get_cog("CatalogSync")
    assert cog is not None
    cog.schedule_daily.cancel()  # type: ignore[attr-defined]  # run the job here, not on the loop's own time
    cog.updates_hourly.cancel()  # type: ignore[attr-defined]
    await cog.run("schedule")  # type: ignore[attr-defined]
    new_show = await db.fetchval("SELECT id FROM shows WHERE tvmaze_id = 990002")  # Paper Moon Test Series, Comedy
    assert new_show is not None
    assert new_show in await shows_to_refresh(db, "9999", bot.clock.now().date())  # by its release, not its row
    assert bot.recommender.catalog.shows[new_show].release_dates

    votes = bot.get_cog("Votes")
    fleabag = await db.fetchval("SELECT id FROM shows WHERE title = 'Fleabag'")
    await votes.store.set_vote(demo.guild.id, demo.members["alice"].id, fleabag, 1, "command")  # type: ignore[union-attr]
    reply = await discord.slash("recommend", user="alice", genre="Comedy")
    assert "**Paper Moon Test Series**" in reply.embed["description"]
    assert "new this week, in a genre you like" in reply.embed["description"]


async def test_a_genre_new_to_the_catalog_is_offered_after_a_change(
    bot: ShowBot, discord: DiscordDriver, db: Database
) -> None:
    refused = await discord.slash("recommend", user="alice", genre="Cyberpunk")
    assert refused.ephemeral and refused.content.startswith('I know no genre called "Cyberpunk".')
    show_id = await db.fetchval("SELECT id FROM shows WHERE title = 'Dark'")
    await db.execute("INSERT INTO genres (name) VALUES ('Cyberpunk')")  # writes go through a transaction
    genre_id = await db.fetchval("SELECT id FROM genres WHERE name = 'Cyberpunk'")
    await db.execute("INSERT INTO show_genres (show_id, genre_id) VALUES (?, ?)", (show_id, genre_id))
    await bot.catalog_changed([show_id])
    await discord.settle()  # the cogs' on_catalog_changed listeners
    assert [c["name"] for c in await discord.autocomplete("recommend", "genre", "cyber", user="alice")] == ["Cyberpunk"]
    reply = await discord.slash("recommend", user="alice", genre="Cyberpunk")
    assert reply.embed["title"] == "Picks for Alice (Cyberpunk)"
    assert "**Dark**" in reply.embed["description"]
