"""The recommender: behaviour on a small hand-made catalog, incremental state, and a small MovieLens evaluation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shared_data import SHARED_DATA, require_shared

from bot.common.clock import FakeClock
from bot.recommend.reasons import ReasonKind
from bot.recommend.recommender import Recommender
from bot.recommend.state import GuildState
from bot.recommend.vote_arrays import VoteArrays
from bot.recommend.weights import Weights
from bot.storage import Database, Location, open_database

pytestmark = pytest.mark.both_engines  # every store here runs on SQLite and on PostgreSQL

MOVIELENS = SHARED_DATA / "movielens" / "ml-latest-small"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
GUILD, OTHER_GUILD = 100, 200

# id, title, genres, creator, service, popularity
SHOWS = [
    (1, "Seven Seconds", ["Crime", "Drama"], "Veena Sud", "Netflix", 50.0),
    (2, "The Killing", ["Crime", "Drama", "Mystery"], "Veena Sud", "Netflix", 60.0),
    (3, "Broadchurch", ["Crime", "Drama", "Mystery"], "Chris Chibnall", "BritBox", 70.0),
    (4, "Mindhunter", ["Crime", "Drama", "Thriller"], "Joe Penhall", "Netflix", 80.0),
    (5, "The Office", ["Comedy"], "Greg Daniels", "Peacock", 95.0),
    (6, "Parks and Recreation", ["Comedy"], "Greg Daniels", "Peacock", 85.0),
    (7, "Brooklyn Nine-Nine", ["Comedy", "Crime"], "Dan Goor", "Peacock", 75.0),
    (8, "Planet Earth", ["Documentary", "Nature"], "Alastair Fothergill", "BBC iPlayer", 90.0),
    (9, "Blue Planet", ["Documentary", "Nature"], "Alastair Fothergill", "BBC iPlayer", 65.0),
    (10, "The Bridge", ["Crime", "Drama", "Thriller"], "Hans Rosenfeldt", "Netflix", 40.0),
    (11, "Fresh Crime", ["Crime", "Drama"], "New Person", "Netflix", 5.0),
    (12, "Fresh Laughs", ["Comedy"], "Other Person", "Peacock", 4.0),
]


async def _make_catalog(db: Database) -> None:
    async with db.transaction() as conn:
        genres: dict[str, int] = {}
        for show_id, title, show_genres, creator, service, popularity in SHOWS:
            await conn.execute(
                "INSERT INTO shows (id, title, title_norm, popularity, synopsis, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (show_id, title, title.lower(), popularity, f"A {show_genres[0].lower()} story.", "2026-01-01"),
            )
            for genre in show_genres:
                if genre not in genres:
                    genres[genre] = len(genres) + 1
                    await conn.execute("INSERT INTO genres (id, name) VALUES (?, ?)", (genres[genre], genre))
                await conn.execute("INSERT INTO show_genres VALUES (?, ?)", (show_id, genres[genre]))
            await conn.execute("INSERT INTO people (id, name, name_norm) VALUES (?, ?, ?)", (show_id, creator, creator))
            await conn.execute(
                "INSERT INTO credits (show_id, person_id, role) VALUES (?, ?, 'creator')", (show_id, show_id)
            )
            await conn.execute(
                "INSERT INTO availability (show_id, service, updated_at) VALUES (?, ?, ?)",
                (show_id, service, "2026-01-01"),
            )
        # Shows 1 and 2 share a creator in the catalog: point both credits at one person.
        await conn.execute("UPDATE credits SET person_id = 1 WHERE show_id = 2")
        await conn.execute("UPDATE credits SET person_id = 5 WHERE show_id = 6")
        await conn.execute("UPDATE credits SET person_id = 8 WHERE show_id = 9")
        await conn.execute(
            "INSERT INTO releases (show_id, kind, date) VALUES (11, 'premiere', ?), (12, 'premiere', ?)",
            ((NOW - timedelta(days=2)).date().isoformat(), (NOW - timedelta(days=40)).date().isoformat()),
        )


class Votes:
    """Stores votes as the vote module does, and tells the recommender, with increasing timestamps."""

    def __init__(self, db: Database, recommender: Recommender) -> None:
        self.db, self.recommender, self.tick = db, recommender, 0

    async def cast(self, guild: int, user: int, show: int, value: int | None) -> None:
        old = await self.db.fetchval(
            "SELECT value FROM votes WHERE guild_id = ? AND user_id = ? AND show_id = ?", (guild, user, show)
        )
        self.tick += 1
        when = (NOW - timedelta(days=30) + timedelta(seconds=self.tick)).isoformat()
        if value is None:
            await self.db.execute(
                "DELETE FROM votes WHERE guild_id = ? AND user_id = ? AND show_id = ?", (guild, user, show)
            )
        else:
            await self.db.execute(
                "INSERT INTO votes (guild_id, user_id, show_id, value, source, updated_at)"
                " VALUES (?, ?, ?, ?, 'command', ?) ON CONFLICT (guild_id, user_id, show_id)"
                " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (guild, user, show, value, when),
            )
        self.recommender.on_vote(guild, user, show, old, value)


@pytest.fixture
async def db(empty_location: Location) -> AsyncIterator[Database]:
    async with open_database(empty_location) as database:
        await _make_catalog(database)
        yield database


@pytest.fixture
async def recommender(db: Database) -> Recommender:
    return await Recommender.load(db, clock=FakeClock(NOW))


@pytest.fixture
def votes(db: Database, recommender: Recommender) -> Votes:
    return Votes(db, recommender)


async def _crime_fans(votes: Votes, guild: int = GUILD) -> None:
    """Members 1-4 like the crime dramas together; members 5-7 like the comedies."""
    for user in (1, 2, 3, 4):
        for show in (1, 2, 3, 4):
            await votes.cast(guild, user, show, 1)
    for user in (5, 6, 7):
        for show in (5, 6, 7):
            await votes.cast(guild, user, show, 1)
        await votes.cast(guild, user, 1, -1)


async def test_never_recommends_a_show_the_member_voted_on(recommender: Recommender, votes: Votes) -> None:
    await _crime_fans(votes)
    await votes.cast(GUILD, 9, 1, 1)
    await votes.cast(GUILD, 9, 5, -1)
    page = await recommender.recommend_for_member(GUILD, 9, limit=20)
    shown = [r.show_id for r in page.items]
    assert 1 not in shown and 5 not in shown
    assert len(shown) == len(SHOWS) - 2
    assert not page.cold_start


async def test_co_votes_come_first_with_a_reason_naming_the_liked_show(recommender: Recommender, votes: Votes) -> None:
    await _crime_fans(votes)
    await votes.cast(GUILD, 9, 1, 1)
    page = await recommender.recommend_for_member(GUILD, 9, limit=3)
    assert {r.show_id for r in page.items} == {2, 3, 4}
    assert all(r.reason == "popular with members who like Seven Seconds" for r in page.items)
    assert all(r.reason_kind is ReasonKind.MEMBERS_WHO_LIKE and r.because_show_id == 1 for r in page.items)
    assert page.has_more


async def test_content_reason_when_nobody_co_voted(recommender: Recommender, votes: Votes) -> None:
    await votes.cast(GUILD, 9, 8, 1)  # Planet Earth: nobody else voted, so only content links it to Blue Planet
    page = await recommender.recommend_for_member(GUILD, 9, limit=1)
    assert page.items[0].show_id == 9
    assert page.items[0].reason == "because you liked Planet Earth"


async def test_downvotes_push_similar_shows_away(recommender: Recommender, votes: Votes) -> None:
    await _crime_fans(votes)
    await votes.cast(GUILD, 9, 4, 1)
    liked_only = [r.show_id for r in (await recommender.recommend_for_member(GUILD, 9, limit=20)).items]
    await votes.cast(GUILD, 9, 5, -1)  # dislikes The Office: the comedies its fans liked should drop
    with_downvote = [r.show_id for r in (await recommender.recommend_for_member(GUILD, 9, limit=20)).items]
    assert with_downvote.index(6) > liked_only.index(6)
    assert with_downvote.index(7) > liked_only.index(7)
    assert set(liked_only[:3]) == {1, 2, 3}  # the crime dramas Mindhunter's fans also liked lead...
    assert with_downvote[:3] == liked_only[:3]  # ...and a downvote on a comedy leaves them where they were
    assert 5 not in with_downvote  # never the show just voted on


async def test_cold_start_server_favourites_then_best_known(recommender: Recommender, votes: Votes) -> None:
    await _crime_fans(votes)
    page = await recommender.recommend_for_member(GUILD, 99, limit=10)
    assert page.cold_start
    reasons = [r.reason for r in page.items]
    server = [r.show_id for r in page.items if r.reason == "popular in this server"]
    # Net likes: 2-4 have +4 (tie broken by id), 5-7 have +3, 1 has 4 up and 3 down: +1.
    assert server == [2, 3, 4, 5, 6, 7, 1]
    assert reasons[7:] == ["one of the best-known shows"] * 3
    assert [r.show_id for r in page.items[7:]] == [8, 9, 10]  # by catalog popularity


async def test_cold_start_in_an_empty_server_and_filters(recommender: Recommender) -> None:
    page = await recommender.recommend_for_member(GUILD, 1, limit=3)
    assert page.cold_start
    assert [r.show_id for r in page.items] == [5, 8, 6]
    assert all(r.reason == "one of the best-known shows" for r in page.items)
    crime = await recommender.recommend_for_member(GUILD, 1, limit=10, genre="crime")
    assert [r.show_id for r in crime.items] == [4, 7, 3, 2, 1, 10, 11]
    assert not crime.has_more
    netflix_crime = await recommender.recommend_for_member(GUILD, 1, genre="Crime", service="netflix", limit=10)
    assert [r.show_id for r in netflix_crime.items] == [4, 2, 1, 10, 11]


async def test_filters_apply_to_personal_recommendations(recommender: Recommender, votes: Votes) -> None:
    await _crime_fans(votes)
    await votes.cast(GUILD, 9, 1, 1)
    page = await recommender.recommend_for_member(GUILD, 9, limit=10, genre="Comedy")
    assert page.items and all("comedy" in recommender.catalog.shows[r.show_id].genres for r in page.items)
    page = await recommender.recommend_for_member(GUILD, 9, limit=10, service="Netflix")
    assert {r.show_id for r in page.items} == {2, 4, 10, 11}


async def test_pages_do_not_overlap(recommender: Recommender, votes: Votes) -> None:
    await _crime_fans(votes)
    await votes.cast(GUILD, 9, 1, 1)
    first = await recommender.recommend_for_member(GUILD, 9, limit=5)
    second = await recommender.recommend_for_member(GUILD, 9, limit=5, offset=5)
    third = await recommender.recommend_for_member(GUILD, 9, limit=5, offset=10)
    shown = [r.show_id for page in (first, second, third) for r in page.items]
    assert sorted(shown) == [show[0] for show in SHOWS if show[0] != 1]
    assert first.has_more and second.has_more and not third.has_more


async def test_new_this_week_in_a_liked_genre(recommender: Recommender, votes: Votes) -> None:
    await votes.cast(GUILD, 9, 1, 1)
    page = await recommender.recommend_for_member(GUILD, 9, limit=len(SHOWS))
    fresh = {r.show_id: r for r in page.items}
    assert fresh[11].reason == "new this week, in a genre you like"
    assert fresh[12].reason_kind is not ReasonKind.NEW_IN_GENRE  # released 40 days ago, and a comedy


async def test_one_servers_votes_never_reach_another(recommender: Recommender, votes: Votes) -> None:
    await votes.cast(OTHER_GUILD, 9, 1, 1)
    before = await recommender.recommend_for_member(OTHER_GUILD, 9, limit=len(SHOWS))
    before_guild = await recommender.recommend_for_guild(OTHER_GUILD, limit=5)
    before_similar = await recommender.similar(1, guild_id=OTHER_GUILD)
    await _crime_fans(votes, guild=GUILD)  # lots of evidence, but in another server
    await votes.cast(GUILD, 9, 1, -1)
    after = await recommender.recommend_for_member(OTHER_GUILD, 9, limit=len(SHOWS))
    assert after == before
    assert await recommender.recommend_for_guild(OTHER_GUILD, limit=5) == before_guild
    assert await recommender.similar(1, guild_id=OTHER_GUILD) == before_similar
    assert all("members" not in r.reason and "server" not in r.reason for r in after.items)


async def test_guild_recommendations_and_similar(recommender: Recommender, votes: Votes) -> None:
    empty = await recommender.recommend_for_guild(GUILD, limit=2)
    assert empty.cold_start and [r.show_id for r in empty.items] == [5, 8]
    await _crime_fans(votes)
    await votes.cast(GUILD, 8, 2, 1)
    await votes.cast(GUILD, 8, 10, 1)  # The Bridge: liked by a fan of The Killing, one of the server's favourites
    page = await recommender.recommend_for_guild(GUILD, limit=5)
    assert not page.cold_start
    reasons = {r.show_id: r.reason for r in page.items}
    assert 2 not in reasons  # the favourites that seed the suggestions are not suggested back
    assert reasons[10] == "popular with members who like The Killing"
    assert reasons[11] == "new this week, in a genre this server likes"
    similar = await recommender.similar(1, guild_id=GUILD, limit=3)
    assert similar[0].show_id == 2  # same creator, same genres and co-voted
    assert 1 not in [r.show_id for r in similar]
    assert [r.show_id for r in await recommender.similar(8, guild_id=GUILD, limit=1)] == [9]


async def test_incremental_updates_equal_a_full_rebuild(db: Database, recommender: Recommender, votes: Votes) -> None:
    await recommender.guild(GUILD)  # loaded before the votes: everything after arrives through on_vote
    await _crime_fans(votes)
    await votes.cast(GUILD, 1, 2, -1)  # changed
    await votes.cast(GUILD, 5, 1, None)  # retracted
    await votes.cast(GUILD, 2, 9, 1)
    live = await recommender.guild(GUILD)
    rebuilt_recommender = await Recommender.load(db, clock=FakeClock(NOW))
    rebuilt = await rebuilt_recommender.guild(GUILD)
    assert live.user_votes == rebuilt.user_votes
    assert _covotes(live) == _covotes(rebuilt) != {}
    for user in (1, 2, 5, 9, 99):
        assert await recommender.recommend_for_member(GUILD, user, limit=10) == (
            await rebuilt_recommender.recommend_for_member(GUILD, user, limit=10)
        )


def _covote_row(state: GuildState, show_id: int) -> dict[int, int]:
    """C[show_id][j] for every j with a non-zero count, as the state computes it for a neighbour list."""
    counts = state._covote_counts(show_id)
    found = np.flatnonzero(counts)
    return dict(zip(state.show_ids(found).tolist(), counts[found].astype(np.int64).tolist(), strict=True))


def _covotes(state: GuildState) -> dict[int, dict[int, int]]:
    rows = {show: _covote_row(state, show) for show in range(1, 13)}
    return {show: row for show, row in rows.items() if row}


def _covotes_by_definition(user_votes: dict[int, dict[int, int]], window: int) -> dict[int, dict[int, int]]:
    """C[i][j]: the sum over members of the product of their votes on i and j, when at most `window` apart in the
    member's voting order."""
    counts: dict[int, dict[int, int]] = {}
    for votes in user_votes.values():
        order = list(votes.items())
        for a, (show_a, value_a) in enumerate(order):
            for b, (show_b, value_b) in enumerate(order):
                if a != b and abs(a - b) <= window:
                    row = counts.setdefault(show_a, {})
                    row[show_b] = row.get(show_b, 0) + value_a * value_b
    rows = {show: {other: count for other, count in row.items() if count} for show, row in counts.items()}
    return {show: row for show, row in rows.items() if row}


