"""The engine-neutral storage API, on SQLite and on PostgreSQL: migrations per engine, transactions, rows, errors,
bot_state, blocking worker-thread connections, and the dialect's translation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.storage import (
    DatabaseError,
    DatabaseUrl,
    EngineError,
    IntegrityError,
    Location,
    connect_sync,
    mask_url,
    open_database,
)
from bot.storage.dialect import rows_changed, to_postgresql
from bot.storage.migrations import ENGINES, discover_migrations, migrations_dir

both_engines = pytest.mark.both_engines
TABLES = {
    "shows", "show_titles", "genres", "credits", "people", "videos", "releases", "availability", "votes",
    "vote_messages", "vote_emoji", "vote_reactions", "guild_settings", "weekly_posts", "bot_state",
    "show_field_sources", "show_sources", "show_genres",
}  # fmt: skip


def test_every_migration_number_has_a_twin_in_each_engine() -> None:
    numbers = {engine: [m.version for m in discover_migrations(migrations_dir(engine))] for engine in ENGINES}
    assert numbers["sqlite"] == numbers["postgresql"]
    assert numbers["sqlite"][:8] == list(range(1, 9))


async def tables_of(location: Location) -> set[str]:
    async with open_database(location) as db:
        if db.engine == "sqlite":
            rows = await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            rows = await db.fetchall("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row[0] for row in rows}


@both_engines
async def test_a_new_database_gets_every_migration_of_its_engine(empty_location: Location, engine: str) -> None:
    async with open_database(empty_location) as db:
        assert db.engine == engine
        expected = {m.version for m in discover_migrations(migrations_dir(db.engine))}
        assert await db.applied_migrations() == expected
        assert await db.schema_version() == max(expected)
    assert tables_of_needed(await tables_of(empty_location))


def tables_of_needed(tables: set[str]) -> bool:
    missing = TABLES - tables
    assert not missing, f"missing tables: {sorted(missing)}"
    return True


@both_engines
async def test_a_migration_that_lands_after_a_higher_one_is_still_applied(
    empty_location: Location, engine: str, tmp_path: Path
) -> None:
    """Numbers may land out of order (helpers reserve them): every migration not yet recorded is applied."""
    if engine == "sqlite":
        empty_location = tmp_path / "gap.sqlite3"
    else:
        pytest.importorskip("asyncpg")
    shipped = discover_migrations(migrations_dir(engine))
    directory = tmp_path / "migrations"
    shutil.copytree(migrations_dir(engine), directory)
    late, later = len(shipped) + 1, len(shipped) + 2
    (directory / f"{late:04d}_late.sql").write_text("CREATE TABLE landed_late (x INTEGER);\n")
    (directory / f"{later:04d}_later.sql").write_text("CREATE TABLE landed_first (x INTEGER);\n")
    every = discover_migrations(directory)
    async with open_database(empty_location, migrate=False) as db:
        if engine == "postgresql":  # the template is migrated already: start from its state
            assert await db.applied_migrations() == {m.version for m in shipped}
        await db.migrate([m for m in every if m.version != late])
        assert late not in await db.applied_migrations()
        assert await db.schema_version() == later
        await db.migrate(every)
        assert {late, later} <= await db.applied_migrations()
        assert await db.fetchval("SELECT COUNT(*) FROM landed_late") == 0


@both_engines
async def test_a_failed_migration_is_rolled_back_whole(empty_location: Location, tmp_path: Path, engine: str) -> None:
    directory = tmp_path / "migrations"
    shutil.copytree(migrations_dir(engine), directory)
    number = len(discover_migrations(directory)) + 1
    (directory / f"{number:04d}_broken.sql").write_text(
        "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n"
    )
    async with open_database(empty_location) as db:
        with pytest.raises(EngineError, match="no_such_table"):
            await db.migrate(discover_migrations(directory))
        assert number not in await db.applied_migrations()
        with pytest.raises(EngineError):
            await db.fetchval("SELECT COUNT(*) FROM half_done")


@both_engines
async def test_a_database_from_a_newer_showbot_is_refused(empty_location: Location) -> None:
    async with open_database(empty_location) as db:
        await db.execute("INSERT INTO schema_migrations (version, name) VALUES (999, '0999_future.sql')")
    with pytest.raises(DatabaseError, match="schema version 999, newer than this Showbot knows"):
        async with open_database(empty_location):
            pass


@both_engines
async def test_rows_by_position_and_name_and_counts_of_changed_rows(empty_location: Location) -> None:
    async with open_database(empty_location) as db:
        await db.set_state(("a", "1"), ("b", "2"), ("c", "3"))
        row = await db.fetchone("SELECT key, value FROM bot_state WHERE key = ?", ("b",))
        assert row is not None
        assert (row[0], row["value"], tuple(row), dict(row), len(row)) == (
            "b",
            "2",
            ("b", "2"),
            {"key": "b", "value": "2"},
            2,
        )
        assert await db.fetchone("SELECT key FROM bot_state WHERE key = ?", ("zzz",)) is None
        assert await db.execute("UPDATE bot_state SET value = 'x' WHERE key IN (?, ?)", ("a", "c")) == 2
        assert await db.execute("DELETE FROM bot_state WHERE key = ?", ("nothing",)) == 0
        # ?N uses one parameter twice; a bare ? after it takes the next number, as SQLite numbers them.
        value = await db.fetchval("SELECT COUNT(*) FROM bot_state WHERE value = ?1 OR key = ?1 OR key = ?", ("x", "b"))
        assert value == 3
        chunks = [len(rows) async for rows in db.fetch_chunks("SELECT key FROM bot_state ORDER BY key", size=2)]
        assert chunks == [2, 1]
        # A list as one parameter: a JSON array through json_each, its values cast to what they are.
        await db.execute("UPDATE bot_state SET value = CASE key WHEN 'a' THEN '1' WHEN 'b' THEN '2' ELSE '3' END")
        rows = await db.fetchall(
            "SELECT key FROM bot_state WHERE CAST(value AS BIGINT) IN (SELECT CAST(value AS BIGINT) FROM json_each(?))"
            " ORDER BY key",
            ("[3, 1, 7]",),
        )
        assert [row[0] for row in rows] == ["a", "c"]
        pairs = await db.fetchall(
            "SELECT CAST(k.value ->> 0 AS BIGINT) AS n, k.value ->> 1 AS s FROM json_each(?) AS k ORDER BY 1",
            ('[[2, "two"], [1, "one"]]',),
        )
        assert [tuple(pair) for pair in pairs] == [(1, "one"), (2, "two")]


@both_engines
async def test_a_transaction_commits_together_or_not_at_all(empty_location: Location) -> None:
    async with open_database(empty_location) as db:
        with pytest.raises(RuntimeError):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO bot_state (key, value) VALUES ('k', 'v')")
                assert await tx.fetchval("SELECT value FROM bot_state WHERE key = 'k'") == "v"  # its own writes
                raise RuntimeError("boom")
        assert await db.fetchval("SELECT COUNT(*) FROM bot_state") == 0
        async with db.transaction() as tx:
            await tx.executemany("INSERT INTO bot_state (key, value) VALUES (?, ?)", [("a", "1"), ("b", "2")])
            # Another task reading now (through the Database) must not see it: it may yet be rolled back.
            assert await db.get_state("a") is None
        assert (await db.get_state("a"), await db.get_state("b")) == ("1", "2")


@both_engines
async def test_engine_errors_arrive_as_the_storage_packages_own(db_with_show: tuple[Location, int]) -> None:
    location, show_id = db_with_show
    async with open_database(location) as db:
        with pytest.raises(IntegrityError):  # foreign key
            await db.execute(
                "INSERT INTO votes (guild_id, user_id, show_id, value, source, updated_at)"
                " VALUES (1, 2, ?, 1, 'command', 'x')",
                (999_999_999,),
            )
        with pytest.raises(IntegrityError):  # check constraint
            await db.execute(
                "INSERT INTO votes (guild_id, user_id, show_id, value, source, updated_at)"
                " VALUES (1, 2, ?, 5, 'command', 'x')",
                (show_id,),
            )
        with pytest.raises(EngineError):
            await db.fetchall("SELECT no_such_column FROM shows")
        # Discord's ids are 64-bit: the largest snowflake fits on both engines.
        big = 2**63 - 1
        await db.execute(
            "INSERT INTO votes (guild_id, user_id, show_id, value, source, updated_at)"
            " VALUES (?, ?, ?, 1, 'command', 'x')",
            (big, big, show_id),
        )
        assert await db.fetchval("SELECT guild_id FROM votes WHERE user_id = ?", (big,)) == big


@pytest.fixture
async def db_with_show(empty_location: Location) -> tuple[Location, int]:
    async with open_database(empty_location) as db, db.transaction() as tx:
        show_id = await tx.fetchval(
            "INSERT INTO shows (title, title_norm, updated_at) VALUES ('Dark', 'dark', 'x') RETURNING id"
        )
    return empty_location, int(show_id)


@both_engines
async def test_the_shows_primary_title_follows_its_show(db_with_show: tuple[Location, int]) -> None:
    location, show_id = db_with_show
    async with open_database(location) as db:
        await db.execute(
            "INSERT INTO show_titles (show_id, title, title_norm) VALUES (?, 'Dunkel', 'dunkel')", (show_id,)
        )
        await db.execute("UPDATE shows SET title = 'Dark!', title_norm = 'dark!' WHERE id = ?", (show_id,))
        titles = "SELECT title, is_primary FROM show_titles WHERE show_id = ? ORDER BY title"
        assert [tuple(row) for row in await db.fetchall(titles, (show_id,))] == [("Dark!", 1), ("Dunkel", 0)]
        await db.execute("DELETE FROM shows WHERE id = ?", (show_id,))
        assert await db.fetchval("SELECT COUNT(*) FROM show_titles") == 0


@both_engines
async def test_genre_names_compare_without_case(empty_location: Location) -> None:
    async with open_database(empty_location) as db:
        await db.execute("INSERT INTO genres (name) VALUES ('Drama')")
        await db.execute("INSERT INTO genres (name) VALUES ('drama') ON CONFLICT DO NOTHING")
        assert await db.fetchval("SELECT COUNT(*) FROM genres") == 1
        assert await db.fetchval("SELECT name FROM genres WHERE name = ? COLLATE NOCASE", ("DRAMA",)) == "Drama"


@both_engines
def test_a_worker_threads_blocking_connection(empty_location: Location, engine: str) -> None:
    import asyncio

    async def prepare() -> None:
        async with open_database(empty_location):
            pass

    asyncio.run(prepare())
    conn = connect_sync(empty_location)
    try:
        assert conn.engine == engine
        conn.execute("INSERT INTO bot_state (key, value) VALUES (?, ?)", ("a", "1"))
        with pytest.raises(RuntimeError), conn.transaction():
            conn.executemany("INSERT INTO bot_state (key, value) VALUES (?, ?)", [("b", "2"), ("c", "3")])
            raise RuntimeError("rolled back")
        assert conn.fetchval("SELECT COUNT(*) FROM bot_state") == 1
        with conn.transaction():
            conn.executemany("INSERT INTO bot_state (key, value) VALUES (?, ?)", [("b", "2"), ("c", "3")])
        # WITH ... UPDATE counts its rows on both engines (sqlite3's rowcount alone would not).
        changed = conn.execute(
            "WITH wanted AS (SELECT key FROM bot_state WHERE key != 'a') UPDATE bot_state SET value = 'x'"
            " WHERE key IN (SELECT key FROM wanted)"
        ).rowcount
        assert changed == 2
        row = conn.execute("SELECT key, value FROM bot_state WHERE key = ?", ("b",)).fetchone()
        assert (row[0], row["value"], dict(row)) == ("b", "x", {"key": "b", "value": "x"})
        assert [tuple(r) for r in conn.execute("SELECT key FROM bot_state ORDER BY key")] == [("a",), ("b",), ("c",)]
        with pytest.raises(IntegrityError):
            conn.execute("INSERT INTO bot_state (key, value) VALUES ('a', NULL)")
    finally:
        conn.close()
    reader = connect_sync(empty_location, read_only=True)
    try:
        with pytest.raises(EngineError):
            reader.execute("DELETE FROM bot_state")
    finally:
        reader.close()


def test_the_dialect_numbers_placeholders_as_sqlite_does() -> None:
    sql = "SELECT a FROM t WHERE a = ? AND b = '?' AND \"c?\" = ?2 -- ?\n AND d = ? /* ? */ AND e = ?"
    assert (
        to_postgresql(sql)
        == "SELECT a FROM t WHERE a = $1 AND b = '?' AND \"c?\" = $2 -- ?\n AND d = $3 /* ? */ AND e = $4"
    )
    assert (
        to_postgresql("SELECT value FROM json_each(?)") == "SELECT value FROM jsonb_array_elements(CAST($1 AS jsonb))"
    )
    assert [rows_changed(tag) for tag in ("UPDATE 3", "INSERT 0 1", "DELETE 0", "CREATE TABLE")] == [3, 1, 0, 0]


def test_a_database_urls_password_is_never_shown() -> None:
    url = "postgresql://showbot:s3cret@db.example:5432/showbot"
    assert mask_url(url) == "postgresql://showbot:***@db.example:5432/showbot"
    location = DatabaseUrl(url)
    assert "s3cret" not in str(location) and "s3cret" not in repr(location)
    assert mask_url("postgresql:///showbot?host=/run/pg") == "postgresql:///showbot?host=/run/pg"


async def test_a_server_that_refuses_names_the_url_without_its_password(postgres_server: object) -> None:
    from postgres_server import PostgresServer, unavailable, with_database

    if not isinstance(postgres_server, PostgresServer):
        unavailable(str(postgres_server))
        return
    url = with_database(postgres_server.admin_url, "no_such_database").replace("postgres@", "postgres:s3cret@")
    with pytest.raises(DatabaseError) as caught:
        async with open_database(DatabaseUrl(url)):
            pass
    message = str(caught.value)
    assert "s3cret" not in message and "***" in message
    assert message.startswith("cannot connect to the PostgreSQL database") and message.endswith("check DATABASE_URL.")
