"""TMDB API v3 (https://developer.themoviedb.org): official YouTube trailers, posters, watch providers by region,
titles and synopses in other languages, and finding the TMDB id of a show by title and first-air year.

Needs TMDB_API_KEY: a v3 API key (sent as `api_key`) or a v4 read access token (sent as a Bearer header). Records get
source "tmdb", so the show's attribution footer carries the TMDB notice; watch-provider data comes to TMDB from
JustWatch, which TMDB asks to be credited too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from typing import Any

from bot.catalog.records import Availability, Release, ShowRecord, Translation, Video
from bot.catalog.sources.base import SourceError, popularity_number
from bot.catalog.sources.http import ApiClient, JsonApi, NotFoundError, Sleep, shared_limiter
from bot.common.text import normalise

log = logging.getLogger(__name__)

SOURCE = "tmdb"
ATTRIBUTION = "This product uses the TMDB API but is not endorsed or certified by TMDB."
PROVIDERS_ATTRIBUTION = "Where-to-watch data from JustWatch, via TMDB."
POSTER_BASE = "https://image.tmdb.org/t/p/w500"
YOUTUBE_WATCH = "https://www.youtube.com/watch?v="
# TMDB allows about 50 requests a second; stay well below.
CALLS_PER_WINDOW, WINDOW_SECONDS = 20, 1.0
AVAILABILITY_KINDS: Mapping[str, str] = {
    "flatrate": "stream",
    "free": "free",
    "ads": "ads",
    "rent": "rent",
    "buy": "buy",
}


class TmdbClient(ApiClient):
    """The TMDB API; use as an async context manager."""

    def __init__(
        self, base_url: str, api_key: str, *, sleep: Sleep | None = None, backoff_seconds: float = 1.0
    ) -> None:
        if not api_key:
            raise SourceError("TMDB needs an API key: set TMDB_API_KEY")
        # A v4 read access token is a JWT ("eyJ..."); a v3 key is 32 hex digits and goes in the query.
        bearer = api_key.startswith("eyJ")
        self.api = JsonApi(
            base_url,
            name="TMDB",
            limiter=shared_limiter(base_url, CALLS_PER_WINDOW, WINDOW_SECONDS),
            headers={"Authorization": f"Bearer {api_key}"} if bearer else None,
            params=None if bearer else {"api_key": api_key},
            sleep=sleep,
            backoff_seconds=backoff_seconds,
        )

    async def trailers(self, tmdb_id: int) -> list[Video]:
        """The show's YouTube trailers, official ones first; empty when TMDB has none (or no such show)."""
        try:
            data = await self.api.get(f"/tv/{int(tmdb_id)}/videos", {"language": "en-US"})
        except NotFoundError:
            return []
        return trailers_from(data)

    async def details(self, tmdb_id: int) -> dict[str, Any] | None:
        """The show's details (`/tv/{id}`: poster, networks, the last and next episode); None when TMDB has none."""
        try:
            data = await self.api.get(f"/tv/{int(tmdb_id)}", {"language": "en-US"})
        except NotFoundError:
            return None
        if not isinstance(data, dict):
            raise SourceError(f"TMDB show {tmdb_id}: malformed response (expected an object)")
        return data

    async def poster_and_popularity(self, tmdb_id: int) -> tuple[str | None, float | None]:
        """The show's poster URL and TMDB's popularity number for it (each None when TMDB has none)."""
        data = await self.details(tmdb_id)
        if data is None:
            return None, None
        return poster_from(data.get("poster_path")), popularity_number(data.get("popularity"))

    async def on_the_air(self, page: int = 1) -> list[dict[str, Any]]:
        """One page (20 shows, most popular first) of `/tv/on_the_air`: shows with an episode in the next 7 days.
        Each entry names the show (id, name, first_air_date, origin_country) but not the episode: `details` does."""
        data = await self.api.get("/tv/on_the_air", {"language": "en-US", "page": str(int(page))})
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list):
            raise SourceError("TMDB on the air: malformed response (no results list)")
        return [
            item
            for item in results
            if isinstance(item, dict) and isinstance(item.get("id"), int) and _text(item.get("name"))
        ]

    async def translations(self, tmdb_id: int) -> list[Translation] | None:
        """The show's title and synopsis in every language TMDB has (`/tv/{id}/translations`); None when TMDB has no
        such show."""
        try:
            data = await self.api.get(f"/tv/{int(tmdb_id)}/translations")
        except NotFoundError:
            return None
        return translations_from(data)

    async def watch_providers(self, tmdb_id: int, region: str) -> tuple[list[Availability], bool]:
        """Where the show can be watched in `region`, and whether TMDB knew the show at all."""
        try:
            data = await self.api.get(f"/tv/{int(tmdb_id)}/watch/providers")
        except NotFoundError:
            return [], False
        return providers_from(data, region), True

    async def find_show(self, title: str, year: int | None) -> int | None:
        """The TMDB id of the show called `title` (first aired in `year`, when known); None unless exactly one
        result has the same normalised name or original name (and year)."""
        params = {"query": title, "language": "en-US"}
        if year is not None:
            params["first_air_date_year"] = str(year)
        data = await self.api.get("/search/tv", params)
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list):
            raise SourceError(f"TMDB search for {title!r}: malformed response (no results list)")
        key = normalise(title)
        matches = []
        for result in results:
            if not isinstance(result, dict) or not isinstance(result.get("id"), int):
                continue
            names = {normalise(str(result.get("name") or "")), normalise(str(result.get("original_name") or ""))}
            first_air = str(result.get("first_air_date") or "")
            if key in names and (year is None or first_air.startswith(str(year))):
                matches.append(int(result["id"]))
        return matches[0] if len(matches) == 1 else None


