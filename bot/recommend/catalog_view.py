"""The catalog as the recommender sees it: every show's content features (`ShowInfo`, read by `load_show_infos`),
an inverted index over them, content neighbours, filters and popularity order. Holds no votes: it is the one thing
servers share."""

from __future__ import annotations

import functools
import heapq
import math
import sys
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from bot.recommend.content import ContentMatrix, feature_weight, synopsis_terms

if TYPE_CHECKING:
    from bot.storage import Database

MATRIX_STALE_SHOWS = 200  # changed shows scored feature by feature before the content matrix is rebuilt
CONTENT_CANDIDATE_MAX_DF = 200  # content candidates come only from rare features (a shared creator, not "Drama")
_CAST_BILLING_LIMIT = 8


@dataclass(slots=True)
class ShowInfo:
    show_id: int
    title: str
    popularity: float
    genres: frozenset[str]  # lower case names
    services: frozenset[str]  # lower case availability services
    # "genre:drama", "creator:12", "term:detective", ...: sorted and interned, a tuple rather than a set (a set's
    # table is several times larger, and the TVmaze index brings about 90,000 shows).
    features: tuple[str, ...]
    release_dates: tuple[str, ...]  # 'YYYY-MM-DD' (the date part of each release)


class Catalog:
    """Every show's content features, an inverted index over them, and popularity order. Holds no votes."""

    def __init__(self) -> None:
        self.shows: dict[int, ShowInfo] = {}
        # Feature -> the shows holding it. Arrays of ids, not sets: about 35 features a show, 90,000 shows.
        self.postings: dict[str, array[int]] = {}
        self._norms: dict[int, float] = {}
        self._by_popularity: list[int] | None = None
        self._neighbours: dict[int, list[tuple[int, float]]] = {}
        self._weights: dict[str, float] = {}
        self._matrix: ContentMatrix | None = None
        self.version = 0  # counts changes
        self._changed_at: dict[int, int] = {}  # show -> the version its last change made
        self._dirty: set[int] = set()  # shows changed since the content matrix was built

    # Maintenance

    def put(self, info: ShowInfo) -> None:
        self.remove(info.show_id)
        self._mark(info.show_id)
        self.shows[info.show_id] = info
        for feature in info.features:
            holders = self.postings.get(feature)
            if holders is None:
                self.postings[feature] = array("q", (info.show_id,))
            else:
                holders.append(info.show_id)
        self._changed()

    def remove(self, show_id: int) -> None:
        old = self.shows.pop(show_id, None)
        if old is None:
            return
        self._mark(show_id)
        for feature in old.features:
            holders = self.postings.get(feature)
            if holders is not None and old.show_id in holders:
                holders.remove(old.show_id)
                if not holders:
                    del self.postings[feature]
        self._changed()

    def _mark(self, show_id: int) -> None:
        self.version += 1
        self._changed_at[show_id] = self.version
        self._dirty.add(show_id)

    def _changed(self) -> None:
        # Document frequencies moved, so cached norms and content neighbour lists may be stale: they are cheap to
        # rebuild lazily, and catalog changes are rare (a sync), unlike requests.
        self._norms.clear()
        self._weights.clear()
        self._by_popularity = None
        self._neighbours.clear()

    # Features

    def weight(self, feature: str) -> float:
        cached = self._weights.get(feature)
        if cached is None:
            holders = self.postings.get(feature)
            cached = self._weights[feature] = feature_weight(feature, len(holders) if holders else 0, len(self.shows))
        return cached

    def norm(self, show_id: int) -> float:
        cached = self._norms.get(show_id)
        if cached is None:
            info = self.shows.get(show_id)
            cached = math.sqrt(sum(self.weight(f) ** 2 for f in info.features)) if info else 0.0
            self._norms[show_id] = cached
        return cached

    def vector(self, show_id: int) -> dict[str, float]:
        info = self.shows.get(show_id)
        norm = self.norm(show_id)
        if info is None or norm == 0.0:
            return {}
        return {feature: self.weight(feature) / norm for feature in info.features}

    def profile_scores(self, profile: dict[str, float], show_ids: Sequence[int]) -> NDArray[np.float64]:
        """Each show's cosine-like score against a (not normalised) profile vector: the profile's dot product with
        Catalog.vector. In C over the content matrix; shows changed since it was built, feature by feature. The
        matrix is rebuilt (here, synchronously) once more than a tenth of the catalog has changed: until then the
        other shows keep the document frequencies of when it was built."""
        if self._matrix is None or len(self._dirty) > max(MATRIX_STALE_SHOWS, len(self.shows) // 10):
            self.install(self.content_matrix_job()())
        assert self._matrix is not None
        scores = self._matrix.scores(profile, show_ids)
        if self._dirty:
            for position, show_id in enumerate(show_ids):
                if show_id in self._dirty:
                    info = self.shows.get(show_id)
                    norm = self.norm(show_id)
                    total = sum(profile.get(f, 0.0) * self.weight(f) for f in info.features) if info else 0.0
                    scores[position] = total / norm if norm else 0.0
        return scores

    def content_matrix_job(self) -> Callable[[], ContentMatrix]:
        """A function building the content matrix of the catalog as it is now, safe to run in a worker thread while
        the catalog changes (it reads a snapshot); `install` its result."""
        features = [(show_id, info.features) for show_id, info in self.shows.items()]
        frequencies = {feature: len(holders) for feature, holders in self.postings.items()}
        return functools.partial(ContentMatrix.of, self.version, features, frequencies)

    def install(self, matrix: ContentMatrix) -> None:
        """Use a content matrix built by content_matrix_job (shows changed since are scored feature by feature)."""
        self._matrix = matrix
        self._dirty = {show_id for show_id, version in self._changed_at.items() if version > matrix.version}

    def rank_by_profile(self, profile: dict[str, float], exclude: Iterable[int] = (), limit: int = 10) -> list[int]:
        """Every show scored against the profile (a full ranking through the inverted index)."""
        scores: dict[int, float] = {}
        for feature, value in profile.items():
            weight = self.weight(feature) * value
            for show_id in self.postings.get(feature, ()):
                scores[show_id] = scores.get(show_id, 0.0) + weight
        for show_id in exclude:
            scores.pop(show_id, None)
        return heapq.nlargest(limit, scores, key=lambda s: (scores[s] / (self.norm(s) or 1.0), -s))

    def content_neighbours(self, show_id: int, limit: int = 50) -> list[tuple[int, float]]:
        """The shows most similar in content (cosine over TF-IDF features), cached until the catalog changes."""
        cached = self._neighbours.get(show_id)
        if cached is None or len(cached) < limit:
            vector = self.vector(show_id)
            scores: dict[int, float] = {}
            for feature, value in vector.items():
                weight = value * self.weight(feature)
                for other in self.postings.get(feature, ()):
                    if other != show_id:
                        scores[other] = scores.get(other, 0.0) + weight
            best = heapq.nlargest(max(limit, 50), scores, key=lambda s: (scores[s] / (self.norm(s) or 1.0), -s))
            cached = [(other, scores[other] / (self.norm(other) or 1.0)) for other in best]
            self._neighbours[show_id] = cached
        return cached[:limit]

    def rare_feature_neighbours(self, show_id: int) -> set[int]:
        """Shows sharing a rare feature (creator, cast member, unusual synopsis term): cheap content candidates."""
        info = self.shows.get(show_id)
        found: set[int] = set()
        if info is None:
            return found
        for feature in info.features:
            holders = self.postings.get(feature)
            if holders is not None and 1 < len(holders) <= CONTENT_CANDIDATE_MAX_DF:
                found.update(holders)
        found.discard(show_id)
        return found

    # Popularity and filters

    def by_popularity(self) -> list[int]:
        if self._by_popularity is None:
            self._by_popularity = sorted(self.shows, key=lambda s: (-self.shows[s].popularity, s))
        return self._by_popularity

    def max_popularity(self) -> float:
        order = self.by_popularity()
        return max(self.shows[order[0]].popularity, 0.0) if order else 0.0

    def matches(self, show_id: int, genre: str | None, service: str | None) -> bool:
        info = self.shows.get(show_id)
        if info is None:
            return False
        if genre is not None and genre not in info.genres:
            return False
        return service is None or service in info.services

    def title(self, show_id: int) -> str:
        info = self.shows.get(show_id)
        return info.title if info else f"show {show_id}"


_SHARED_SETS: dict[frozenset[str], frozenset[str]] = {}
_SHARED_SETS_MAX = 50_000


def _shared(names: frozenset[str]) -> frozenset[str]:
    """One frozenset object for every show with the same genres (or services): with the TVmaze index, 90,000 shows
    share a few thousand combinations, and each set object costs about 200 bytes."""
    if len(_SHARED_SETS) >= _SHARED_SETS_MAX:
        _SHARED_SETS.clear()
    return _SHARED_SETS.setdefault(names, names)


async def load_show_infos(db: Database, show_ids: Sequence[int] | None = None) -> list[ShowInfo]:
    """Read the content features of some shows (all when show_ids is None) from the database."""
    where, parameters = "", []
    if show_ids is not None:
        if not show_ids:
            return []
        where = f" WHERE s.id IN ({','.join('?' * len(show_ids))})"  # only placeholders are formatted in
        parameters = list(show_ids)
    shows = await db.fetchall(
        "SELECT s.id, s.title, s.popularity, s.network, s.synopsis, s.premiered FROM shows AS s" + where, parameters
    )
    genres: dict[int, set[str]] = {}
    for row in await db.fetchall(
        "SELECT sg.show_id, g.name FROM show_genres AS sg JOIN genres AS g ON g.id = sg.genre_id"
        + where.replace("s.id", "sg.show_id"),
        parameters,
    ):
        genres.setdefault(row[0], set()).add(str(row[1]).lower())
    people: dict[int, set[str]] = {}
    for row in await db.fetchall(
        "SELECT c.show_id, c.role, c.person_id FROM credits AS c"
        " WHERE (c.role = 'creator' OR (c.role = 'cast' AND c.billing < ?))"
        + where.replace(" WHERE s.id", " AND c.show_id"),
        [_CAST_BILLING_LIMIT, *parameters],
    ):
        people.setdefault(row[0], set()).add(f"{row[1]}:{row[2]}")
    services: dict[int, set[str]] = {}
    for row in await db.fetchall(
        "SELECT DISTINCT a.show_id, a.service FROM availability AS a" + where.replace("s.id", "a.show_id"), parameters
    ):
        services.setdefault(row[0], set()).add(str(row[1]).lower())
    releases: dict[int, set[str]] = {}
    for row in await db.fetchall(
        "SELECT r.show_id, r.date, r.service FROM releases AS r" + where.replace("s.id", "r.show_id"), parameters
    ):
        releases.setdefault(row[0], set()).add(str(row[1])[:10])
        if row[2]:
            services.setdefault(row[0], set()).add(str(row[2]).lower())
    infos = []
    for row in shows:
        show_id = int(row[0])
        show_genres = genres.get(show_id, set())
        features = {f"genre:{name}" for name in show_genres}
        features |= people.get(show_id, set())
        features |= {f"term:{term}" for term in synopsis_terms(row[4])}
        if row[3]:
            features.add(f"network:{str(row[3]).lower()}")
        if row[5] and str(row[5])[:4].isdigit():
            features.add(f"decade:{str(row[5])[:3]}0")
        infos.append(
            ShowInfo(
                show_id=show_id,
                title=str(row[1]),
                popularity=float(row[2] or 0.0),
                genres=_shared(frozenset(show_genres)),
                # The network counts as a service, as in /search's filter (bot.catalog.browse):
                # "Sky Atlantic" finds Gomorrah.
                services=_shared(
                    frozenset(services.get(show_id, set()) | ({str(row[3]).lower()} if row[3] else set()))
                ),
                # Interned: the same feature text is one string for every show holding it (90,000 shows of the
                # TVmaze index would otherwise each keep their own copies of "genre:drama", "term:police", ...).
                features=tuple(sorted(map(sys.intern, features))),
                release_dates=tuple(sorted(releases.get(show_id, set()))),
            )
        )
    return infos
