"""The (server, week) ledger, `weekly_posts`: its entries, claiming weeks atomically, and recording what came of
them (posted with its message id, or failed with the reason and when it may be retried).

A week is claimed before anything is sent, so a restart, a reconnect or two overlapping ticks (or processes) never
post it twice; see bot.weekly.tick for how an interrupted claim is recovered without a duplicate.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.common.clock import utc_iso
from bot.storage import Database, Row
from bot.weekly.schedule import parse_week_key

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
    it is still inside the catch-up window. Atomic across tasks and processes: the rows are read and written inside
    one BEGIN IMMEDIATE transaction, which holds SQLite's write lock from its start, so no other writer can claim
    between the read and the write.
    """
    if not weeks:
        return set()
    stamp = utc_iso(now)
    retry_at = utc_iso(now + STALE_CLAIM)
    window_start = utc_iso(now - CATCH_UP_WINDOW)
    wanted = {(guild_id, week): channel_id for guild_id, week, channel_id in weeks}
    keys = json.dumps([[guild_id, week] for guild_id, week in wanted])
    async with db.transaction() as conn:
        async with conn.execute(
            """SELECT p.guild_id, p.week, p.status, p.message_id, p.retry_at FROM weekly_posts AS p
               JOIN json_each(?) AS k ON p.guild_id = k.value ->> 0 AND p.week = k.value ->> 1""",
            (keys,),
        ) as cursor:
            existing = {(int(row[0]), row[1]): row for row in await cursor.fetchall()}
        fresh = [key for key in wanted if key not in existing]
        retaken = [
            key
            for key, row in existing.items()
            if row[2] in ("claimed", "failed")
            and row[3] is None
            and row[4] is not None
            and row[4] <= stamp
            and key[1] > window_start
        ]
        await conn.executemany(
            """INSERT INTO weekly_posts (guild_id, week, status, channel_id, attempts, retry_at, updated_at)
               VALUES (?, ?, 'claimed', ?, 1, ?, ?)""",
            [(guild_id, week, wanted[guild_id, week], retry_at, stamp) for guild_id, week in fresh],
        )
        await conn.executemany(
            """UPDATE weekly_posts SET status = 'claimed', attempts = attempts + 1, retry_at = ?, updated_at = ?,
                   channel_id = coalesce(?, channel_id)
               WHERE guild_id = ? AND week = ?""",
            [(retry_at, stamp, wanted[guild_id, week], guild_id, week) for guild_id, week in retaken],
        )
    return set(fresh) | set(retaken)


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
    async with db.transaction() as conn:
        await conn.execute(
            """UPDATE weekly_posts SET status = 'posted', channel_id = ?, message_id = ?, detail = NULL,
                   retry_at = NULL, updated_at = ?
               WHERE guild_id = ? AND week = ?""",
            (channel_id, message_id, stamp, guild_id, week),
        )
        if clear_problem:
            await conn.execute(
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
    async with db.transaction() as conn:
        await conn.execute(
            """UPDATE weekly_posts SET status = 'failed', detail = ?, retry_at = ?, updated_at = ?
               WHERE guild_id = ? AND week = ? AND status != 'posted'""",
            (detail[:500], None if retry_at is None else utc_iso(retry_at), stamp, guild_id, week),
        )
        if needs_attention:
            await conn.execute(
                "UPDATE guild_settings SET weekly_problem = ?, updated_at = ? WHERE guild_id = ?",
                (detail[:500], stamp, guild_id),
            )
