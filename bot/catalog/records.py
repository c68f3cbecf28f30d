"""The catalog: reading and validating catalog records, importing them (upsert), and exporting a show.

The format is documented in docs/catalog-format.md and data/catalog.schema.json. Imports run on a plain sqlite3
connection in a worker thread (one transaction per file: all or nothing); reads for the bot go through aiosqlite.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bot.common.paths import CATALOG_DIR
from bot.common.text import normalise
from bot.storage import BUSY_TIMEOUT_MS, SET_STATE_SQL, Database

log = logging.getLogger(__name__)

FORMAT = "showbot-catalog/1"
CURATED_SOURCE = "showbot"
STATUSES = ("running", "ended", "in development", "to be determined")
RELEASE_KINDS = ("premiere", "season_premiere", "episodes", "added")
VIDEO_KINDS = ("trailer", "teaser", "clip", "featurette", "other")
AVAILABILITY_KINDS = ("stream", "free", "ads", "rent", "buy")
# The merge policy, per field (each field remembers its source in show_field_sources):
# - Facts that change over time (a running show ends, gains seasons, moves network, gets a new poster) take the newest
#   live source's value (TVmaze, TMDB), even over the curated catalog; a file import never reverts them.
# - Everything else (what the editors wrote: synopsis, kind, premiere, ...) only fills gaps, or is refreshed by the
#   source that gave it. Cast, characters and creators follow the same rule in add_credits/add_details.
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
SCALAR_FIELDS = (
    "kind",
    "premiered",
    "ended",
    "status",
    "seasons",
    "episodes",
    "runtime",
    "language",
    "country",
    "content_rating",
    "network",
    "official_site",
    "poster_url",
    "synopsis",
    "synopsis_source",
    "popularity",
)
ID_FIELDS = ("tvmaze", "tmdb", "imdb", "netflix")

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RELEASE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?([+-]\d{2}:\d{2}|Z)?)?$")
_IMDB = re.compile(r"^tt\d{7,9}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class CatalogFormatError(ValueError):
    """A record that does not follow the catalog format; the message names its position and field."""


@dataclass(slots=True)
class CastMember:
    name: str
    character: str = ""


@dataclass(slots=True)
class CrewMember:
    name: str
    job: str


@dataclass(slots=True)
class Video:
    url: str
    site: str | None = None
    kind: str = "trailer"
    name: str | None = None
    official: bool = False
    season: int | None = None


@dataclass(slots=True)
class Release:
    kind: str
    date: str
    service: str = ""
    season: int | None = None
    region: str = ""
    previous_episode: str | None = None  # when the episode before this one aired, if the source said (YYYY-MM-DD)


@dataclass(slots=True)
class Availability:
    service: str
    region: str = ""
    kind: str = "stream"
    link: str | None = None


@dataclass(slots=True)
class ShowRecord:
    """One show as read from a catalog file or built by an importer. None means unknown."""

    title: str
    alt_titles: list[str] = field(default_factory=list)
    kind: str | None = None
    premiered: str | None = None
    ended: str | None = None
    status: str | None = None
    seasons: int | None = None
    episodes: int | None = None
    runtime: int | None = None
    language: str | None = None
    country: str | None = None
    content_rating: str | None = None
    network: str | None = None
    official_site: str | None = None
    poster_url: str | None = None
    synopsis: str | None = None
    synopsis_source: str | None = None
    genres: list[str] = field(default_factory=list)
    creators: list[str] = field(default_factory=list)
    cast: list[CastMember] = field(default_factory=list)
    crew: list[CrewMember] = field(default_factory=list)
    videos: list[Video] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)
    availability: list[Availability] = field(default_factory=list)
    ids: dict[str, int | str] = field(default_factory=dict)
    popularity: float | None = None
    source: str = CURATED_SOURCE
    # Import hint, not stored: the years the show may have premiered in, when a source only knows a later year
    # (the Netflix dataset's release_year is often its latest season's). Defaults to premiered's year +/- 1.
    year_range: tuple[int, int] | None = None

    def match_years(self) -> tuple[int, int] | None:
        if self.year_range is not None:
            return self.year_range
        if self.premiered:
            year = int(self.premiered[:4])
            return (year - 1, year + 1)
        return None


@dataclass(slots=True)
class ImportSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)  # "position: reason" for records an importer chose to skip
    lock_seconds: float | None = None  # how long a staged import held the database's write lock

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


# --------------------------------------------------------------------------------------------------------------------
# Reading and validating


def load_records(path: Path) -> list[ShowRecord]:
    """Read a catalog file (a file object, one show, or a list of shows) and validate every record."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise CatalogFormatError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise CatalogFormatError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc
    return parse_document(document)


