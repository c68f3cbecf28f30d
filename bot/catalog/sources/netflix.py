"""The Kaggle "Netflix Movies and TV Shows" CSV (CC0) as catalog records: TV shows only.

Columns: show_id,type,title,director,cast,country,date_added,release_year,rating,duration,listed_in,description.
The dataset names no characters (cast is names only) and no premiere date: `release_year` of a TV show is often the
year of its latest season (Breaking Bad: 2013, premiered 2008), so records carry a year range instead of a premiere.
Known quirks (../shared/data/SOURCES.md): dates with a leading space, and rows whose duration sits in `rating`; both
are handled and reported, never fatal.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from bot.catalog.importer import ImportSummary
from bot.catalog.records import CastMember, Release, ShowRecord
from bot.catalog.sources.base import SourceError, SourceReport
from bot.catalog.staging import import_staged
from bot.common.text import normalise
from bot.storage import Location, connect_sync

SOURCE = "netflix"
SYNOPSIS_SOURCE = "Netflix titles dataset (Kaggle, CC0)"
SERVICE = "Netflix"
COLUMNS = (
    "show_id",
    "type",
    "title",
    "director",
    "cast",
    "country",
    "date_added",
    "release_year",
    "rating",
    "duration",
    "listed_in",
    "description",
)
# A show may have premiered this many years before the release_year the dataset gives (Arrested Development:
# 2003 premiere, 2019 in the dataset). Longer than that, a same-titled show is more likely a different one.
PREMIERE_WINDOW_YEARS = 20

# Netflix's "listed_in" categories mapped to catalog genres; an empty tuple drops a category that is not a genre
# (a country, a language, a format).
GENRES: Mapping[str, tuple[str, ...]] = {
    "TV Dramas": ("Drama",),
    "TV Comedies": ("Comedy",),
    "Crime TV Shows": ("Crime",),
    "Kids' TV": ("Children",),
    "Docuseries": ("Documentary",),
    "Romantic TV Shows": ("Romance",),
    "Reality TV": ("Reality",),
    "Anime Series": ("Anime",),
    "TV Action & Adventure": ("Action", "Adventure"),
    "TV Mysteries": ("Mystery",),
    "Science & Nature TV": ("Science", "Nature"),
    "TV Sci-Fi & Fantasy": ("Science Fiction", "Fantasy"),
    "TV Horror": ("Horror",),
    "Teen TV Shows": ("Teen",),
    "TV Thrillers": ("Thriller",),
    "Stand-Up Comedy & Talk Shows": ("Comedy",),
    "International TV Shows": (),
    "British TV Shows": (),
    "Spanish-Language TV Shows": (),
    "Korean TV Shows": (),
    "Classic & Cult TV": (),
    "TV Shows": (),
}
# Categories that say what kind of show it is (the catalog's `kind`), when the dataset says so.
KINDS: Mapping[str, str] = {"Docuseries": "documentary", "Reality TV": "reality", "Anime Series": "animation"}
# The production countries the dataset names for TV shows, as ISO 3166-1 alpha-2 codes (the first one is kept).
COUNTRIES: Mapping[str, str] = {
    "Argentina": "AR", "Australia": "AU", "Austria": "AT", "Azerbaijan": "AZ", "Belarus": "BY", "Belgium": "BE",
    "Brazil": "BR", "Canada": "CA", "Chile": "CL", "China": "CN", "Colombia": "CO", "Croatia": "HR", "Cuba": "CU",
    "Cyprus": "CY", "Czech Republic": "CZ", "Denmark": "DK", "Egypt": "EG", "Finland": "FI", "France": "FR",
    "Germany": "DE", "Greece": "GR", "Hong Kong": "HK", "Hungary": "HU", "Iceland": "IS", "India": "IN",
    "Indonesia": "ID", "Ireland": "IE", "Israel": "IL", "Italy": "IT", "Japan": "JP", "Jordan": "JO", "Kuwait": "KW",
    "Lebanon": "LB", "Luxembourg": "LU", "Malaysia": "MY", "Malta": "MT", "Mauritius": "MU", "Mexico": "MX",
    "Netherlands": "NL", "New Zealand": "NZ", "Nigeria": "NG", "Norway": "NO", "Pakistan": "PK", "Philippines": "PH",
    "Poland": "PL", "Puerto Rico": "PR", "Russia": "RU", "Saudi Arabia": "SA", "Senegal": "SN", "Singapore": "SG",
    "South Africa": "ZA", "South Korea": "KR", "Spain": "ES", "Sweden": "SE", "Switzerland": "CH", "Syria": "SY",
    "Taiwan": "TW", "Thailand": "TH", "Turkey": "TR", "Ukraine": "UA", "United Arab Emirates": "AE",
    "United Kingdom": "GB", "United States": "US", "Uruguay": "UY",
}  # fmt: skip

_DURATION = re.compile(r"^(\d+) (min|Seasons?)$")
_SEASONS = re.compile(r"^(\d+) Seasons?$")
_ZERO_WIDTH_SPACE = "\u200b"


def read_netflix_csv(path: Path) -> SourceReport:
    """Read the CSV into records for its TV shows; rows that cannot be used are named in `skipped`."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return parse_rows(csv.DictReader(handle))
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except csv.Error as exc:
        raise SourceError(f"{path}: not a readable CSV file ({exc})") from None


