"""The weekly post: schedule arithmetic and time zones, per-server settings, the (server, week) ledger and its
claims, the tick, content selection and the post's layout.

May import: `bot.catalog`, `bot.votes`, `bot.storage` and `bot.common`. Other packages use only the names exported
here.
"""

from __future__ import annotations

from bot.weekly.countries import country_choices, country_from_locale, resolve_country
from bot.weekly.posts import (
    WEEKDAYS,
    AfterRecorded,
    CannotCheckEarlierPost,
    DuePost,
    GuildGone,
    MissingPermissions,
    PostChannelGone,
    PostFailure,
    PostResult,
    TickReport,
    TransientPostFailure,
    WeeklyContent,
    WeeklyStatus,
    describe_schedule,
    disable_weekly,
    format_local_time,
    get_weekly_settings,
    message_link,
    parse_local_time,
    preview_content,
    render_weekly,
    resolve_timezone,
    run_tick,
    set_weekly,
    timezone_choices,
    weekly_marker,
    weekly_status,
)

__all__ = [
    "WEEKDAYS",
    "AfterRecorded",
    "CannotCheckEarlierPost",
    "DuePost",
    "GuildGone",
    "MissingPermissions",
    "PostChannelGone",
    "PostFailure",
    "PostResult",
    "TickReport",
    "TransientPostFailure",
    "WeeklyContent",
    "WeeklyStatus",
    "country_choices",
    "country_from_locale",
    "describe_schedule",
    "disable_weekly",
    "format_local_time",
    "get_weekly_settings",
    "message_link",
    "parse_local_time",
    "preview_content",
    "render_weekly",
    "resolve_country",
    "resolve_timezone",
    "run_tick",
    "set_weekly",
    "timezone_choices",
    "weekly_marker",
    "weekly_status",
]
