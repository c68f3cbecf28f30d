"""How the console draws what the bot sent: messages, embeds, buttons, reactions, and Discord's timestamps as a reader
whose Discord is in a given language sees them."""

from __future__ import annotations

import re
import textwrap
from datetime import UTC, datetime
from typing import Any

from babel.dates import format_date, format_time, format_timedelta

from bot.common.i18n import SOURCE_LOCALE, babel_locale
from bot.emulator.driver import iter_components
from bot.emulator.state import Message


def render_message(message: Message, *, channel: str, locale: str = SOURCE_LOCALE) -> str:
    """A message as text: header, content, embeds (title, description, fields, footer), buttons, reactions;
    timestamps as a reader whose Discord is in `locale` sees them."""
    header = f"── {message.author.username} in {channel}" + (" (only you can see this)" if message.ephemeral else "")
    lines = [header + " " + "─" * max(3, 60 - len(header))]
    if message.content:
        lines += _wrap(message.content, "", locale)
    for embed in message.embeds:
        lines += render_embed(embed, locale)
    buttons = []
    for component in iter_components(message.components):
        if component.get("type") == 2:
            label = component.get("label") or (component.get("emoji") or {}).get("name") or "?"
            url = f" ↗ {component['url']}" if component.get("url") else ""
            disabled = " (disabled)" if component.get("disabled") else ""
            buttons.append(f"[ {label}{url} ]{disabled}")
        else:
            options = ", ".join(option.get("label", "") for option in component.get("options", []))
            buttons.append(f"[ ▾ {component.get('placeholder') or component.get('custom_id')}: {options} ]")
    if buttons:
        lines.append(" ".join(buttons))
    reactions = render_reactions(message)
    if reactions:
        lines.append(reactions)
    return "\n".join(lines)


def render_embed(embed: dict[str, Any], locale: str = SOURCE_LOCALE) -> list[str]:
    lines = []
    if (embed.get("author") or {}).get("name"):
        lines.append(f"┃ {embed['author']['name']}")
    if embed.get("title"):
        lines.append(f"┃ ** {embed['title']} **" + (f"  <{embed['url']}>" if embed.get("url") else ""))
    if embed.get("description"):
        lines += _wrap(embed["description"], "┃ ", locale)
    for field in embed.get("fields") or []:
        lines += _wrap(f"{field.get('name')}: {field.get('value')}", "┃   ", locale)
    if (embed.get("image") or {}).get("url"):
        lines.append(f"┃ [image {embed['image']['url']}]")
    if (embed.get("footer") or {}).get("text"):
        lines += _wrap(embed["footer"]["text"], "┃ — ", locale)
    return lines


def render_reactions(message: Message) -> str:
    return "  ".join(f"{emoji} {count}" for emoji, count in message.reaction_counts().items())


_TIMESTAMP = re.compile(r"<t:(-?\d+)(?::([tTdDfFR]))?>")
_TIMESTAMP_FORMATS = {
    "t": "%H:%M", "T": "%H:%M:%S", "d": "%Y-%m-%d", "D": "%-d %B %Y", "f": "%-d %B %Y %H:%M",
    "F": "%A, %-d %B %Y %H:%M",
}  # fmt: skip


def humanise_timestamps(text: str, locale: str = SOURCE_LOCALE) -> str:
    """Show Discord's `<t:UNIX:STYLE>` marks as the Discord app would: in the reader's own time zone and language."""

    def readable(match: re.Match[str]) -> str:
        when = datetime.fromtimestamp(int(match.group(1)), UTC).astimezone()
        style = match.group(2) or "f"
        if locale != SOURCE_LOCALE:
            return localised_timestamp(when, style, locale)
        if style == "R":
            days = (when.date() - datetime.now(UTC).astimezone().date()).days
            return "today" if days == 0 else (f"in {days} days" if days > 0 else f"{-days} days ago")
        return when.strftime(_TIMESTAMP_FORMATS[style])

    return _TIMESTAMP.sub(readable, text)


def localised_timestamp(when: datetime, style: str, locale: str) -> str:
    """A timestamp as a Discord client in `locale` shows it (Babel's date and time formats for the language)."""
    where = babel_locale(locale)
    if style == "R":
        return format_timedelta(when - datetime.now(UTC), add_direction=True, locale=where)
    if style in ("t", "T"):
        return format_time(when, "short" if style == "t" else "medium", locale=where)
    date = format_date(when, {"d": "short", "D": "long", "f": "long", "F": "full"}[style], locale=where)
    return date if style in ("d", "D") else f"{date} {format_time(when, 'short', locale=where)}"


def _wrap(text: str, prefix: str, locale: str = SOURCE_LOCALE) -> list[str]:
    lines: list[str] = []
    for paragraph in humanise_timestamps(str(text), locale).splitlines() or [""]:
        lines += textwrap.wrap(paragraph, 100, initial_indent=prefix, subsequent_indent=prefix) or [prefix.rstrip()]
    return lines
