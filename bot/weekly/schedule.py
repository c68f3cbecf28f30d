"""When a server's weekly post is due: week arithmetic in the server's zone, the local wall-clock time, and time
zones (resolving what an admin typed, and their autocomplete). Pure functions, no database.

A server's schedule is a weekday, a local wall-clock time and an IANA zone. On a daylight-saving change day the
wall-clock time may not exist (spring forward: 02:30 in New York on the second Sunday of March) -> the post is made at
the first instant after the gap (03:00 local, the moment the clocks jump), or may occur twice (fall back: 01:30) -> the
FIRST occurrence (fold=0). Either way a week has exactly one scheduled instant, and that instant (UTC ISO text,
`week_key`) is the week's key in the `weekly_posts` ledger.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.common import render
from bot.common.clock import utc_iso
from bot.common.errors import UserFacingError
from bot.common.i18n import _, join_words

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


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
    return week  # the ISO week ('2025-W02'): the footer's words around it are translated, this stays the same


# ====================================================================================================================
# Local times and time zones, as typed in /weekly set

_TIME = re.compile(r"^(?P<hour>\d{1,2})(?:[:.h]?(?P<minute>\d{2}))?\s*(?P<half>[ap])?\.?(?:m\.?)?$", re.IGNORECASE)


def parse_local_time(text: str) -> time:
    """'18:00', '9:30', '1800', '6pm', '6:30 pm', '12am', 'noon', 'midnight' -> a wall-clock time (minutes)."""
    key = text.strip().casefold()
    if key in ("noon", "midday"):
        return time(12, 0)
    if key == "midnight":
        return time(0, 0)
    match = _TIME.match(key)
    problem = _("{typed} is not a time of day: use 24-hour HH:MM like 18:00, or 6pm.", typed=render.quoted(text))
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
        hint = (
            _("Did you mean {zones}?", zones=join_words(suggestions, style="or"))
            if suggestions
            else _("Use a name like Europe/London.")
        )
        unknown = _("{typed} is not a time zone I know.", typed=render.quoted(text))
        raise UserFacingError(f"{unknown} {hint}")
    try:
        zone_for(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserFacingError(_("The time zone {zone} cannot be loaded on this system.", zone=name)) from None
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
