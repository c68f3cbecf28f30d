"""The shipped catalog, the catalog format, and importing it: validation, upsert, round trip, rollback."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from engine_helpers import NewLocation, inject_failure_sync

from bot.catalog.export import show_json
from bot.catalog.files import import_path, load_records, seed_if_empty, shipped_catalog_files
from bot.catalog.importer import import_records
from bot.catalog.records import CatalogFormatError
from bot.catalog.staging import import_staged
from bot.catalog.validation import parse_document
from bot.common.text import normalise
from bot.storage import Database, IntegrityError, Location, connect_sync, open_database

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "data" / "catalog.schema.json").read_text())
REQUIRED_TITLES = [
    "Seven Seconds", "The Killing", "Breaking Bad", "Better Call Saul", "Stranger Things", "The Crown",
    "Game of Thrones", "The Wire", "The Sopranos", "Dark", "Narcos", "Mindhunter", "Ozark", "The Witcher",
    "Squid Game", "Money Heist", "The Mandalorian", "Fleabag", "Chernobyl", "Succession", "The Office", "Friends",
    "Sherlock", "True Detective", "Black Mirror",
]  # fmt: skip


def shipped_shows() -> list[dict[str, Any]]:
    return [show for path in shipped_catalog_files() for show in json.loads(path.read_text())["shows"]]


@pytest.mark.parametrize("path", shipped_catalog_files(), ids=lambda p: p.name)
def test_every_shipped_file_follows_the_schema(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    assert load_records(path)  # and our own validator agrees


def test_shipped_catalog_size_and_required_shows() -> None:
    shows = shipped_shows()
    assert len(shows) >= 150
    keys = [(normalise(show["title"]), (show.get("premiered") or "")[:4]) for show in shows]
    assert len(keys) == len(set(keys)), "a show appears twice in the shipped catalog"
    titles = {show["title"] for show in shows}
    missing = [title for title in REQUIRED_TITLES if title not in titles]
    assert not missing


def test_shipped_catalog_invents_no_urls_or_ids() -> None:
    """Data honesty: the curated catalog carries no URL or external id we could not verify."""
    for show in shipped_shows():
        assert "official_site" not in show and "poster_url" not in show and "videos" not in show, show["title"]
        assert not show.get("ids"), show["title"]
        assert show.get("synopsis_source") == "Showbot editors", show["title"]


@pytest.mark.parametrize("path", shipped_catalog_files(), ids=lambda p: p.name)
def test_every_shipped_file_says_when_its_facts_were_checked(path: Path) -> None:
    checked = date.fromisoformat(json.loads(path.read_text(encoding="utf-8"))["checked"])
    assert checked >= date(2026, 12, 3)  # the review of issue 11
    # A status is consistent with it: a show with a last episode is over, and none ends after the review.
    for show in json.loads(path.read_text(encoding="utf-8"))["shows"]:
        if show.get("ended"):
            assert show.get("status") == "ended", show["title"]
            assert date.fromisoformat(show["ended"]) <= checked, show["title"]


def test_a_malformed_checked_date_is_refused() -> None:
    for checked in ("2026-13-01", "3 December 2026", 20261203):
        with pytest.raises(CatalogFormatError, match="field 'checked'"):
            parse_document({"format": "showbot-catalog/1", "checked": checked, "shows": []})


def test_corrected_facts() -> None:
    """Facts corrected when the catalog was reviewed on 2026-12-03 (issue 11)."""
    shows = {show["title"]: show for show in shipped_shows()}
    boys, stranger = shows["The Boys"], shows["Stranger Things"]
    assert (boys["status"], boys["ended"], boys["seasons"], boys["episodes"]) == ("ended", "2026-05-20", 5, 40)
    assert (stranger["status"], stranger["ended"], stranger["seasons"], stranger["episodes"]) == (
        "ended",
        "2025-12-31",
        5,
        42,
    )
    assert stranger["creators"] == ["Matt Duffer", "Ross Duffer"]
    assert shows["Mindhunter"]["status"] == shows["Bodyguard"]["status"] == "ended"
    assert shows["Seven Seconds"]["ended"] == shows["Seven Seconds"]["premiered"] == "2018-02-23"
    korey = shows["When They See Us"]["synopsis"]
    assert "Korey Wise" in korey and "oldest" in korey and "youngest" not in korey


def test_seven_seconds_record_holds_the_known_facts() -> None:
    (show,) = [s for s in shipped_shows() if s["title"] == "Seven Seconds"]
    assert show["premiered"] == "2018-02-23"
    assert show["network"] == "Netflix"
    assert (show["seasons"], show["episodes"]) == (1, 10)
    assert show["creators"] == ["Veena Sud"]
    cast = {member["name"]: member["character"] for member in show["cast"]}
    assert cast["Beau Knapp"] == "Pete Jablonski"
    assert cast["Clare-Hope Ashitey"] == "KJ Harper"
    assert cast["Regina King"] == "Latrice Butler"
    assert cast["Russell Hornsby"] == "Isaiah Butler"
    assert {"Crime", "Drama", "Thriller"} <= set(show["genres"])


async def export_all(db: Database) -> list[dict[str, Any]]:
    ids = [row[0] for row in await db.fetchall("SELECT id FROM shows ORDER BY id")]
    return [show for show_id in ids if (show := await show_json(db, show_id)) is not None]


def without_db_fields(show: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in show.items() if key != "id"}


@pytest.mark.both_engines
async def test_round_trip_every_shipped_show(tmp_path: Path, new_location: NewLocation) -> None:
    """The --json of every shipped show re-imports to the same record."""
    first_location, second_location = await new_location(), await new_location()
    async with open_database(first_location) as first:
        summary = await seed_if_empty(first)
        assert summary is not None and summary.added == len(shipped_shows())
        exported = await export_all(first)
    for show in exported:
        jsonschema.Draft202012Validator(SCHEMA).validate(show)
    export_file = tmp_path / "export.json"
    export_file.write_text(json.dumps(exported))

    async with open_database(second_location):
        pass
    summary = await asyncio.to_thread(import_path, second_location, export_file)
    assert summary.added == len(exported)
    async with open_database(second_location) as second:
        again = await export_all(second)
    assert [without_db_fields(s) for s in again] == [without_db_fields(s) for s in exported]

    # Importing the export into the database it came from changes nothing.
    assert (
        f"0 added, 0 updated, {len(exported)} unchanged; write lock held "
        in (await asyncio.to_thread(import_path, first_location, export_file)).line()
    )


@pytest.mark.both_engines
async def test_reimporting_a_file_changes_nothing(empty_location: Location) -> None:
    path = shipped_catalog_files()[0]
    async with open_database(empty_location):
        pass
    first = await asyncio.to_thread(import_path, empty_location, path)
    second = await asyncio.to_thread(import_path, empty_location, path)
    assert first.added == len(load_records(path)) > 0
    assert (second.added, second.updated, second.unchanged) == (0, 0, first.added)


@pytest.mark.both_engines
async def test_malformed_record_rolls_back_the_whole_import(tmp_path: Path, empty_location: Location) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {"format": "showbot-catalog/1", "shows": [{"title": "Good Show"}, {"title": "Bad", "seasons": "two"}]}
        )
    )
    async with open_database(empty_location):
        pass
    with pytest.raises(CatalogFormatError, match=r"record 2 \('Bad'\): field 'seasons'"):
        import_path(empty_location, bad)
    conn = connect_sync(empty_location)
    try:
        assert conn.execute("SELECT COUNT(*) FROM shows").fetchone()[0] == 0
    finally:
        conn.close()


@pytest.mark.both_engines
@pytest.mark.parametrize("importer", [import_records, import_staged])
async def test_database_error_mid_import_rolls_back(empty_location: Location, importer: Any) -> None:
    records = parse_document([{"title": "First"}, {"title": "Second", "ids": {"imdb": "tt0000001"}}])
    async with open_database(empty_location):
        pass
    conn = connect_sync(empty_location)
    try:
        inject_failure_sync(conn, "shows", "title = 'Second'", "no")
        with pytest.raises(IntegrityError, match="no"):
            importer(conn, records)
        assert conn.execute("SELECT COUNT(*) FROM shows").fetchone()[0] == 0
    finally:
        conn.close()


async def test_a_staged_import_holds_the_write_lock_only_to_write(tmp_path: Path) -> None:
    """While the import matches its records, another connection writes (it would fail at once if the import held the
    lock: no busy timeout). The import notices its snapshot is stale, prepares again on the new state, and writes."""
    path = shipped_catalog_files()[0]
    records = load_records(path)
    async with open_database(tmp_path / "t.db"):
        pass
    other = sqlite3.connect(tmp_path / "t.db", isolation_level=None, timeout=0)
    calls: list[int] = []

    def progress(count: int) -> None:
        calls.append(count)
        if len(calls) == 1:  # during the first preparation only
            other.execute(
                """INSERT INTO shows (title, title_norm, source, updated_at)
                   VALUES ('Meanwhile', 'meanwhile', 'test', '')"""
            )

    conn = connect_sync(tmp_path / "t.db")
    try:
        summary = import_staged(conn, records, progress=progress)
        titles = {row[0] for row in conn.execute("SELECT title FROM shows")}
    finally:
        conn.close()
        other.close()
    assert calls == list(range(1, len(records) + 1)) * 2  # prepared twice: the first plan was for a stale snapshot
    assert summary.added == len(records) and summary.lock_seconds is not None
    assert titles == {"Meanwhile", *(record.title for record in records)}
    assert 0 <= summary.lock_seconds < 1


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"title": ""}, "'title'"),
        ({"title": "X", "premiered": "2018-02-30"}, "'premiered'"),
        ({"title": "X", "cast": [{"character": "No name"}]}, "cast[1]"),
        ({"title": "X", "sesons": 2}, "'sesons'"),
        ({"title": "X", "ids": {"imdb": "12345"}}, "'ids'"),
        ({"title": "X", "official_site": "http://insecure.example"}, "'official_site'"),
        ({"title": "X", "status": "cancelled"}, "'status'"),
        (["not an object"], "record 1"),
    ],
)
def test_validation_names_position_and_field(record: Any, problem: str) -> None:
    with pytest.raises(CatalogFormatError) as caught:
        parse_document(record if isinstance(record, list) else [record])
    assert problem in str(caught.value)
    assert "record 1" in str(caught.value)


@pytest.mark.both_engines
async def test_same_show_from_two_sources_is_one_show(empty_location: Location) -> None:
    """Matched by normalised title + year (within a year), ids and cast merged, curated facts kept."""
    async with open_database(empty_location) as db:
        conn = connect_sync(empty_location)
        try:
            import_records(conn, parse_document([{
                "title": "Seven Seconds", "premiered": "2018-02-23", "network": "Netflix",
                "synopsis": "Ours.", "cast": [{"name": "Regina King", "character": "Latrice Butler"}],
            }]))  # fmt: skip
            summary = import_records(conn, parse_document([{
                "title": "Seven  seconds!", "premiered": "2018-02-23", "synopsis": "Theirs.", "source": "tvmaze",
                "ids": {"tvmaze": 12345}, "cast": [{"name": "Regina King", "character": "Latrice Butler"},
                                                   {"name": "Somebody Else", "character": "A Role"}],
            }]))  # fmt: skip
        finally:
            conn.close()
        assert (summary.added, summary.updated) == (0, 1)
        show = await show_json(db, 1)
    assert show is not None
    assert show["synopsis"] == "Ours."
    assert show["ids"]["tvmaze"] == 12345
    assert [c["name"] for c in show["cast"]] == ["Regina King", "Somebody Else"]
    assert show["sources"] == ["showbot", "tvmaze"]
