"""Rendering: the cards, lists and messages, Discord's limits under any catalog record, and mentions never pinging."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import discord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.catalog import seed_if_empty, show_json
from bot.common.render import (
    ATTRIBUTIONS,
    CONTENT_LIMIT,
    EMBED_TOTAL_LIMIT,
    KEYCAPS,
    ListItem,
    attribution,
    cast_pages,
    clamp_embed,
    discord_date,
    plain_line,
    safe_text,
    shorten,
    show_card,
    show_list,
    trailer_link,
    trailer_message,
)
from bot.storage import open_database

# Huge generated records are the point of these tests: a busy machine must not turn that into a failure.
SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
# Anything Discord would turn into a ping or a channel link.
MENTION = re.compile(r"@(everyone|here)|<@[!&]?\d+>|<#\d+>")


def texts_of(embed: discord.Embed) -> list[str]:
    parts = [embed.title or "", embed.description or "", embed.footer.text or "", embed.author.name or ""]
    for field in embed.fields:
        parts += [field.name or "", field.value or ""]
    return parts


def assert_within_limits(embed: discord.Embed) -> None:
    assert len(embed.title or "") <= 256
    assert len(embed.description or "") <= 4096
    assert len(embed.fields) <= 25
    for field in embed.fields:
        assert 1 <= len(field.name or "") <= 256
        assert 1 <= len(field.value or "") <= 1024
    assert len(embed.footer.text or "") <= 2048
    assert len(embed.author.name or "") <= 256
    assert len(embed) <= EMBED_TOTAL_LIMIT
    for text in texts_of(embed):
        assert not MENTION.search(text), text[:200]
    embed.to_dict()  # serialisable as discord.py would send it


def seven_seconds(**changes: Any) -> dict[str, Any]:
    show: dict[str, Any] = {
        "id": 1,
        "title": "Seven Seconds",
        "alt_titles": [],
        "premiered": "2018-02-23",
        "network": "Netflix",
        "status": "ended",
        "seasons": 1,
        "episodes": 10,
        "official_site": None,
        "poster_url": None,
        "synopsis": "In Jersey City, a police officer strikes a Black teenager with his car.",
        "genres": ["Crime", "Drama", "Thriller"],
        "creators": ["Veena Sud"],
        "cast": [
            {"name": "Regina King", "character": "Latrice Butler"},
            {"name": "Russell Hornsby", "character": "Isaiah Butler"},
            {"name": "Clare-Hope Ashitey", "character": "KJ Harper"},
            {"name": "Beau Knapp", "character": "Pete Jablonski"},
        ],
        "trailer_url": None,
        "sources": ["showbot"],
        "source": "showbot",
    }
    show.update(changes)
    return show


def field_values(embed: discord.Embed) -> dict[str, str]:
    return {field.name or "": field.value or "" for field in embed.fields}


# --------------------------------------------------------------------------------------------------------------------
# The show card


def test_show_card_has_every_fact() -> None:
    embed = show_card(seven_seconds(), votes=(3, 1))
    assert embed.title == "Seven Seconds"
    assert embed.url is None
    assert embed.description and embed.description.startswith("In Jersey City")
    fields = field_values(embed)
    assert fields["Premiered"] == "<t:1519387200:D>"  # 2018-02-23T12:00:00Z: noon, the same day in most time zones
    assert fields["Network"] == "Netflix"
    assert fields["Genres"] == "Crime, Drama, Thriller"
    assert fields["Created by"] == "Veena Sud"
    assert fields["Seasons"] == "1 season · 10 episodes"
    assert fields["Status"] == "Ended"
    assert fields["Votes"] == "👍 3 · 👎 1"
    assert fields["Cast"].splitlines() == [
        "Regina King as Latrice Butler",
        "Russell Hornsby as Isaiah Butler",
        "Clare-Hope Ashitey as KJ Harper",
        "Beau Knapp as Pete Jablonski",
    ]
    assert embed.footer.text == "Catalog: Showbot"
    assert embed.thumbnail.url is None
    assert_within_limits(embed)


def test_show_card_links_the_official_site_and_shows_the_poster() -> None:
    embed = show_card(seven_seconds(official_site="https://example.org/7s", poster_url="https://img.example/p.jpg"))
    assert embed.url == "https://example.org/7s"
    assert embed.thumbnail.url == "https://img.example/p.jpg"
    unsafe = show_card(seven_seconds(official_site="javascript:alert(1)", poster_url="not a url"))
    assert unsafe.url is None and unsafe.thumbnail.url is None


def test_long_cast_points_to_the_cast_command() -> None:
    cast = [{"name": f"Actor {i}", "character": f"Role {i}"} for i in range(20)]
    lines = field_values(show_card(seven_seconds(cast=cast), cast_shown=6))["Cast"].splitlines()
    assert lines[:6] == [f"Actor {i} as Role {i}" for i in range(6)]
    assert lines[6] == "and 14 more — see /cast"
    assert len(lines) == 7
    no_character = show_card(seven_seconds(cast=[{"name": "Solo", "character": None}]))
    assert field_values(no_character)["Cast"] == "Solo"


def test_unknown_facts_are_left_out() -> None:
    bare = {"id": 9, "title": "Bare", "sources": []}
    embed = show_card(bare)
    assert list(field_values(embed)) == ["Votes"]
    assert embed.description is None
    assert embed.footer.text == ATTRIBUTIONS["showbot"]
    assert discord_date("1963-11-23") == "1963-11-23"  # before 1970: plain date
    assert discord_date("2018-02-30") is None
    assert discord_date("soon") is None


def test_attribution_names_every_source_in_its_licence_wording() -> None:
    footer = attribution(["tvmaze", "tmdb", "netflix", "showbot"])
    assert "Data from TVmaze (CC BY-SA)" in footer
    assert "This product uses the TMDB API but is not endorsed or certified by TMDB" in footer
    assert "Netflix titles dataset (Kaggle, CC0)" in footer
    assert "Catalog: Showbot" in footer
    assert show_card(seven_seconds(sources=["tvmaze"])).footer.text == "Data from TVmaze (CC BY-SA)"


def test_trailer_link_or_search() -> None:
    assert trailer_link(seven_seconds(trailer_url="https://www.youtube.com/watch?v=abc")) == (
        "Trailer",
        "https://www.youtube.com/watch?v=abc",
        False,
    )
    label, url, is_search = trailer_link(seven_seconds())
    assert (label, is_search) == ("Search trailer", True)
    assert url.startswith("https://www.youtube.com/results?search_query=Seven+Seconds+2018+official+trailer")
    assert "search" in trailer_message(seven_seconds()).lower()
    assert trailer_message(seven_seconds(trailer_url="https://youtu.be/x")).endswith("https://youtu.be/x")


async def test_show_card_from_the_shipped_catalog(tmp_path: Path) -> None:
    async with open_database(tmp_path / "t.sqlite3") as db:
        await seed_if_empty(db)
        show_id = await db.fetchval("SELECT id FROM shows WHERE title = 'Seven Seconds'")
        assert show_id is not None  # the shipped catalog has it (a skip here would hide a lost show)
        show = await show_json(db, show_id)
    assert show is not None
    embed = show_card(show)
    fields = field_values(embed)
    assert fields["Premiered"] == "<t:1519387200:D>"
    assert "Veena Sud" in fields["Created by"]
    assert "Regina King as Latrice Butler" in fields["Cast"]
    assert_within_limits(embed)


# --------------------------------------------------------------------------------------------------------------------
# Cast pages and lists


def test_cast_pages() -> None:
    cast = [{"name": f"Actor {i}", "character": f"Role {i}"} for i in range(40)]
    pages = cast_pages(seven_seconds(cast=cast, creators=["Veena Sud"]), per_page=15)
    assert len(pages) == 3
    assert [page.footer.text for page in pages] == ["Page 1/3", "Page 2/3", "Page 3/3"]
    assert pages[0].title == "Cast of Seven Seconds"
    assert (pages[0].description or "").splitlines()[0] == "Actor 0 as Role 0"
    assert len((pages[2].description or "").splitlines()) == 10
    assert field_values(pages[0]) == {"Created by": "Veena Sud"}
    assert field_values(pages[1]) == {}
    empty = cast_pages(seven_seconds(cast=[]))
    assert len(empty) == 1 and empty[0].description == "No cast listed." and empty[0].footer.text == "Page 1/1"


def test_show_list_numbers_with_keycaps_then_digits() -> None:
    items = [
        ListItem(f"Show {i}", year=2000 + i, service="Netflix", when="2024-05-01", synopsis="A story.", reason="3 👍")
        for i in range(1, 13)
    ]
    embed = show_list("This week", items, footer="Vote with the reactions")
    blocks = (embed.description or "").split("\n\n")
    assert blocks[0].splitlines() == ["1️⃣ **Show 1** (2001) · Netflix · <t:1714564800:D>", "A story.", "*3 👍*"]
    assert blocks[9].startswith(KEYCAPS[9])
    assert blocks[10].startswith("11. **Show 11**")
    assert embed.footer.text == "Vote with the reactions"
    unnumbered = show_list("Results", [ListItem("Dark")], numbered=False)
    assert unnumbered.description == "• **Dark**"
    assert show_list("Empty", []).description == "Nothing to show."
    linked = show_list("Links", [ListItem("Dark", url="https://e.org/wiki/Dark_(TV_series)")], numbered=False)
    assert linked.description == "• [**Dark**](https://e.org/wiki/Dark_%28TV_series%29)"


# --------------------------------------------------------------------------------------------------------------------
# Text safety


def test_shorten_cuts_at_a_word_boundary_with_an_ellipsis() -> None:
    assert shorten("one two three", 100) == "one two three"
    assert shorten("one two three", 10) == "one two…"
    assert shorten("abcdefghijklmnop", 8) == "abcdefg…"
    assert shorten("ab\\*cd", 4) == "ab…"  # never ends in a dangling escape, which would swallow the ellipsis
    assert shorten("ab\\\\cd", 5) == "ab\\\\…"  # an escaped backslash is whole
    assert shorten("hi <@123>", 5) == "hi…"
    assert shorten("x", 0) == ""


def test_mentions_markdown_and_control_characters_are_made_inert() -> None:
    text = safe_text("@everyone @here <@123> <@!45> <@&6> <#7> **bold** _it_ `code` \x00\x1b[0m", 500)
    assert not MENTION.search(text)
    assert "\\*\\*bold\\*\\*" in text and "\\_it\\_" in text and "\\`code\\`" in text
    assert "\x00" not in text and "\x1b" not in text
    assert plain_line("a\nb\r\n\tc  d") == "a b c d"
    assert plain_line(None) == "" and safe_text(None, 10) == ""


# --------------------------------------------------------------------------------------------------------------------
# Property tests: no record, however large or hostile, breaks a limit or pings

FRAGMENTS = [
    "@everyone", "@here", "<@123456789012345678>", "<@!1>", "<@&42>", "<#99>", "**", "__", "`", "```", "> ", "# ",
    "[x](https://e.com)", "\n", " ", "word", "é", "🙂", "\x00", "||", "~~", "\\", "<", "@", "\u200b", "-",
]  # fmt: skip

big_text = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.builds(
        lambda parts, repeat: "".join(parts) * repeat,
        st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), min_size=1, max_size=6),
        st.integers(1, 2500),
    ),
)
names = st.one_of(st.text(min_size=1, max_size=30), big_text.filter(bool))


@st.composite
def catalog_records(draw: st.DrawFn) -> dict[str, Any]:
    cast_size = draw(st.sampled_from([0, 1, 6, 7, 40, 500]))
    name = draw(names)
    character = draw(big_text)
    cast = [{"name": f"{name}{i}", "character": character} for i in range(cast_size)]
    return {
        "id": 1,
        "title": draw(names),
        "premiered": draw(st.one_of(st.none(), st.sampled_from(["2018-02-23", "1950-01-01", "x"]))),
        "network": draw(big_text),
        "status": draw(big_text),
        "seasons": draw(st.one_of(st.none(), st.integers(0, 10**9))),
        "episodes": draw(st.one_of(st.none(), st.integers(0, 10**9))),
        "official_site": draw(st.one_of(st.none(), st.just("https://e.org/" + "a" * 3000), st.just("https://e.org"))),
        "poster_url": draw(st.one_of(st.none(), st.just("https://e.org/p.jpg"))),
        "synopsis": draw(big_text),
        "genres": draw(st.lists(names, max_size=30)),
        "creators": draw(st.lists(names, max_size=30)),
        "cast": cast,
        "trailer_url": None,
        "sources": draw(st.lists(st.sampled_from(["showbot", "tvmaze", "tmdb", "netflix", "odd"]), max_size=5)),
    }


@settings(max_examples=120, deadline=None, suppress_health_check=SLOW_IS_FINE)
@given(show=catalog_records(), votes=st.tuples(st.integers(0, 10**12), st.integers(0, 10**12)))
def test_no_record_breaks_a_limit_or_pings(show: dict[str, Any], votes: tuple[int, int]) -> None:
    embeds = [show_card(show, votes=votes), *cast_pages(show)]
    for embed in embeds:
        assert_within_limits(embed)
    content = trailer_message(show)
    assert len(content) <= CONTENT_LIMIT and not MENTION.search(content)


@settings(max_examples=80, deadline=None, suppress_health_check=SLOW_IS_FINE)
@given(
    items=st.lists(
        st.builds(ListItem, title=names, year=st.none() | st.integers(1900, 2100), service=big_text,
                  when=st.none() | st.just("2024-05-01"), synopsis=big_text, reason=big_text),
        max_size=30,
    ),
    title=names,
    footer=big_text,
)  # fmt: skip
def test_no_list_breaks_a_limit_or_pings(items: list[ListItem], title: str, footer: str | None) -> None:
    assert_within_limits(show_list(title, items, footer=footer))


@settings(max_examples=80, deadline=None, suppress_health_check=SLOW_IS_FINE)
@given(
    parts=st.lists(st.tuples(big_text, big_text), max_size=40),
    title=big_text,
    description=big_text,
    footer=big_text,
    author=big_text,
)
def test_clamp_embed_fixes_any_embed(
    parts: list[tuple[str | None, str | None]],
    title: str | None,
    description: str | None,
    footer: str | None,
    author: str | None,
) -> None:
    embed = discord.Embed(title=title, description=description)
    for name, value in parts:
        embed.add_field(name=name or "", value=value or "")
    if footer:
        embed.set_footer(text=footer)
    if author:
        embed.set_author(name=author)
    clamped = clamp_embed(embed)
    # Text that came in raw stays raw (clamp only cuts), so only the limits are checked here.
    assert len(clamped) <= EMBED_TOTAL_LIMIT
    assert len(clamped.fields) <= 25
    assert all(len(f.value or "") <= 1024 and len(f.name or "") <= 256 for f in clamped.fields)
    assert len(clamped.title or "") <= 256 and len(clamped.description or "") <= 4096
