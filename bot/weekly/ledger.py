"""The (server, week) ledger, `weekly_posts`: its entries, claiming weeks atomically, and recording what came of
them (posted with its message id, or failed with the reason and when it may be retried).

A week is claimed before anything is sent, so a restart, a reconnect or two overlapping ticks (or processes) never
post it twice; see bot.weekly.tick for how an interrupted claim is recovered without a duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.common.clock import utc_iso
from bot.storage import Database, Row
from bot.weekly.schedule import parse_week_key

CLAIM_CHUNK = 500  # weeks per claiming statement: 5 parameters each, far below every engine's limit
CATCH_UP_WINDOW = timedelta(hours=24)  # a missed post is made if less late than this, otherwise skipped
STALE_CLAIM = timedelta(minutes=10)  # a claim this old without a message id: the process died while posting

LedgerStatus = Literal["claimed", "posted", "skipped", "failed"]


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    guild_id: int
    week: str
    status: LedgerStatus
    channel_id: int | None
    message_id: int | None
    detail: str | None
    attempts: int
    retry_at: datetime | None
    updated_at: datetime

    @property
    def scheduled(self) -> datetime:
        return parse_week_key(self.week)


def entry_from_row(row: Row) -> LedgerEntry:
    return LedgerEntry(
        guild_id=int(row["guild_id"]),
        week=row["week"],
        status=row["status"],
        channel_id=row["channel_id"],
        message_id=row["message_id"],
        detail=row["detail"],
        attempts=int(row["attempts"]),
        retry_at=datetime.fromisoformat(row["retry_at"]) if row["retry_at"] else None,
        updated_at=datetime.fromisoformat(row["updated_at"]),
    )


LEDGER_COLUMNS = "guild_id, week, status, channel_id, message_id, detail, attempts, retry_at, updated_at"


async def ledger_history(db: Database, guild_id: int, limit: int = 5) -> list[LedgerEntry]:
    """The guild's most recent weeks, newest first."""
    rows = await db.fetchall(
        f"SELECT {LEDGER_COLUMNS} FROM weekly_posts WHERE guild_id = ? ORDER BY week DESC LIMIT ?", (guild_id, limit)
    )
    return [entry_from_row(row) for row in rows]


async def claim_many(db: Database, weeks: Sequence[tuple[int, str, int | None]], now: datetime) -> set[tuple[int, str]]:
    """Take (guild_id, week, channel_id) weeks for posting; returns the (guild_id, week) pairs this caller got.

    A week not in the ledger is inserted as 'claimed'. A week already there is taken again only when it has no
    message id, is 'claimed' or 'failed', its `retry_at` has passed (an interrupted claim, a transient failure) and
    it is still inside the catch-up window. Atomic across tasks and processes on every engine: each week is one
    `INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING` row, so the engine decides, row by row, who inserts a
    week or retakes it (PostgreSQL locks the conflicting row and checks the condition on its newest version: a second
    process waiting on it finds the week just claimed and gets nothing back).
    """
    if not weeks:
        return set()
    stamp = utc_iso(now)
    retry_at = utc_iso(now + STALE_CLAIM)
    window_start = utc_iso(now - CATCH_UP_WINDOW)
    wanted = {(guild_id, week): channel_id for guild_id, week, channel_id in weeks}
    rows = [(guild_id, week, channel_id, retry_at, stamp) for (guild_id, week), channel_id in wanted.items()]
    claimed: set[tuple[int, str]] = set()
    async with db.transaction() as tx:
        for start in range(0, len(rows), CLAIM_CHUNK):
            chunk = rows[start : start + CLAIM_CHUNK]
            values = ", ".join(["(?, ?, 'claimed', ?, 1, ?, ?)"] * len(chunk))  # only placeholders are formatted in
            returned = await tx.fetchall(
                f"""INSERT INTO weekly_posts (guild_id, week, status, channel_id, attempts, retry_at, updated_at)
                    VALUES {values}
                    ON CONFLICT (guild_id, week) DO UPDATE SET
                        status = 'claimed', attempts = weekly_posts.attempts + 1, retry_at = excluded.retry_at,
                        updated_at = excluded.updated_at,
                        channel_id = coalesce(excluded.channel_id, weekly_posts.channel_id)
                    WHERE weekly_posts.status IN ('claimed', 'failed') AND weekly_posts.message_id IS NULL
                      AND weekly_posts.retry_at IS NOT NULL AND weekly_posts.retry_at <= excluded.updated_at
                      AND weekly_posts.week > ?
                    RETURNING guild_id, week""",
                [value for row in chunk for value in row] + [window_start],
            )
            claimed.update((int(row[0]), str(row[1])) for row in returned)
    return claimed


async def mark_posted(
    db: Database,
    guild_id: int,
    week: str,
    *,
    channel_id: int,
    message_id: int,
    now: datetime,
    clear_problem: bool = True,
) -> None:
    """Record the sent message (the week is never taken again) and clear the setting's problem: the channel works.

    Registering the message for votes comes after this, through the poster's PostResult.recorded (the cog tracks it
    in the bot's one vote store, bot.votes.store, so that the store's cache stays right), and its reactions through
    PostResult.after_recorded once the tick's posts are all out.
    """
    stamp = utc_iso(now)
    async with db.transaction() as tx:
        await tx.execute(
            """UPDATE weekly_posts SET status = 'posted', channel_id = ?, message_id = ?, detail = NULL,
                   retry_at = NULL, updated_at = ?
               WHERE guild_id = ? AND week = ?""",
            (channel_id, message_id, stamp, guild_id, week),
        )
        if clear_problem:
            await tx.execute(
                "UPDATE guild_settings SET weekly_problem = NULL WHERE guild_id = ? AND weekly_problem IS NOT NULL",
                (guild_id,),
            )


async def mark_failed(
    db: Database,
    guild_id: int,
    week: str,
    now: datetime,
    detail: str,
    *,
    retry_at: datetime | None = None,
    needs_attention: bool = False,
) -> None:
    """Record a failed week. `retry_at`: when it may be claimed again (within the catch-up window), None: never.
    `needs_attention`: also record `detail` as the setting's problem for /weekly status."""
    stamp = utc_iso(now)
    async with db.transaction() as tx:
        await tx.execute(
            """UPDATE weekly_posts SET status = 'failed', detail = ?, retry_at = ?, updated_at = ?
               WHERE guild_id = ? AND week = ? AND status != 'posted'""",
            (detail[:500], None if retry_at is None else utc_iso(retry_at), stamp, guild_id, week),
        )
        if needs_attention:
            await tx.execute(
                "UPDATE guild_settings SET weekly_problem = ?, updated_at = ? WHERE guild_id = ?",
                (detail[:500], stamp, guild_id),
            )
