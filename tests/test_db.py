"""Storage: numbered migrations by PRAGMA user_version, each in one transaction; newer databases refused."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import pytest

from bot.storage import DatabaseError, EngineError, IntegrityError, open_database
from bot.storage.migrations import discover_migrations, migrations_dir, split_sql

SQLITE_MIGRATIONS = migrations_dir("sqlite")


async def test_fresh_database_gets_every_migration(tmp_path: Path) -> None:
    migrations = discover_migrations(SQLITE_MIGRATIONS)
    async with open_database(tmp_path / "new.db") as db:
        assert await db.schema_version() == migrations[-1].version
        assert await db.fetchval("PRAGMA foreign_keys") == 1
        assert (await db.fetchval("PRAGMA journal_mode")).lower() == "wal"
        assert await db.fetchval("PRAGMA busy_timeout") >= 1000
        tables = {row[0] for row in await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")}
    needed = {
        "shows", "show_titles", "genres", "credits", "people", "videos", "releases", "availability", "votes",
        "vote_messages", "vote_emoji", "guild_settings", "weekly_posts", "bot_state",
    }  # fmt: skip
    assert needed <= tables


@pytest.mark.parametrize("start", range(len(discover_migrations(SQLITE_MIGRATIONS))))
async def test_upgrade_from_every_earlier_version(tmp_path: Path, start: int) -> None:
    """A database left at version `start` (0 = empty) upgrades to the latest and ends with the same schema."""
    migrations = discover_migrations(SQLITE_MIGRATIONS)
    path = tmp_path / "old.db"
    async with open_database(path, migrate=False) as db:
        await db.migrate(migrations[:start])
        assert await db.schema_version() == start
    async with open_database(path) as db:
        assert await db.schema_version() == migrations[-1].version
        upgraded = await db.fetchall("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
    async with open_database(tmp_path / "fresh.db") as db:
        fresh = await db.fetchall("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
    assert [tuple(r) for r in upgraded] == [tuple(r) for r in fresh]


async def test_the_unread_title_fts_index_is_dropped_and_titles_still_follow_their_shows(tmp_path: Path) -> None:
    """title_fts and the triggers that fed it on every write go (nothing but a benchmark read them); a database that
    had them keeps its titles, and a show's title rows still follow it (the primary-title triggers stay)."""
    migrations = discover_migrations(SQLITE_MIGRATIONS)
    drop = next(m for m in migrations if m.path.name.endswith("_drop_title_fts.sql"))
    path = tmp_path / "old.db"
    async with open_database(path, migrate=False) as db:
        await db.migrate(migrations[: drop.version - 1])
        await db.execute(
            "INSERT INTO shows (id, title, title_norm, updated_at) VALUES (1, 'Dark', 'dark', ?)", ("2024-01-01",)
        )
        await db.execute("INSERT INTO show_titles (show_id, title, title_norm) VALUES (1, 'Dunkel', 'dunkel')")
        assert await db.fetchval("SELECT COUNT(*) FROM title_fts WHERE title_fts MATCH 'unk'") == 1
    async with open_database(path) as db:
        fts = "SELECT name FROM sqlite_master WHERE name LIKE 'title_fts%' OR sql LIKE '%title_fts%'"
        assert await db.fetchall(fts) == []
        await db.execute("UPDATE shows SET title = 'Dark!', title_norm = 'dark!' WHERE id = 1")
        titles = "SELECT title, is_primary FROM show_titles WHERE show_id = 1 ORDER BY title"
        assert [tuple(row) for row in await db.fetchall(titles)] == [("Dark!", 1), ("Dunkel", 0)]
        await db.execute("DELETE FROM shows WHERE id = 1")
        assert await db.fetchval("SELECT COUNT(*) FROM show_titles") == 0


async def test_newer_database_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(DatabaseError, match="newer than this Showbot"):
        async with open_database(path):
            pass


async def open_and_close(path: Path) -> None:
    async with open_database(path):
        pass


@pytest.mark.parametrize("problem", ["a directory", "not SQLite", "under a file"])
def test_an_unusable_path_is_one_clear_error_and_left_as_it_was(tmp_path: Path, problem: str) -> None:
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("not a database\n")
    path = {"a directory": tmp_path, "not SQLite": not_sqlite, "under a file": not_sqlite / "t.db"}[problem]
    with pytest.raises(DatabaseError, match=r"^cannot (open|use) .*; check DATABASE_PATH\.$"):
        asyncio.run(open_and_close(path))
    assert not_sqlite.read_text() == "not a database\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


async def test_failed_migration_is_rolled_back_whole(tmp_path: Path) -> None:
    migrations_dir = tmp_path / "migrations"
    shutil.copytree(SQLITE_MIGRATIONS, migrations_dir)
    next_number = len(discover_migrations(SQLITE_MIGRATIONS)) + 1
    (migrations_dir / f"{next_number:04d}_broken.sql").write_text(
        "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n"
    )
    path = tmp_path / "t.db"
    async with open_database(path, migrate=False) as db:
        with pytest.raises(EngineError, match="no such table"):
            await db.migrate(discover_migrations(migrations_dir))
        assert await db.schema_version() == next_number - 1
        assert await db.fetchval("SELECT COUNT(*) FROM sqlite_master WHERE name = 'half_done'") == 0