def parse_document(document: Any) -> list[ShowRecord]:
    if isinstance(document, dict) and "shows" in document:
        if document.get("format") != FORMAT:
            raise CatalogFormatError(f"field 'format': expected {FORMAT!r}, got {document.get('format')!r}")
        unknown = set(document) - {"format", "description", "attribution", "checked", "shows"}
        if unknown:
            raise CatalogFormatError(f"unknown top-level field {sorted(unknown)[0]!r}")
        _Reader(document, "the file").date("checked")  # when its facts were last reviewed: a real date
        items = document["shows"]
        if not isinstance(items, list):
            raise CatalogFormatError("field 'shows': expected a list of shows")
    elif isinstance(document, dict):
        items = [document]
    elif isinstance(document, list):
        items = document
    else:
        raise CatalogFormatError("expected a catalog object, a show object or a list of shows")
    return [parse_show(item, position) for position, item in enumerate(items, start=1)]


class _Reader:
    """Typed access to one raw record, raising CatalogFormatError that names the record and the field."""

    def __init__(self, raw: Mapping[str, Any], where: str) -> None:
        self.raw = raw
        self.where = where

    def fail(self, name: str, problem: str) -> CatalogFormatError:
        return CatalogFormatError(f"{self.where}: field {name!r}: {problem}")

    def text(self, name: str, *, required: bool = False, max_length: int = 20000) -> str | None:
        value = self.raw.get(name)
        if value is None:
            if required:
                raise self.fail(name, "is required")
            return None
        if not isinstance(value, str):
            raise self.fail(name, f"expected text, got {type(value).__name__}")
        value = value.strip()
        if not value:
            if required:
                raise self.fail(name, "must not be empty")
            return None
        if len(value) > max_length:
            raise self.fail(name, f"longer than {max_length} characters")
        return value

    def pattern(self, name: str, regex: re.Pattern[str], expected: str) -> str | None:
        value = self.text(name)
        if value is not None and not regex.match(value):
            raise self.fail(name, f"expected {expected}, got {value!r}")
        return value

    def date(self, name: str) -> str | None:
        value = self.pattern(name, _DATE, "a date YYYY-MM-DD")
        if value is not None:
            try:
                date.fromisoformat(value)
            except ValueError:
                raise self.fail(name, f"{value!r} is not a real date") from None
        return value

    def url(self, name: str) -> str | None:
        value = self.text(name, max_length=2000)
        if value is not None and (not value.startswith("https://") or any(ch.isspace() for ch in value)):
            raise self.fail(name, f"expected an https:// URL, got {value!r}")
        return value

    def count(self, name: str) -> int | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(name, f"expected a whole number >= 0, got {value!r}")
        return value

    def number(self, name: str) -> float | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self.fail(name, f"expected a number >= 0, got {value!r}")
        return float(value)

    def choice(self, name: str, choices: Sequence[str], default: str | None = None) -> str | None:
        value = self.text(name)
        if value is None:
            return default
        if value not in choices:
            raise self.fail(name, f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    def names(self, name: str) -> list[str]:
        value = self.raw.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(name, "expected a list of text")
        cleaned: list[str] = []
        for entry in value:
            text = entry.strip()
            if not text or len(text) > 200:
                raise self.fail(name, f"entries must be 1-200 characters, got {entry!r}")
            if text not in cleaned:
                cleaned.append(text)
        return cleaned

    def objects(self, name: str) -> Iterator[_Reader]:
        value = self.raw.get(name)
        if value is None:
            return
        if not isinstance(value, list):
            raise self.fail(name, "expected a list")
        for index, item in enumerate(value, start=1):
            if not isinstance(item, dict):
                raise self.fail(name, f"entry {index} is not an object")
            yield _Reader(item, f"{self.where}, {name}[{index}]")


_SHOW_KEYS = frozenset(
    {
        "id",
        "trailer_url",
        "sources",
        "title",
        "alt_titles",
        "ids",
        "genres",
        "creators",
        "cast",
        "crew",
        "videos",
        "releases",
        "availability",
        "source",
        "field_sources",
        "country",
        *SCALAR_FIELDS,
    }
)


def parse_show(raw: Any, position: int) -> ShowRecord:
    """Validate one raw record (position counts from 1) and build a ShowRecord."""
    label = f"record {position}"
    if not isinstance(raw, dict):
        raise CatalogFormatError(f"{label}: expected an object, got {type(raw).__name__}")
    title = raw.get("title")
    if isinstance(title, str) and title.strip():
        label = f"record {position} ({title.strip()[:60]!r})"
    r = _Reader(raw, label)
    unknown = sorted(set(raw) - _SHOW_KEYS)
    if unknown:
        raise r.fail(unknown[0], "is not a catalog field (misspelt?)")

    record = ShowRecord(title=r.text("title", required=True, max_length=200) or "")
    record.alt_titles = [t for t in r.names("alt_titles") if normalise(t) != normalise(record.title)]
    record.kind = r.text("kind", max_length=100)
    record.premiered = r.date("premiered")
    record.ended = r.date("ended")
    record.status = r.choice("status", STATUSES)
    record.seasons = r.count("seasons")
    record.episodes = r.count("episodes")
    record.runtime = r.count("runtime")
    record.language = r.text("language", max_length=100)
    record.country = r.pattern("country", _COUNTRY, "an ISO 3166-1 alpha-2 code like US")
    record.content_rating = r.text("content_rating", max_length=50)
    record.network = r.text("network", max_length=200)
    record.official_site = r.url("official_site")
    record.poster_url = r.url("poster_url")
    record.synopsis = r.text("synopsis")
    record.synopsis_source = r.text("synopsis_source", max_length=200)
    record.genres = r.names("genres")
    record.creators = r.names("creators")
    record.popularity = r.number("popularity")
    record.source = r.text("source", max_length=50) or CURATED_SOURCE
    if not normalise(record.title):
        raise r.fail("title", "must contain at least one letter or digit")

    for item in r.objects("cast"):
        record.cast.append(
            CastMember(
                item.text("name", required=True, max_length=200) or "", item.text("character", max_length=200) or ""
            )
        )
    for item in r.objects("crew"):
        record.crew.append(
            CrewMember(item.text("name", required=True, max_length=200) or "", item.text("job", required=True) or "")
        )
    for item in r.objects("videos"):
        url = item.url("url")
        if url is None:
            raise item.fail("url", "is required")
        official = item.raw.get("official", False)
        if not isinstance(official, bool):
            raise item.fail("official", "expected true or false")
        record.videos.append(
            Video(
                url,
                item.text("site"),
                item.choice("kind", VIDEO_KINDS, "trailer") or "trailer",
                item.text("name"),
                official,
                item.count("season"),
            )
        )
    for item in r.objects("releases"):
        when = item.pattern("date", _RELEASE_DATE, "a date YYYY-MM-DD or an ISO date-time")
        kind = item.choice("kind", RELEASE_KINDS)
        if when is None or kind is None:
            raise item.fail("date" if when is None else "kind", "is required")
        record.releases.append(
            Release(kind, when, item.text("service") or "", item.count("season"), item.text("region") or "")
        )
    for item in r.objects("availability"):
        record.availability.append(
            Availability(
                item.text("service", required=True) or "",
                item.text("region") or "",
                item.choice("kind", AVAILABILITY_KINDS, "stream") or "stream",
                item.url("link"),
            )
        )

    ids = raw.get("ids") or {}
    if not isinstance(ids, dict):
        raise r.fail("ids", "expected an object")
    for key, value in ids.items():
        if key not in ID_FIELDS:
            raise r.fail("ids", f"unknown id {key!r}")
        if value is None:
            continue
        if key in ("tvmaze", "tmdb") and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise r.fail("ids", f"{key} must be a positive whole number")
        if key == "imdb" and (not isinstance(value, str) or not _IMDB.match(value)):
            raise r.fail("ids", "imdb must look like tt0903747")
        if key == "netflix" and (not isinstance(value, str) or not value.strip()):
            raise r.fail("ids", "netflix must be text")
        record.ids[key] = value
    return record


# --------------------------------------------------------------------------------------------------------------------
# Importing


def connect_sync(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection with the same settings as the bot's, for imports in a worker thread."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA cache_size = -65536")  # 64 MiB: an import's index updates stay in memory until COMMIT
    return conn


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def import_records(
    conn: sqlite3.Connection,
    records: Iterable[ShowRecord],
    *,
    progress: Callable[[int], None] | None = None,
    state: tuple[str, str] | None = None,
) -> ImportSummary:
    """Upsert every record in one transaction: all of them or, on any error, none. `state` is a (key, value) kept in
    bot_state in the same transaction (how far a resumable sync got is true exactly when its shows are in)."""
    summary = ImportSummary()
    conn.execute("BEGIN IMMEDIATE")
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
        if state is not None:
            conn.execute(SET_STATE_SQL, state)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return summary


_WRITE_STATEMENT = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
STAGING_ATTEMPTS = 20


class _RecordingConnection:
    """The staging copy, noting every write statement (with its parameters) in the order it ran."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.writes: list[tuple[str, Sequence[Any]]] = []

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> sqlite3.Cursor:
        if _WRITE_STATEMENT.match(sql):
            self.writes.append((sql, tuple(parameters)))
        return self.conn.execute(sql, parameters)


_WRITTEN_TABLE = re.compile(
    r"^\s*(?:(?:INSERT|REPLACE)(?:\s+OR\s+\w+)?\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)\s+(\w+)", re.IGNORECASE
)
_PARENT_TABLES = ("genres", "people", "shows")  # what the other catalog tables' foreign keys point to
_SAME_STREAM = {"show_titles": "shows"}  # the triggers on shows write show_titles: one stream, in order


def _write_plan(writes: Sequence[tuple[str, Sequence[Any]]]) -> list[tuple[str, list[Sequence[Any]]]]:
    """The recorded writes as few `executemany` calls, with the same result as running them one by one.

    Each statement reads and writes only its own table (the shows triggers also show_titles: those two stay one
    stream), so statements on different tables commute: they are grouped per table, each table's statements in
    their recorded order (same new ids, same outcomes), parent tables first (foreign keys). Consecutive identical
    statements then run as one `executemany`. A statement on a table it cannot name keeps the recorded order.
    """
    streams: dict[str, list[tuple[str, Sequence[Any]]]] = {}
    for sql, parameters in writes:
        match = _WRITTEN_TABLE.match(sql)
        if match is None:
            streams = {"": list(writes)}
            break
        table = match.group(1).lower()
        streams.setdefault(_SAME_STREAM.get(table, table), []).append((sql, parameters))
    order = [table for table in _PARENT_TABLES if table in streams]
    order += [table for table in streams if table not in _PARENT_TABLES]
    plan: list[tuple[str, list[Sequence[Any]]]] = []
    for table in order:
        for sql, parameters in streams[table]:
            if plan and plan[-1][0] == sql:
                plan[-1][1].append(parameters)
            else:
                plan.append((sql, [parameters]))
    return plan


def import_staged(
    conn: sqlite3.Connection,
    records: Sequence[ShowRecord],
    *,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import like `import_records` (one transaction, all or nothing), holding the write lock only to write.

    The matching (thousands of reads) runs on an in-memory copy of a read snapshot of the database, noting every
    write; the same writes then run on the database in the same transaction as the snapshot, so they act on
    exactly the state they were planned on (same rows, same new ids; grouped per table, see `_write_plan`). If
    another connection wrote in between, SQLite refuses to upgrade the stale snapshot (SQLITE_BUSY_SNAPSHOT):
    nothing was written, and it starts over.
    `lock_seconds` in the summary is how long the write lock was held.
    """
    for _attempt in range(STAGING_ATTEMPTS):
        conn.execute("BEGIN")  # deferred: a read snapshot until the first write
        try:
            conn.execute("SELECT count(*) FROM shows").fetchone()  # the snapshot starts here
            staging = sqlite3.connect(":memory:", isolation_level=None)
            try:
                conn.backup(staging)
                staging.row_factory = sqlite3.Row
                staging.execute("PRAGMA foreign_keys = ON")
                recorder = _RecordingConnection(staging)
                # The recorder stands in for the connection: the importer only calls execute().
                summary = import_records(recorder, records, progress=progress)  # type: ignore[arg-type]
            finally:
                staging.close()
            plan = _write_plan(recorder.writes)
            if plan:
                conn.execute("UPDATE bot_state SET value = value WHERE 0")  # takes the write lock, writes nothing
            locked_at = time.perf_counter()
            for sql, rows in plan:
                conn.executemany(sql, rows)
            conn.execute("COMMIT")
            summary.lock_seconds = time.perf_counter() - locked_at if plan else 0.0
            return summary
        except sqlite3.OperationalError as exc:
            conn.execute("ROLLBACK")
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY_SNAPSHOT:
                raise
            log.info("The database changed while the import was being prepared; preparing it again")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    raise sqlite3.OperationalError(f"the database kept changing during {STAGING_ATTEMPTS} attempts to import")


def import_path(db_path: Path, path: Path, *, progress: Callable[[int], None] | None = None) -> ImportSummary:
    records = load_records(path)
    conn = connect_sync(db_path)
    try:
        return import_staged(conn, records, progress=progress)
    finally:
        conn.close()


def shipped_catalog_files() -> list[Path]:
    return sorted(CATALOG_DIR.glob("*.json"))


async def seed_if_empty(db: Database) -> ImportSummary | None:
    """Import the shipped catalog into an empty catalog; leave a non-empty one alone."""
    import asyncio

    if await db.fetchval("SELECT EXISTS (SELECT 1 FROM shows)"):
        return None

    def seed() -> ImportSummary:
        records = [record for path in shipped_catalog_files() for record in load_records(path)]
        conn = connect_sync(db.path)
        try:
            return import_records(conn, records)
        finally:
            conn.close()

    return await asyncio.to_thread(seed)


def find_show(conn: sqlite3.Connection, record: ShowRecord) -> int | None:
    """The catalog show an import of `record` would update (by ids, else title and years); None: it would add one."""
    return _Importer(conn).find_show(record)


def _holds_other_ids(row: sqlite3.Row, record: ShowRecord) -> bool:
    """Whether the catalog show `row` holds an id of a kind `record` has, with a different value: another show."""
    return any(
        record.ids.get(key) is not None and row[f"{key}_id"] is not None and row[f"{key}_id"] != record.ids[key]
        for key in ID_FIELDS
    )


class _Importer:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.stamp = now_iso()
        self._genre_ids: dict[str, int] = {}

    def changes(self, sql: str, parameters: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, parameters).rowcount

    def find_show(self, record: ShowRecord) -> int | None:
        # The record's own source's id decides first: a TVmaze record is the show with that TVmaze id. Another id
        # (an imdb id that two TVmaze shows share) matches only a show that holds no different id of a kind the
        # record has: two shows are never merged through one shared id.
        own = record.source if record.source in ID_FIELDS else None
        columns = [f"{key}_id" for key in ID_FIELDS]
        for key in sorted(ID_FIELDS, key=lambda key: key != own):
            value = record.ids.get(key)
            if value is None:
                continue
            row = self.conn.execute(
                f"SELECT id, {', '.join(columns)} FROM shows WHERE {key}_id = ?", (value,)
            ).fetchone()
            if row and (key == own or not _holds_other_ids(row, record)):
                return int(row[0])
        # An empty key (a title in a script normalise() drops, like Korean or Arabic) would match every other such
        # title, so it never matches by title.
        keys = {normalise(record.title), *(normalise(t) for t in record.alt_titles)} - {""}
        if not keys:
            return None
        of_show = ", ".join(f"s.{column}" for column in columns)
        rows = self.conn.execute(
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

    def upsert(self, record: ShowRecord) -> str:
        show_id = self.find_show(record)
        values: dict[str, Any] = {name: getattr(record, name) for name in SCALAR_FIELDS}
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
            cursor = self.conn.execute(
                f"INSERT INTO shows ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                list(columns.values()),
            )
            show_id = int(cursor.lastrowid or 0)
            self.add_details(show_id, record)
            return "added"

        existing = self.conn.execute("SELECT * FROM shows WHERE id = ?", (show_id,)).fetchone()
        given_by = dict(
            self.conn.execute("SELECT field, source FROM show_field_sources WHERE show_id = ?", (show_id,)).fetchall()
        )
        changed: dict[str, Any] = {}
        for name, value in values.items():
            if value is None or value == existing[name]:
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
            self.conn.execute("INSERT OR IGNORE INTO genres (name) VALUES (?)", (name,))
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
        cursor = self.conn.execute("INSERT INTO people (name, name_norm) VALUES (?, ?)", (name, name_norm))
        return int(cursor.lastrowid or 0)

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
                """INSERT OR IGNORE INTO credits (show_id, person_id, role, character, job, billing, source)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (show_id, person, role, character, job, next_billing + added, source),
            )
        return added

    def add_details(self, show_id: int, record: ShowRecord) -> int:
        """Merge the list fields of `record` into the show; returns how many rows were added or changed."""
        source = record.source
        changed = self.changes(
            "INSERT OR IGNORE INTO show_sources (show_id, source, fetched_at) VALUES (?, ?, ?)",
            (show_id, source, self.stamp),
        )
        for title in record.alt_titles:
            changed += self.changes(
                "INSERT OR IGNORE INTO show_titles (show_id, title, title_norm) VALUES (?, ?, ?)",
                (show_id, title, normalise(title)),
            )
        for genre in record.genres:
            changed += self.changes(
                "INSERT OR IGNORE INTO show_genres (show_id, genre_id) VALUES (?, ?)", (show_id, self.genre_id(genre))
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
                """INSERT OR IGNORE INTO videos (show_id, url, site, kind, name, official, season, source)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
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
                   AND releases.previous_episode IS NOT excluded.previous_episode""",
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
        for offer in record.availability:
            changed += self.changes(
                """INSERT INTO availability (show_id, service, region, kind, link, source, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (show_id, service, region, kind) DO UPDATE SET link = excluded.link
                   WHERE availability.link IS NOT excluded.link""",
                (show_id, offer.service, offer.region, offer.kind, offer.link, source, self.stamp),
            )
        return changed


# --------------------------------------------------------------------------------------------------------------------
# Reading a show back


async def show_json(db: Database, show_id: int) -> dict[str, Any] | None:
    """The show as a catalog record (the `catalog show --json` object), or None if there is no such show."""
    row = await db.fetchone("SELECT * FROM shows WHERE id = ?", (show_id,))
    if row is None:
        return None
    alt_titles = [
        r[0]
        for r in await db.fetchall(
            "SELECT title FROM show_titles WHERE show_id = ? AND is_primary = 0 ORDER BY id", (show_id,)
        )
    ]
    genres = [
        r[0]
        for r in await db.fetchall(
            """SELECT g.name FROM show_genres sg JOIN genres g ON g.id = sg.genre_id
               WHERE sg.show_id = ? ORDER BY g.name""",
            (show_id,),
        )
    ]
    credit_rows = await db.fetchall(
        """SELECT c.role, c.character, c.job, p.name FROM credits c JOIN people p ON p.id = c.person_id
           WHERE c.show_id = ? ORDER BY c.role, c.billing, c.id""",
        (show_id,),
    )
    videos = await db.fetchall(
        "SELECT url, site, kind, name, official, season FROM videos WHERE show_id = ? ORDER BY official DESC, id",
        (show_id,),
    )
    releases = await db.fetchall(
        "SELECT kind, date, service, season, region FROM releases WHERE show_id = ? ORDER BY date, id", (show_id,)
    )
    offers = await db.fetchall(
        "SELECT service, region, kind, link FROM availability WHERE show_id = ? ORDER BY region, service, kind",
        (show_id,),
    )
    sources = [
        r[0] for r in await db.fetchall("SELECT source FROM show_sources WHERE show_id = ? ORDER BY source", (show_id,))
    ]
    given_by: dict[str, str] = {
        str(r[0]): str(r[1])
        for r in await db.fetchall("SELECT field, source FROM show_field_sources WHERE show_id = ?", (show_id,))
    }
    trailer = next((v["url"] for v in videos if v["kind"] == "trailer" and v["official"]), None)
    trailer = trailer or next((v["url"] for v in videos if v["kind"] == "trailer"), None)
    result: dict[str, Any] = {"id": row["id"], "title": row["title"], "alt_titles": alt_titles}
    for name in SCALAR_FIELDS:
        result[name] = row[name]
    result["popularity"] = row["popularity"] or None
    result.update(
        genres=genres,
        creators=[c["name"] for c in credit_rows if c["role"] == "creator"],
        cast=[{"name": c["name"], "character": c["character"] or None} for c in credit_rows if c["role"] == "cast"],
        crew=[{"name": c["name"], "job": c["job"]} for c in credit_rows if c["role"] == "crew"],
        trailer_url=trailer,
        videos=[
            {
                "url": v["url"],
                "site": v["site"],
                "kind": v["kind"],
                "name": v["name"],
                "official": bool(v["official"]),
                "season": v["season"],
            }
            for v in videos
        ],
        releases=[
            {
                "kind": r["kind"],
                "date": r["date"],
                "service": r["service"] or None,
                "season": r["season"],
                "region": r["region"] or None,
            }
            for r in releases
        ],
        availability=[
            {"service": o["service"], "region": o["region"] or None, "kind": o["kind"], "link": o["link"]}
            for o in offers
        ],
        ids={key: row[f"{key}_id"] for key in ID_FIELDS},
        source=row["source"],
        sources=sources,
        # Which source gave each known fact (the show's own source unless another one filled or updated it).
        field_sources={name: given_by.get(name, row["source"]) for name in SCALAR_FIELDS if result[name] is not None},
    )
    return result


async def catalog_stats(db: Database) -> dict[str, int]:
    tables = (
        "shows",
        "show_titles",
        "genres",
        "people",
        "credits",
        "videos",
        "releases",
        "availability",
        "votes",
        "vote_messages",
        "guild_settings",
        "weekly_posts",
    )
    # Table names come from the tuple above, never from input.
    return {table: int(await db.fetchval(f"SELECT COUNT(*) FROM {table}")) for table in tables}
