"""The tick: one pass of the weekly loop. `due_posts` finds what should be posted now (catching up within a window,
recording the weeks skipped), and `run_tick` claims those weeks, posts them through an injected poster and contains
every failure: a poster's `PostFailure` says whether the admins must act and whether a later tick retries.

Crash safety (a choice, documented here): a week is claimed before anything is sent, with `retry_at` set STALE_CLAIM
later. The message id is recorded as soon as the poster returns. If the process dies in between, the claim stays
'claimed' with no message id; after STALE_CLAIM (and within the 24-hour catch-up window) the week becomes due again
with `DuePost.recovering = True`, and the poster must first look in the channel for a message of its own carrying
`weekly_marker(week)` (the embed footer) and return that message instead of posting again. A post that went out is
therefore never repeated, as long as the poster honours `recovering` (and `attempt > 1`: a timeout or a 5xx may come
back for a message Discord did create); a poster that cannot look (no Read Message History) raises
CannotCheckEarlierPost (or returns `PostResult(None)`) and the week is marked failed rather than risk a duplicate.
Whatever is slow or can fail after sending is the poster's to hand back, run only once the message id is in the
ledger: `PostResult.recorded` at once (tracking the message for votes), `PostResult.after_recorded` (the reactions)
once every server's post of the tick is out, so that no server's post waits behind another server's reactions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfoNotFoundError

from bot.common.clock import utc_iso
from bot.storage import Database
from bot.weekly.content import ContentCache, weekly_content
from bot.weekly.ledger import (
    CATCH_UP_WINDOW,
    LEDGER_COLUMNS,
    claim_many,
    entry_from_row,
    mark_failed,
    mark_posted,
)
from bot.weekly.poster import AfterRecorded, DuePost, Poster
from bot.weekly.schedule import previous_post_time, week_key
from bot.weekly.settings import SETTINGS_COLUMNS, mark_problem, settings_from_row

log = logging.getLogger(__name__)

CLAIM_BATCH = 50  # weeks claimed per transaction in a tick
# Posts finished (reactions added) at once after a tick's posts: each channel takes one reaction per 0.25 s, so about
# a dozen channels at a time fill the bot's global rate; more would only queue at the global limiter.
FINISH_CONCURRENCY = 32
TRANSIENT_RETRY_DELAYS = (timedelta(minutes=2), timedelta(minutes=5), timedelta(minutes=15), timedelta(minutes=30))


class PostFailure(Exception):
    """Raised by a poster for a failure it understands. The message is shown to the server's admins."""

    needs_attention = False  # the admins must fix something: recorded as the setting's problem
    retryable = False  # retried at a later tick within the catch-up window


class PostChannelGone(PostFailure):
    needs_attention = True


class MissingPermissions(PostFailure):
    needs_attention = True


class CannotCheckEarlierPost(PostFailure):
    """A retry or a recovery where the poster cannot look for the earlier attempt's message (no Read Message History):
    it may have gone out, so nothing is sent. A missed week is better than a duplicate."""

    needs_attention = True


class GuildGone(PostFailure):
    """The bot is no longer in the server."""

    needs_attention = True


class TransientPostFailure(PostFailure):
    """A 429 or 5xx that outlasted the poster's own retries, a network error: try again at a later tick."""

    retryable = True


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f}"


