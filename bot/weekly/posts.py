"""'New this week': the weekly post of each server, without Discord.

Four parts, each usable on its own:

1. Schedule maths (pure functions): a server's schedule is a weekday, a local wall-clock time and an IANA zone. On a
   daylight-saving change day the wall-clock time may not exist (spring forward: 02:30 in New York on the second
   Sunday of March) -> the post is made at the first instant after the gap (03:00 local, the moment the clocks jump),
   or may occur twice (fall back: 01:30) -> the FIRST occurrence (fold=0). Either way a week has exactly one
   scheduled instant, and that instant (UTC ISO text) is the week's key in the `weekly_posts` ledger.
2. Settings: `guild_settings.weekly_*` (set, disable, read, the 'needs attention' problem).
3. The ledger and the tick: `due_posts` finds what should be posted now, `claim` takes a week atomically (a restart, a
   reconnect or two overlapping ticks never post twice), `run_tick` posts through an injected poster and contains
   every failure.
4. Content: what the post lists (`weekly_content`), as data; `render_weekly` lays it out as a message, with
   bot/common/render.py's helpers enforcing Discord's limits and making catalog text inert.

Crash safety (a choice, documented here and in `claim`): a week is claimed before anything is sent, with `retry_at`
set STALE_CLAIM later. The message id is recorded as soon as the poster returns. If the process dies in between, the
claim stays 'claimed' with no message id; after STALE_CLAIM (and within the 24-hour catch-up window) the week becomes
due again with `DuePost.recovering = True`, and the poster must first look in the channel for a message of its own
carrying `weekly_marker(week)` (the embed footer) and return that message instead of posting again. A post that went
out is therefore never repeated, as long as the poster honours `recovering` (and `attempt > 1`: a timeout or a 5xx may
come back for a message Discord did create); a poster that cannot look (no Read Message History) raises
CannotCheckEarlierPost (or returns `PostResult(None)`) and the week is marked failed rather than risk a duplicate.
Whatever is slow or can fail after sending is the poster's to hand back, run only once the message id is in the
ledger: `PostResult.recorded` at once (tracking the message for votes), `PostResult.after_recorded` (the reactions)
once every server's post of the tick is out, so that no server's post waits behind another server's reactions.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import discord

from bot.common import render
from bot.common.clock import utc_iso
from bot.common.errors import UserFacingError
from bot.common.render import KEYCAPS
from bot.storage import Database
from bot.votes import net_votes, net_votes_of_guilds

log = logging.getLogger(__name__)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CATCH_UP_WINDOW = timedelta(hours=24)  # a missed post is made if less late than this, otherwise skipped
STALE_CLAIM = timedelta(minutes=10)  # a claim this old without a message id: the process died while posting
CLAIM_BATCH = 50  # weeks claimed per transaction in a tick
# Posts finished (reactions added) at once after a tick's posts: each channel takes one reaction per 0.25 s, so about
# a dozen channels at a time fill the bot's global rate; more would only queue at the global limiter.
FINISH_CONCURRENCY = 32
TRANSIENT_RETRY_DELAYS = (timedelta(minutes=2), timedelta(minutes=5), timedelta(minutes=15), timedelta(minutes=30))
MAX_ITEMS = 10  # one keycap per show: 1️⃣ … 🔟
COMING_UP_RESERVED = 3  # slots kept for "Coming up" when "Out this week" alone could fill the post
PICKS_LIMIT = 5  # shows listed when nothing is new
RELEASE_KINDS = ("premiere", "season_premiere", "episodes", "added")
KIND_PRIORITY = {"premiere": 0, "season_premiere": 1, "added": 2, "episodes": 3}
# A season premiere "returns" when the show's previous episode aired at least this long before it (the source must
# say when: TMDB's last_episode_to_air does; a release without that date is a plain season premiere). A year: a show
# back on its yearly rhythm is a season premiere, one back from a longer break returns.
RETURN_AFTER = timedelta(days=365)

# ====================================================================================================================
# 1. Schedule maths


@lru_cache(maxsize=1024)
def zone_for(tz_name: str) -> ZoneInfo:
    """The zone for an IANA name; raises ZoneInfoNotFoundError (a KeyError) for an unknown one.

    Cached: ZoneInfo keeps only a few zones strongly, and a tick across many zones would reload their files."""
    return ZoneInfo(tz_name)


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant at which `zone`'s wall clock shows `day` `at`.

    Ambiguous (the hour repeated when clocks fall back): the first occurrence, fold=0.
    Nonexistent (skipped when clocks spring forward, or a whole skipped day as in Pacific/Apia on 2011-12-30): the
    first valid instant after the gap, i.e. the transition itself (02:30 in a 02:00->03:00 gap posts at 03:00).
    """
    wall = datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=zone)
    instant = wall.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return instant  # the wall time exists; fold=0 already picked the earlier of two occurrences
    # In a gap, fold=0 and fold=1 convert with the offsets on either side of the transition, so the transition
    # lies between the two results. Find it to the second (transitions fall on whole seconds).
    other = wall.replace(fold=1).astimezone(UTC)
    before, after = min(instant, other), max(instant, other)
    offset_after = after.astimezone(zone).utcoffset()
    low, high = 0, int((after - before).total_seconds())  # offset at before+low differs, at before+high matches
    while high - low > 1:
        middle = (low + high) // 2
        if (before + timedelta(seconds=middle)).astimezone(zone).utcoffset() == offset_after:
            high = middle
        else:
            low = middle
    return before + timedelta(seconds=high)


