"""The Netflix titles CSV importer: the real dataset (from ../shared/data) and hand-made snippets for its quirks."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from shared_data import SHARED_DATA, require_shared

from bot.app.cli import main
from bot.catalog.export import show_json
from bot.catalog.files import load_records, seed_if_empty, shipped_catalog_files
from bot.catalog.importer import import_records
from bot.catalog.records import ShowRecord
from bot.catalog.sources.base import SourceError
from bot.catalog.sources.netflix import (
    COLUMNS,
    PREMIERE_WINDOW_YEARS,
    SYNOPSIS_SOURCE,
    import_netflix_csv,
    parse_rows,
    read_netflix_csv,
)
from bot.catalog.staging import import_staged
from bot.storage import Database, connect_sync, open_database

NETFLIX_CSV = SHARED_DATA / "netflix_titles.csv"
HEADER = ",".join(COLUMNS)


@pytest.fixture
def netflix_csv() -> Path:
    return require_shared(NETFLIX_CSV)


def snippet(*rows: str) -> Any:
    return parse_rows(csv.DictReader(io.StringIO("\n".join([HEADER, *rows]) + "\n")))


async def show_by_netflix_id(db: Database, netflix_id: str) -> dict[str, Any]:
    show_id = await db.fetchval("SELECT id FROM shows WHERE netflix_id = ?", (netflix_id,))
    assert show_id is not None, netflix_id
    show = await show_json(db, int(show_id))
    assert show is not None
    return show


# --------------------------------------------------------------------------------------------------------------------
# The real dataset


def test_reads_every_tv_show_of_the_real_csv(netflix_csv: Path) -> None:
    report = read_netflix_csv(netflix_csv)
    assert len(report.records) == 2676
    assert report.skipped == []
    assert "ignored rows that are not TV shows: 6131 Movie" in report.notes
    assert "88 date_added values had leading spaces (trimmed)" in report.notes
    assert len({record.ids["netflix"] for record in report.records}) == 2676

    by_id = {record.ids["netflix"]: record for record in report.records}
    breaking_bad = by_id["s5941"]
    assert breaking_bad.title == "Breaking Bad"
    assert breaking_bad.year_range == (2013 - PREMIERE_WINDOW_YEARS, 2013)
    assert breaking_bad.premiered is None  # release_year is not the premiere
    assert breaking_bad.genres == ["Crime", "Drama", "Thriller"]
    assert breaking_bad.creators == []
    assert breaking_bad.cast[0].name == "Bryan Cranston" and breaking_bad.cast[0].character == ""
    assert [(r.kind, r.date, r.service) for r in breaking_bad.releases] == [("added", "2013-08-02", "Netflix")]
    assert breaking_bad.synopsis_source == SYNOPSIS_SOURCE
    assert (breaking_bad.seasons, breaking_bad.content_rating, breaking_bad.country) == (5, "TV-MA", "US")

    # " August 4, 2017" (leading space) is still a date; "International TV Shows" is not a genre.
    abnormal_summit = by_id["s6080"]
    assert [r.date for r in abnormal_summit.releases] == ["2017-08-04"]
    assert "International TV Shows" not in abnormal_summit.genres
    assert all("\u200b" not in member.name for record in report.records for member in record.cast)


async def test_import_merges_with_the_curated_catalog_and_is_idempotent(tmp_path: Path, netflix_csv: Path) -> None:
    db_path = tmp_path / "t.db"
    async with open_database(db_path) as db:
        await seed_if_empty(db)
        curated = int(await db.fetchval("SELECT COUNT(*) FROM shows"))
        first, _ = import_netflix_csv(db_path, netflix_csv)
        assert first.total == 2676 and first.skipped == []
        # Curated shows matched, not duplicated: every update is a curated show that now has its Netflix id.
        matched = await db.fetchval("SELECT COUNT(*) FROM shows WHERE id <= ? AND netflix_id IS NOT NULL", (curated,))
        assert first.updated == matched > 0
        assert await db.fetchval("SELECT COUNT(*) FROM shows") == curated + first.added
        assert await db.fetchval("SELECT COUNT(netflix_id) FROM shows") == 2676

        seven = await show_by_netflix_id(db, "s5030")
        assert seven["title"] == "Seven Seconds" and seven["premiered"] == "2018-02-23"
        assert seven["synopsis_source"] == "Showbot editors"  # curated facts win
        assert seven["creators"] == ["Veena Sud"]
        curated_cast = [c for c in seven["cast"] if c["character"]]
        assert {c["name"]: c["character"] for c in curated_cast}["Regina King"] == "Latrice Butler"
        # The dataset's extra cast comes after the curated cast, and nobody is listed twice.
        assert seven["cast"][len(curated_cast) :] == [
            {"name": "Raúl Castillo", "character": None},
            {"name": "Patrick Murney", "character": None},
        ]
        assert len({c["name"] for c in seven["cast"]}) == len(seven["cast"])
        assert seven["sources"] == ["netflix", "showbot"]
        assert {"kind": "added", "date": "2018-02-23", "service": "Netflix", "season": None, "region": None} in (
            seven["releases"]
        )
        assert await db.fetchval("SELECT COUNT(*) FROM shows WHERE title_norm = 'seven seconds'") == 1

        # Breaking Bad: release_year 2013, premiered 2008 -> the curated show; "R.J. Mitte" is curated "RJ Mitte".
        breaking_bad = await show_by_netflix_id(db, "s5941")
        assert breaking_bad["premiered"] == "2008-01-20"
        assert breaking_bad["creators"] == ["Vince Gilligan"]
        cast_names = [c["name"] for c in breaking_bad["cast"]]
        assert "R.J. Mitte" not in cast_names and "Jonathan Banks" in cast_names
        assert await db.fetchval("SELECT COUNT(*) FROM shows WHERE title_norm = 'breaking bad'") == 1

        second, _ = import_netflix_csv(db_path, netflix_csv)
        assert (second.added, second.updated, second.unchanged) == (0, 0, 2676)


def test_cli_import_prints_the_summary_and_changes_nothing_the_second_time(
    tmp_path: Path, netflix_csv: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "cli.db"))
    assert main(["catalog", "import", "--format", "netflix-csv", str(netflix_csv)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Imported 2676 shows: ")
    assert "6131 Movie" in err
    assert main(["catalog", "import", "--format", "netflix-csv", str(netflix_csv)]) == 0
    second = capsys.readouterr().out
    assert re.fullmatch(r"Imported 2676 shows: 0 added, 0 updated, 2676 unchanged; write lock held (\S+) s\.\n", second)


# --------------------------------------------------------------------------------------------------------------------
# Quirks, on hand-made rows (fictional shows)


def test_duration_in_the_rating_column_is_moved_and_reported() -> None:
    report = snippet('x1,TV Show,Shifted Show,,,,"May 1, 2020",2020,2 Seasons,,TV Dramas,A test row.')
    (record,) = report.records
    assert (record.content_rating, record.seasons) == (None, 2)
    assert report.notes == [
        "x1 'Shifted Show': duration '2 Seasons' found in the rating column; used as the duration, rating unknown"
    ]


def test_bad_values_are_reported_not_fatal() -> None:
    report = snippet(
        "x1,TV Show,Odd Dates,,,,25-Sep-21,20x1,TV-14,1 Season,TV Comedies,",
        'x2,TV Show,Fine Show,,"A, B, A",Atlantis,"  September 25, 2021",2021,TV-14,1 Season,Weird Category,',
    )
    odd, fine = report.records
    assert (odd.releases, odd.year_range, odd.synopsis) == ([], None, None)
    assert fine.releases[0].date == "2021-09-25"
    assert [c.name for c in fine.cast] == ["A", "B"]
    assert fine.country is None and fine.genres == []
    assert report.skipped == []
    assert report.notes == [
        "x1 'Odd Dates': release_year '20x1' is not a year; matched by title alone",
        "x1 'Odd Dates': date_added '25-Sep-21' is not a date like 'September 25, 2021'; no added date kept",
        "1 date_added values had leading spaces (trimmed)",
        "category 'Weird Category' is not mapped to a genre (ignored in 1 rows)",
    ]


def test_unusable_rows_are_skipped_and_named() -> None:
    report = snippet(
        "x1,TV Show,Too Short,,",
        "x2,TV Show,,,,,,2020,TV-14,1 Season,TV Dramas,No title.",
        "x3,TV Show,First Copy,,,,,2020,TV-14,1 Season,TV Dramas,",
        "x3,TV Show,Second Copy,,,,,2020,TV-14,1 Season,TV Dramas,",
        "x4,Movie,A Film,,,,,2020,PG,90 min,Dramas,",
        "x5,TV Show,Kept Show,,,,,2020,TV-14,1 Season,TV Dramas,,surplus",
    )
    assert [record.title for record in report.records] == ["First Copy"]
    assert report.skipped == [
        "line 2: has fewer than 12 fields",
        "x2 '': no title",
        "x3 'Second Copy': show_id x3 appears twice; the first row was kept",
        "line 7: has more than 12 fields",
    ]
    assert "ignored rows that are not TV shows: 1 Movie" in report.notes


def test_a_file_that_is_not_the_dataset_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("id,name\n1,x\n")
    with pytest.raises(SourceError, match="missing column"):
        read_netflix_csv(path)


@pytest.mark.parametrize(("premiered", "matched"), [("1990-01-01", True), ("2000-06-01", True), ("1989-12-31", False)])
async def test_premiere_window_before_release_year(tmp_path: Path, premiered: str, matched: bool) -> None:
    """A curated show matches when it premiered up to 20 years before the dataset's release_year, never after."""
    (record,) = snippet("x1,TV Show,Long Runner,,,,,2010,TV-14,9 Seasons,TV Dramas,").records
    async with open_database(tmp_path / "t.db") as db:
        conn = connect_sync(tmp_path / "t.db")
        try:
            import_records(conn, [ShowRecord(title="Long Runner", premiered=premiered)])
            summary = import_records(conn, [record])
        finally:
            conn.close()
        assert (summary.updated, summary.added) == ((1, 0) if matched else (0, 1))
        assert await db.fetchval("SELECT COUNT(*) FROM shows") == (1 if matched else 2)