async def due_posts(db: Database, now: datetime, in_guild: Callable[[int], bool] | None = None) -> list[DuePost]:
    """Every enabled guild (that `in_guild` accepts, when given: this process's shards') whose most recent scheduled
    instant (<= now, and not before the schedule was set) is owed a post: no ledger row and less than CATCH_UP_WINDOW
    late, or a row whose retry time has come.

    Side effect: a week found CATCH_UP_WINDOW or more late with no row is recorded as 'skipped' with the reason (the
    bot was not running), and an interrupted claim or a transient failure that ran out of window becomes 'failed',
    so that /weekly status can report them.
    """
    settings_rows = await db.fetchall(
        f"SELECT {SETTINGS_COLUMNS} FROM guild_settings WHERE weekly_enabled = 1 AND weekly_channel_id IS NOT NULL"
    )
    ledger_rows = await db.fetchall(
        f"SELECT {LEDGER_COLUMNS} FROM weekly_posts WHERE week >= ?", (utc_iso(now - timedelta(days=9)),)
    )
    ledger = {(int(row["guild_id"]), row["week"]): entry_from_row(row) for row in ledger_rows}
    due: list[DuePost] = []
    skipped: list[tuple[int, str, str]] = []
    expired: list[tuple[int, str, str]] = []
    for row in settings_rows:
        settings = settings_from_row(row)
        if not settings.complete or (in_guild is not None and not in_guild(settings.guild_id)):
            continue
        assert settings.weekday is not None and settings.local_time is not None and settings.timezone is not None
        try:
            scheduled = previous_post_time(settings.weekday, settings.local_time, settings.timezone, now)
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("Guild %s has an unusable weekly time zone %r", settings.guild_id, settings.timezone)
            continue
        if settings.since is not None and scheduled < settings.since:
            continue
        week = week_key(scheduled)
        late_by = now - scheduled
        entry = ledger.get((settings.guild_id, week))
        in_window = late_by < CATCH_UP_WINDOW
        if entry is None:
            if not in_window:
                skipped.append(
                    (
                        settings.guild_id,
                        week,
                        f"skipped: the bot was not running at the scheduled time and came back {_hours(late_by)} "
                        f"hours late (posts more than {_hours(CATCH_UP_WINDOW)} hours late are skipped)",
                    )
                )
                continue
            attempt, recovering = 1, False
        else:
            retryable = entry.status in ("claimed", "failed") and entry.message_id is None
            if not retryable or entry.retry_at is None or entry.retry_at > now:
                continue
            if not in_window:
                reason = "interrupted while posting" if entry.status == "claimed" else (entry.detail or "failed")
                expired.append(
                    (settings.guild_id, week, f"{reason}; not retried after {_hours(CATCH_UP_WINDOW)} hours")
                )
                continue
            attempt, recovering = entry.attempts + 1, entry.status == "claimed"
        due.append(
            DuePost(
                settings.guild_id,
                settings.channel_id or 0,
                week,
                scheduled,
                settings.timezone,
                settings.region,
                late_by,
                attempt=attempt,
                problem=settings.problem,
                recovering=recovering,
            )
        )
    if skipped or expired:
        stamp = utc_iso(now)
        async with db.transaction() as tx:
            await tx.executemany(
                """INSERT INTO weekly_posts (guild_id, week, status, detail, updated_at) VALUES (?, ?, 'skipped', ?, ?)
                   ON CONFLICT (guild_id, week) DO NOTHING""",
                [(guild_id, week, detail, stamp) for guild_id, week, detail in skipped],
            )
            await tx.executemany(
                """UPDATE weekly_posts SET status = 'failed', detail = ?, retry_at = NULL, updated_at = ?
                   WHERE guild_id = ? AND week = ? AND message_id IS NULL AND status IN ('claimed', 'failed')""",
                [(detail, stamp, guild_id, week) for guild_id, week, detail in expired],
            )
        for guild_id, week, detail in skipped:
            log.warning("Weekly post of guild %s for %s %s", guild_id, week, detail)
    return due


@dataclass(slots=True)
class TickReport:
    due: int = 0
    posted: int = 0
    failed: int = 0  # not retried
    retrying: int = 0  # transient failures, retried at a later tick
    lost_claims: int = 0  # someone else (another tick or process) had the week
    errors: list[str] = field(default_factory=list)  # one line per contained failure


def retry_delay(attempt: int) -> timedelta:
    return TRANSIENT_RETRY_DELAYS[min(attempt, len(TRANSIENT_RETRY_DELAYS)) - 1]


async def run_tick(
    db: Database,
    now: datetime,
    poster: Poster,
    *,
    concurrency: int = 4,
    finish_concurrency: int = FINISH_CONCURRENCY,
    in_guild: Callable[[int], bool] | None = None,
) -> TickReport:
    """One pass of the weekly loop: post every due week through `poster`. Never raises (except cancellation).

    Per post: claim -> build the content -> poster -> mark_posted (then the result's `recorded`) / mark_failed. A
    PostFailure is recorded as the poster said (needs attention and/or retryable); any other exception is logged with
    its traceback and the week marked failed WITHOUT retry: the poster may have sent the message before raising, and
    a duplicate is worse than a missed week. Posts of different guilds run up to `concurrency` at a time.

    Every server's post goes out before any post's `after_recorded` (its reactions) starts: a server's post never
    waits behind another server's reactions. Those then run `finish_concurrency` at a time (each is one channel's
    reactions, paced by that channel's bucket, so several run at once to use the global rate).
    """
    report = TickReport()
    try:
        due = await due_posts(db, now, in_guild)
    except Exception as exc:
        log.exception("Weekly tick could not list the due posts")
        report.errors.append(f"due_posts: {type(exc).__name__}: {exc}")
        return report
    report.due = len(due)
    gate = asyncio.Semaphore(max(1, concurrency))
    cache = ContentCache()

    finishing: list[tuple[DuePost, AfterRecorded]] = []

    async def post_one(item: DuePost) -> None:
        async with gate:
            try:
                await _post_one(db, now, item, poster, report, cache=cache, finishing=finishing)
            except Exception as exc:  # the ledger itself failed (database locked, disk full): next tick retries
                log.exception("Weekly post of guild %s for %s could not be recorded", item.guild_id, item.week)
                report.errors.append(f"guild {item.guild_id}: {type(exc).__name__}: {exc}")

    # Claim in batches just before posting them: one transaction per batch instead of one per server, and no claim
    # waits long enough behind slow posts to look stale (STALE_CLAIM) before its turn.
    for start in range(0, len(due), CLAIM_BATCH):
        batch = due[start : start + CLAIM_BATCH]
        try:
            claimed = await claim_many(db, [(item.guild_id, item.week, item.channel_id) for item in batch], now)
            await cache.preload_votes(db, [item.guild_id for item in batch])
        except Exception as exc:
            log.exception("Weekly tick could not claim %s posts", len(batch))
            report.errors.append(f"claim: {type(exc).__name__}: {exc}")
            continue
        report.lost_claims += len(batch) - len(claimed)
        await asyncio.gather(*(post_one(item) for item in batch if (item.guild_id, item.week) in claimed))
    finish_gate = asyncio.Semaphore(max(1, finish_concurrency))

    async def finish_one(item: DuePost, work: AfterRecorded) -> None:
        async with finish_gate:
            try:
                await _after_recorded(db, now, item, work, report)
            except Exception as exc:  # recording the problem failed (database locked): the post itself is recorded
                log.exception("Weekly post of guild %s for %s: its problem could not be recorded", item.guild_id,
                              item.week)  # fmt: skip
                report.errors.append(f"guild {item.guild_id}: {type(exc).__name__}: {exc}")

    await asyncio.gather(*(finish_one(item, work) for item, work in finishing))
    if report.due:
        log.info(
            "Weekly tick: %s due, %s posted, %s failed, %s to retry, %s taken by another tick",
            report.due,
            report.posted,
            report.failed,
            report.retrying,
            report.lost_claims,
        )
    return report