def _candidates(weekday: int, local_time: time, zone: ZoneInfo, around: datetime) -> list[datetime]:
    """Scheduled instants for the matching weekdays from two weeks before to two weeks after `around`'s local day."""
    if not 0 <= weekday <= 6:
        raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {weekday}")
    local_day = around.astimezone(zone).date()
    start = local_day - timedelta(days=(local_day.weekday() - weekday) % 7 + 14)
    return [local_instant(start + timedelta(weeks=k), local_time, zone) for k in range(5)]


def next_post_time(weekday: int, local_time: time, tz_name: str, after: datetime) -> datetime:
    """The first scheduled instant strictly after `after` (aware), in UTC."""
    zone = zone_for(tz_name)
    for candidate in _candidates(weekday, local_time, zone, after):
        if candidate > after:
            return candidate
    raise AssertionError("unreachable: the last candidate is at least a week after `after`")


def previous_post_time(weekday: int, local_time: time, tz_name: str, at: datetime) -> datetime:
    """The last scheduled instant at or before `at` (aware), in UTC."""
    zone = zone_for(tz_name)
    for candidate in reversed(_candidates(weekday, local_time, zone, at)):
        if candidate <= at:
            return candidate
    raise AssertionError("unreachable: the first candidate is at least a week before `at`")


def week_key(scheduled: datetime) -> str:
    """The ledger key of a week: its scheduled instant as UTC ISO text (sorts in time order)."""
    return utc_iso(scheduled)


def parse_week_key(week: str) -> datetime:
    return datetime.fromisoformat(week).astimezone(UTC)


def weekly_marker(week: str) -> str:
    """Text the post carries (embed footer) so that a recovering poster can recognise a post it already made."""
    return f"week {week}"


# ====================================================================================================================
# Input from the /weekly set command

_DAY_NAMES: dict[str, int] = {}
for _number, _name in enumerate(WEEKDAYS):
    _DAY_NAMES[_name] = _number
    _DAY_NAMES[_name[:3]] = _number
_DAY_NAMES.update({"tues": 1, "weds": 2, "thur": 3, "thurs": 3})
_TIME = re.compile(r"^(?P<hour>\d{1,2})(?:[:.h]?(?P<minute>\d{2}))?\s*(?P<half>[ap])?\.?(?:m\.?)?$", re.IGNORECASE)


def parse_weekday(text: str) -> int:
    """'monday'..'sunday' or 'mon'..'sun' (any case) -> 0..6."""
    key = text.strip().casefold().rstrip(".")
    if key in _DAY_NAMES:
        return _DAY_NAMES[key]
    raise UserFacingError(f"{render.quoted(text)} is not a day of the week: use monday to sunday (or mon to sun).")


