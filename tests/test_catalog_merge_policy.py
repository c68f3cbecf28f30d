"""The merge policy, per field: curated facts win for what the editors wrote (synopsis, cast and characters,
creators); facts that change over time take the newest live source's value; each field remembers its source and
`catalog show --json` (show_json) says which source gave what."""

from __future__ import annotations

from pathlib import Path

from fake_tvmaze import FakeTvmaze

from bot.catalog.export import show_json
from bot.catalog.importer import import_records
from bot.catalog.records import CastMember, ShowRecord
from bot.catalog.sources.sync import tvmaze_updates
from bot.storage import connect_sync, open_database


def curated() -> ShowRecord:
    """The fixture show (TVmaze id 990001, fictional) as the editors wrote it: still running, own synopsis."""
    return ShowRecord(
        title="The Quiet Lighthouse Test Show",
        premiered="2031-04-02",
        status="running",
        network="Curated Test Network",
        synopsis="Our own summary of the test show.",
        synopsis_source="Showbot",
        creators=["Curated Creator"],
        cast=[CastMember("Alex Example", "Curated Keeper")],
        ids={"tvmaze": 990001},
    )


def import_now(path: Path, record: ShowRecord) -> None:
    conn = connect_sync(path)
    try:
        import_records(conn, [record])
    finally:
        conn.close()


async def test_updates_change_a_curated_shows_status_while_its_synopsis_and_characters_stay(
    tvmaze: FakeTvmaze, tmp_path: Path
) -> None:
    path = tmp_path / "t.db"
    async with open_database(path) as db:
        import_now(path, curated())
        show_id = int(await db.fetchval("SELECT id FROM shows WHERE tvmaze_id = 990001"))

        summary = await tvmaze_updates(tvmaze.base_url, path)  # TVmaze says it changed: re-read in full
        assert summary.updated == 1
        show = await show_json(db, show_id)
        assert show is not None
        # What changes over time: TVmaze's (the show has ended; it streams on Example Stream; TVmaze's poster).
        assert (show["status"], show["ended"], show["network"]) == ("ended", "2032-06-30", "Example Stream")
        assert show["poster_url"] == "https://static.tvmaze.com/uploads/images/original_untouched/0/990001.jpg"
        # What the editors wrote stays: the synopsis, the creators, the character (no second one for Alex Example).
        assert (show["synopsis"], show["synopsis_source"]) == ("Our own summary of the test show.", "Showbot")
        assert show["creators"] == ["Curated Creator"]
        assert [c for c in show["cast"] if c["name"] == "Alex Example"] == [
            {"name": "Alex Example", "character": "Curated Keeper"}
        ]
        assert {"name": "Sam Placeholder", "character": "The Visitor"} in show["cast"]  # new cast is added
        assert show["field_sources"]["status"] == "tvmaze"
        assert show["field_sources"]["network"] == "tvmaze"
        assert show["field_sources"]["poster_url"] == "tvmaze"
        assert show["field_sources"]["synopsis"] == "showbot"
        assert show["field_sources"]["premiered"] == "showbot"
        assert show["field_sources"]["runtime"] == "tvmaze"  # a gap TVmaze filled

        # Importing the curated file again refreshes the editors' facts but never reverts newer live facts.
        import_now(path, curated())
        again = await show_json(db, show_id)
        assert again is not None
        assert (again["status"], again["network"], again["synopsis"]) == (
            "ended",
            "Example Stream",
            "Our own summary of the test show.",
        )
        assert again["field_sources"] == show["field_sources"]
