"""The importer's matching and merging rules that the catalog sources rely on (bot/catalog/matching.py, importer.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.catalog.export import show_json
from bot.catalog.importer import import_records
from bot.catalog.records import CastMember, ShowRecord
from bot.storage import connect_sync, open_database


async def import_and_export(tmp_path: Path, *batches: list[ShowRecord]) -> list[dict[str, Any]]:
    """Import each batch in order (one transaction each) and return every show as `catalog show --json` sees it."""
    async with open_database(tmp_path / "t.db") as db:
        conn = connect_sync(tmp_path / "t.db")
        try:
            for batch in batches:
                import_records(conn, batch)
        finally:
            conn.close()
        ids = [row[0] for row in await db.fetchall("SELECT id FROM shows ORDER BY id")]
        return [show for show_id in ids if (show := await show_json(db, show_id)) is not None]


async def test_titles_that_normalise_to_nothing_never_match_by_title(tmp_path: Path) -> None:
    curated = ShowRecord(title="Kingdom", alt_titles=["킹덤"], premiered="2019-01-25")
    arabic = ShowRecord(title="دفعة القاهرة", year_range=(2000, 2019), ids={"netflix": "s1"}, source="netflix")
    thai = ShowRecord(title="แผนร้ายนายเจ้าเล่ห์", year_range=(2000, 2019), ids={"netflix": "s2"}, source="netflix")
    shows = await import_and_export(tmp_path, [curated], [arabic, thai])
    assert [show["title"] for show in shows] == ["Kingdom", "دفعة القاهرة", "แผนร้ายนายเจ้าเล่ห์"]
    assert shows[0]["ids"]["netflix"] is None


async def test_a_different_id_of_the_same_kind_vetoes_a_title_match(tmp_path: Path) -> None:
    first = ShowRecord(title="What If", year_range=(2000, 2019), ids={"netflix": "s1"}, source="netflix")
    second = ShowRecord(title="What If...", year_range=(2000, 2019), ids={"netflix": "s2"}, source="netflix")
    shows = await import_and_export(tmp_path, [first, second])
    assert [show["ids"]["netflix"] for show in shows] == ["s1", "s2"]


async def test_reimport_of_same_titled_rows_changes_nothing(tmp_path: Path) -> None:
    records = [
        ShowRecord(title="What If", year_range=(2000, 2019), ids={"netflix": "s1"}, synopsis="One.", source="netflix"),
        ShowRecord(title="What If", year_range=(2000, 2019), ids={"netflix": "s2"}, synopsis="Two.", source="netflix"),
    ]
    async with open_database(tmp_path / "t.db"):
        pass
    conn = connect_sync(tmp_path / "t.db")
    try:
        assert import_records(conn, records).added == 2
        again = import_records(conn, records)
    finally:
        conn.close()
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)


async def test_cast_names_differing_only_in_spacing_and_dots_are_one_credit(tmp_path: Path) -> None:
    curated = ShowRecord(title="Chemistry", premiered="2008-01-20", cast=[CastMember("RJ Mitte", "Walter Jr.")])
    dataset = ShowRecord(
        title="Chemistry",
        year_range=(1993, 2013),
        cast=[CastMember("R.J. Mitte"), CastMember("Someone New")],
        source="netflix",
    )
    (show,) = await import_and_export(tmp_path, [curated], [dataset])
    assert show["cast"] == [
        {"name": "RJ Mitte", "character": "Walter Jr."},
        {"name": "Someone New", "character": None},
    ]


async def test_creators_from_another_source_only_fill_a_gap(tmp_path: Path) -> None:
    curated = ShowRecord(title="Named", premiered="2010-01-01", creators=["Real Creator"])
    bare = ShowRecord(title="Bare", premiered="2010-01-01")
    dataset = [
        ShowRecord(title="Named", year_range=(1995, 2015), creators=["Episode Director"], source="netflix"),
        ShowRecord(title="Bare", year_range=(1995, 2015), creators=["Episode Director"], source="netflix"),
    ]
    named, filled = await import_and_export(tmp_path, [curated, bare], dataset)
    assert named["creators"] == ["Real Creator"]
    assert filled["creators"] == ["Episode Director"]
    # The same source may still add to its own list.
    more = ShowRecord(title="Named", premiered="2010-01-01", creators=["Real Creator", "Second Creator"])
    (named_again, _) = await import_and_export(tmp_path, [more])
    assert named_again["creators"] == ["Real Creator", "Second Creator"]