def parse_local_time(text: str) -> time:
    """'18:00', '9:30', '1800', '6pm', '6:30 pm', '12am', 'noon', 'midnight' -> a wall-clock time (minutes)."""
    key = text.strip().casefold()
    if key in ("noon", "midday"):
        return time(12, 0)
    if key == "midnight":
        return time(0, 0)
    match = _TIME.match(key)
    problem = f"{render.quoted(text)} is not a time of day: use 24-hour HH:MM like 18:00, or 6pm."
    if not match:
        raise UserFacingError(problem)
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    if match["half"]:
        if not 1 <= hour <= 12:
            raise UserFacingError(problem)
        hour = hour % 12 + (12 if match["half"] == "p" else 0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise UserFacingError(problem)
    return time(hour, minute)


def format_local_time(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


@lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    """casefolded name -> IANA name, for every zone the system (or the tzdata package) knows."""
    names = {name.casefold(): name for name in available_timezones()}
    names.setdefault("utc", "UTC")
    return names


@lru_cache(maxsize=1)
def _choice_index() -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """(name, casefolded name, words) for the names offered in autocomplete: Area/Location names and UTC.

    Old aliases ('GB', 'EST5EDT') and the sign-inverted 'Etc/GMT+5' are still accepted when typed, not offered.
    """
    offered = sorted(name for name in _zone_names().values() if "/" in name and not name.startswith("Etc/"))
    offered.append("UTC")
    return tuple((name, name.casefold(), tuple(re.split(r"[/_\-]", name.casefold()))) for name in offered)


POPULAR_TIMEZONES = (
    "UTC",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "America/Mexico_City",
    "America/Toronto",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Moscow",
    "Africa/Lagos",
    "Africa/Johannesburg",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Asia/Singapore",
    "Asia/Manila",
    "Asia/Jakarta",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Asia/Dubai",
)


def resolve_timezone(text: str) -> str:
    """The IANA name for `text`, any case, spaces for underscores ('america/new york' -> 'America/New_York')."""
    key = text.strip().replace(" ", "_").casefold()
    name = _zone_names().get(key)
    if name is None:
        suggestions = timezone_choices(text, limit=3)
        hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else " Use a name like Europe/London."
        raise UserFacingError(f"{render.quoted(text)} is not a time zone I know.{hint}")
    try:
        zone_for(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserFacingError(f"The time zone {name} cannot be loaded on this system.") from None
    return name


def timezone_choices(text: str, limit: int = 25) -> list[str]:
    """Autocomplete: at most `limit` (<= 25) zone names for what the user typed so far.

    Order: exact name, then names starting with the text, then names with a word starting with it ('york' ->
    America/New_York), then names containing it; alphabetical within each group.
    """
    limit = min(limit, 25)
    query = text.strip().replace(" ", "_").casefold()
    if not query:
        return list(POPULAR_TIMEZONES[:limit])
    ranked: list[tuple[int, str]] = []
    for name, folded, words in _choice_index():
        if folded == query:
            ranked.append((0, name))
        elif folded.startswith(query):
            ranked.append((1, name))
        elif any(word.startswith(query) for word in words) or folded.split("/")[-1].startswith(query):
            ranked.append((2, name))
        elif query in folded:
            ranked.append((3, name))
    ranked.sort()
    return [name for _, name in ranked[:limit]]


# ====================================================================================================================
# 2. Settings


@dataclass(frozen=True, slots=True)
class WeeklySettings:
    guild_id: int
    enabled: bool
    channel_id: int | None
    weekday: int | None  # 0 = Monday
    local_time: time | None
    timezone: str | None  # IANA name
    problem: str | None  # why the last post could not be made; cleared by a successful post or /weekly set
    since: datetime | None  # when this schedule was set: earlier instants are never caught up
    region: str | None  # ISO 3166-1 alpha-2 for releases; None: every region

    @property
    def complete(self) -> bool:
        return (
            self.channel_id is not None
            and self.weekday is not None
            and self.local_time is not None
            and self.timezone is not None
        )

    def next_post(self, after: datetime) -> datetime | None:
        """The next scheduled instant after `after`, or None when disabled or incomplete."""
        if not (self.enabled and self.complete):
            return None
        assert self.weekday is not None and self.local_time is not None and self.timezone is not None
        return next_post_time(self.weekday, self.local_time, self.timezone, after)

    @property
    def day_name(self) -> str | None:
        return None if self.weekday is None else WEEKDAYS[self.weekday].capitalize()


_SETTINGS_COLUMNS = """guild_id, weekly_enabled, weekly_channel_id, weekly_weekday, weekly_time, weekly_timezone,
    weekly_problem, weekly_since, region"""


def _settings_from_row(row: sqlite3.Row) -> WeeklySettings:
    stored_time = row["weekly_time"]
    return WeeklySettings(
        guild_id=int(row["guild_id"]),
        enabled=bool(row["weekly_enabled"]),
        channel_id=row["weekly_channel_id"],
        weekday=row["weekly_weekday"],
        local_time=time.fromisoformat(stored_time) if stored_time else None,
        timezone=row["weekly_timezone"],
        problem=row["weekly_problem"],
        since=datetime.fromisoformat(row["weekly_since"]) if row["weekly_since"] else None,
        region=row["region"],
    )


async def get_weekly_settings(db: Database, guild_id: int) -> WeeklySettings | None:
    row = await db.fetchone(f"SELECT {_SETTINGS_COLUMNS} FROM guild_settings WHERE guild_id = ?", (guild_id,))
    return None if row is None else _settings_from_row(row)


async def set_weekly(
    db: Database,
    guild_id: int,
    *,
    channel_id: int,
    weekday: int,
    local_time: time,
    tz_name: str,
    now: datetime,
    region: str | None = None,
) -> WeeklySettings:
    """Turn the weekly post on with this schedule (replacing any other); clears any recorded problem. `region`: the
    country (ISO code) whose broadcast schedule the post lists; None keeps the one set before.

    The schedule counts from `now`: an instant already past this week is not caught up, the first post is the next
    scheduled instant. `tz_name` must be a valid IANA name (see resolve_timezone).
    """
    if not 0 <= weekday <= 6:
        raise ValueError(f"weekday must be 0..6, got {weekday}")
    zone_for(tz_name)
    stamp = utc_iso(now)
    await db.execute(
        """INSERT INTO guild_settings (guild_id, weekly_enabled, weekly_channel_id, weekly_weekday, weekly_time,
               weekly_timezone, weekly_problem, weekly_since, updated_at, region)
           VALUES (?, 1, ?, ?, ?, ?, NULL, ?, ?, ?)
           ON CONFLICT (guild_id) DO UPDATE SET weekly_enabled = 1, weekly_channel_id = excluded.weekly_channel_id,
               weekly_weekday = excluded.weekly_weekday, weekly_time = excluded.weekly_time,
               weekly_timezone = excluded.weekly_timezone, weekly_problem = NULL,
               weekly_since = excluded.weekly_since, updated_at = excluded.updated_at,
               region = COALESCE(excluded.region, guild_settings.region)""",
        (guild_id, channel_id, weekday, format_local_time(local_time), tz_name, stamp, stamp, region),
    )
    settings = await get_weekly_settings(db, guild_id)
    assert settings is not None
    return settings


async def disable_weekly(db: Database, guild_id: int, now: datetime) -> bool:
    """Turn the weekly post off (the schedule is kept for status). Returns whether it was on."""
    async with db.transaction() as conn:
        cursor = await conn.execute(
            "UPDATE guild_settings SET weekly_enabled = 0, updated_at = ? WHERE guild_id = ? AND weekly_enabled = 1",
            (utc_iso(now), guild_id),
        )
        return cursor.rowcount > 0


async def mark_problem(db: Database, guild_id: int, problem: str, now: datetime) -> None:
    """Record why the weekly post needs attention (shown by /weekly status); the schedule stays on."""
    await db.execute(
        "UPDATE guild_settings SET weekly_problem = ?, updated_at = ? WHERE guild_id = ?",
        (problem[:500], utc_iso(now), guild_id),
    )


async def clear_problem(db: Database, guild_id: int, now: datetime) -> None:
    await db.execute(
        """UPDATE guild_settings SET weekly_problem = NULL, updated_at = ?
           WHERE guild_id = ? AND weekly_problem IS NOT NULL""",
        (utc_iso(now), guild_id),
    )


# ====================================================================================================================
# 3. The ledger and the tick

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


def _entry_from_row(row: sqlite3.Row) -> LedgerEntry:
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


_LEDGER_COLUMNS = "guild_id, week, status, channel_id, message_id, detail, attempts, retry_at, updated_at"


async def ledger_entry(db: Database, guild_id: int, week: str) -> LedgerEntry | None:
    row = await db.fetchone(
        f"SELECT {_LEDGER_COLUMNS} FROM weekly_posts WHERE guild_id = ? AND week = ?", (guild_id, week)
    )
    return None if row is None else _entry_from_row(row)


async def ledger_history(db: Database, guild_id: int, limit: int = 5) -> list[LedgerEntry]:
    """The guild's most recent weeks, newest first."""
    rows = await db.fetchall(
        f"SELECT {_LEDGER_COLUMNS} FROM weekly_posts WHERE guild_id = ? ORDER BY week DESC LIMIT ?", (guild_id, limit)
    )
    return [_entry_from_row(row) for row in rows]


@dataclass(frozen=True, slots=True)
class DuePost:
    guild_id: int
    channel_id: int
    week: str  # the ledger key
    scheduled: datetime  # UTC
    timezone: str
    region: str | None
    late_by: timedelta  # now - scheduled; always < CATCH_UP_WINDOW
    attempt: int  # 1 for the first try
    problem: str | None = None  # the setting's recorded problem, cleared by a successful post
    # True when an earlier claim of this week was interrupted (the process died while posting): the poster must look
    # for a message of its own with weekly_marker(week) in the channel and return it instead of posting again.
    recovering: bool = False


# What a poster leaves for after the message id is recorded: making the post votable (its reactions take seconds under
# rate limits, and can fail). Returns a problem for the admins (e.g. the post went out without Add Reactions) or None.
AfterRecorded = Callable[[], Awaitable[str | None]]
# Quick work right after the record (tracking the message for votes: a database write, no request).
Recorded = Callable[[], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class PostResult:
    """What the poster returns right after sending, before anything slow or fallible. message_id None: nothing was
    sent (e.g. a recovery that could not check the channel), and the week is marked failed without retry.

    run_tick records the message id first, then runs `recorded` at once, and `after_recorded` only once every due
    server's post of the tick is out: under Discord's limit of one reaction per 0.25 s per channel, ten keycaps take
    2.5 s, and they must never hold back another server's post.
    """

    message_id: int | None
    channel_id: int | None = None  # when it differs from DuePost.channel_id (e.g. a thread)
    after_recorded: AfterRecorded | None = None  # once the tick's posts are all out
    recorded: Recorded | None = None  # right after the message id is in the ledger


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


async def claim(db: Database, guild_id: int, week: str, now: datetime, channel_id: int | None = None) -> bool:
    """Take the (guild, week) for posting; True only for the one caller that got it. See claim_many."""
    return (guild_id, week) in await claim_many(db, [(guild_id, week, channel_id)], now)


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


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f}"


async def due_posts(db: Database, now: datetime) -> list[DuePost]:
    """Every enabled guild whose most recent scheduled instant (<= now, and not before the schedule was set) is
    owed a post: no ledger row and less than CATCH_UP_WINDOW late, or a row whose retry time has come.

    Side effect: a week found CATCH_UP_WINDOW or more late with no row is recorded as 'skipped' with the reason (the
    bot was not running), and an interrupted claim or a transient failure that ran out of window becomes 'failed',
    so that /weekly status can report them.
    """
    settings_rows = await db.fetchall(
        f"SELECT {_SETTINGS_COLUMNS} FROM guild_settings WHERE weekly_enabled = 1 AND weekly_channel_id IS NOT NULL"
    )
    ledger_rows = await db.fetchall(
        f"SELECT {_LEDGER_COLUMNS} FROM weekly_posts WHERE week >= ?", (utc_iso(now - timedelta(days=9)),)
    )
    ledger = {(int(row["guild_id"]), row["week"]): _entry_from_row(row) for row in ledger_rows}
    due: list[DuePost] = []
    skipped: list[tuple[int, str, str]] = []
    expired: list[tuple[int, str, str]] = []
    for row in settings_rows:
        settings = _settings_from_row(row)
        if not settings.complete:
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
        async with db.transaction() as conn:
            await conn.executemany(
                """INSERT INTO weekly_posts (guild_id, week, status, detail, updated_at) VALUES (?, ?, 'skipped', ?, ?)
                   ON CONFLICT (guild_id, week) DO NOTHING""",
                [(guild_id, week, detail, stamp) for guild_id, week, detail in skipped],
            )
            await conn.executemany(
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


Poster = Callable[[DuePost, "WeeklyContent"], Awaitable[PostResult]]


def retry_delay(attempt: int) -> timedelta:
    return TRANSIENT_RETRY_DELAYS[min(attempt, len(TRANSIENT_RETRY_DELAYS)) - 1]


async def run_tick(
    db: Database, now: datetime, poster: Poster, *, concurrency: int = 4, finish_concurrency: int = FINISH_CONCURRENCY
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
        due = await due_posts(db, now)
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


@dataclass(frozen=True, slots=True)
class WeeklyStatus:
    settings: WeeklySettings | None
    next_post: datetime | None  # None when off or not configured
    last_posted: LedgerEntry | None  # the newest 'posted' week (link: message_link(...))
    recent: tuple[LedgerEntry, ...]  # newest first, at most 5: skipped/failed weeks show up here


async def weekly_status(db: Database, guild_id: int, now: datetime) -> WeeklyStatus:
    settings = await get_weekly_settings(db, guild_id)
    recent = tuple(await ledger_history(db, guild_id, 5))
    row = await db.fetchone(
        f"""SELECT {_LEDGER_COLUMNS} FROM weekly_posts WHERE guild_id = ? AND status = 'posted'
            ORDER BY week DESC LIMIT 1""",
        (guild_id,),
    )
    next_post = None
    if settings is not None:
        try:
            next_post = settings.next_post(now)
        except (ZoneInfoNotFoundError, ValueError):
            next_post = None
    return WeeklyStatus(settings, next_post, None if row is None else _entry_from_row(row), recent)


def message_link(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


# ====================================================================================================================
# 4. Content

Section = Literal["out", "coming", "picks"]


@dataclass(frozen=True, slots=True)
class WeeklyItem:
    number: int  # 1..10, the keycap members vote with
    show_id: int
    title: str
    section: Section
    service: str  # the release's service, else the show's network; '' when unknown
    release_kind: str | None  # premiere, season_premiere, episodes, added; None for picks
    season: int | None
    date_timestamp: int | None  # unix seconds for a Discord <t:...:D> mark (local noon for plain dates)
    synopsis: str  # first sentence, at most SYNOPSIS_LENGTH characters; '' when unknown
    net_votes: int  # this server's score
    poster_url: str | None = None  # from a source; the first item's is the post's thumbnail
    returns: bool = False  # a season premiere after a break of RETURN_AFTER or more

    @property
    def emoji(self) -> str:
        return KEYCAPS[self.number - 1]


@dataclass(frozen=True, slots=True)
class WeeklyContent:
    guild_id: int
    week: str  # ledger key of the post time
    post_time: datetime  # UTC
    timezone: str
    out_this_week: tuple[WeeklyItem, ...]
    coming_up: tuple[WeeklyItem, ...]
    picks: tuple[WeeklyItem, ...]  # only when nothing is new
    picks_from_votes: bool  # picks come from the server's votes (else the catalog's best-known shows)
    not_shown: int  # releases in the two windows beyond the 10 listed

    @property
    def nothing_new(self) -> bool:
        return not self.out_this_week and not self.coming_up

    @property
    def items(self) -> tuple[WeeklyItem, ...]:
        """Every listed show in number order."""
        return self.out_this_week + self.coming_up + self.picks

    @property
    def numbering(self) -> list[tuple[str, int]]:
        """(keycap, show_id) pairs: what the cog adds as reactions and stores in vote_emoji."""
        return [(item.emoji, item.show_id) for item in self.items]


SYNOPSIS_LENGTH = 140
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"[.!?…](?=\s+[\"'“‘(\[]?[A-Z0-9])")
_ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "no", "mt", "prof", "gen", "capt", "lt"})


@lru_cache(maxsize=4096)
def first_sentence(text: str | None, limit: int = SYNOPSIS_LENGTH) -> str:
    """The first sentence of a synopsis (HTML tags removed, whitespace collapsed), shortened to `limit`."""
    if not text:
        return ""
    plain = _SPACE.sub(" ", _TAG.sub(" ", text)).strip()
    for match in _SENTENCE_END.finditer(plain):
        before = plain[: match.start()].rsplit(" ", 1)[-1].casefold().strip("\"'“‘(")
        if before in _ABBREVIATIONS or (len(before) == 1 and before.isalpha()):
            continue  # "Dr. Who", "J. R. R. Tolkien": not the end of a sentence
        plain = plain[: match.end()]
        break
    return render.shorten(plain, limit)


@lru_cache(maxsize=16384)
def _release_moment(value: str, zone: ZoneInfo) -> tuple[date, datetime] | None:
    """(local date, instant) of a release: a plain date is that day in the server's zone (instant: local noon, so a
    <t:...:D> mark shows the same date to members a few zones away); an instant without offset is UTC."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return day, local_instant(day, time(12, 0), zone)
        instant = datetime.fromisoformat(value)
    except ValueError:
        return None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(zone).date(), instant.astimezone(UTC)


@dataclass(slots=True)
class _Candidate:
    show_id: int
    title: str
    synopsis: str | None
    network: str | None
    popularity: float
    kind: str
    season: int | None
    service: str
    instant: datetime
    poster_url: str | None
    returns: bool

    def replaces(self, known: _Candidate, later: bool) -> bool:
        """Whether this release stands for the show instead of `known` (same section): the later one in "Out this
        week", the earlier one in "Coming up"; on the same date (two sources' rows for one episode), the one that
        says more: the higher kind, then a return."""
        if self.instant != known.instant:
            return self.instant > known.instant if later else self.instant < known.instant
        return (-KIND_PRIORITY.get(self.kind, len(KIND_PRIORITY)), self.returns) > (
            -KIND_PRIORITY.get(known.kind, len(KIND_PRIORITY)),
            known.returns,
        )


def returns_from_break(kind: str, day: date, previous_episode: str | None) -> bool:
    """A season premiere whose previous episode aired RETURN_AFTER or more before it (see docs/weekly.md)."""
    if kind != "season_premiere" or not previous_episode:
        return False
    try:
        previous = date.fromisoformat(previous_episode[:10])
    except ValueError:
        return False
    return day - previous >= RETURN_AFTER


class ContentCache:
    """Reads shared by the posts of one tick: release rows per date window, and votes preloaded per guild."""

    def __init__(self) -> None:
        self.releases: dict[tuple[str, str], list[sqlite3.Row]] = {}
        self.votes: dict[int, dict[int, int]] = {}

    async def preload_votes(self, db: Database, guild_ids: Sequence[int]) -> None:
        missing = [guild_id for guild_id in guild_ids if guild_id not in self.votes]
        if not missing:
            return
        self.votes.update(await net_votes_of_guilds(db, missing))


async def _guild_votes(db: Database, guild_id: int, cache: ContentCache | None) -> dict[int, int]:
    if cache is not None and guild_id in cache.votes:
        return cache.votes[guild_id]
    return await net_votes(db, guild_id)


_RELEASES_SQL = """
    SELECT r.show_id, r.kind, r.date, r.season, r.service, r.region, r.previous_episode, s.title, s.synopsis, s.network,
           s.popularity, s.poster_url
    FROM releases r JOIN shows s ON s.id = r.show_id
    WHERE r.date >= ? AND r.date < ?"""


async def weekly_content(
    db: Database,
    guild_id: int,
    post_time_utc: datetime,
    tz_name: str,
    *,
    region: str | None = None,
    cache: ContentCache | None = None,
) -> WeeklyContent:
    """What the post made at `post_time_utc` lists, for a server in `tz_name`.

    "Out this week": shows with a release (premiere, season premiere, episodes, added) in the seven days up to the
    post: a plain date counts when it is the post's local day or one of the six before; an instant when it falls in
    (post - 7 days, post]. "Coming up": the seven days after. A show is listed once (in "Out this week" if it has
    releases in both; its latest release there, its earliest in "Coming up"). Ranked by what is new (series
    premieres, season premieres, additions, then plain episodes), then this server's net votes, popularity, title;
    at most 10 in all, COMING_UP_RESERVED of them kept for "Coming up" when it has shows. `region`: only releases
    for that region or for no region. When nothing is new, PICKS_LIMIT picks: the server's top net-voted shows,
    topped up with the catalog's best-known shows it has not voted down.
    """
    zone = zone_for(tz_name)
    post_time = post_time_utc.astimezone(UTC)
    post_day = post_time.astimezone(zone).date()
    window = ((post_day - timedelta(days=8)).isoformat(), (post_day + timedelta(days=9)).isoformat())
    rows = None if cache is None else cache.releases.get(window)
    if rows is None:
        rows = await db.fetchall(_RELEASES_SQL, window)
        if cache is not None:
            cache.releases[window] = rows
    out: dict[int, _Candidate] = {}
    coming: dict[int, _Candidate] = {}
    for row in rows:
        if row["kind"] not in RELEASE_KINDS:
            continue
        if region and row["region"] and row["region"] != region:
            continue
        moment = _release_moment(row["date"], zone)
        if moment is None:
            continue
        day, instant = moment
        if len(row["date"]) == 10:
            is_out = post_day - timedelta(days=6) <= day <= post_day
            is_coming = post_day < day <= post_day + timedelta(days=7)
        else:
            is_out = post_time - timedelta(days=7) < instant <= post_time
            is_coming = post_time < instant <= post_time + timedelta(days=7)
        if not (is_out or is_coming):
            continue
        candidate = _Candidate(
            show_id=int(row["show_id"]),
            title=row["title"],
            synopsis=row["synopsis"],
            network=row["network"],
            popularity=float(row["popularity"] or 0),
            kind=row["kind"],
            season=row["season"],
            service=row["service"] or row["network"] or "",
            instant=instant,
            poster_url=row["poster_url"],
            returns=returns_from_break(row["kind"], day, row["previous_episode"]),
        )
        target, keep_later = (out, True) if is_out else (coming, False)
        known = target.get(candidate.show_id)
        if known is None or candidate.replaces(known, keep_later):
            target[candidate.show_id] = candidate
    for show_id in out:
        coming.pop(show_id, None)

    votes = await _guild_votes(db, guild_id, cache)

    def rank(candidate: _Candidate) -> tuple[int, int, float, str, int]:
        # What is new first: series premieres, season premieres, then additions, and plain episodes (a daily show's
        # every episode) last; within each, the server's votes, then popularity.
        return (
            KIND_PRIORITY.get(candidate.kind, len(KIND_PRIORITY)),
            -votes.get(candidate.show_id, 0),
            -candidate.popularity,
            candidate.title.casefold(),
            candidate.show_id,
        )

    out_ranked = sorted(out.values(), key=rank)
    coming_ranked = sorted(coming.values(), key=rank)
    coming_slots = min(len(coming_ranked), COMING_UP_RESERVED)
    out_shown = out_ranked[: MAX_ITEMS - coming_slots]
    coming_shown = coming_ranked[: MAX_ITEMS - len(out_shown)]
    numbered: list[WeeklyItem] = []
    for section, chosen in (("out", out_shown), ("coming", coming_shown)):
        for candidate in chosen:
            numbered.append(
                WeeklyItem(
                    number=len(numbered) + 1,
                    show_id=candidate.show_id,
                    title=candidate.title,
                    section=section,  # type: ignore[arg-type]
                    service=candidate.service,
                    release_kind=candidate.kind,
                    season=candidate.season,
                    date_timestamp=int(candidate.instant.timestamp()),
                    synopsis=first_sentence(candidate.synopsis),
                    net_votes=votes.get(candidate.show_id, 0),
                    poster_url=candidate.poster_url,
                    returns=candidate.returns,
                )
            )
    picks: list[WeeklyItem] = []
    picks_from_votes = False
    if not numbered:
        picks, picks_from_votes = await _picks(db, votes)
    return WeeklyContent(
        guild_id=guild_id,
        week=week_key(post_time),
        post_time=post_time,
        timezone=tz_name,
        out_this_week=tuple(item for item in numbered if item.section == "out"),
        coming_up=tuple(item for item in numbered if item.section == "coming"),
        picks=tuple(picks),
        picks_from_votes=picks_from_votes,
        not_shown=len(out_ranked) + len(coming_ranked) - len(numbered),
    )


async def _picks(db: Database, votes: dict[int, int]) -> tuple[list[WeeklyItem], bool]:
    liked = [show_id for show_id, net in sorted(votes.items(), key=lambda pair: (-pair[1], pair[0])) if net > 0]
    chosen_ids = liked[:PICKS_LIMIT]
    rows: list[Any] = []
    if chosen_ids:
        placeholders = ", ".join("?" * len(chosen_ids))
        found = {
            int(row["id"]): row
            for row in await db.fetchall(
                f"SELECT id, title, synopsis, network, popularity, poster_url FROM shows WHERE id IN ({placeholders})",
                chosen_ids,
            )
        }
        rows = [found[show_id] for show_id in chosen_ids if show_id in found]
    if len(rows) < PICKS_LIMIT:
        # Top up with the best-known shows not already chosen and not voted down here. Voted-down shows are few;
        # fetch a margin rather than passing every id to SQL.
        exclude = {int(row["id"]) for row in rows} | {show_id for show_id, net in votes.items() if net < 0}
        extra = await db.fetchall(
            """SELECT id, title, synopsis, network, popularity, poster_url FROM shows
               ORDER BY popularity DESC, title LIMIT ?""",
            (PICKS_LIMIT + len(exclude),),
        )
        rows += [row for row in extra if int(row["id"]) not in exclude][: PICKS_LIMIT - len(rows)]
    picks = [
        WeeklyItem(
            number=number,
            show_id=int(row["id"]),
            title=row["title"],
            section="picks",
            service=row["network"] or "",
            release_kind=None,
            season=None,
            date_timestamp=None,
            synopsis=first_sentence(row["synopsis"]),
            net_votes=votes.get(int(row["id"]), 0),
            poster_url=row["poster_url"],
        )
        for number, row in enumerate(rows, start=1)
    ]
    return picks, bool(liked)


# --------------------------------------------------------------------------------------------------------------------
# Rendering: the post's layout only. Escaping, mention neutralisation and every Discord limit come from
# bot/common/render.py (plain_line, shorten, clamp_embed), the one module that enforces them.

POST_TITLE = "📺 New this week"
TITLE_LENGTH = 100
SERVICE_LENGTH = 40
KIND_LABELS = {
    "premiere": "new series",
    "season_premiere": "season premiere",
    "episodes": "new episodes",
    "added": "added",
}


@lru_cache(maxsize=16384)
def _inert(text: str, limit: int) -> str:
    """render.plain_line, cached: a tick renders the same few shows for every server, and escaping is the costly
    part of rendering (a 1,000-server tick spent ~0.5 s in it uncached)."""
    return render.plain_line(text, limit)


def release_label(item: WeeklyItem) -> str:
    if item.returns:
        return f"returns with season {item.season}" if item.season else "returns"
    if item.release_kind == "season_premiere" and item.season:
        return f"season {item.season} premiere"
    return KIND_LABELS.get(item.release_kind or "", "")


def _item_lines(item: WeeklyItem, synopsis_limit: int) -> str:
    parts = [f"{item.emoji} **{_inert(item.title, TITLE_LENGTH) or 'Untitled'}**"]
    service = _inert(item.service, SERVICE_LENGTH)
    if service:
        parts.append(service)
    label = release_label(item)
    if item.date_timestamp is not None:
        parts.append(f"{label} <t:{item.date_timestamp}:D>".strip())
    elif label:
        parts.append(label)
    line = " · ".join(parts)
    synopsis = _inert(item.synopsis, synopsis_limit) if synopsis_limit > 0 else ""
    return f"{line}\n{synopsis}" if synopsis else line


def _description(content: WeeklyContent, synopsis_limit: int) -> str:
    blocks: list[str] = []
    if content.nothing_new:
        source = "your votes" if content.picks_from_votes else "the catalog's best-known shows"
        blocks.append(f"Nothing new this week. This week's picks from {source}:")
        blocks.extend(_item_lines(item, synopsis_limit) for item in content.picks)
        if not content.picks:
            blocks.append("The catalog is empty: ask an admin to import some shows.")
    else:
        if content.out_this_week:
            blocks.append("**Out this week**")
            blocks.extend(_item_lines(item, synopsis_limit) for item in content.out_this_week)
        if content.coming_up:
            blocks.append("**Coming up**")
            blocks.extend(_item_lines(item, synopsis_limit) for item in content.coming_up)
        if content.not_shown:
            blocks.append(f"…and {content.not_shown} more.")
    return "\n".join(blocks)


def render_weekly(content: WeeklyContent) -> tuple[str, discord.Embed]:
    """(message content, embed) of the post, the same for /weekly preview and the real post.

    Catalog text goes through render.plain_line (inert: no mention, no Markdown); the embed is finished by
    render.clamp_embed, so Discord's limits are enforced where every other embed's are. Synopses are shortened
    first, so that every numbered line stays and the keycap reactions always match a visible line.
    """
    footer = f"Vote with the number reactions · {weekly_marker(content.week)}"
    room = min(render.DESCRIPTION_LIMIT, render.EMBED_TOTAL_LIMIT - len(POST_TITLE) - len(footer))
    description = ""
    for synopsis_limit in (SYNOPSIS_LENGTH, 100, 60, 0):
        description = _description(content, synopsis_limit)
        if len(description) <= room:
            break
    embed = discord.Embed(
        title=POST_TITLE, description=description, colour=render.CARD_COLOUR, timestamp=content.post_time
    )
    embed.set_footer(text=footer)
    if content.items:
        render.set_poster(embed, content.items[0].poster_url)
    render.clamp_embed(embed)
    items = content.items
    if items:
        message = f"This week's shows: react with {items[0].emoji}–{items[-1].emoji} to vote."
    else:
        message = "This week's shows."
    return render.shorten(message, render.CONTENT_LIMIT), embed


# --------------------------------------------------------------------------------------------------------------------
# Helpers for the cog


async def preview_content(db: Database, guild_id: int, now: datetime) -> WeeklyContent:
    """What a post made now would list (/weekly preview), in the server's zone (UTC when none is set)."""
    settings = await get_weekly_settings(db, guild_id)
    tz_name = settings.timezone if settings is not None and settings.timezone else "UTC"
    region = settings.region if settings is not None else None
    return await weekly_content(db, guild_id, now, tz_name, region=region)


def describe_schedule(settings: WeeklySettings) -> str:
    """'Fridays at 18:30 (Asia/Kolkata) in <#123>', or why there is no schedule."""
    if not settings.complete:
        return "Not set up: use /weekly set."
    assert settings.local_time is not None
    text = (
        f"{settings.day_name}s at {format_local_time(settings.local_time)} ({settings.timezone}) "
        f"in <#{settings.channel_id}>"
    )
    return text if settings.enabled else f"Off (was: {text})"
