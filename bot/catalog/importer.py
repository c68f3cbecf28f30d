"""The importer: upserting records into the catalog in one transaction (all or nothing), and the merge policy that
decides, field by field, whether a record's value replaces the one the catalog has.

Imports run on a blocking connection (`bot.storage.connect_sync`) in a worker thread; reads for the bot go through the
async `Database`. Which show a record updates is `bot.catalog.matching.find_show`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from bot.catalog.matching import find_show
from bot.catalog.popularity import recompute_popularity
from bot.catalog.records import ID_FIELDS, SCALAR_FIELDS, SOURCE_POPULARITY_COLUMNS, Release, ShowRecord
from bot.common.text import normalise
from bot.storage import SET_STATE_SQL, SyncConnection

# The merge policy, per field (each field remembers its source in show_field_sources):
# - Facts that change over time (a running show ends, gains seasons, moves network, gets a new poster) take the newest
#   live source's value (TVmaze, TMDB), even over the curated catalog; a file import never reverts them.
# - Everything else (what the editors wrote: synopsis, kind, premiere, ...) only fills gaps, or is refreshed by the
#   source that gave it. Cast, characters and creators follow the same rule in add_credits/add_details.
# - Popularity is derived (bot.catalog.popularity) from each live source's own number, which only that source writes
#   (SOURCE_POPULARITY_COLUMNS); a file's popularity fills it only for a show no live source has a number for.
VOLATILE_FIELDS = (
    "status",
    "ended",
    "seasons",
    "episodes",
    "runtime",
    "network",
    "popularity",
    "poster_url",
    "official_site",
)
LIVE_SOURCES = ("tvmaze", "tmdb")


@dataclass(slots=True)
class ImportSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)  # "position: reason" for records an importer chose to skip
    lock_seconds: float | None = None  # how long a staged import held the database's write lock
    # Shows whose live-source popularity number this import changed: their popularity (and, through the percentiles,
    # everyone's) is derived again (import_records, or the caller that deferred it).
    popularity_inputs: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.added + self.updated + self.unchanged

    def line(self) -> str:
        text = f"Imported {self.total} shows: {self.added} added, {self.updated} updated, {self.unchanged} unchanged"
        if self.skipped:
            text += f"; {len(self.skipped)} skipped"
        if self.lock_seconds is not None:
            text += f"; write lock held {self.lock_seconds:.3f} s"
        return text + "."

    def add(self, part: ImportSummary) -> None:
        """Count another import's shows in this one (a job made of several imports)."""
        self.added += part.added
        self.updated += part.updated
        self.unchanged += part.unchanged
        self.skipped += part.skipped
        self.popularity_inputs += part.popularity_inputs


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def import_records(
    conn: SyncConnection,
    records: Iterable[ShowRecord],
    *,
    progress: Callable[[int], None] | None = None,
    state: tuple[str, str] | None = None,
    derive_popularity: Literal["all", "changed", "none"] = "all",
) -> ImportSummary:
    """Upsert every record in one transaction: all of them or, on any error, none. `state` is a (key, value) kept in
    bot_state in the same transaction (how far a resumable sync got is true exactly when its shows are in).

    When a source's popularity number changed, `derive_popularity` says what is derived again in the transaction:
    every show's popularity ("all"), only the changed shows' ("changed": a page of a long run, which derives all at its
    end) or nothing ("none": the caller does it once after many imports, from `popularity_inputs`)."""
    summary = ImportSummary()
    conn.prepare_bulk_writes()
    conn.begin()
    try:
        importer = _Importer(conn)
        for count, record in enumerate(records, start=1):
            outcome = importer.upsert(record)
            if outcome == "added":
                summary.added += 1
            elif outcome == "updated":
                summary.updated += 1
            else:
                summary.unchanged += 1
            if progress is not None:
                progress(count)
        summary.popularity_inputs = importer.popularity_inputs
        if summary.popularity_inputs and derive_popularity != "none":
            recompute_popularity(conn, summary.popularity_inputs if derive_popularity == "changed" else None)
        if state is not None:
            conn.execute(SET_STATE_SQL, state)
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
    return summary


