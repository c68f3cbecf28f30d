"""What /weekly status shows: a server's schedule in words, the next post, the last post with its link, the recorded
problem and the weeks skipped or failed (`weekly_status` reads it, `status_text` writes the answer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfoNotFoundError

from bot.common import render
from bot.common.i18n import NP_, _, pgettext, weekday_name
from bot.storage import Database
from bot.weekly.ledger import LEDGER_COLUMNS, LedgerEntry, entry_from_row, ledger_history
from bot.weekly.schedule import format_local_time
from bot.weekly.settings import WeeklySettings, get_weekly_settings


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
        f"""SELECT {LEDGER_COLUMNS} FROM weekly_posts WHERE guild_id = ? AND status = 'posted'
            ORDER BY week DESC LIMIT 1""",
        (guild_id,),
    )
    next_post = None
    if settings is not None:
        try:
            next_post = settings.next_post(now)
        except (ZoneInfoNotFoundError, ValueError):
            next_post = None
    return WeeklyStatus(settings, next_post, None if row is None else entry_from_row(row), recent)


# What a week the ledger did not post says of itself, in the member's language.
OUTCOMES = (NP_("weekly", "skipped"), NP_("weekly", "failed"))


def message_link(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def describe_schedule(settings: WeeklySettings) -> str:
    """'Fridays at 18:30 (Asia/Kolkata) in <#123>', or why there is no schedule."""
    if not settings.complete or settings.weekday is None:
        return _("Not set up: use /weekly set.")
    assert settings.local_time is not None
    channel = f"<#{settings.channel_id}>"
    text = _(
        "Every {day} at {time} ({timezone}) in {channel}",
        day=weekday_name(settings.weekday),
        time=format_local_time(settings.local_time),
        timezone=settings.timezone,
        channel=channel,
    )
    return text if settings.enabled else _("Off (was: {schedule})", schedule=text)


def discord_time(when: datetime) -> str:
    """A Discord timestamp: the full date and time in each reader's own zone, and how far off it is."""
    stamp = int(when.timestamp())
    return f"<t:{stamp}:F> (<t:{stamp}:R>)"


def status_text(status: WeeklyStatus, guild_id: int, channel_problem: Callable[[int], str | None]) -> str:
    """The /weekly status answer. `channel_problem(channel_id)`: why the bot could not post in the channel right now
    (Discord's side: the cog checks its cache and permissions), or None."""
    settings = status.settings
    if settings is None or not settings.complete:
        return _("The weekly post is not set up: use /weekly set.")
    lines = [_("**Weekly post:** {schedule}", schedule=describe_schedule(settings))]
    if status.next_post is not None:
        lines.append(_("**Next post:** {when}", when=discord_time(status.next_post)))
    last = status.last_posted
    if last is not None and last.channel_id is not None and last.message_id is not None:
        link = message_link(guild_id, last.channel_id, last.message_id)
        when = f"<t:{int(last.scheduled.timestamp())}:F> · {link}"
        lines.append(_("**Last post:** {when}", when=when))
    else:
        lines.append(_("**Last post:** none yet"))
    if settings.problem:
        lines.append(_("⚠️ **Needs attention:** {problem}", problem=render.plain_line(settings.problem, 500)))
    if settings.enabled and settings.channel_id is not None:
        live = channel_problem(settings.channel_id)
        if live and not (settings.problem or "").startswith(live.rstrip(".")):  # not the recorded problem again
            lines.append(_("⚠️ **Channel:** {problem}", problem=live))
    missed = [entry for entry in status.recent if entry.status in ("skipped", "failed")]
    if missed:
        lines.append(_("**Weeks not posted:**"))
        for entry in missed:
            outcome = pgettext("weekly", entry.status)
            detail = render.plain_line(entry.detail or outcome, 300)
            lines.append(f"• <t:{int(entry.scheduled.timestamp())}:D>: {outcome} — {detail}")
    return render.shorten("\n".join(lines), render.CONTENT_LIMIT)
