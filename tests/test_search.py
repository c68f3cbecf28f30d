"""Title search: misspellings of every shipped title, alternative titles, accents, ranking, hostile input, updates."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.catalog.choices import (
    CHOICE_MAX_CHARS,
    autocomplete_choices,
    choice_value,
    not_found_message,
    show_id_of_choice,
)
from bot.catalog.files import load_records, seed_if_empty, shipped_catalog_files
from bot.catalog.importer import import_records
from bot.catalog.index import year_of
from bot.catalog.ranking import AUTOCOMPLETE_LIMIT
from bot.catalog.records import ShowRecord
from bot.catalog.search import Match, SearchIndex
from bot.catalog.typos import edits1, edits_allowed, title_distance
from bot.common.text import normalise
from bot.storage import Location, connect_sync, open_database

# --------------------------------------------------------------------------------------------------------------------
# The shipped catalog, indexed once per module (from the files: the database path is tested separately below)


def shipped_rows() -> tuple[list[tuple[int, str, int | None, float]], list[tuple[int, str]]]:
    shows: list[tuple[int, str, int | None, float]] = []
    alternatives: list[tuple[int, str]] = []
    for path in shipped_catalog_files():
        for record in load_records(path):
            show_id = len(shows) + 1
            shows.append((show_id, record.title, year_of(record.premiered), float(record.popularity or 0)))
            alternatives += [(show_id, title) for title in record.alt_titles]
    return shows, alternatives


SHOWS, ALTERNATIVES = shipped_rows()


@pytest.fixture(scope="module")
def shipped() -> SearchIndex:
    assert SHOWS, "the shipped catalog in data/catalog is missing"  # it ships with the code: never a skip
    return SearchIndex.from_rows(SHOWS, ALTERNATIVES)


def title_id(title: str) -> int:
    return next(show_id for show_id, name, _, _ in SHOWS if name == title)


def misspellings(text: str, seed: int) -> list[str]:
    """Deterministic one-edit misspellings of `text`: a deletion, insertion, transposition and substitution at three
    positions each (start, middle, end of the letters), plus a random two-edit one for titles of 8 letters or more.
    """
    rng = random.Random(seed)
    letters = [i for i, ch in enumerate(text) if ch.isalpha()]
    if len(letters) < 4:
        return []
    positions = sorted({letters[0], letters[len(letters) // 2], letters[-1]})
    variants = []
    for i in positions:
        other = "abcdefghijklmnopqrstuvwxyz".replace(text[i], "")
        variants.append(text[:i] + text[i + 1 :])  # missing letter
        variants.append(text[:i] + rng.choice(other) + text[i:])  # extra letter
        variants.append(text[:i] + rng.choice(other) + text[i + 1 :])  # wrong letter
        if i + 1 < len(text) and text[i + 1].isalpha() and text[i + 1] != text[i]:
            variants.append(text[:i] + text[i + 1] + text[i] + text[i + 2 :])  # swapped letters
    if len(letters) >= 8:
        a, b = sorted(rng.sample(letters[1:], 2))
        if b - a > 1:
            variants.append(text[:a] + text[a + 1 : b] + rng.choice("aeiou") + text[b + 1 :])
    return variants


def test_the_examples_from_the_issue_find_their_show_first(shipped: SearchIndex) -> None:
    for query, title in [
        ("sevn secnds", "Seven Seconds"),
        ("stranger thigns", "Stranger Things"),
        ("braking bad", "Breaking Bad"),
        ("Brekaing Bad", "Breaking Bad"),
        ("game of throns", "Game of Thrones"),
        ("the sopranso", "The Sopranos"),
        ("chernobl", "Chernobyl"),
        ("fleabg", "Fleabag"),
        ("breakingbad", "Breaking Bad"),
        ("stranger thin gs", "Stranger Things"),
        ("strangerhthings", "Stranger Things"),  # a letter typed for the space
        ("minhunaer", "Mindhunter"),  # two edits in one word
        ("STRANGER THINGS!!!", "Stranger Things"),
        ("strnag", "Stranger Things"),  # a misspelt word still being typed
    ]:
        results = shipped.search(query, limit=5)
        assert results, query
        assert results[0].title == title, (query, [m.title for m in results])


def test_misspellings_of_every_shipped_title_find_it_first(shipped: SearchIndex) -> None:
    titles = {normalise(title) for _, title, _, _ in SHOWS} | {normalise(title) for _, title in ALTERNATIVES}
    failures = []
    checked = 0
    for show_id, title, _, _ in SHOWS:
        norm = normalise(title)
        others = [t for t in titles if t != norm]
        other_words = {word for t in others for word in t.split()}
        for variant in misspellings(norm, seed=show_id):
            last_word = variant.split()[-1] if variant.split() else ""
            if (
                variant in titles
                or any(t.startswith(variant) for t in others)
                or any(word.startswith(last_word) for word in other_words)
            ):
                # The misspelling is another show's title, or its start, or ends with the start of another show's
                # word ("lot": The White Lotus, while still typing): that show rightly comes first.
                continue
            checked += 1
            results = shipped.search(variant, limit=3)
            if not results or results[0].show_id != show_id:
                failures.append((title, variant, [m.title for m in results]))
    assert checked > 1500
    # Every one must pass; the list says which when one does not.
    assert failures == []


def test_misspelt_alternative_titles_find_their_show(shipped: SearchIndex) -> None:
    money_heist = title_id("Money Heist")
    for query in ["la casa de papel", "La Casa de Papél", "la csa de papel", "la casa de papl", "casa de papel"]:
        match = shipped.search(query, limit=3)[0]
        assert match.show_id == money_heist, query
        assert match.title == "Money Heist"
        assert match.matched_title == "La casa de papel"


def test_a_primary_title_match_does_not_name_an_alternative(shipped: SearchIndex) -> None:
    match = shipped.search("money heist")[0]
    assert (match.title, match.matched_title, match.score) == ("Money Heist", None, 100.0)


# --------------------------------------------------------------------------------------------------------------------
# Small hand-made catalogs: matching and ranking rules


def small_index(*titles: str | tuple[str, float], alternatives: dict[int, list[str]] | None = None) -> SearchIndex:
    rows = []
    for position, item in enumerate(titles, start=1):
        title, popularity = item if isinstance(item, tuple) else (item, 0.0)
        rows.append((position, title, 2000 + position, popularity))
    alt_rows = [(show_id, title) for show_id, names in (alternatives or {}).items() for title in names]
    return SearchIndex.from_rows(rows, alt_rows)


def ids(matches: list[Match]) -> list[int]:
    return [match.show_id for match in matches]


def test_accents_case_and_punctuation_are_ignored() -> None:
    index = small_index("Shōgun", "Élite", "Grey's Anatomy", "Marvel's Agents of S.H.I.E.L.D.", "Cobra Kai")
    assert ids(index.search("shogun")) == [1]
    assert ids(index.search("ELITE")) == [2]
    assert ids(index.search("greys anatomy"))[0] == 3
    assert ids(index.search("Grey’s")) == [3]
    assert ids(index.search("agents of shield"))[0] == 4
    assert ids(index.search("shōgün")) == [1]


def test_words_anywhere_in_the_title_and_word_prefixes() -> None:
    index = small_index("The Last of Us", "Last Week Tonight", "Us", "Usual Suspects")
    assert ids(index.search("of us"))[0] == 1
    assert 1 in ids(index.search("last"))
    assert ids(index.search("tonig")) == [2]
    assert ids(index.search("us"))[:2] == [3, 4]  # exact first, then the title that starts with it


def test_ranking_exact_then_prefix_then_closeness() -> None:
    index = small_index(
        ("The Office Party", 50.0),
        ("The Office", 1.0),
        ("Office Hours", 90.0),
        ("Back Office", 99.0),
        ("The Offices", 10.0),
    )
    ranked = ids(index.search("the office"))
    assert ranked[0] == 2  # exact, although the least popular
    assert ranked[1:3] == [1, 5]  # prefixes of the query, most popular first
    assert set(ranked[3:]) <= {3, 4}


def test_boosts_break_ties_after_closeness_and_before_popularity() -> None:
    index = small_index(("Night Watch", 80.0), ("Night Shift", 50.0), ("Nightly", 10.0), ("The Night Of", 0.0))
    assert ids(index.search("night", limit=2)) == [1, 2]
    assert ids(index.search("night", limit=2, boosts={2: 3.0})) == [2, 1]
    # A boost never lifts a worse match over a closer one: "night shft" is closest to Night Shift.
    assert ids(index.search("night shft", boosts={1: 100.0}))[0] == 2


def test_popularity_orders_equal_matches() -> None:
    index = small_index(("Dark Matter", 5.0), ("Dark Winds", 50.0), ("Dark", 1.0))
    assert ids(index.search("dark")) == [3, 2, 1]
    assert ids(index.search("dar")) == [2, 1, 3]  # all three only start with it: by popularity


def test_titles_are_not_unique_and_values_are_show_ids() -> None:
    index = small_index(("The Office", 10.0), ("The Office", 20.0))
    assert ids(index.search("the office")) == [2, 1]
    assert [value for _, value in autocomplete_choices(index, "the office")] == ["id:2", "id:1"]
    names = [name for name, _ in autocomplete_choices(index, "the office")]
    assert names == ["The Office (2002)", "The Office (2001)"]


def test_a_choice_value_is_a_prefixed_id_and_a_bare_number_is_not_one() -> None:
    assert choice_value(24) == "id:24" and show_id_of_choice("id:24") == 24 and show_id_of_choice(" id:7 ") == 7
    for text in ("24", "1883", "9-1-1", "id:", "id:-1", "id:²", "ID 24", "id:" + "9" * 19, "id:" + "9" * 30, "x id:2"):
        assert show_id_of_choice(text) is None, text


def test_empty_input_lists_the_servers_favourites_then_the_popular_shows() -> None:
    index = small_index(("A", 1.0), ("B", 5.0), ("C", 3.0), ("D", 0.0))
    assert ids(index.popular(limit=3)) == [2, 3, 1]
    assert ids(index.popular(limit=3, boosts={4: 2.0, 1: 7.0, 3: -1.0})) == [1, 4, 2]
    assert [value for _, value in autocomplete_choices(index, "  ", {4: 1.0})] == ["id:4", "id:2", "id:3", "id:1"]
    assert index.search("") == []


def test_resolve_exact_then_confident_else_none(shipped: SearchIndex) -> None:
    def resolved(text: str) -> str | None:
        match = shipped.resolve(text)
        return match.title if match else None

    assert resolved("Seven Seconds") == "Seven Seconds"
    assert resolved("la casa de papel") == "Money Heist"
    assert resolved("sevn secnds") == "Seven Seconds"
    assert resolved("braking bad") == "Breaking Bad"
    assert resolved("dakr") == "Dark"
    assert resolved("stranger thigns") == "Stranger Things"
    assert resolved("Fralsiker") == "Frasier"  # two mistakes in seven letters
    assert resolved("TjEeWITCHER") == "The Witcher"
    assert resolved("mrr. rzobot") == "Mr. Robot"
    assert resolved("oazcrk") is None  # two mistakes in five letters: a suggestion, not an answer
    assert resolved("breaking") is None  # a prefix is a suggestion, not an answer
    assert resolved("xyzzy plugh") is None
    assert resolved("") is None
    assert resolved("🙂") is None


def test_resolve_asks_when_two_shows_are_as_close() -> None:
    index = small_index(("Bark", 5.0), ("Dark", 1.0), "Dart")
    assert index.resolve("aark") is None  # one letter from Bark and from Dark
    assert index.resolve("dakr") is not None and index.resolve("dakr").title == "Dark"  # type: ignore[union-attr]
    assert index.resolve("bark") is not None and index.resolve("bark").title == "Bark"  # type: ignore[union-attr]
    twins = small_index(("The Office", 1.0), ("The Office", 9.0))
    match = twins.resolve("THE OFFICE")
    assert match is not None and match.show_id == 2  # equal titles: the more popular
    assert twins.resolve("the office", boosts={1: 1.0}).show_id == 1  # type: ignore[union-attr]


def is_confident(query: str, title: str) -> bool:
    """The rule `SearchIndex.resolve` applies to its best match before acting on it without asking."""
    return title_distance(query, title) <= edits_allowed(title)


def test_confidence_threshold() -> None:
    assert is_confident("dakr", "dark")
    assert is_confident("sevn secnds", "seven seconds")
    assert is_confident("fralsiker", "frasier")
    assert not is_confident("oazcrk", "ozark")
    assert not is_confident("sevn scnds", "seven seconds x y z")
    assert not is_confident("breaking", "breaking bad")
    assert not is_confident("dk", "dark")
    assert is_confident("gameofthrones", "game of thrones")


def test_titles_without_latin_letters_match_exactly() -> None:
    index = small_index("Squid Game", alternatives={1: ["오징어 게임"]})
    match = index.search("오징어 게임")[0]
    assert (match.show_id, match.matched_title) == (1, "오징어 게임")
    assert index.resolve(" 오징어  게임 ") is not None


def test_edits1_covers_every_kind_of_single_edit() -> None:
    variants = edits1("dark")
    assert {"drk", "daark", "dakr", "bark"} <= variants
    assert "dark" not in variants


def test_not_found_message_is_one_short_inert_line() -> None:
    suggestions = [Match(1, "Dark", 2017, 80.0), Match(2, "Dirk Gently", 2016, 60.0, "Dirk")]
    message = not_found_message('@everyone <@123> **bold**\n"quoted" ' + "x" * 500, suggestions)
    assert "\n" not in message
    assert "@everyone" not in message and "<@123>" not in message
    assert "\\*\\*bold" in message
    assert len(message) < 300
    assert message.endswith("Did you mean: Dark (2017), Dirk Gently (2016) — Dirk?")
    assert not_found_message("zzz", []) == 'No show called "zzz".'
    many = [Match(i, f"Show {i}", None, 50.0) for i in range(9)]
    assert not_found_message("zzz", many).count("Show ") == 5
    assert not_found_message(" \t\x00 ", []) == "Give the title of a show."  # not 'No show called "that"'


def test_the_closest_title_wins_among_thousands_of_more_popular_ones() -> None:
    # Far more candidates than are scored in full: the capped lists must not lose the closest title.
    rows = [(i, f"Dark Tale {i}", 2000, 1000.0 - i / 10) for i in range(1, 5001)]
    rows += [(9001, "Dark", 2017, 0.0), (9002, "Stranger Things", 2016, 0.0), (9003, "Sun Ray", 2001, 0.0)]
    rows += [(10_000 + i, f"Strange Tale {i}", 2000, 50.0) for i in range(300)]
    index = SearchIndex.from_rows(rows)
    assert index.search("dapk")[0].show_id == 9001
    assert index.search("dark")[0].show_id == 9001
    assert index.search("strange things")[0].show_id == 9002  # "strange" is a word, yet a misspelling here
    assert index.search("darktale 17")[0].show_id == 17
    # A huge prefix range: the most popular first, and a server's favourite before them all.
    assert ids(index.search("d", limit=3)) == [1, 2, 3]
    assert ids(index.search("d", limit=3, boosts={4000: 1.0}))[0] == 4000
    assert ids(index.search("s", limit=2, boosts={9003: 2.0})) == [9003, 10_000]


# --------------------------------------------------------------------------------------------------------------------
# Hostile input


HOSTILE = [
    '"',
    '""',
    "AND",
    "a AND b",
    "NEAR(a b)",
    "*",
    "dark*",
    "'; DROP TABLE shows; --",
    "1 OR 1=1",
    "🙂🎬",
    "\x00\x01\x1b[31m",
    "x" * 10_000,
    "the " * 2500,
    " ",
    "",
    "\u200b",
    "@everyone",
    "title_fts MATCH 'x'",
    "-",
    "^dark",
    "a" * 99 + "é",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_input_is_harmless(shipped: SearchIndex, text: str) -> None:
    check_choices(shipped, text)
    shipped.resolve(text)
    not_found_message(text, shipped.search(text, limit=5))


def check_choices(index: SearchIndex, text: str, boosts: dict[int, float] | None = None) -> None:
    choices = autocomplete_choices(index, text, boosts)
    assert len(choices) <= AUTOCOMPLETE_LIMIT
    for name, value in choices:
        assert 1 <= len(name) <= CHOICE_MAX_CHARS
        show_id = show_id_of_choice(value)
        assert show_id is not None and show_id in index and len(value) <= CHOICE_MAX_CHARS


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    text=st.text(max_size=300),
    boosts=st.one_of(st.none(), st.dictionaries(st.integers(-5, 400), st.floats(allow_nan=True), max_size=30)),
)
def test_any_text_is_safe(shipped: SearchIndex, text: str, boosts: dict[int, float] | None) -> None:
    check_choices(shipped, text, boosts)
    match = shipped.resolve(text, boosts)
    assert match is None or match.show_id in shipped
    assert len(shipped.search(text, limit=100, boosts=boosts)) <= 100


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(titles=st.lists(st.text(min_size=1, max_size=120), min_size=1, max_size=20), query=st.text(max_size=50))
def test_any_titles_are_safe(titles: list[str], query: str) -> None:
    index = SearchIndex.from_rows([(i, title, None, 0.0) for i, title in enumerate(titles, start=1)])
    check_choices(index, query)
    check_choices(index, "")
    for title in titles:
        if normalise(title) or title.strip():
            # Every show id is truthy, so "some result" was all this said: a show with this very title is found.
            found = [titles[m.show_id - 1] for m in index.search(title)]
            assert any(normalise(other) == normalise(title) for other in found), (title, found)


# --------------------------------------------------------------------------------------------------------------------
# Incremental updates


def test_upsert_rename_and_remove() -> None:
    index = small_index("Dark", "Ozark")
    index.upsert_show(3, ["Severance", "Separation"], 2022, 9.0)
    assert ids(index.search("severance")) == [3]
    assert index.search("separaton")[0].matched_title == "Separation"
    index.upsert_show(3, ["Silo"], 2023, 9.0)  # renamed: the old titles are gone
    assert index.search("severance") == []
    assert ids(index.search("silo")) == [3] and index.search("silo")[0].year == 2023
    index.remove_show(1)
    assert 1 not in ids(index.search("dark"))
    assert ids(index.search("ozark")) == [2]
    index.remove_show(99)  # unknown: ignored
    assert len(index) == 2


ops = st.lists(
    st.tuples(
        st.sampled_from(["upsert", "remove"]),
        st.integers(1, 12),
        st.lists(st.sampled_from(["dark", "ozark", "the office", "la casa", "dark winds", "Élite", "o"]), min_size=1),
        st.floats(0, 100),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=ops, query=st.sampled_from(["dark", "o", "the", "ozrak", "elite", "casa", "", "dark w"]))
def test_incremental_updates_match_a_fresh_build(
    operations: list[tuple[str, int, list[str], float]], query: str
) -> None:
    index = small_index("Dark", "The Office", ("Ozark", 3.0))
    state: dict[int, tuple[list[str], float]] = {1: (["Dark"], 0.0), 2: (["The Office"], 0.0), 3: (["Ozark"], 3.0)}
    for op, show_id, titles, popularity in operations:
        if op == "upsert":
            index.upsert_show(show_id, titles, 2000, popularity)
            state[show_id] = (titles, popularity)
        else:
            index.remove_show(show_id)
            state.pop(show_id, None)
    fresh = SearchIndex.from_rows(
        [(show_id, titles[0], 2000, popularity) for show_id, (titles, popularity) in state.items()],
        [(show_id, title) for show_id, (titles, _) in state.items() for title in titles[1:]],
    )
    assert ids(index.search(query)) == ids(fresh.search(query))
    assert ids(index.popular()) == ids(fresh.popular())
    assert len(index) == len(state)


@pytest.mark.both_engines
async def test_load_and_refresh_from_the_database(empty_location: Location) -> None:
    async with open_database(empty_location) as db:
        await seed_if_empty(db)
        index = await SearchIndex.load(db)
        # A worker thread's rebuild reads the same, on its own blocking connection.
        rebuilt = await asyncio.to_thread(SearchIndex.load_sync, db.location)
        for query in ("seven seconds", "la casa de papel", "dark", "the"):
            assert ids(rebuilt.search(query)) == ids(index.search(query))
        assert len(index) == await db.fetchval("SELECT COUNT(*) FROM shows")
        seven = index.search("seven seconds")[0]
        assert (seven.title, seven.year) == ("Seven Seconds", 2018)
        assert index.search("la casa de papel")[0].title == "Money Heist"

        conn = connect_sync(db.location)
        try:
            record = ShowRecord(title="Zorblax Station", alt_titles=["Estação Zorblax"], premiered="2031-02-18")
            import_records(conn, [record])
        finally:
            conn.close()
        new_id = await db.fetchval("SELECT id FROM shows WHERE title = 'Zorblax Station'")
        assert index.search("zorblax") == []  # not yet: updates are explicit
        await index.refresh(db, [new_id])
        assert ids(index.search("zorblaks station")) == [new_id]
        assert index.search("estacao zorblax")[0].matched_title == "Estação Zorblax"
        assert index.search("zorblax")[0].year == 2031

        await db.execute("DELETE FROM shows WHERE id = ?", (new_id,))
        await index.refresh(db, [new_id])
        assert index.search("zorblax") == []
