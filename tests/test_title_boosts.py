"""The title search's vote boosts follow every vote change: after any sequence of votes, changes and retractions the
cached boosts (and what search derives from them) equal a fresh read of the votes table, without reading it again."""

from __future__ import annotations

import random

import pytest

from bot.catalog import TitleResolver, ranking
from bot.catalog.boosts import Boosts
from bot.catalog.choices import autocomplete_choices
from bot.catalog.ranking import AUTOCOMPLETE_LIMIT
from bot.catalog.search import SearchIndex
from bot.storage import Database
from bot.votes import ForgetMember, VoteStore, vote_tallies

GUILD, OTHER_GUILD = 1000, 2000
FILLER_IDS = 10_000_000  # index-only shows: enough titles that candidate lists are capped and prefixes are large
QUERIES = ["", "t", "th", "the", "the kill", "kil", "the killing", "the kiling 7", "night", "the night kill 3"]


def big_index(voted: list[int], rng: random.Random) -> SearchIndex:
    """Thousands of titles sharing "the" and "kill", the voted shows least popular (so capping would drop them) and
    some with an alternative title."""
    words = ["kill", "killing", "night", "garden", "river", "office"]
    rows = [
        (FILLER_IDS + n, f"The {rng.choice(words)} {rng.choice(words)} {n}", 2000 + n % 20, 1000.0 - n / 10)
        for n in range(3000)
    ]
    rows += [(show_id, f"The {rng.choice(words)} {n}", 2010, 0.5) for n, show_id in enumerate(voted)]
    alternatives = [(show_id, f"Night {show_id}") for show_id in voted[::4]]
    return SearchIndex.from_rows(rows, alternatives)


async def fresh(db: Database, guild_id: int) -> Boosts:
    return Boosts.from_tallies(await vote_tallies(db, guild_id))


async def test_incremental_boosts_equal_a_fresh_read_after_votes_and_retractions(db: Database) -> None:
    rng = random.Random(12)
    show_ids = [int(row[0]) for row in await db.fetchall("SELECT id FROM shows ORDER BY id LIMIT 24")]
    resolver = TitleResolver(db, big_index(show_ids, rng))
    store = VoteStore(db)
    store.add_listener(resolver.votes_changed)  # as ShowBot.votes_changed passes them on
    await store.set_vote(GUILD, 1, show_ids[0], 1, "command")
    cached = await resolver.boosts(GUILD)
    assert isinstance(cached, Boosts)
    index = resolver.index
    for query in QUERIES:  # derive the favourites' entries and top list now, so that the votes must update them
        autocomplete_choices(index, query, cached)
    members = range(1, 9)
    for step in range(300):
        guild = GUILD if rng.random() < 0.9 else OTHER_GUILD
        member, show_id = rng.choice(members), rng.choice(show_ids)
        action = rng.random()
        if action < 0.55:
            await store.set_vote(guild, member, show_id, rng.choice((1, -1)), "command")
        elif action < 0.95:
            await store.clear_vote(guild, member, show_id)
        else:
            await store.apply_batch([ForgetMember(guild, member)])  # several retractions in one change list
        assert await resolver.boosts(GUILD) is cached  # followed, not read again
        expected = await fresh(db, GUILD)
        assert dict(cached) == dict(expected), f"step {step}"
        assert cached.entries(index) == expected.entries(index)
        assert cached.entries_under_prefix(index, "the k") == expected.entries_under_prefix(index, "the k")
        assert cached.top(index, AUTOCOMPLETE_LIMIT) == expected.top(index, AUTOCOMPLETE_LIMIT)
        if step % 10 == 0:
            for query in QUERIES:
                assert autocomplete_choices(index, query, cached) == autocomplete_choices(
                    index, query, dict(expected)
                ), (step, query)
    assert any(score > 0 for score in cached.values()) and any(score <= 0 for score in cached.values())


async def test_a_deleted_show_leaves_the_cached_boosts_as_its_votes_leave_the_table(db: Database) -> None:
    resolver = await TitleResolver.load(db)
    store = VoteStore(db)
    store.add_listener(resolver.votes_changed)
    show_id, other = (int(row[0]) for row in await db.fetchall("SELECT id FROM shows ORDER BY id LIMIT 2"))
    await store.set_vote(GUILD, 1, show_id, 1, "command")
    await store.set_vote(GUILD, 1, other, 1, "command")
    cached = await resolver.boosts(GUILD)
    assert cached is not None and set(cached) == {show_id, other}
    assert {match.show_id for match in resolver.index.popular(limit=2, boosts=cached)} == {show_id, other}
    await db.execute("DELETE FROM shows WHERE id = ?", (show_id,))  # its votes cascade
    await resolver.refresh([show_id])
    assert dict(cached) == dict(await fresh(db, GUILD)) == {other: 1.0}
    assert resolver.index.popular(limit=1, boosts=cached)[0].show_id == other


def test_a_prefix_of_thousands_of_favourites_answers_as_if_every_one_were_ranked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under "t" a big server likes hundreds of shows: only those that can reach the best 25 are ranked, and what a
    vote changes is worked out again; the answer equals ranking every favourite under the prefix, vote after vote."""
    rng = random.Random(5)
    voted = list(range(1, 401))
    index = big_index(voted, rng)
    tallies = {show_id: (rng.choice((1, 1, 2, 3, -1)), 3) for show_id in voted}
    cached = Boosts.from_tallies(tallies)
    queries = ["t", "th", "the", "the k", "the n", "n", "ni"]

    def ranked_in_full(query: str) -> list[tuple[str, str]]:
        with monkeypatch.context() as patch:
            patch.setattr(ranking, "_best_favoured", lambda index, entries, boosts, limit: entries)
            return autocomplete_choices(index, query, dict(cached))

    for query in queries:
        assert autocomplete_choices(index, query, cached) == ranked_in_full(query), query
    assert len(cached.entries_under_prefix(index, "t")) > 2 * AUTOCOMPLETE_LIMIT  # the bounded path is taken
    for step in range(200):
        show_id = rng.choice(voted)
        old, new = rng.choice(((None, 1), (1, None), (1, -1), (-1, 1), (None, -1)))
        cached.apply(show_id, old, new)
        if step % 5 == 0:
            for query in queries:
                assert autocomplete_choices(index, query, cached) == ranked_in_full(query), (step, query)