_vote_events = st.lists(
    st.tuples(st.integers(1, 3), st.integers(1, 8), st.sampled_from([1, -1, None])), min_size=1, max_size=60
)


@settings(max_examples=150, deadline=None)
@given(
    loaded=st.lists(st.tuples(st.integers(1, 3), st.integers(1, 8), st.sampled_from([1, -1])), max_size=30),
    events=_vote_events,
    window=st.integers(0, 4),
    snapshot_after=st.integers(0, 60),
)
def test_windowed_co_votes_match_a_rebuild_property(
    loaded: list[tuple[int, int, int]], events: list[tuple[int, int, int | None]], window: int, snapshot_after: int
) -> None:
    """Votes loaded into the compact snapshot, then changed one by one (members going live), with the snapshot
    retaken part-way: the co-vote rows always equal those of a rebuild, and the definition."""
    weights = Weights(covote_window=window, neighbours=3)
    live = GuildState.build(loaded, weights)
    live.popular()  # from here on kept sorted vote by vote
    for step, (user, show, value) in enumerate(events):
        live.observe_vote(user, show, value)
        if step == snapshot_after:
            votes = live.snapshot()
            live.observe_vote(user, show, None)  # cast between the snapshot and its installation
            live.install(VoteArrays.of(votes, live.show_index))
    rows = [(user, show, value) for user, shows in live.user_votes.items() for show, value in shows.items()]
    rebuilt = GuildState.build(rows, weights)
    assert _covotes(live) == _covotes(rebuilt) == _covotes_by_definition(live.user_votes, window)
    assert {k: v for k, v in live.vote_counts.items() if v} == {k: v for k, v in rebuilt.vote_counts.items() if v}
    for show in range(1, 9):
        assert live.neighbour_similarities(show) == rebuilt.neighbour_similarities(show)
    assert live.popular() == rebuilt.popular()


