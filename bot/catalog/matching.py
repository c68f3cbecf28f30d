"""Matching a record to a catalog show: which show an import of the record would update (by external ids, else
normalised title and premiere years), or None when it would add one. Two shows are never merged through one shared
id, nor through a title alone when their ids say they differ."""

from __future__ import annotations

from bot.catalog.records import ID_FIELDS, ShowRecord
from bot.common.text import normalise
from bot.storage import Row, SyncConnection


def find_show(conn: SyncConnection, record: ShowRecord) -> int | None:
    """The catalog show an import of `record` would update (by ids, else title and years); None: it would add one."""
    # The record's own source's id decides first: a TVmaze record is the show with that TVmaze id. Another id
    # (an imdb id that two TVmaze shows share) matches only a show that holds no different id of a kind the
    # record has: two shows are never merged through one shared id.
    own = record.source if record.source in ID_FIELDS else None
    columns = [f"{key}_id" for key in ID_FIELDS]
    for key in sorted(ID_FIELDS, key=lambda key: key != own):
        value = record.ids.get(key)
        if value is None:
            continue
        row = conn.execute(f"SELECT id, {', '.join(columns)} FROM shows WHERE {key}_id = ?", (value,)).fetchone()
        if row and (key == own or not _holds_other_ids(row, record)):
            return int(row[0])
    # An empty key (a title in a script normalise() drops, like Korean or Arabic) would match every other such
    # title, so it never matches by title.
    keys = {normalise(record.title), *(normalise(t) for t in record.alt_titles)} - {""}
    if not keys:
        return None
    of_show = ", ".join(f"s.{column}" for column in columns)
    rows = conn.execute(
        f"""SELECT DISTINCT s.id, s.premiered, {of_show}
            FROM show_titles t JOIN shows s ON s.id = t.show_id
            WHERE t.title_norm IN ({",".join("?" * len(keys))})""",
        sorted(keys),
    ).fetchall()
    # A show that already holds a different id of the same kind is a different show with the same title (two
    # Netflix rows "What If", a remake): never merge into it.
    candidates = [row for row in rows if not _holds_other_ids(row, record)]
    years = record.match_years()
    if years is not None:
        dated = [row for row in candidates if row["premiered"]]
        in_range = [row for row in dated if years[0] <= int(row["premiered"][:4]) <= years[1]]
        if in_range:
            return int(in_range[0]["id"])
        undated = [row for row in candidates if not row["premiered"]]
        return int(undated[0]["id"]) if len(undated) == 1 and not dated else None
    return int(candidates[0]["id"]) if len(candidates) == 1 else None


def _holds_other_ids(row: Row, record: ShowRecord) -> bool:
    """Whether the catalog show `row` holds an id of a kind `record` has, with a different value: another show."""
    return any(
        record.ids.get(key) is not None and row[f"{key}_id"] is not None and row[f"{key}_id"] != record.ids[key]
        for key in ID_FIELDS
    )
