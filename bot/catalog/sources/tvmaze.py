"""TVmaze (https://www.tvmaze.com/api): shows with cast and crew, the schedules as release events, updated shows.

No key is needed. TVmaze data is CC BY-SA: every record gets source "tvmaze", which puts TVmaze in the show's
sources and so in the attribution footer. Rate limit: about 20 calls per 10 s per IP, for every TVmaze call of the
process together (one shared limiter, bot.catalog.sources.http.shared_limiter).
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from aiolimiter import AsyncLimiter

from bot.catalog.records import STATUSES, CastMember, Release, ShowRecord
from bot.catalog.sources.base import SourceError, popularity_number
from bot.catalog.sources.http import ApiClient, JsonApi, NotFoundError, Sleep, shared_limiter

log = logging.getLogger(__name__)

SOURCE = "tvmaze"
SYNOPSIS_SOURCE = "TVmaze"
ATTRIBUTION = "Data from TVmaze (CC BY-SA)"
CALLS_PER_WINDOW, WINDOW_SECONDS = 20, 10.0
SHOW_EMBEDS = (("embed[]", "cast"), ("embed[]", "crew"))
UPDATE_PERIODS = ("day", "week", "month")
_GENRES = {"Science-Fiction": "Science Fiction"}  # the curated catalog's spelling
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_IMDB = re.compile(r"^tt\d{7,9}$")
_TAG = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")
_TVMAZE_IMAGE_HOSTS = ("static.tvmaze.com/", "static.tvmazecdn.com/", "tvmazecdn.com/")


@dataclass(slots=True)
class IndexPage:
    """One page of TVmaze's show index as records, and the entries that could not be read."""

    number: int
    records: list[ShowRecord] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class TvmazeClient(ApiClient):
    """The TVmaze API; use as an async context manager."""

    def __init__(
        self,
        base_url: str,
        *,
        sleep: Sleep | None = None,
        backoff_seconds: float = 1.0,
        limiter: AsyncLimiter | None = None,
    ) -> None:
        """Every client waits on the process's one TVmaze limiter unless given another `limiter`; `sleep` is for
        the retries' backoff (a test passes one that does not wait)."""
        self.api = JsonApi(
            base_url,
            name="TVmaze",
            limiter=limiter or shared_limiter(base_url, CALLS_PER_WINDOW, WINDOW_SECONDS),
            sleep=sleep,
            backoff_seconds=backoff_seconds,
        )

    async def show_by_name(self, name: str) -> ShowRecord | None:
        """The best match for `name` with its cast and creators, or None when TVmaze has none."""
        try:
            data = await self.api.get("/singlesearch/shows", [("q", name), *SHOW_EMBEDS])
        except NotFoundError:
            return None
        return show_to_record(data)

    async def show_by_id(self, tvmaze_id: int) -> ShowRecord | None:
        try:
            data = await self.api.get(f"/shows/{int(tvmaze_id)}", SHOW_EMBEDS)
        except NotFoundError:
            return None
        return show_to_record(data)

    async def index_page(self, page: int) -> IndexPage | None:
        """Page `page` (from 0) of TVmaze's show index, up to 250 shows in id order; None past the last page (404).
        A malformed show is named in `skipped`, never the end of the page."""
        try:
            data = await self.api.get("/shows", {"page": str(int(page))})
        except NotFoundError:
            return None
        if not isinstance(data, list):
            raise SourceError(f"TVmaze show index page {page}: malformed response (expected a list of shows)")
        # Mapping 250 shows (HTML stripped, titles normalised) takes tens of milliseconds: in a worker thread, the
        # event loop gets the GIL back every few milliseconds instead of waiting for the whole page.
        return await asyncio.to_thread(_index_page, page, data)

    async def schedule(self, day: date, *, country: str | None = None, web: bool = False) -> list[ShowRecord]:
        """One day's episodes as release events, one record per show: the streaming schedule (`web`, every
        country unless one is given) or the broadcast schedule of `country` (default US)."""
        params = {"date": day.isoformat()}
        if web:
            if country:
                params["country"] = country
            data = await self.api.get("/schedule/web", params)
        else:
            params["country"] = country or "US"
            data = await self.api.get("/schedule", params)
        if not isinstance(data, list):
            raise SourceError(f"TVmaze schedule for {day}: malformed response (expected a list of episodes)")
        return schedule_to_records(data, region=None if web and not country else (country or "US"))

    async def schedules(
        self, start: date, days: int, *, country: str | None = None, web: bool = True
    ) -> list[ShowRecord]:
        """The web (unless not `web`) and broadcast schedules for `days` days from `start`, merged into one record
        per show."""
        records: list[ShowRecord] = []
        for offset in range(days):
            day = start + timedelta(days=offset)
            if web:
                records += await self.schedule(day, country=country, web=True)
            records += await self.schedule(day, country=country, web=False)
        return merge_by_tvmaze_id(records)

    async def updated_since(self, period: str = "day") -> dict[int, int]:
        """{tvmaze id: updated timestamp} for the shows changed in the last day, week or month."""
        if period not in UPDATE_PERIODS:
            raise ValueError(f"period must be one of {', '.join(UPDATE_PERIODS)}")
        data = await self.api.get("/updates/shows", {"since": period})
        if not isinstance(data, dict):
            raise SourceError("TVmaze updates: malformed response (expected an object of id: timestamp)")
        updates: dict[int, int] = {}
        for key, value in data.items():
            if str(key).isdigit() and isinstance(value, int):
                updates[int(key)] = value
        return updates


# --------------------------------------------------------------------------------------------------------------------
# Mapping TVmaze JSON to records


