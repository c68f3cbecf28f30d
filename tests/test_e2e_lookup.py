"""A title the catalog lacks: with a source configured the bot defers, looks it up, adds it and answers."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fake_tvmaze import FakeTvmaze

from bot.common.config import Settings
from bot.emulator import DiscordDriver
from bot.emulator.state import User
from bot.storage import Database

pytestmark = pytest.mark.e2e


@pytest.fixture
def settings(settings: Settings, tvmaze: FakeTvmaze) -> Settings:
    return replace(settings, catalog_sync="tvmaze", tvmaze_base_url=tvmaze.base_url)


async def test_unknown_title_is_looked_up_added_and_shown(
    discord: DiscordDriver, alice: User, db: Database, tvmaze: FakeTvmaze
) -> None:
    reply = await discord.slash("show", title="quiet lighthouse", user=alice)
    assert reply.deferred
    assert reply.embed["title"] == "The Quiet Lighthouse Test Show"
    assert "TVmaze" in reply.embed["footer"]["text"]
    assert await db.fetchval("SELECT COUNT(*) FROM shows WHERE tvmaze_id = 990001") == 1
    # Now in the index: autocomplete finds it without another lookup.
    choices = await discord.autocomplete("show", "title", "quiet lightho", user=alice)
    assert choices[0]["name"].startswith("The Quiet Lighthouse Test Show")


async def test_title_unknown_everywhere_gets_not_found_with_suggestions(
    discord: DiscordDriver, alice: User, db: Database
) -> None:
    before = await db.fetchval("SELECT COUNT(*) FROM shows")
    reply = await discord.slash("show", title="Nothing Like This Exists", user=alice)
    assert reply.deferred
    # The public "thinking…" is deleted and the answer is private, as it is without a deferral.
    assert reply.ephemeral and reply.content.startswith('No show called "Nothing Like This Exists".')
    assert not reply.embeds
    assert await db.fetchval("SELECT COUNT(*) FROM shows") == before