def trailers_from(data: Any) -> list[Video]:
    """YouTube videos of type Trailer from a /videos response, official first (TMDB's order otherwise)."""
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        raise SourceError("TMDB videos: malformed response (no results list)")
    videos: list[Video] = []
    for item in results:
        if not isinstance(item, dict) or item.get("site") != "YouTube" or item.get("type") != "Trailer":
            continue
        key = item.get("key")
        if not isinstance(key, str) or not key.strip() or not key.replace("-", "").replace("_", "").isalnum():
            continue
        name = item.get("name")
        videos.append(
            Video(
                url=f"{YOUTUBE_WATCH}{key}",
                site="YouTube",
                kind="trailer",
                name=name.strip() if isinstance(name, str) and name.strip() else None,
                official=item.get("official") is True,
            )
        )
    return sorted(videos, key=lambda video: not video.official)


def translations_from(data: Any) -> list[Translation]:
    """The translations of a `/tv/{id}/translations` response, one per language and country ("de-DE", "pt-BR"), each
    with its name and overview when not empty; English is left out (the catalog's own text is English). Entries
    without `data` (older responses listed only the languages) give nothing."""
    items = data.get("translations") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise SourceError("TMDB translations: malformed response (no translations list)")
    found: dict[str, Translation] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("data"), dict):
            continue
        language, country = item.get("iso_639_1"), item.get("iso_3166_1")
        if not _is_code(language, str.islower) or not _is_code(country, str.isupper) or language == "en":
            continue
        title, synopsis = _text(item["data"].get("name")), _text(item["data"].get("overview"))
        if title or synopsis:
            tag = f"{language}-{country}"
            found[tag] = Translation(tag, title, synopsis)
    return list(found.values())


def _is_code(value: Any, case: Any) -> bool:
    return isinstance(value, str) and len(value) == 2 and value.isascii() and value.isalpha() and case(value)


def airing_record(entry: Mapping[str, Any], details: Mapping[str, Any] | None) -> ShowRecord | None:
    """An on-the-air show (`entry`, from /tv/on_the_air) as a record holding its next episode as a release event:
    S1E1 a `premiere`, episode 1 of a later season a `season_premiere`, others `episodes`; the release keeps the
    date of the episode before it (TMDB's last_episode_to_air) for the weekly post's "returns". The date is the
    air date in the show's country of origin, so the release's region is that country (when TMDB names one).
    None when TMDB gives no usable next episode."""
    upcoming = details.get("next_episode_to_air") if details else None
    if not isinstance(upcoming, dict):
        return None
    air_date = _date(upcoming.get("air_date"))
    season, number = upcoming.get("season_number"), upcoming.get("episode_number")
    if air_date is None or not isinstance(season, int) or not isinstance(number, int):
        return None
    if season == 1 and number == 1:
        kind = "premiere"
    elif number == 1 and season > 1:
        kind = "season_premiere"
    else:
        kind = "episodes"
    previous = details.get("last_episode_to_air") if details else None
    previous_date = _date(previous.get("air_date")) if isinstance(previous, dict) else None
    if previous_date is not None and previous_date >= air_date:
        previous_date = None
    networks = details.get("networks") if details else None
    network = (
        next((name for item in networks if isinstance(item, dict) and (name := _text(item.get("name")))), "")
        if isinstance(networks, list)
        else ""
    )
    countries = entry.get("origin_country")
    region = countries[0] if isinstance(countries, list) and len(countries) == 1 else ""
    region = region if isinstance(region, str) and len(region) == 2 and region.isupper() else ""
    record = listed_show(entry)
    record.source_popularity = popularity_number(details.get("popularity") if details else None)
    if record.source_popularity is None:
        record.source_popularity = popularity_number(entry.get("popularity"))
    record.releases.append(Release(kind, air_date, network, season if season > 0 else None, region, previous_date))
    return record


def listed_show(entry: Mapping[str, Any]) -> ShowRecord:
    """A show as a TMDB list names it (id, name, first-air date): enough to find it in the catalog."""
    return ShowRecord(
        title=_text(entry.get("name")) or "",
        premiered=_date(entry.get("first_air_date")),
        ids={"tmdb": int(entry["id"])},
        source=SOURCE,
    )


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _date(value: Any) -> str | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return date.fromisoformat(text).isoformat() if len(text) == 10 else None
    except ValueError:
        return None


def poster_from(path: Any) -> str | None:
    if isinstance(path, str) and path.startswith("/") and " " not in path:
        return f"{POSTER_BASE}{path}"
    return None


def providers_from(data: Any, region: str) -> list[Availability]:
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, dict):
        raise SourceError("TMDB watch providers: malformed response (no results object)")
    offers = results.get(region.upper())
    if not isinstance(offers, dict):
        return []
    link = offers.get("link") if isinstance(offers.get("link"), str) else None
    link = link if link and link.startswith("https://") else None
    availability: list[Availability] = []
    for field, kind in AVAILABILITY_KINDS.items():
        providers = offers.get(field)
        if not isinstance(providers, list):
            continue
        for provider in providers:
            name = provider.get("provider_name") if isinstance(provider, dict) else None
            if isinstance(name, str) and name.strip():
                availability.append(Availability(name.strip(), region.upper(), kind, link))
    return availability
