"""Recommendation lists as the bot shows them: pages of picks without repeats, the facts on each line, the words
around them. The ranking is bot/recommend/recommender.py's; every embed is built by bot.common.render.show_list.
No Discord calls here.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

import discord

from bot.catalog import matching_names, year_of
from bot.common.errors import UserFacingError
from bot.common.i18n import N_, _, join_words
from bot.common.render import ListItem, plain_line, show_list
from bot.recommend.reasons import Recommendation
from bot.recommend.recommender import Recommender
from bot.storage import Database

PAGE_SIZE = 5
MAX_PICKS = 50  # ten pages of "More": past that, the picks are no longer worth reading
COLD_START_HINT = N_("Vote with 👍/👎 on /show cards to get picks of your own.")
SERVER_COLD_START_HINT = N_("Nobody here has voted yet: vote with 👍/👎 on /show cards to get this server's own picks.")
VOTE_HINT = N_("React with a number to upvote that show.")
Scope = Literal["me", "server"]


@dataclass(frozen=True, slots=True)
class PickRequest:
    guild_id: int
    user_id: int
    scope: Scope = "me"
    genre: str | None = None
    service: str | None = None

    def filters(self) -> str:
        """'Crime · on Netflix', or '' without filters."""
        service = _("on {service}", service=self.service) if self.service else ""
        return " · ".join(part for part in (self.genre or "", service) if part)


@dataclass(frozen=True, slots=True)
class PickPage:
    items: tuple[Recommendation, ...]
    start: int  # the position of the first item among all the picks shown for this request (1-based)
    cold_start: bool  # the member (or, for the server, nobody) has voted: the picks are not personal
    has_more: bool

    @property
    def show_ids(self) -> list[int]:
        return [item.show_id for item in self.items]


async def next_picks(
    recommender: Recommender, request: PickRequest, shown: Collection[int] = (), size: int = PAGE_SIZE
) -> PickPage:
    """The next `size` picks, leaving out the ones already `shown` for this request.

    The ranking is asked for afresh (it follows votes cast meanwhile) and what was shown is skipped, so a "More" page
    neither repeats a pick nor skips one because the member voted on the previous page.
    """
    size = max(0, min(size, MAX_PICKS - len(shown)))
    wanted = len(shown) + size
    if request.scope == "server":
        page = await recommender.recommend_for_guild(
            request.guild_id, limit=wanted, genre=request.genre, service=request.service
        )
    else:
        page = await recommender.recommend_for_member(
            request.guild_id, request.user_id, limit=wanted, genre=request.genre, service=request.service
        )
    fresh = [item for item in page.items if item.show_id not in shown]
    items = tuple(fresh[:size])
    has_more = (len(fresh) > size or page.has_more) and len(shown) + len(items) < MAX_PICKS
    return PickPage(items, len(shown) + 1, page.cold_start, has_more and bool(items))


async def list_items(db: Database, picks: Sequence[Recommendation]) -> list[ListItem]:
    """One line per pick: the title, its year and network, and the reason it is listed (and its poster, the list's
    thumbnail when it comes first)."""
    rows = await db.fetchall(
        "SELECT id, premiered, network, poster_url FROM shows"
        " WHERE id IN (SELECT CAST(value AS BIGINT) FROM json_each(?))",
        (json.dumps([pick.show_id for pick in picks]),),
    )
    facts = {int(row[0]): (row[1], row[2], row[3]) for row in rows}
    items = []
    for pick in picks:
        premiered, network, poster = facts.get(pick.show_id, (None, None, None))
        items.append(
            ListItem(title=pick.title, year=year_of(premiered), service=network, reason=pick.reason, poster_url=poster)
        )
    return items


def picks_heading(request: PickRequest, member_name: str) -> str:
    filters = request.filters()
    if request.scope == "server":
        heading = _("Picks for this server")
    else:
        heading = _("Picks for {member}", member=plain_line(member_name, 80) or "?")
    return heading + (f" ({filters})" if filters else "")


def picks_embed(
    heading: str, items: Sequence[ListItem], page: PickPage, *, scope: Scope, votable: bool = True
) -> discord.Embed:
    """A page of picks, numbered 1️⃣…5️⃣ (the keycaps that vote for them on this message, when `votable`: not where
    the bot cannot read reactions)."""
    end = page.start + len(items) - 1
    notes = [
        _("Picks {first}–{last}", first=page.start, last=end)
        if end > page.start
        else _("Pick {first}", first=page.start)
    ]
    if page.cold_start:
        hint = SERVER_COLD_START_HINT if scope == "server" else COLD_START_HINT
        notes.append(_(hint))
    if votable:
        notes.append(_(VOTE_HINT))
    return show_list(heading, items, footer=" · ".join(notes))


def similar_embed(title: str, items: Sequence[ListItem], *, votable: bool = True) -> discord.Embed:
    heading = _("Shows like {title}", title=plain_line(title, 150))
    return show_list(heading, items, footer=_(VOTE_HINT) if votable else None)


def no_picks_message(request: PickRequest) -> str:
    filters = request.filters()
    if filters:
        return _("No picks match {filters}. Try another genre or service, or leave the filters out.", filters=filters)
    return _("I have nothing to recommend yet: the catalog is empty.")


def known_name(names: Sequence[str], typed: str | None, kind: str) -> str | None:
    """The catalog's spelling of a genre or service typed by a member (any case); an unknown one raises with
    the closest names."""
    if typed is None or not typed.strip():
        return None
    wanted = typed.strip().casefold()
    for name in names:
        if name.casefold() == wanted:
            return name
    close = matching_names(names, typed.strip()[:3], limit=5)
    shown = plain_line(typed, 60)
    unknown = (
        _('I know no genre called "{name}".', name=shown)
        if kind == "genre"
        else _('I know no service called "{name}".', name=shown)
    )
    hint = _("Try {names}.", names=join_words(close, style="or")) if close else ""
    raise UserFacingError(f"{unknown} {hint}".strip())