async def test_content_scores_are_the_profile_dot_each_shows_vector(db: Database, recommender: Recommender) -> None:
    catalog = recommender.catalog
    profile: dict[str, float] = {}
    for show_id, value in ((1, 1.0), (5, -0.5), (8, 0.25)):
        for feature, weight in catalog.vector(show_id).items():
            profile[feature] = profile.get(feature, 0.0) + value * weight
    profile["genre:not in the catalog"] = 3.0
    shows = [12, 2, 99, 9, 1]  # 99 is not in the catalog
    expected = [
        sum(profile.get(feature, 0.0) * weight for feature, weight in catalog.vector(show_id).items())
        for show_id in shows
    ]
    assert catalog.profile_scores(profile, shows) == pytest.approx(expected, abs=1e-12)
    assert expected[1] > 0 and expected[2] == 0.0
    assert catalog._dirty == set()  # the matrix built at start-up covers every show
    await db.execute("UPDATE shows SET synopsis = 'A story about nature.' WHERE id = 12")
    await recommender.on_catalog_change([12])  # the matrix follows the catalog
    assert catalog.profile_scores(profile, [12]) == pytest.approx(
        [sum(profile.get(f, 0.0) * w for f, w in catalog.vector(12).items())], abs=1e-12
    )


async def test_catalog_change_is_picked_up(db: Database, recommender: Recommender) -> None:
    await db.execute("UPDATE shows SET popularity = 1000 WHERE id = 12")
    await db.execute(
        "INSERT INTO shows (id, title, title_norm, popularity, updated_at) VALUES (13, ?, ?, 999, ?)",
        ("Brand New", "brand new", "2026-01-01"),
    )
    await recommender.on_catalog_change([12, 13])
    page = await recommender.recommend_for_member(GUILD, 1, limit=2)
    assert [r.show_id for r in page.items] == [12, 13]
    await db.execute("DELETE FROM shows WHERE id = 12")
    await recommender.on_catalog_change([12])
    assert 12 not in recommender.catalog.shows


