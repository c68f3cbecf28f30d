"""New this week for a server's country, end to end: /weekly set takes an autocompleted country (default: the
server's locale region), the background sync reads that country's broadcast schedule from the local fake TVmaze
(tests/fixtures/tvmaze_schedule_gb.json, fictional shows), and /weekly preview lists its premieres first."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from fake_tvmaze import FakeTvmaze

from bot.app.core import ShowBot
from bot.common.config import Settings
from bot.emulator import DiscordDriver
from bot.storage import Database

pytestmark = pytest.mark.e2e


@pytest.fixture
def settings(settings: Settings, tvmaze: FakeTvmaze) -> Settings:
    return replace(settings, catalog_sync="tvmaze", tvmaze_base_url=tvmaze.base_url)


async def weekly_set(discord: DiscordDriver, **country: str) -> Any:
    return await discord.slash(
        "weekly set", user="owner", channel="#watch-party", day=4, time="19:00", timezone="Europe/London", **country
    )


async def test_weekly_preview_for_a_server_in_gb_lists_that_weeks_premieres(
    discord: DiscordDriver, bot: ShowBot, db: Database, tvmaze: FakeTvmaze
) -> None:
    choices = await discord.autocomplete("weekly set", "country", "united k", user="owner")
    assert {"name": "United Kingdom (GB)", "value": "GB"} in choices
    reply = await weekly_set(discord, country="gb")
    assert "with what is new in United Kingdom (GB)" in reply.content

    sync: Any = bot.get_cog("CatalogSync")
    await sync.run("schedule")  # the daily job: now with GB's broadcast schedule, as a server lists GB
    assert any(request.startswith("/schedule?") and "country=GB" in request for request in tvmaze.requests)

    preview = await discord.slash("weekly preview", user="owner")
    description = str(preview.embed["description"])
    lines = [line for line in description.splitlines() if "Test" in line]
    harbour = next(line for line in lines if "Harbour Lights Test Drama" in line)
    moorland = next(line for line in lines if "Moorland Test Mysteries" in line)
    quiz = next(line for line in lines if "Teatime Test Quiz" in line)
    assert "Example GB One" in harbour and "new series <t:" in harbour
    assert "Example GB Two" in moorland and "season 3 premiere <t:" in moorland
    assert "new episodes <t:" in quiz
    # Premieres first, a daily show's episodes after them; the US broadcast schedule is not GB's.
    assert lines.index(harbour) < lines.index(moorland) < lines.index(quiz)
    assert "Evening Test Broadcast" not in description
    assert preview.ephemeral and "1️⃣" in description  # private, numbered as the votable post will be


async def test_the_country_defaults_to_the_servers_locale_and_bad_input_changes_nothing(
    discord: DiscordDriver, bot: ShowBot, db: Database
) -> None:
    reply = await weekly_set(discord)
    assert "with what is new in United States (US)" in reply.content  # the demo server's locale is en-US
    assert await db.fetchval("SELECT region FROM guild_settings") == "US"
    refused = await weekly_set(discord, country="Atlantis")
    assert refused.content == '"Atlantis" is not a country code: pick one from the list, like GB or US.'
    assert await db.fetchval("SELECT region FROM guild_settings") == "US"