def test_two_migrations_with_one_number_are_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")  # a gap is fine: 0002 may land later
    assert [m.version for m in discover_migrations(tmp_path)] == [1, 3]
    (tmp_path / "0003_d.sql").write_text("SELECT 1;")
    with pytest.raises(DatabaseError, match="two migrations numbered 0003"):
        discover_migrations(tmp_path)


def test_split_sql_keeps_trigger_bodies_whole() -> None:
    script = "-- c\nCREATE TABLE a (x);\nCREATE TRIGGER t AFTER INSERT ON a BEGIN\n  SELECT 1;\n  SELECT 2;\nEND;\n"
    statements = split_sql(script)
    assert len(statements) == 2
    assert statements[1].endswith("END;")


async def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    async with open_database(tmp_path / "t.db") as db:
        with pytest.raises(RuntimeError):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO bot_state (key, value) VALUES ('k', 'v')")
                raise RuntimeError("boom")
        assert await db.fetchval("SELECT COUNT(*) FROM bot_state") == 0


async def test_bot_state_keeps_the_latest_value_per_key(tmp_path: Path) -> None:
    async with open_database(tmp_path / "state.db") as db:
        assert await db.get_state("a") is None
        await db.set_state(("a", "1"), ("b", "2"))
        await db.set_state(("a", "3"))
        assert (await db.get_state("a"), await db.get_state("b")) == ("3", "2")
        assert await db.fetchval("SELECT COUNT(*) FROM bot_state") == 2


async def test_reads_never_see_another_tasks_uncommitted_writes(tmp_path: Path) -> None:
    async with open_database(tmp_path / "t.db") as db:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO bot_state (key, value) VALUES ('k', 'uncommitted')")
            # Another task reading now (through the bot's Database) must not see it: it may yet be rolled back.
            assert await db.get_state("k") is None
        assert await db.get_state("k") == "uncommitted"  # committed: visible
        with pytest.raises(RuntimeError):
            async with db.transaction() as conn:
                await conn.execute("UPDATE bot_state SET value = 'rolled back' WHERE key = 'k'")
                assert await db.get_state("k") == "uncommitted"
                raise RuntimeError("abort")
        assert await db.get_state("k") == "uncommitted"


async def test_reads_do_not_wait_behind_a_write_stalled_on_the_lock(tmp_path: Path) -> None:
    """Another process holds SQLite's write lock: a write of the bot waits for it (busy timeout), and meanwhile
    reads still answer at once, from committed data."""
    path = tmp_path / "t.db"
    async with open_database(path) as db:
        await db.set_state(("k", "before"))
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            write = asyncio.create_task(db.set_state(("k", "after")))
            await asyncio.sleep(0)  # the write is now waiting for the lock in its worker thread
            assert await db.get_state("k") == "before"
            assert await db.fetchval("SELECT count(*) FROM shows") == 0
            assert not write.done()  # the reads did not queue behind it
        finally:
            holder.execute("COMMIT")
            holder.close()
        await write
        assert await db.get_state("k") == "after"


async def test_votes_keep_their_rows_and_accept_poll_and_button_sources_after_0008(tmp_path: Path) -> None:
    """0008 rebuilds votes to widen its source CHECK: every vote survives it, and only the listed sources fit."""
    migrations = discover_migrations(SQLITE_MIGRATIONS)
    widen = next(m for m in migrations if m.path.name.endswith("_vote_sources.sql"))
    path = tmp_path / "old.db"
    async with open_database(path, migrate=False) as db:
        await db.migrate(migrations[: widen.version - 1])
        await db.execute(
            "INSERT INTO shows (id, title, title_norm, updated_at) VALUES (1, 'Dark', 'dark', ?)", ("2024-01-01",)
        )
        await db.execute(
            "INSERT INTO votes (guild_id, user_id, show_id, value, source, message_id, emoji, updated_at)"
            " VALUES (10, 20, 1, -1, 'reaction', 30, '👎', '2024-01-02T00:00:00+00:00')"
        )
    async with open_database(path) as db:
        rows = await db.fetchall("SELECT guild_id, user_id, show_id, value, source, message_id, emoji FROM votes")
        assert [tuple(r) for r in rows] == [(10, 20, 1, -1, "reaction", 30, "👎")]
        for user_id, source in ((21, "poll"), (22, "button")):
            await db.execute(
                "INSERT INTO votes (guild_id, user_id, show_id, value, source, updated_at) VALUES (10, ?, 1, 1, ?, ?)",
                (user_id, source, "2024-01-03T00:00:00+00:00"),
            )
        with pytest.raises(IntegrityError):
            await db.execute(
                "INSERT INTO votes (guild_id, user_id, show_id, value, source, updated_at) VALUES (10, 23, 1, 1, ?, ?)",
                ("guess", "2024-01-03T00:00:00+00:00"),
            )
        assert await db.fetchval("SELECT count(*) FROM votes") == 3