@pytest.mark.slow
async def test_small_movielens_evaluation_beats_popularity_and_compares_with_ease() -> None:
    require_shared(MOVIELENS)
    from bot.recommend.evaluate import run_evaluation

    result = await run_evaluation(MOVIELENS, max_users=250, tune_weights=False, baselines=False, seeds=(7, 8))
    models = result["models"]
    assert result["evaluated_members"] >= 200
    assert models["ours"]["hr@10"] >= 1.5 * models["popularity"]["hr@10"], models
    assert models["ours"]["ndcg@10"] > models["popularity"]["ndcg@10"], models
    assert 0.5 < models["ours"]["candidate_recall"] <= 1.0
    # EASE^R needs only numpy, so it always runs; the implicit peers run or are said to be skipped.
    assert models["ease"]["hr@10"] > models["popularity"]["hr@10"], models
    assert result["best_peer"] in models and 0.0 <= result["p_value"] <= 1.0
    assert result["verdict"] in {"better", "worse", "on par"}
    if "peers_skipped" in result:
        assert "implicit" in result["peers_skipped"] and "implicit_als" not in models
    else:
        assert models["implicit_als"]["seeds"] == 2 and models["implicit_als"]["hr@10_sd"] >= 0.0


def test_leave_last_out_keeps_no_training_vote_after_the_held_out_item() -> None:
    from bot.recommend.movielens import RatingEvent, leave_last_out

    votes = [
        RatingEvent(1, 10, 1, 100), RatingEvent(1, 11, 1, 200), RatingEvent(1, 12, -1, 250),
        RatingEvent(1, 13, 1, 300), RatingEvent(1, 14, -1, 400),
        RatingEvent(1, 15, -1, 300),  # the same second as the test item, after it in movie order
        RatingEvent(2, 10, 1, 500), RatingEvent(2, 11, -1, 600),  # too few upvotes: not evaluated, every vote trains
    ]  # fmt: skip
    test, validation = leave_last_out(votes)
    assert test.held_out == {1: 13} and validation.held_out == {1: 11}
    assert {(v.user_id, v.movie_id) for v in test.train} == {(1, 10), (1, 11), (1, 12), (2, 10), (2, 11)}
    assert {(v.user_id, v.movie_id) for v in validation.train} == {(1, 10), (2, 10), (2, 11)}