def parse_rows(rows: csv.DictReader[str]) -> SourceReport:
    missing = [column for column in COLUMNS if column not in (rows.fieldnames or ())]
    if missing:
        raise SourceError(
            f"not the Netflix titles CSV: missing column(s) {', '.join(missing)} (expected {','.join(COLUMNS)})"
        )
    report = SourceReport()
    seen_ids: set[str] = set()
    other_types: Counter[str] = Counter()
    unknown_categories: Counter[str] = Counter()
    trimmed_dates = 0
    for line, row in enumerate(rows, start=2):
        where = f"line {line}"
        if row.get(None) or any(row.get(column) is None for column in COLUMNS):
            # csv puts surplus fields under the key None and fills missing ones with None.
            report.skipped.append(f"{where}: has {'more' if row.get(None) else 'fewer'} than {len(COLUMNS)} fields")
            continue
        show_type = row["type"].strip()
        if show_type != "TV Show":
            other_types[show_type or "(empty)"] += 1
            continue
        show_id = row["show_id"].strip()
        title = row["title"].strip()
        where = f"{show_id or where} {title!r}"
        if not show_id:
            report.skipped.append(f"{where}: no show_id")
            continue
        if show_id in seen_ids:
            report.skipped.append(f"{where}: show_id {show_id} appears twice; the first row was kept")
            continue
        seen_ids.add(show_id)
        if not title:
            report.skipped.append(f"{where}: no title")
            continue
        if row["date_added"] != row["date_added"].lstrip():
            trimmed_dates += 1
        record, problems = row_to_record(row, unknown_categories)
        report.notes += [f"{where}: {problem}" for problem in problems]
        report.records.append(record)
    if other_types:
        ignored = ", ".join(f"{count} {kind}" for kind, count in sorted(other_types.items()))
        report.notes.append(f"ignored rows that are not TV shows: {ignored}")
    if trimmed_dates:
        report.notes.append(f"{trimmed_dates} date_added values had leading spaces (trimmed)")
    report.notes += [
        f"category {name!r} is not mapped to a genre (ignored in {count} rows)"
        for name, count in sorted(unknown_categories.items())
    ]
    return report


def row_to_record(row: Mapping[str, str], unknown_categories: Counter[str]) -> tuple[ShowRecord, list[str]]:
    """One TV-show row as a record, and the quirks met in it (each handled)."""
    problems: list[str] = []
    record = ShowRecord(title=row["title"].strip(), source=SOURCE, ids={"netflix": row["show_id"].strip()})

    rating, duration = row["rating"].strip(), row["duration"].strip()
    if _DURATION.match(rating):
        # A known shift in the dataset: the duration sits in `rating` and the rating is lost.
        problems.append(f"duration {rating!r} found in the rating column; used as the duration, rating unknown")
        duration = duration or rating
        rating = ""
    record.content_rating = rating or None
    seasons = _SEASONS.match(duration)
    record.seasons = int(seasons.group(1)) if seasons else None

    year_text = row["release_year"].strip()
    if year_text.isdigit() and 1900 <= int(year_text) <= 2100:
        year = int(year_text)
        record.year_range = (year - PREMIERE_WINDOW_YEARS, year)
    elif year_text:
        problems.append(f"release_year {year_text!r} is not a year; matched by title alone")

    added = row["date_added"].strip()
    if added:
        try:
            when = datetime.strptime(added, "%B %d, %Y").date()
        except ValueError:
            problems.append(f"date_added {added!r} is not a date like 'September 25, 2021'; no added date kept")
        else:
            record.releases.append(Release("added", when.isoformat(), SERVICE))

    record.creators = split_names(row["director"])
    record.cast = [CastMember(name) for name in split_names(row["cast"])]
    countries = split_names(row["country"])
    record.country = COUNTRIES.get(countries[0]) if countries else None

    for category in split_names(row["listed_in"]):
        if category not in GENRES:
            unknown_categories[category] += 1
        for genre in GENRES.get(category, ()):
            if genre not in record.genres:
                record.genres.append(genre)
        record.kind = record.kind or KINDS.get(category)

    description = row["description"].strip()
    if description:
        record.synopsis = description
        record.synopsis_source = SYNOPSIS_SOURCE
    return record, problems


def split_names(text: str) -> list[str]:
    """A comma-separated list, trimmed, without blanks or repeats (in order)."""
    names: list[str] = []
    for part in text.split(","):
        name = part.replace(_ZERO_WIDTH_SPACE, "").strip()  # two cast names in the dataset end in one
        # A name that normalises to nothing would share the empty matching key with every other such name.
        if name and len(name) <= 200 and normalise(name) and name not in names:
            names.append(name)
    return names


def import_netflix_csv(
    location: Location, csv_path: Path, *, progress: Callable[[int], None] | None = None
) -> tuple[ImportSummary, SourceReport]:
    """Read the CSV and import its TV shows (see `import_report`)."""
    report = read_netflix_csv(csv_path)
    return import_report(location, report, progress=progress), report


def import_report(
    location: Location, report: SourceReport, *, progress: Callable[[int], None] | None = None
) -> ImportSummary:
    """Import what was read in one transaction (all or nothing, like a catalog file); skipped rows join the summary.

    The database must exist and be migrated (`bot.storage.open_database` does that).
    """
    conn = connect_sync(location)
    try:
        summary = import_staged(conn, report.records, progress=progress)
    finally:
        conn.close()
    summary.skipped += report.skipped
    return summary
