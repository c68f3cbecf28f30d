"""What the votes commands say, in the member's language (bot/common/i18n.py): the answers without votes, the
/forgetme question, and the /top list (built by bot.common.render)."""

from __future__ import annotations

import discord

from bot.common.i18n import N_, _, ngettext, number
from bot.common.render import ListItem, show_list
from bot.votes.emoji import THUMBS_DOWN, THUMBS_UP
from bot.votes.records import PERSONAL_GUILD_ID
from bot.votes.tallies import TopShow

PERIOD_TITLES = {
    "week": N_("Top shows this week"),
    "month": N_("Top shows this month"),
    "all": N_("Top shows of all time"),
}
NO_VOTES_IN_SERVER = N_("You have no votes in this server.")
NO_OWN_VOTES = N_("You have no votes of your own (the 👍/👎 buttons on cards where the bot is not in the server).")


def no_votes_message(space: int) -> str:
    return _(NO_OWN_VOTES if space == PERSONAL_GUILD_ID else NO_VOTES_IN_SERVER)


def forget_message(space: int, total: int) -> str:
    if space == PERSONAL_GUILD_ID:
        return ngettext(
            "Delete your {n} vote of your own (cast with the buttons on cards)? This cannot be undone.",
            "Delete all {n} votes of your own (cast with the buttons on cards)? This cannot be undone.",
            total,
        )
    return ngettext(
        "Delete your {n} vote in this server? This cannot be undone.",
        "Delete all {n} votes of yours in this server? This cannot be undone.",
        total,
    )


def top_embed(shows: list[TopShow], period: str, genre: str | None, service: str | None) -> discord.Embed:
    scope = " · ".join(filter(None, [genre, service]))
    title = _(PERIOD_TITLES.get(period, PERIOD_TITLES["all"])) + (f" ({scope})" if scope else "")
    items = [
        ListItem(title=show.title, reason=f"{THUMBS_UP} {number(show.up)} · {THUMBS_DOWN} {number(show.down)}")
        for show in shows
    ]
    footer = _("Ranked by the lower bound of the 95% Wilson score interval. React with a number to upvote that show.")
    return show_list(title, items, footer=footer)
