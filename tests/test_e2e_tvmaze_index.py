"""The connected bot with the default background sync: on its first start it reads TVmaze's whole show index (here
the local fake, serving the recorded index page split into three pages), and every show is found by autocomplete and
/show without a restart, with its poster from TVmaze as the card's thumbnail."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest
from fake_tvmaze import FakeTvmaze

from bot import catalog
from bot.app.core import ShowBot
from bot.catalog.sources.tvmaze_index import INDEX_STATE_KEY
from bot.common.config import Settings
from bot.emulator import DiscordDriver
from bot.emulator.state import User
from bot.storage import Database

pytestmark = pytest.mark.e2e


@pytest.fixture
def settings(
    settings: Settings, tvmaze: FakeTvmaze, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Settings:
    caplog.set_level(logging.INFO, logger="bot.catalog.index")
    tvmaze.serve_recorded_index(pages=3)
    # The title index is rebuilt whole after a bootstrap of this many shows (5,000 in the bot; 245 here).
    monkeypatch.setattr(catalog, "REBUILD_INDEX_AFTER_SHOWS", 200)
    return replace(settings, catalog_sync="tvmaze", tvmaze_base_url=tvmaze.base_url)


async def test_a_show_from_the_last_index_page_is_found_with_its_poster(
    discord: DiscordDriver,
    bot: ShowBot,
    alice: User,
    db: Database,
    tvmaze: FakeTvmaze,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The `bot` fixture waited for the background sync's first pass: the index bootstrap, then updates.
    assert [r for r in tvmaze.requests if r.startswith("/shows?")] == [f"/shows?page={n}" for n in range(4)]
    position = json.loads(await db.get_state(INDEX_STATE_KEY) or "{}")
    assert position == {"page": 2, "complete": True, "shows": 245}
    assert await db.fetchval("SELECT COUNT(*) FROM shows WHERE tvmaze_id BETWEEN 250 AND 499") == 245
    # Learned page by page, then rebuilt whole (what a restart would load), with every show in it.
    shows = await db.fetchval("SELECT COUNT(*) FROM shows")
    logged = [record.getMessage() for record in caplog.get_records("setup")]  # the bootstrap ran as the bot started
    assert f"Search index rebuilt: {shows} shows" in logged and len(bot.titles.index) == shows

    choices = await discord.autocomplete("show", "title", "married with child", user=alice)
    assert choices[0]["name"].startswith("Married... with Children")
    reply = await discord.slash("show", title=choices[0]["value"], user=alice)
    assert reply.embed["title"].startswith("Married... with Children")
    assert reply.embed["thumbnail"]["url"] == "https://tvmazecdn.com/uploads/images/original_untouched/4/10311.jpg"
    assert "TVmaze" in reply.embed["footer"]["text"]