async def test_a_show_premiering_after_the_release_year_is_another_show(tmp_path: Path) -> None:
    (record,) = snippet("x1,TV Show,Reboot Title,,,,,2010,TV-14,1 Season,TV Dramas,").records
    async with open_database(tmp_path / "t.db") as db:
        conn = connect_sync(tmp_path / "t.db")
        try:
            import_records(conn, [ShowRecord(title="Reboot Title", premiered="2012-01-01")])
            assert import_records(conn, [record]).added == 1
        finally:
            conn.close()
        assert await db.fetchval("SELECT COUNT(*) FROM shows") == 2


def catalog_dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every catalog table (ids included), in a stable order, minus the import's time stamps."""
    conn = sqlite3.connect(path)
    try:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        dump = {}
        for table in tables:
            if table.startswith("sqlite_"):
                continue
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
            kept = [c for c in columns if c not in ("updated_at", "fetched_at")] or columns
            dump[table] = conn.execute(f"SELECT {', '.join(kept)} FROM {table} ORDER BY {', '.join(kept)}").fetchall()
        return dump
    finally:
        conn.close()


async def test_a_staged_import_writes_exactly_what_a_direct_import_writes(tmp_path: Path, netflix_csv: Path) -> None:
    """The staged import (prepared on a copy, its writes grouped per table) leaves the same rows, with the same ids,
    as the one-statement-at-a-time import it replaces: the shipped catalog, then the Netflix file over it."""
    report = read_netflix_csv(netflix_csv)
    shipped = [record for path in shipped_catalog_files() for record in load_records(path)]
    dumps = []
    for importer in (import_records, import_staged):
        path = tmp_path / f"{importer.__name__}.db"
        async with open_database(path):
            pass
        conn = connect_sync(path)
        try:
            importer(conn, shipped)
            importer(conn, report.records)
        finally:
            conn.close()
        dumps.append(catalog_dump(path))
    direct, staged = dumps
    assert staged.keys() == direct.keys()
    for table in direct:
        assert staged[table] == direct[table], table
    assert len(direct["shows"]) == 2770 and len(direct["people"]) > 10_000
