"""A server's weekly-post settings (`guild_settings.weekly_*` and its region): reading them, /weekly set and off, the
country a new schedule lists, and the 'needs attention' problem shown by /weekly status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from bot.common.clock import utc_iso
from bot.storage import Database, Row
from bot.weekly.countries import country_from_locale, resolve_country
from bot.weekly.schedule import WEEKDAYS, format_local_time, next_post_time, zone_for


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


SETTINGS_COLUMNS = """guild_id, weekly_enabled, weekly_channel_id, weekly_weekday, weekly_time, weekly_timezone,
    weekly_problem, weekly_since, region"""


def settings_from_row(row: Row) -> WeeklySettings:
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
    row = await db.fetchone(f"SELECT {SETTINGS_COLUMNS} FROM guild_settings WHERE guild_id = ?", (guild_id,))
    return None if row is None else settings_from_row(row)


async def weekly_region(db: Database, guild_id: int, country: str | None, locale: str | None) -> str:
    """The country whose TV schedule /weekly set lists: the one typed (an ISO code or a name; a UserFacingError when
    unknown), else the one set before, else the one the server's locale gives (`en-GB` -> GB), else US."""
    if country is not None:
        return resolve_country(country)
    current = await get_weekly_settings(db, guild_id)
    if current is not None and current.region:
        return current.region  # set before: kept
    return country_from_locale(locale)


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
    changed = await db.execute(
        "UPDATE guild_settings SET weekly_enabled = 0, updated_at = ? WHERE guild_id = ? AND weekly_enabled = 1",
        (utc_iso(now), guild_id),
    )
    return changed > 0


async def mark_problem(db: Database, guild_id: int, problem: str, now: datetime) -> None:
    """Record why the weekly post needs attention (shown by /weekly status); the schedule stays on."""
    await db.execute(
        "UPDATE guild_settings SET weekly_problem = ?, updated_at = ? WHERE guild_id = ?",
        (problem[:500], utc_iso(now), guild_id),
    )
