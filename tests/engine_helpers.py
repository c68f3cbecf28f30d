"""Test helpers that differ by engine: a trigger that makes an insert fail (a real constraint error from the engine)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.storage import Database, Location, SyncConnection

# `await new_location()` (the fixture): another empty database of the test's engine.
NewLocation = Callable[[], Awaitable[Location]]


def _failure_statements(engine: str, table: str, condition: str, message: str) -> list[str]:
    if engine == "sqlite":
        return [
            f"""CREATE TRIGGER injected_failure BEFORE INSERT ON {table} WHEN new.{condition}
                BEGIN SELECT RAISE(ABORT, '{message}'); END"""
        ]
    return [
        f"""CREATE FUNCTION injected_failure() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.{condition} THEN RAISE EXCEPTION '{message}' USING ERRCODE = 'check_violation'; END IF;
                RETURN NEW;
            END $$""",
        f"CREATE TRIGGER injected_failure BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION injected_failure()",
    ]


async def inject_failure(db: Database, table: str, condition: str, message: str = "injected failure") -> None:
    """From now on an insert into `table` whose new row satisfies `condition` fails with an IntegrityError."""
    for statement in _failure_statements(db.engine, table, condition, message):
        await db.execute(statement)


def inject_failure_sync(conn: SyncConnection, table: str, condition: str, message: str = "injected failure") -> None:
    for statement in _failure_statements(conn.engine, table, condition, message):
        conn.execute(statement)