class _Importer:
    def __init__(self, conn: SyncConnection) -> None:
        self.conn = conn
        self.stamp = now_iso()
        self._genre_ids: dict[str, int] = {}
        self.popularity_inputs: list[int] = []

    def changes(self, sql: str, parameters: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, parameters).rowcount

    def upsert(self, record: ShowRecord) -> str:
        show_id = find_show(self.conn, record)
        values: dict[str, Any] = {name: getattr(record, name) for name in SCALAR_FIELDS}
        number_column = SOURCE_POPULARITY_COLUMNS.get(record.source)
        number = record.source_popularity if number_column is not None else None
        if number is not None:
            values["popularity"] = None  # derived from the sources' numbers, never written by one
        # An id another show already holds stays with it (the columns are unique): the first show keeps it.
        ids = {
            f"{key}_id": value
            for key in ID_FIELDS
            if (value := record.ids.get(key)) is not None and not self.id_held_by_other(key, value, show_id)
        }
        if show_id is None:
            columns = {
                "title": record.title,
                "title_norm": normalise(record.title),
                **{k: v for k, v in values.items() if v is not None},
                **ids,
                "source": record.source,
                "updated_at": self.stamp,
            }
            if number_column is not None and number is not None:
                columns[number_column] = number
            show_id = int(
                self.conn.execute(
                    f"INSERT INTO shows ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) RETURNING id",
                    list(columns.values()),
                ).fetchone()[0]
            )
            if number is not None:
                self.popularity_inputs.append(show_id)
            self.add_details(show_id, record)
            return "added"

        existing = self.conn.execute("SELECT * FROM shows WHERE id = ?", (show_id,)).fetchone()
        given_by = {
            str(field): str(source)
            for field, source in self.conn.execute(
                "SELECT field, source FROM show_field_sources WHERE show_id = ?", (show_id,)
            )
        }
        changed: dict[str, Any] = {}
        if number_column is not None and number is not None and number != existing[number_column]:
            changed[number_column] = number  # only this source writes its own number
            self.popularity_inputs.append(show_id)
        derived = any(existing[column] is not None for column in SOURCE_POPULARITY_COLUMNS.values())
        for name, value in values.items():
            if value is None or value == existing[name] or (name == "popularity" and derived):
                continue
            if existing[name] is None or self.takes_over(name, record.source, given_by.get(name, existing["source"])):
                changed[name] = value
                self.remember_source(show_id, name, record.source, existing["source"])
        for column, value in ids.items():
            if existing[column] is None:
                changed[column] = value
        detail_changes = self.add_details(show_id, record)
        if changed or detail_changes:
            changed["updated_at"] = self.stamp
            self.conn.execute(
                f"UPDATE shows SET {', '.join(f'{column} = ?' for column in changed)} WHERE id = ?",
                [*changed.values(), show_id],
            )
            return "updated"
        return "unchanged"

    def id_held_by_other(self, key: str, value: int | str, show_id: int | None) -> bool:
        row = self.conn.execute(f"SELECT id FROM shows WHERE {key}_id = ?", (value,)).fetchone()
        return row is not None and int(row[0]) != show_id

    @staticmethod
    def takes_over(name: str, source: str, current: str) -> bool:
        """Whether `source` replaces a known value of field `name` that `current` gave."""
        if source == current:
            return True  # a source refreshes its own facts
        # Facts that change: the newest live source wins; a file (the curated catalog, a dataset) never reverts one.
        return name in VOLATILE_FIELDS and source in LIVE_SOURCES

    def remember_source(self, show_id: int, name: str, source: str, show_source: str) -> None:
        if source == show_source:  # the default: no row
            self.conn.execute("DELETE FROM show_field_sources WHERE show_id = ? AND field = ?", (show_id, name))
        else:
            self.conn.execute(
                """INSERT INTO show_field_sources (show_id, field, source, updated_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (show_id, field) DO UPDATE SET source = excluded.source,
                   updated_at = excluded.updated_at""",
                (show_id, name, source, self.stamp),
            )

    def genre_id(self, name: str) -> int:
        key = name.casefold()
        if key not in self._genre_ids:
            self.conn.execute("INSERT INTO genres (name) VALUES (?) ON CONFLICT DO NOTHING", (name,))
            row = self.conn.execute("SELECT id FROM genres WHERE name = ?", (name,)).fetchone()
            self._genre_ids[key] = int(row[0])
        return self._genre_ids[key]

    def person_id(self, name: str) -> int:
        name_norm = normalise(name)
        row = self.conn.execute(
            "SELECT id FROM people WHERE name_norm = ? ORDER BY id LIMIT 1", (name_norm,)
        ).fetchone()
        if row:
            return int(row[0])
        return int(
            self.conn.execute(
                "INSERT INTO people (name, name_norm) VALUES (?, ?) RETURNING id", (name, name_norm)
            ).fetchone()[0]
        )

    def add_credits(self, show_id: int, role: str, entries: Sequence[tuple[str, str, str]], source: str) -> int:
        """Insert (name, character, job) credits not yet present, after the existing ones of that role."""
        if not entries:
            return 0
        next_billing = self.conn.execute(
            "SELECT COALESCE(MAX(billing) + 1, 0) FROM credits WHERE show_id = ? AND role = ?", (show_id, role)
        ).fetchone()[0]
        # Within one show, "R.J. Mitte" and "RJ Mitte" are the same person: compare names without spaces.
        credited = {
            str(row[1]).replace(" ", ""): int(row[0])
            for row in self.conn.execute(
                """SELECT c.person_id, p.name_norm FROM credits c JOIN people p ON p.id = c.person_id
                   WHERE c.show_id = ? AND c.role = ?""",
                (show_id, role),
            )
        }
        added = 0
        for name, character, job in entries:
            known = credited.get(normalise(name).replace(" ", ""))
            person = known or self.person_id(name)
            exists = self.conn.execute(
                "SELECT 1 FROM credits WHERE show_id = ? AND role = ? AND person_id = ? AND (character = ? OR ? = '')",
                (show_id, role, person, character, character),
            ).fetchone()
            if exists:
                continue
            if character:
                # A name-only credit from a poorer source gains the character instead of becoming a second row.
                upgraded = self.changes(
                    """UPDATE credits SET character = ? WHERE show_id = ? AND role = ? AND person_id = ?
                       AND character = '' AND job = ?""",
                    (character, show_id, role, person, job),
                )
                if upgraded:
                    added += 1
                    continue
            if known is not None and role == "cast":
                continue  # the character the catalog already has wins (the curated one first): never a second one
            added += self.changes(
                """INSERT INTO credits (show_id, person_id, role, character, job, billing, source)
                   VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
                (show_id, person, role, character, job, next_billing + added, source),
            )
        return added

    def add_details(self, show_id: int, record: ShowRecord) -> int:
        """Merge the list fields of `record` into the show; returns how many rows were added or changed."""
        source = record.source
        changed = self.changes(
            "INSERT INTO show_sources (show_id, source, fetched_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (show_id, source, self.stamp),
        )
        for title in record.alt_titles:
            changed += self.changes(
                "INSERT INTO show_titles (show_id, title, title_norm) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (show_id, title, normalise(title)),
            )
        for genre in record.genres:
            changed += self.changes(
                "INSERT INTO show_genres (show_id, genre_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (show_id, self.genre_id(genre)),
            )
        # Creators are a fact, not a list to pool: a source adds them only where no other source has named any (a
        # dataset's episode directors must not join the curated creators).
        creators_from_others = self.conn.execute(
            "SELECT 1 FROM credits WHERE show_id = ? AND role = 'creator' AND source != ? LIMIT 1", (show_id, source)
        ).fetchone()
        if not creators_from_others:
            changed += self.add_credits(show_id, "creator", [(name, "", "") for name in record.creators], source)
        changed += self.add_credits(show_id, "cast", [(c.name, c.character, "") for c in record.cast], source)
        changed += self.add_credits(show_id, "crew", [(c.name, "", c.job) for c in record.crew], source)
        for video in record.videos:
            changed += self.changes(
                """INSERT INTO videos (show_id, url, site, kind, name, official, season, source)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
                (show_id, video.url, video.site, video.kind, video.name, int(video.official), video.season, source),
            )
        releases = list(record.releases)
        if record.premiered and record.network and not any(r.kind == "premiere" for r in releases):
            releases.append(Release("premiere", record.premiered, record.network))
        for release in releases:
            # A release already known gains the previous episode's date when a later source says it.
            changed += self.changes(
                """INSERT INTO releases (show_id, kind, date, season, service, region, source, previous_episode)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (show_id, kind, date, service, region) DO UPDATE
                   SET previous_episode = excluded.previous_episode
                   WHERE excluded.previous_episode IS NOT NULL
                   AND releases.previous_episode IS DISTINCT FROM excluded.previous_episode""",
                (
                    show_id,
                    release.kind,
                    release.date,
                    release.season,
                    release.service,
                    release.region,
                    source,
                    release.previous_episode,
                ),
            )
        for text in record.translations:
            # A source's newer text replaces its older one; a language it no longer has stays as it was.
            changed += self.changes(
                """INSERT INTO show_translations (show_id, language, title, synopsis, source, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (show_id, language) DO UPDATE
                   SET title = excluded.title, synopsis = excluded.synopsis, source = excluded.source,
                       updated_at = excluded.updated_at
                   WHERE show_translations.title IS DISTINCT FROM excluded.title
                   OR show_translations.synopsis IS DISTINCT FROM excluded.synopsis""",
                (show_id, text.language, text.title, text.synopsis, source, self.stamp),
            )
        for offer in record.availability:
            changed += self.changes(
                """INSERT INTO availability (show_id, service, region, kind, link, source, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (show_id, service, region, kind) DO UPDATE SET link = excluded.link
                   WHERE availability.link IS DISTINCT FROM excluded.link""",
                (show_id, offer.service, offer.region, offer.kind, offer.link, source, self.stamp),
            )
        return changed
