"""Rendering: every embed and message text the bot sends is built here, within Discord's limits.

Two guarantees, proven by property tests (tests/test_render.py):

- nothing built here exceeds a Discord limit, however large the catalog record: long text is cut at a word boundary
  with an ellipsis, long lists end in "and N more";
- catalog text never pings nor breaks the layout: `@` is followed by a zero-width space (so `@everyone`, `@here`,
  `<@123>`, `<@&1>` are inert), `<#` likewise, and Markdown is escaped. Messages should still be sent with
  `NO_MENTIONS` as a second line of defence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import discord
from discord.utils import escape_markdown

from bot.common.i18n import N_, _, capitalised, ngettext, pgettext

# List markers, and the emoji members vote with on a list: the n-th keycap upvotes the n-th show (bot/votes).
KEYCAPS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟")

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_COUNT_LIMIT = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
CONTENT_LIMIT = 2000
URL_LIMIT = 2048

ELLIPSIS = "…"
SEARCH_TITLE_CHARS = 100  # of the title in a trailer search link: at most 12 characters each once encoded
TRAILER_URL_IN_MESSAGE = 1500  # longer, and a link would leave no room for the title in a 2,000-character message
ZWSP = "\u200b"
SYNOPSIS_ON_CARD = 1500  # a card is read at a glance: the full synopsis would push the facts off screen
NO_MENTIONS = discord.AllowedMentions.none()
CARD_COLOUR = discord.Colour(0x5865F2)

ATTRIBUTIONS = {
    "showbot": N_("Catalog: Showbot"),
    "tvmaze": N_("Data from TVmaze (CC BY-SA)"),
    "tmdb": N_("This product uses the TMDB API but is not endorsed or certified by TMDB"),
    "netflix": N_("Netflix titles dataset (Kaggle, CC0)"),
}

# Control characters (C0, DEL, C1) and the Unicode line/paragraph separators; newline and tab are handled apart.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_WHITESPACE = re.compile(r"\s+")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


# --------------------------------------------------------------------------------------------------------------------
# Text


def trailer_search_url(title: str, premiered: str | None) -> str:
    """A YouTube search for the trailer: offered, labelled as a search, when no trailer URL is known."""
    from urllib.parse import quote_plus

    year = f" {premiered[:4]}" if premiered else ""
    # The search needs only the title's start; a long title would make a link longer than a message may be.
    words = shorten(" ".join(title.split()), SEARCH_TITLE_CHARS).removesuffix(ELLIPSIS)
    return f"https://www.youtube.com/results?search_query={quote_plus(f'{words}{year} official trailer')}"


def neutralise_mentions(text: str) -> str:
    """Make every mention inert: `@everyone`, `@here`, `<@id>`, `<@!id>`, `<@&id>` and `<#id>`."""
    return text.replace("@", "@" + ZWSP).replace("<#", "<" + ZWSP + "#")


def inert(text: str) -> str:
    """Catalog text made safe to show: control characters dropped, Markdown escaped, mentions neutralised."""
    cleaned = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\t", " "))
    return neutralise_mentions(escape_markdown(cleaned))


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a word boundary when there is one, ending in an ellipsis."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    if limit == 1:
        return ELLIPSIS
    cut = text[: limit - 1]
    boundary = max(cut.rfind(" "), cut.rfind("\n"))
    if boundary >= limit // 2:
        cut = cut[:boundary]
    cut = cut.rstrip()
    # A dangling escape would swallow the ellipsis, a dangling "@" or "<" could join what follows.
    while cut and (cut.endswith(("@", "<")) or (len(cut) - len(cut.rstrip("\\"))) % 2):
        cut = cut[:-1].rstrip()
    return cut + ELLIPSIS


def safe_text(text: str | None, limit: int) -> str:
    """Catalog text made inert (see `inert`) and cut to `limit` characters. None becomes ''."""
    if not text:
        return ""
    # Cut before escaping too: escaping 10 MB of text only to throw most of it away would be slow.
    return shorten(inert(text[: limit * 2 + 16]), limit)


def plain_line(text: str | None, limit: int = 200) -> str:
    """One line of inert text: every run of whitespace or control characters becomes one space."""
    if not text:
        return ""
    return safe_text(_WHITESPACE.sub(" ", _CONTROL.sub(" ", text[: limit * 2 + 16])).strip(), limit)


def quoted(typed: str | None, limit: int = 40) -> str:
    """What a member typed, echoed in an answer: a short excerpt, on one line, inert (no markdown, no mention), in
    quotes. Never more: the member knows what they typed, and the answer must stay readable whatever it was."""
    return f'"{plain_line(typed, limit)}"'


def discord_date(value: str | None) -> str | None:
    """A 'YYYY-MM-DD' date as a Discord timestamp (shown in each reader's locale); None when unknown or invalid."""
    if not value:
        return None
    found = _DATE.match(value)
    if not found:
        return None
    try:
        day = date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        return None
    if day.year < 1970:
        return day.isoformat()  # negative Unix times do not render reliably in every Discord client
    # Noon UTC, not midnight: a calendar date then reads as the same day from UTC-11 to UTC+11, where midnight
    # would show the day before to everyone in the Americas.
    return f"<t:{int(datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp())}:D>"


def _url(value: Any) -> str | None:
    if (
        isinstance(value, str)
        and value.startswith(("https://", "http://"))
        and len(value) <= URL_LIMIT
        and not any(ch.isspace() for ch in value)
    ):
        return value
    return None


def set_poster(embed: discord.Embed, poster_url: Any) -> None:
    """The show's poster as the embed's thumbnail: only a URL a source gave (TVmaze image, TMDB poster_path), never
    a guessed one; without one the embed simply has no thumbnail."""
    poster = _url(poster_url)
    if poster:
        embed.set_thumbnail(url=poster)


def join_limited(items: Sequence[str], limit: int, *, separator: str = ", ", more: str | None = None) -> str:
    """Items joined within `limit` characters; the rest summed up by `more` ("and 12 more", in the current language)."""
    if not items:
        return ""
    more = more or _("and {n} more")
    full = separator.join(items)
    if len(full) <= limit:
        return full
    shown = 0
    length = 0
    for position, item in enumerate(items):
        addition = len(item) + (len(separator) if position else 0)
        summary = len(separator) + len(more.format(n=len(items) - position - 1))
        if length + addition + summary > limit:
            break
        length += addition
        shown += 1
    rest = len(items) - shown
    if shown:
        return separator.join(items[:shown]) + separator + more.format(n=rest)
    tail = separator + more.format(n=rest - 1) if rest > 1 else ""
    if limit - len(tail) >= 10:
        return shorten(items[0], limit - len(tail)) + tail
    return shorten(more.format(n=rest), limit)


# --------------------------------------------------------------------------------------------------------------------
# Embeds


def clamp_embed(embed: discord.Embed) -> discord.Embed:
    """Enforce every per-embed limit in place (title, description, fields, footer, author, 6000 in total)."""
    if embed.title:
        embed.title = shorten(str(embed.title), TITLE_LIMIT)
    if embed.description:
        embed.description = shorten(str(embed.description), DESCRIPTION_LIMIT)
    if embed.url and not _url(embed.url):
        embed.url = None
    fields = embed.fields[:FIELD_COUNT_LIMIT]
    embed.clear_fields()
    for item in fields:
        embed.add_field(
            name=shorten(str(item.name or ""), FIELD_NAME_LIMIT) or ZWSP,
            value=shorten(str(item.value or ""), FIELD_VALUE_LIMIT) or ZWSP,
            inline=bool(item.inline),
        )
    if embed.footer.text:
        embed.set_footer(text=shorten(embed.footer.text, FOOTER_LIMIT), icon_url=embed.footer.icon_url)
    if embed.author.name:
        embed.set_author(
            name=shorten(embed.author.name, AUTHOR_LIMIT), url=embed.author.url, icon_url=embed.author.icon_url
        )
    excess = len(embed) - EMBED_TOTAL_LIMIT
    if excess > 0 and embed.description:
        embed.description = shorten(embed.description, max(1, len(embed.description) - excess))
        excess = len(embed) - EMBED_TOTAL_LIMIT
    while excess > 0 and embed.fields:
        last = len(embed.fields) - 1
        field = embed.fields[last]
        room = len(field.value or "") - excess
        if room >= 40:
            embed.set_field_at(last, name=field.name, value=shorten(field.value or "", room), inline=bool(field.inline))
        else:
            embed.remove_field(last)
        excess = len(embed) - EMBED_TOTAL_LIMIT
    if excess > 0 and embed.footer.text:
        embed.set_footer(text=shorten(embed.footer.text, max(1, len(embed.footer.text) - excess)))
        excess = len(embed) - EMBED_TOTAL_LIMIT
    if excess > 0 and embed.title:
        embed.title = shorten(embed.title, max(1, len(embed.title) - excess))
    return embed


def attribution(sources: Iterable[str]) -> str:
    """The footer naming every source a show's data came from, in the wording each licence asks for."""
    notes = [
        _(ATTRIBUTIONS[s]) if s in ATTRIBUTIONS else _("Source: {source}", source=s) for s in dict.fromkeys(sources)
    ]
    return plain_line(" · ".join(notes) or _(ATTRIBUTIONS["showbot"]), FOOTER_LIMIT)


def cast_line(member: dict[str, Any]) -> str:
    name = plain_line(member.get("name"), 100) or _("Unknown")
    character = plain_line(member.get("character"), 100)
    return _("{name} as {character}", name=name, character=character) if character else name


def show_card(
    show: dict[str, Any],
    *,
    votes: tuple[int, int] | None = (0, 0),
    cast_shown: int = 6,
    english_note: str | None = None,
) -> discord.Embed:
    """The /show answer, from the dict `bot.catalog.export.show_json` returns. `votes`: the server's tally, None
    where there is no server's tally to show (a user install: the card's buttons take the member's own vote).
    `english_note`: said once, first in the footer, when the synopsis is English for a member of another language."""
    embed = discord.Embed(
        title=plain_line(show.get("title"), TITLE_LIMIT) or _("Untitled"),
        url=_url(show.get("official_site")),
        description=safe_text(show.get("synopsis"), SYNOPSIS_ON_CARD) or None,
        colour=CARD_COLOUR,
    )
    premiered = discord_date(show.get("premiered"))
    if premiered:
        embed.add_field(name=_("Premiered"), value=premiered)
    if show.get("network"):
        embed.add_field(name=_("Network"), value=plain_line(show["network"], 200))
    genres = [plain_line(genre, 60) for genre in show.get("genres") or []]
    if genres:
        embed.add_field(name=_("Genres"), value=join_limited(genres, 300))
    creators = [plain_line(name, 100) for name in show.get("creators") or []]
    if creators:
        embed.add_field(name=_("Created by"), value=join_limited(creators, 300))
    seasons, episodes = show.get("seasons"), show.get("episodes")
    if seasons or episodes:
        parts = []
        if seasons:
            parts.append(ngettext("{n} season", "{n} seasons", int(seasons)))
        if episodes:
            parts.append(ngettext("{n} episode", "{n} episodes", int(episodes)))
        embed.add_field(name=_("Seasons"), value=" · ".join(parts))
    if show.get("status"):
        embed.add_field(name=_("Status"), value=plain_line(capitalised(pgettext("status", str(show["status"]))), 100))
    if votes is not None:
        up, down = votes
        embed.add_field(name=_("Votes"), value=f"👍 {up} · 👎 {down}")
    cast = [cast_line(member) for member in show.get("cast") or []]
    if cast:
        shown = cast[: max(0, cast_shown)]
        rest = len(cast) - len(shown)
        value = join_limited(shown, FIELD_VALUE_LIMIT - 40, separator="\n")
        if rest:
            value += "\n" + _("and {n} more — see /cast", n=rest)
        embed.add_field(name=_("Cast"), value=value, inline=False)
    set_poster(embed, show.get("poster_url"))
    credits = attribution(show.get("sources") or [show.get("source") or "showbot"])
    embed.set_footer(text=f"{plain_line(english_note, 100)} · {credits}" if english_note else credits)
    return clamp_embed(embed)


def trailer_link(show: dict[str, Any]) -> tuple[str, str, bool]:
    """(button label, URL, is_search): the trailer when known, else a YouTube search labelled as a search."""
    url = _url(show.get("trailer_url"))
    if url:
        return _("Trailer"), url, False
    return _("Search trailer"), trailer_search_url(str(show.get("title") or ""), show.get("premiered")), True


def trailer_message(show: dict[str, Any]) -> str:
    """The /trailer answer: the title and the bare link, so that Discord unfurls the player. A link is never cut (a
    cut link is a broken one); one too long to share a message with the title gives way to the search."""
    _label, url, is_search = trailer_link(show)
    if len(url) > TRAILER_URL_IN_MESSAGE:
        url, is_search = trailer_search_url(str(show.get("title") or ""), show.get("premiered")), True
    title = plain_line(show.get("title"), 200) or _("This show")
    if is_search:
        return _("No trailer on file for **{title}**: search YouTube: {url}", title=title, url=url)
    return f"**{title}**: {url}"


def cast_pages(show: dict[str, Any], per_page: int = 15) -> list[discord.Embed]:
    """The full cast with characters, creators on the first page, "Page i/n" in every footer."""
    per_page = max(1, per_page)
    title = plain_line(show.get("title"), 200) or _("Untitled")
    lines = [cast_line(member) for member in show.get("cast") or []]
    chunks = [lines[start : start + per_page] for start in range(0, len(lines), per_page)] or [[]]
    creators = [plain_line(name, 100) for name in show.get("creators") or []]
    pages = []
    for number, chunk in enumerate(chunks, start=1):
        embed = discord.Embed(
            title=shorten(_("Cast of {title}", title=title), TITLE_LIMIT),
            description=join_limited(chunk, DESCRIPTION_LIMIT, separator="\n") if chunk else _("No cast listed."),
            colour=CARD_COLOUR,
        )
        if number == 1 and creators:
            embed.add_field(name=_("Created by"), value=join_limited(creators, FIELD_VALUE_LIMIT), inline=False)
        embed.set_footer(text=_("Page {page}/{pages}", page=number, pages=len(chunks)))
        pages.append(clamp_embed(embed))
    return pages


@dataclass(frozen=True, slots=True)
class ListItem:
    """One line of a list of shows (search results, /top, the weekly post, recommendations)."""

    title: str
    year: int | None = None
    service: str | None = None
    when: str | None = None  # a 'YYYY-MM-DD' date shown as a Discord timestamp
    synopsis: str | None = None  # shown as one short line
    reason: str | None = None  # why it is listed: "3 👍 this week", "because you liked Dark"
    url: str | None = None
    poster_url: str | None = None  # a source's poster (TVmaze, TMDB): the first item's is the list's thumbnail


def list_line(item: ListItem, marker: str, budget: int) -> str:
    head = f"**{plain_line(item.title, 150) or _('Untitled')}**"
    url = _url(item.url)
    if url:
        # Parentheses would end the Markdown link early; percent-encoded they mean the same URL.
        head = f"[{head}]({url.replace('(', '%28').replace(')', '%29')})"
    facts = [f"({item.year})" if item.year else "", plain_line(item.service, 60), discord_date(item.when) or ""]
    first = " · ".join(part for part in [" ".join(filter(None, [head, facts[0]])), *facts[1:]] if part)
    lines = [f"{marker} {first}".strip()]
    if item.synopsis:
        lines.append(plain_line(item.synopsis, 140))
    if item.reason:
        lines.append(f"*{plain_line(item.reason, 120)}*")
    text = "\n".join(lines)
    if len(text) > budget:
        text = shorten(lines[0], budget)
    return text


def show_list(
    title: str, items: Sequence[ListItem], *, numbered: bool = True, footer: str | None = None, start: int = 1
) -> discord.Embed:
    """A list of shows in one embed: keycap numbers 1️⃣…🔟 (then "11."), one short block per show; the first
    show's poster, when a source gave one, as the thumbnail."""
    embed = discord.Embed(title=plain_line(title, TITLE_LIMIT) or _("Shows"), colour=CARD_COLOUR)
    if items:
        set_poster(embed, items[0].poster_url)
    if not items:
        embed.description = _("Nothing to show.")
    else:
        budget = max(60, (DESCRIPTION_LIMIT - 2 * len(items)) // len(items))
        blocks = []
        for position, item in enumerate(items, start=start):
            marker = "•"
            if numbered:
                marker = KEYCAPS[position - 1] if 1 <= position <= len(KEYCAPS) else f"{position}."
            blocks.append(list_line(item, marker, budget))
        embed.description = join_limited(blocks, DESCRIPTION_LIMIT, separator="\n\n", more="…" + _("and {n} more"))
    if footer:
        embed.set_footer(text=plain_line(footer, FOOTER_LIMIT))
    return clamp_embed(embed)
