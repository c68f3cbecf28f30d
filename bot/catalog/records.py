"""The record format: one show as the catalog keeps it (`ShowRecord` and its parts), the names of its fields and the
values they may take, and the error a record that breaks the format raises.

The format is documented in docs/catalog-format.md and data/catalog.schema.json; reading and validating a record is
`bot.catalog.validation`, a catalog file `bot.catalog.files`, writing records into the database `bot.catalog.importer`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.common.i18n import NP_

FORMAT = "showbot-catalog/1"
CURATED_SOURCE = "showbot"
# Marked for translation in the context "status": the card and the /search heading show them in the member's language.
STATUSES = (
    NP_("status", "running"),
    NP_("status", "ended"),
    NP_("status", "in development"),
    NP_("status", "to be determined"),
)
RELEASE_KINDS = ("premiere", "season_premiere", "episodes", "added")
VIDEO_KINDS = ("trailer", "teaser", "clip", "featurette", "other")
AVAILABILITY_KINDS = ("stream", "free", "ads", "rent", "buy")
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
# Each live source's own popularity number, kept as it gave it, in a column of its own (TVmaze's weight is 0-100,
# TMDB's popularity is unbounded): shows.popularity is derived from them (bot.catalog.popularity).
SOURCE_POPULARITY_COLUMNS = {"tvmaze": "tvmaze_weight", "tmdb": "tmdb_popularity"}


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
class Translation:
    """The show's title and synopsis in one language (`language`: ISO 639-1 and ISO 3166-1, "de-DE", "pt-BR")."""

    language: str
    title: str | None = None
    synopsis: str | None = None


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
    translations: list[Translation] = field(default_factory=list)  # from a live source only: not in catalog files
    ids: dict[str, int | str] = field(default_factory=dict)
    popularity: float | None = None  # a file's own value: used only for a show no live source has a number for
    source_popularity: float | None = None  # the live source's own number (SOURCE_POPULARITY_COLUMNS)
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
