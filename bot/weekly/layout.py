"""The weekly post's layout: `render_weekly` turns a week's content into (message content, embed), the same for
/weekly preview and the real post. Layout only: escaping, mention neutralisation and every Discord limit come from
bot/common/render.py (plain_line, shorten, clamp_embed), the one module that enforces them.
"""

from __future__ import annotations

from functools import lru_cache

import discord

from bot.common import render
from bot.common.i18n import N_, _, number
from bot.weekly.content import SYNOPSIS_LENGTH, WeeklyContent, WeeklyItem
from bot.weekly.schedule import weekly_marker

POST_TITLE = N_("📺 New this week")
TITLE_LENGTH = 100
SERVICE_LENGTH = 40
KIND_LABELS = {
    "premiere": N_("new series"),
    "season_premiere": N_("season premiere"),
    "episodes": N_("new episodes"),
    "added": N_("added"),
}


@lru_cache(maxsize=16384)
def _inert(text: str, limit: int) -> str:
    """render.plain_line, cached: a tick renders the same few shows for every server, and escaping is the costly
    part of rendering (a 1,000-server tick spent ~0.5 s in it uncached)."""
    return render.plain_line(text, limit)


def release_label(item: WeeklyItem) -> str:
    if item.returns:
        return _("returns with season {season}", season=item.season) if item.season else _("returns")
    if item.release_kind == "season_premiere" and item.season:
        return _("season {season} premiere", season=item.season)
    label = KIND_LABELS.get(item.release_kind or "")
    return _(label) if label else ""


def _item_lines(item: WeeklyItem, synopsis_limit: int) -> str:
    parts = [f"{item.emoji} **{_inert(item.title, TITLE_LENGTH) or _('Untitled')}**"]
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
        if content.picks_from_votes:
            blocks.append(_("Nothing new this week. This week's picks from your votes:"))
        else:
            blocks.append(_("Nothing new this week. This week's picks from the catalog's best-known shows:"))
        blocks.extend(_item_lines(item, synopsis_limit) for item in content.picks)
        if not content.picks:
            blocks.append(_("The catalog is empty: ask an admin to import some shows."))
    else:
        if content.out_this_week:
            blocks.append(_("**Out this week**"))
            blocks.extend(_item_lines(item, synopsis_limit) for item in content.out_this_week)
        if content.coming_up:
            blocks.append(_("**Coming up**"))
            blocks.extend(_item_lines(item, synopsis_limit) for item in content.coming_up)
        if content.not_shown:
            blocks.append("…" + _("and {n} more", n=number(content.not_shown)) + ".")
    return "\n".join(blocks)


def render_weekly(content: WeeklyContent) -> tuple[str, discord.Embed]:
    """(message content, embed) of the post, the same for /weekly preview and the real post.

    Catalog text goes through render.plain_line (inert: no mention, no Markdown); the embed is finished by
    render.clamp_embed, so Discord's limits are enforced where every other embed's are. Synopses are shortened
    first, so that every numbered line stays and the keycap reactions always match a visible line.
    """
    footer = _("Vote with the number reactions · week {week}", week=weekly_marker(content.week))
    title = _(POST_TITLE)
    room = min(render.DESCRIPTION_LIMIT, render.EMBED_TOTAL_LIMIT - len(title) - len(footer))
    description = ""
    for synopsis_limit in (SYNOPSIS_LENGTH, 100, 60, 0):
        description = _description(content, synopsis_limit)
        if len(description) <= room:
            break
    embed = discord.Embed(title=title, description=description, colour=render.CARD_COLOUR, timestamp=content.post_time)
    embed.set_footer(text=footer)
    if content.items:
        render.set_poster(embed, content.items[0].poster_url)
    render.clamp_embed(embed)
    items = content.items
    if items:
        message = _("This week's shows: react with {first}–{last} to vote.", first=items[0].emoji, last=items[-1].emoji)
    else:
        message = _("This week's shows.")
    return render.shorten(message, render.CONTENT_LIMIT), embed