def _index_page(page: int, data: list[Any]) -> IndexPage:
    result = IndexPage(page)
    for position, show in enumerate(data, start=1):
        try:
            result.records.append(show_to_record(show))
        except SourceError as exc:
            shown = show.get("id") if isinstance(show, dict) else None
            result.skipped.append(f"TVmaze show index page {page}, entry {position} (id {shown!r}): {exc}")
    return result


def show_to_record(data: Any) -> ShowRecord:
    """A TVmaze show object (with embedded cast and crew, if requested) as a record; SourceError if malformed."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), int) or not _text(data.get("name")):
        raise SourceError("TVmaze show: malformed response (no id or name)")
    record = ShowRecord(title=_text(data["name"]) or "", source=SOURCE, ids={"tvmaze": data["id"]})
    kind = _text(data.get("type"))
    record.kind = kind.lower() if kind else None
    record.premiered = _date(data.get("premiered"))
    record.ended = _date(data.get("ended"))
    status = (_text(data.get("status")) or "").lower()
    record.status = status if status in STATUSES else None
    runtime = data.get("runtime") or data.get("averageRuntime")
    record.runtime = runtime if isinstance(runtime, int) and runtime > 0 else None
    # TVmaze's "weight" (0-100) is its measure of how popular a show is. It is kept as TVmaze's own number; the
    # popularity the bot reads is derived from it and TMDB's (bot.catalog.popularity).
    record.source_popularity = popularity_number(data.get("weight"))
    record.language = _text(data.get("language"))
    channel = _object(data.get("network")) or _object(data.get("webChannel"))
    record.network = _text(channel.get("name"))
    code = _text(_object(channel.get("country")).get("code"))
    record.country = code if code and len(code) == 2 and code.isupper() else None
    site = _text(data.get("officialSite"))
    record.official_site = site if site and site.startswith("https://") and " " not in site else None
    record.poster_url = _image_url(_object(data.get("image")).get("original"))
    record.synopsis = strip_html(data.get("summary"))
    record.synopsis_source = SYNOPSIS_SOURCE if record.synopsis else None
    genres = data.get("genres")
    if isinstance(genres, list):
        record.genres = [_GENRES.get(genre, genre) for genre in genres if isinstance(genre, str) and genre.strip()]
    imdb = _text(_object(data.get("externals")).get("imdb"))
    if imdb and _IMDB.match(imdb):
        record.ids["imdb"] = imdb

    embedded = _object(data.get("_embedded"))
    for credit in _objects(embedded.get("cast")):
        name = _text(_object(credit.get("person")).get("name"))
        if name and not any(member.name == name for member in record.cast):
            character = _text(_object(credit.get("character")).get("name")) or ""
            record.cast.append(CastMember(name, character))
    for credit in _objects(embedded.get("crew")):
        name = _text(_object(credit.get("person")).get("name"))
        if name and credit.get("type") == "Creator" and name not in record.creators:
            record.creators.append(name)
    return record


def schedule_to_records(episodes: Iterable[Any], *, region: str | None) -> list[ShowRecord]:
    """Schedule entries (broadcast: `show` inside the episode; web: `_embedded.show`) as one record per show, each
    holding its release events: `premiere` for S1E1, `season_premiere` for episode 1, `episodes` otherwise."""
    records: list[ShowRecord] = []
    for episode in episodes:
        if not isinstance(episode, dict):
            continue
        show = episode.get("show") or _object(episode.get("_embedded")).get("show")
        airdate = _date(episode.get("airdate"))
        try:
            record = show_to_record(show)
        except SourceError:
            log.warning("TVmaze schedule: skipped an entry without a usable show (episode %r)", episode.get("id"))
            continue
        if airdate is None:
            continue
        season, number = episode.get("season"), episode.get("number")
        season = season if isinstance(season, int) and season > 0 else None
        if season == 1 and number == 1:
            kind = "premiere"
        elif number == 1:
            kind = "season_premiere"
        else:
            kind = "episodes"
        release_region = region or record.country or ""
        record.releases.append(Release(kind, airdate, record.network or "", season, release_region))
        records.append(record)
    return merge_by_tvmaze_id(records)


def merge_by_tvmaze_id(records: Iterable[ShowRecord]) -> list[ShowRecord]:
    """One record per TVmaze show (in first-seen order), with every release of every copy."""
    merged: dict[Any, ShowRecord] = {}
    for record in records:
        key = record.ids.get("tvmaze", record.title)
        if key not in merged:
            merged[key] = record
            continue
        kept = merged[key]
        for release in record.releases:
            if release not in kept.releases:
                kept.releases.append(release)
    return list(merged.values())


def strip_html(value: Any) -> str | None:
    """TVmaze summaries are HTML paragraphs: plain text, entities decoded, paragraphs joined by a blank line."""
    if not isinstance(value, str):
        return None
    paragraphs = re.split(r"</p>\s*<p>|<br\s*/?>", value)
    texts = [_SPACES.sub(" ", html.unescape(_TAG.sub("", part))).strip() for part in paragraphs]
    text = "\n\n".join(part for part in texts if part)
    return text or None


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _date(value: Any) -> str | None:
    text = _text(value)
    if text is None or not _DATE.match(text):
        return None
    try:
        date.fromisoformat(text)
    except ValueError:
        return None
    return text


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _objects(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _image_url(value: Any) -> str | None:
    """TVmaze's own image URLs, as https (older responses say http:// for the same files)."""
    url = _text(value)
    if url is None:
        return None
    if url.startswith("http://") and any(host in url for host in _TVMAZE_IMAGE_HOSTS):
        url = "https://" + url.removeprefix("http://")
    return url if url.startswith("https://") and " " not in url else None
