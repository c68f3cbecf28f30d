"""Validating catalog records: a parsed JSON document (a catalog file, one show, or a list of shows) becomes
`ShowRecord`s, or a `CatalogFormatError` that names the record's position and the field that breaks the format."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from types import UnionType
from typing import Any

from bot.catalog.records import (
    AVAILABILITY_KINDS,
    CURATED_SOURCE,
    FORMAT,
    ID_FIELDS,
    RELEASE_KINDS,
    SCALAR_FIELDS,
    STATUSES,
    VIDEO_KINDS,
    Availability,
    CastMember,
    CatalogFormatError,
    CrewMember,
    Release,
    ShowRecord,
    Video,
)
from bot.common.text import normalise

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RELEASE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?([+-]\d{2}:\d{2}|Z)?)?$")
_IMDB = re.compile(r"^tt\d{7,9}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


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
        value = self._not_negative(name, int, "a whole number")
        return None if value is None else int(value)

    def number(self, name: str) -> float | None:
        value = self._not_negative(name, int | float, "a number")
        return None if value is None else float(value)

    def _not_negative(self, name: str, kind: type[int] | UnionType, expected: str) -> int | float | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, kind) or value < 0:  # JSON's true is no number
            raise self.fail(name, f"expected {expected} >= 0, got {value!r}")
        return value

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
        "source_popularity",
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
