"""Every extension in cogs/ loads, and no two application commands share a name."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pytest

from bot.app.core import ShowBot, discover_extensions
from bot.common.config import Settings
from bot.storage import open_database


async def test_every_cog_loads_and_command_names_are_unique(tmp_path: Path) -> None:
    extensions = discover_extensions()
    assert {"cogs.shows", "cogs.votes", "cogs.weekly", "cogs.catalog_sync"} <= set(extensions)
    async with open_database(tmp_path / "t.db") as db:
        bot = ShowBot(Settings(database_path=tmp_path / "t.db"), db)
        async with bot:
            await bot.load_extensions()
            assert not bot.failed_extensions
            assert set(bot.extensions) == set(extensions)
            names = Counter(command.qualified_name for command in bot.tree.walk_commands())
            assert [name for name, count in names.items() if count > 1] == []
            top_level = {command.name for command in bot.tree.get_commands()}
            assert {"show", "cast", "trailer", "search", "vote", "myvotes", "forgetme", "top", "weekly"} <= top_level
            for command in bot.tree.walk_commands():
                assert command.description, command.qualified_name
            for name in list(bot.extensions):
                await bot.unload_extension(name)


async def test_a_failing_cog_is_logged_and_the_others_still_load(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with open_database(tmp_path / "t.db") as db:
        bot = ShowBot(Settings(database_path=tmp_path / "t.db"), db, extensions=["cogs.no_such_cog", "cogs.shows"])
        async with bot:
            with caplog.at_level(logging.ERROR, logger="bot.app.core"):
                await bot.load_extensions()
            assert "cogs.shows" in bot.extensions
            assert list(bot.failed_extensions) == ["cogs.no_such_cog"]
            (record,) = [r for r in caplog.records if "cogs.no_such_cog" in r.getMessage()]
            assert record.exc_info is not None  # logged with its traceback
            assert bot.tree.get_command("show") is not None
            await bot.unload_extension("cogs.shows")


async def test_the_recommender_still_hears_votes_after_the_votes_cog_unloads(database_path: Path) -> None:
    """The vote store and its listener belong to the bot, not to the votes cog."""
    async with open_database(database_path) as db:
        bot = ShowBot(Settings(database_path=database_path), db, extensions=["cogs.votes"])
        async with bot:
            await bot.load_extensions()
            await bot.unload_extension("cogs.votes")
            state = await bot.recommender.guild(1)
            show_id = int(await db.fetchval("SELECT id FROM shows ORDER BY id LIMIT 1"))
            await bot.votes.set_vote(1, 10, show_id, 1, "command")
            assert state.user_votes[10] == {show_id: 1}
