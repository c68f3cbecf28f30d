"""The weekly post: schedule arithmetic and time zones, per-server settings, the (server, week) ledger and its
claims, the tick, content selection and the post's layout.

Modules, one concern each: `schedule` (week arithmetic, local times, time zones and their autocomplete), `countries`
(the country a post lists), `settings` (a server's settings, /weekly set and off), `ledger` (the ledger: claims,
posted and failed weeks), `poster` (what a poster is given and returns), `tick` (due posts, `run_tick`, and the
failures a poster may raise), `problems` (why a post cannot go out, in words an admin can act on), `content`
(what a week's post lists), `layout` (`render_weekly`) and `status` (/weekly
status).

May import: `bot.catalog`, `bot.votes`, `bot.storage` and `bot.common`. Other packages use only the names exported
here.
"""

from __future__ import annotations

from bot.weekly.content import WeeklyContent, preview_content
from bot.weekly.countries import country_choices, country_from_locale, country_name, resolve_country
from bot.weekly.layout import render_weekly
from bot.weekly.poster import AfterRecorded, DuePost, PostResult
from bot.weekly.problems import (
    POSTING_PERMISSIONS,
    REACTING_PERMISSIONS,
    channel_problem,
    gone_message,
    is_transient,
    mention,
    missing_permissions,
    missing_sentence,
    unreachable,
)
from bot.weekly.schedule import (
    WEEKDAYS,
    format_local_time,
    parse_local_time,
    resolve_timezone,
    timezone_choices,
    weekly_marker,
)
from bot.weekly.settings import disable_weekly, get_weekly_settings, set_weekly, weekly_region
from bot.weekly.status import (
    WeeklyStatus,
    describe_schedule,
    discord_time,
    message_link,
    status_text,
    weekly_status,
)
from bot.weekly.tick import (
    CannotCheckEarlierPost,
    GuildGone,
    MissingPermissions,
    PostChannelGone,
    PostFailure,
    TickReport,
    TransientPostFailure,
    run_tick,
)

__all__ = [
    "POSTING_PERMISSIONS",
    "REACTING_PERMISSIONS",
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
    "channel_problem",
    "country_choices",
    "country_from_locale",
    "country_name",
    "describe_schedule",
    "disable_weekly",
    "discord_time",
    "format_local_time",
    "get_weekly_settings",
    "gone_message",
    "is_transient",
    "mention",
    "message_link",
    "missing_permissions",
    "missing_sentence",
    "parse_local_time",
    "preview_content",
    "render_weekly",
    "resolve_country",
    "resolve_timezone",
    "run_tick",
    "set_weekly",
    "status_text",
    "timezone_choices",
    "unreachable",
    "weekly_marker",
    "weekly_region",
    "weekly_status",
]