async def _post_one(
    db: Database,
    now: datetime,
    item: DuePost,
    poster: Poster,
    report: TickReport,
    *,
    cache: ContentCache,
    finishing: list[tuple[DuePost, AfterRecorded]],
) -> None:
    try:
        content = await weekly_content(
            db, item.guild_id, item.scheduled, item.timezone, region=item.region, cache=cache
        )
        result = await poster(item, content)
    except PostFailure as failure:
        detail = str(failure) or type(failure).__name__
        if failure.retryable and item.late_by + retry_delay(item.attempt) < CATCH_UP_WINDOW:
            log.warning(
                "Weekly post of guild %s for %s failed (attempt %s), will retry: %s",
                item.guild_id,
                item.week,
                item.attempt,
                detail,
            )
            await mark_failed(db, item.guild_id, item.week, now, detail, retry_at=now + retry_delay(item.attempt))
            report.retrying += 1
        else:
            log.warning("Weekly post of guild %s for %s failed: %s", item.guild_id, item.week, detail)
            await mark_failed(db, item.guild_id, item.week, now, detail, needs_attention=failure.needs_attention)
            report.failed += 1
        report.errors.append(f"guild {item.guild_id}: {detail}")
        return
    except Exception as exc:
        log.exception("Weekly post of guild %s for %s raised an unexpected error", item.guild_id, item.week)
        await mark_failed(db, item.guild_id, item.week, now, f"internal error ({type(exc).__name__}); not retried")
        report.failed += 1
        report.errors.append(f"guild {item.guild_id}: unexpected {type(exc).__name__}: {exc}")
        return
    if result.message_id is None:
        await mark_failed(db, item.guild_id, item.week, now, "not posted: an interrupted post could not be checked")
        report.failed += 1
        return
    await mark_posted(
        db,
        item.guild_id,
        item.week,
        channel_id=result.channel_id or item.channel_id,
        message_id=result.message_id,
        now=now,
        clear_problem=item.problem is not None,
    )
    report.posted += 1
    # Only now, with the message recorded (a crash or a cancellation from here on cannot lead to a second post).
    if result.recorded is not None:
        try:
            await result.recorded()
        except Exception as exc:
            log.exception("Weekly post of guild %s for %s could not be tracked for votes", item.guild_id, item.week)
            report.errors.append(f"guild {item.guild_id}: after posting: {type(exc).__name__}: {exc}")
    if result.after_recorded is not None:
        finishing.append((item, result.after_recorded))


async def _after_recorded(db: Database, now: datetime, item: DuePost, work: AfterRecorded, report: TickReport) -> None:
    """A recorded post's slow follow-up (its reactions); a failure is logged or recorded as a problem, never turned
    into a failed week."""
    try:
        problem = await work()
    except Exception as exc:
        log.exception("Weekly post of guild %s for %s: the follow-up after posting failed", item.guild_id, item.week)
        report.errors.append(f"guild {item.guild_id}: after posting: {type(exc).__name__}: {exc}")
        return
    if problem:
        log.warning("Weekly post of guild %s for %s went out with a problem: %s", item.guild_id, item.week, problem)
        await mark_problem(db, item.guild_id, problem, now)
        report.errors.append(f"guild {item.guild_id}: {problem}")
