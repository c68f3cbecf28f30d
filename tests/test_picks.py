"""Picks: pages of picks without repeats, names of filters, and the list embed within Discord's limits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.common.errors import UserFacingError
from bot.common.render import DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT, KEYCAPS, ListItem
from bot.recommend.picks import (
    COLD_START_HINT,
    MAX_PICKS,
    SERVER_COLD_START_HINT,
    PickPage,
    PickRequest,
    known_name,
    list_items,
    next_picks,
    no_picks_message,
    picks_embed,
    picks_heading,
    similar_embed,
)
from bot.recommend.reasons import ReasonKind, Recommendation
from bot.recommend.recommender import Recommender
from bot.storage import Database

GUILD, ALICE = 1, 10


@pytest.fixture
async def recommender(db: Database) -> Recommender:
    return await Recommender.load(db)


async def test_pages_never_repeat_and_stop_at_the_cap(recommender: Recommender) -> None:
    request = PickRequest(GUILD, ALICE)
    shown: list[int] = []
    pages = 0
    while True:
        page = await next_picks(recommender, request, shown)
        assert page.start == len(shown) + 1
        assert not set(page.show_ids) & set(shown)
        assert page.cold_start
        shown += page.show_ids
        pages += 1
        if not page.has_more:
            break
    assert len(shown) == len(set(shown)) == MAX_PICKS and pages == MAX_PICKS // 5
    assert (await next_picks(recommender, request, shown)).items == ()


async def test_a_vote_between_pages_neither_repeats_nor_skips(recommender: Recommender) -> None:
    request = PickRequest(GUILD, ALICE)
    first = await next_picks(recommender, request)
    recommender_state = await recommender.guild(GUILD)
    recommender_state.observe_vote(ALICE, first.show_ids[0], 1)  # she votes on the first pick, then asks for more
    second = await next_picks(recommender, request, first.show_ids)
    assert not set(second.show_ids) & set(first.show_ids)
    assert not second.cold_start and len(second.items) == 5


async def test_filters_and_an_empty_result(recommender: Recommender, db: Database) -> None:
    comedy = await next_picks(recommender, PickRequest(GUILD, ALICE, "server", genre="Comedy"))
    assert comedy.items and all("comedy" in recommender.catalog.shows[i].genres for i in comedy.show_ids)
    nothing = PickRequest(GUILD, ALICE, genre="Comedy", service="No Such Stream")
    assert (await next_picks(recommender, nothing)).items == ()
    assert no_picks_message(nothing) == (
        "No picks match Comedy · on No Such Stream. Try another genre or service, or leave the filters out."
    )


async def test_list_items_carry_year_network_and_reason(db: Database) -> None:
    pick = Recommendation(1, "Seven Seconds", 1.0, "because you liked The Killing", ReasonKind.YOU_LIKED, 2)
    (item,) = await list_items(db, [pick])
    assert (item.title, item.year, item.service, item.reason) == (
        "Seven Seconds",
        2018,
        "Netflix",
        "because you liked The Killing",
    )


async def test_the_first_picks_poster_is_the_lists_thumbnail(db: Database) -> None:
    poster = "https://static.tvmaze.com/uploads/images/original_untouched/0/990001.jpg"
    await db.execute("UPDATE shows SET poster_url = ? WHERE id = 1", (poster,))
    first = Recommendation(1, "Seven Seconds", 1.0, "because you liked The Killing", ReasonKind.YOU_LIKED, 2)
    second = Recommendation(2, "The Killing", 0.5, "popular", ReasonKind.YOU_LIKED, None)
    assert similar_embed("The Killing", await list_items(db, [first, second])).thumbnail.url == poster
    # The first show has none: no thumbnail (the second show's poster is not the first show's).
    await db.execute("UPDATE shows SET poster_url = NULL WHERE id = 1")
    await db.execute("UPDATE shows SET poster_url = ? WHERE id = 2", (poster,))
    assert similar_embed("The Killing", await list_items(db, [first, second])).thumbnail.url is None


def test_known_name_takes_any_case_and_suggests() -> None:
    names = ["Comedy", "Crime", "Drama"]
    assert known_name(names, " crime ", "genre") == "Crime"
    assert known_name(names, None, "genre") is None and known_name(names, "  ", "genre") is None
    with pytest.raises(UserFacingError, match=r'^I know no genre called "Crim Noir". Try Crime.$'):
        known_name(names, "Crim Noir", "genre")
    with pytest.raises(UserFacingError, match=r'called "@\u200beveryone"'):  # never a ping
        known_name(names, "@everyone", "genre")


def test_heading_and_footer() -> None:
    me = PickRequest(GUILD, ALICE, genre="Crime", service="Netflix")
    assert picks_heading(me, "Alice") == "Picks for Alice (Crime · on Netflix)"
    assert picks_heading(PickRequest(GUILD, ALICE, "server"), "Alice") == "Picks for this server"
    page = PickPage((), 6, cold_start=True, has_more=True)
    embed = picks_embed("Picks", [], page, scope="me")
    assert embed.footer.text is not None and COLD_START_HINT in embed.footer.text
    server = picks_embed("Picks", [], page, scope="server")
    assert server.footer.text is not None and SERVER_COLD_START_HINT in server.footer.text


@settings(max_examples=60, deadline=None)
@given(
    titles=st.lists(st.text(min_size=1, max_size=400), min_size=1, max_size=5),
    reason=st.text(max_size=600),
    name=st.text(max_size=300),
)
def test_any_page_fits_discords_limits_and_is_numbered_by_keycaps(titles: list[str], reason: str, name: str) -> None:
    items = [ListItem(title=title, reason=reason, service=name) for title in titles]
    page = PickPage((), 1, cold_start=False, has_more=False)
    embed = picks_embed(picks_heading(PickRequest(GUILD, ALICE, genre=name), name), items, page, scope="me")
    assert len(embed) <= EMBED_TOTAL_LIMIT
    description = embed.description or ""
    assert len(description) <= DESCRIPTION_LIMIT
    assert "@everyone" not in description and "@everyone" not in (embed.title or "")
    for position in range(len(items)):
        assert KEYCAPS[position] in description


async def test_a_network_counts_as_a_service_as_in_search(recommender: Recommender) -> None:
    page = await next_picks(recommender, PickRequest(GUILD, ALICE, service="Sky Atlantic"))
    assert [item.title for item in page.items] == ["Gomorrah"]