def test_mcnemar_p_value() -> None:
    from bot.recommend.metrics import mcnemar_p

    assert mcnemar_p([True, False], [True, False]) == 1.0
    # 10 members only ours found, 0 only the peer: two-sided exact p = 2 / 2**10
    assert mcnemar_p([True] * 10 + [False] * 5, [False] * 15) == pytest.approx(2 / 1024)
    assert mcnemar_p([True] * 6 + [False] * 4, [False] * 6 + [True] * 4) == pytest.approx(0.7539, abs=1e-4)


def test_coordinate_search_widens_an_edge_and_stops_at_the_budget() -> None:
    from bot.recommend.tuning import _coordinate_search

    calls: list[dict[str, float]] = []

    def score(values: dict[str, float]) -> float:
        calls.append(values)
        return -((values["factors"] - 300) ** 2) - 1000 * (values["reg"] - 0.1) ** 2

    search = _coordinate_search(
        {"factors": (16, 32, 64, 128), "reg": (0.01, 0.1, 1.0)}, {"factors": 64, "reg": 0.01}, score,
        {"factors": (8, 512)}, budget=12,
    )  # fmt: skip
    # 128 is the grid's top and the best of it: the grid grows to 256 then 512 (the cap), and 256 wins.
    assert search.extended == {"factors": [256, 512]}
    assert search.chosen["factors"] == 256 and search.chosen["reg"] == 0.1
    # Distinct settings only, exactly the budget, and the search says it stopped there.
    assert search.trials == len(calls) == len({tuple(sorted(c.items())) for c in calls}) == 12
    assert search.stopped == "budget"


def test_coordinate_search_converges_before_the_budget_on_a_single_integer() -> None:
    from bot.recommend.tuning import _coordinate_search

    search = _coordinate_search({"K": (20, 50, 100)}, {"K": 50}, lambda v: -abs(v["K"] - 60), {"K": (5, 2000)}, 24)
    # Midpoints around the best (71, then 60 between 50 and 71, ...) until no new integer is left between.
    assert search.stopped == "converged" and search.trials < 24
    assert search.chosen == {"K": 60} and search.extended == {}
