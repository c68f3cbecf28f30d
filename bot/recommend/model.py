"""Recommendations: what a member, or a whole server, is likely to enjoy next, and why.

A hybrid of three signals, blended with weights chosen by the offline evaluation (`bot/recommend/evaluate.py`,
docs/recommendations.md):

- item-item collaborative filtering on ONE server's votes. Co-vote counts C[i][j] (signed: +1 when a member voted
  both shows the same way, -1 when they disagreed) are kept per server and updated incrementally on every vote in
  O(votes of that member). Each show's neighbour list (its top-K co-voted shows by a cosine-like similarity) is cached
  and dropped when one of the show's own co-votes changes; it is rebuilt lazily from the show's row when needed.
  A member's downvotes count as negative evidence: shows similar to what they disliked are pushed down.
- content similarity between shows: TF-IDF-weighted feature sets (genres, creators, cast, synopsis terms, network,
  decade), compared by cosine. Document frequencies are kept incrementally when the catalog changes.
- a popularity prior: net likes in this server, and the catalog's own popularity (how well known a show is).

Nothing is shared between servers except the catalog, which holds no votes: one server's votes never influence
another server's recommendations. Everything here is synchronous CPU work on in-memory state except loading,
which reads the database; there is no Discord in this module.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import heapq
import logging
import math
import re
import sys
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from bot.common.clock import Clock, SystemClock
from bot.common.text import normalise

if TYPE_CHECKING:
    from bot.storage import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Weights:
    """How the signals are blended. The defaults are what `python -m bot evaluate --dataset
    ../shared/data/movielens/ml-latest-small` chose on its validation split (leave-last-out, each member's upvote
    before their test item; coordinate search, best NDCG@10; grids and their sources in bot/recommend/evaluate.py and
    docs/recommendations.md): recency half-life 3 votes, content 0.4, popularity 0.05, alpha 0.5, K 100.
    `catalog` and `new_release` cannot be measured on MovieLens (no popularity prior, no releases): set by judgement.
    """

    collaborative: float = 1.0
    content: float = 0.4
    popularity: float = 0.05  # net likes in this server
    catalog: float = 0.05  # the catalog's own "best known" prior
    new_release: float = 0.3  # bonus for shows released this week in a genre the member likes
    recency_half_life: float = 3.0  # a member's vote this many votes ago counts half as much as their latest
    recent_votes: int = 60  # only the member's most recent votes seed the candidates
    neighbours: int = 100  # K: neighbour-list length per show
    alpha: float = 0.5  # similarity = C_ij / (n_i ** alpha * n_j ** (1 - alpha)); 0.5 is the cosine
    shrink: float = 2.0  # significance weighting: similarities from few co-votes are shrunk by C / (C + shrink)
    # A vote co-counts with the member's `covote_window` votes before and after it (in the order they were cast):
    # votes cast close together say more about each other, and it bounds the cost of a very active member.
    covote_window: int = 30


DEFAULT_WEIGHTS = Weights()
NEW_RELEASE_DAYS = 7
POPULAR_CANDIDATES = 50
MATRIX_STALE_SHOWS = 200  # changed shows scored feature by feature before the content matrix is rebuilt
LIVE_MEMBERS_BEFORE_SNAPSHOT = 500  # members who voted since a server's snapshot before a new one is taken
CONTENT_CANDIDATE_MAX_DF = 200  # content candidates come only from rare features (a shared creator, not "Drama")


class ReasonKind(StrEnum):
    YOU_LIKED = "you_liked"
    MEMBERS_WHO_LIKE = "members_who_like"
    NEW_IN_GENRE = "new_in_genre"
    SERVER_POPULAR = "server_popular"
    BEST_KNOWN = "best_known"
    SIMILAR_CONTENT = "similar_content"
    COVOTED = "covoted"


@dataclass(frozen=True, slots=True)
class Recommendation:
    show_id: int
    title: str
    score: float
    reason: str  # short and human: "because you liked Seven Seconds"
    reason_kind: ReasonKind
    because_show_id: int | None = None  # the show the reason names, when it names one


@dataclass(frozen=True, slots=True)
class RecommendationPage:
    items: tuple[Recommendation, ...]
    cold_start: bool  # the member has no votes here: the cog should suggest voting to get personal picks
    has_more: bool  # another page exists after this one

    def __iter__(self) -> Any:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


# Content ----------------------------------------------------------------------------------------------------------

_FEATURE_TYPE_WEIGHT = {"genre": 1.0, "creator": 1.5, "cast": 1.0, "term": 0.6, "network": 0.4, "decade": 0.5}
_CAST_BILLING_LIMIT = 8
_TERMS_PER_SHOW = 30
_WORD = re.compile(r"[a-z][a-z']{3,}")
_STOPWORD_TEXT = """
about after again against also among another around because been before being between both cannot could does
doing down during each even every first from further have having here however into itself just last later like
made make many more most much must never next only other over own same season series several show shows since
some still such than that their them then there these they this those through under until upon very want what
when where which while will with within without would year years your
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def synopsis_terms(text: str | None) -> list[str]:
    """Distinct content words of a synopsis, in order of first appearance (at most _TERMS_PER_SHOW)."""
    if not text:
        return []
    seen: dict[str, None] = {}
    # ASCII text needs none of normalise()'s Unicode folding: lower case without apostrophes yields the same words
    # (normalise only adds spaces where the word pattern stops anyway), at a fraction of the cost; a TVmaze
    # bootstrap reads 90,000 synopses.
    plain = text.lower().replace("'", "") if text.isascii() else normalise(text)
    for match in _WORD.findall(plain):
        word = match.strip("'")
        if len(word) >= 4 and word not in _STOPWORDS:
            seen.setdefault(word, None)
            if len(seen) >= _TERMS_PER_SHOW:
                break
    return list(seen)


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
        self._matrix: _ContentMatrix | None = None
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
            cached = self._weights[feature] = _feature_weight(feature, len(holders) if holders else 0, len(self.shows))
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

    def content_matrix_job(self) -> Callable[[], _ContentMatrix]:
        """A function building the content matrix of the catalog as it is now, safe to run in a worker thread while
        the catalog changes (it reads a snapshot); `install` its result."""
        features = [(show_id, info.features) for show_id, info in self.shows.items()]
        frequencies = {feature: len(holders) for feature, holders in self.postings.items()}
        return functools.partial(_ContentMatrix.of, self.version, features, frequencies)

    def install(self, matrix: _ContentMatrix) -> None:
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


def _feature_weight(feature: str, frequency: int, shows: int) -> float:
    """A feature's TF-IDF weight: its kind's weight times the IDF over the catalog's shows."""
    return _FEATURE_TYPE_WEIGHT.get(feature.split(":", 1)[0], 0.5) * math.log((shows + 1) / (frequency + 1) + 1.0)


@dataclass(slots=True)
class _ContentMatrix:
    """Every show's normalised TF-IDF vector (Catalog.vector) as one sparse row-major matrix, for scoring the many
    candidates of a request against a member's profile without a Python loop per feature. Built in a worker thread
    at start-up and after each catalog change (seconds for the 90,000 shows of the TVmaze index); until it is
    current, requests score feature by feature."""

    version: int  # Catalog.version it was built at
    features: dict[str, int]
    rows: dict[int, int]  # show id -> row
    starts: NDArray[np.int64]  # row r's entries are starts[r] : starts[r + 1]
    columns: NDArray[np.int32]
    values: NDArray[np.float64]

    @classmethod
    def of(
        cls, version: int, shows: Sequence[tuple[int, Sequence[str]]], frequencies: dict[str, int]
    ) -> _ContentMatrix:
        """From each show's features and each feature's document frequency (a snapshot of the catalog)."""
        features: dict[str, int] = {}
        rows: dict[int, int] = {}
        weights: dict[str, float] = {}
        starts: list[int] = [0]
        columns: list[int] = []
        values: list[float] = []
        for show_id, show_features in shows:
            rows[show_id] = len(rows)
            row = []
            for feature in show_features:
                weight = weights.get(feature)
                if weight is None:
                    weight = weights[feature] = _feature_weight(feature, frequencies.get(feature, 0), len(shows))
                row.append(weight)
                columns.append(features.setdefault(feature, len(features)))
            norm = math.sqrt(sum(weight * weight for weight in row)) or 1.0
            values.extend(weight / norm for weight in row)
            starts.append(len(columns))
        return cls(
            version,
            features,
            rows,
            np.array(starts, np.int64),
            np.array(columns, np.int32),
            np.array(values, np.float64),
        )

    def scores(self, profile: dict[str, float], show_ids: Sequence[int]) -> NDArray[np.float64]:
        dense = np.zeros(len(self.features) + 1)  # the last column stands for features no show has
        for feature, value in profile.items():
            dense[self.features.get(feature, -1)] += value
        dense[-1] = 0.0
        rows = np.array([self.rows.get(show_id, -1) for show_id in show_ids], dtype=np.int64)
        known = rows >= 0
        begin = np.where(known, self.starts[np.where(known, rows, 0)], 0)
        length = np.where(known, self.starts[np.where(known, rows, 0) + 1] - begin, 0)
        owner = np.repeat(np.arange(len(rows)), length)
        entry = np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length) + np.repeat(begin, length)
        products = self.values[entry] * dense[self.columns[entry]]
        result: NDArray[np.float64] = np.bincount(owner, weights=products, minlength=len(rows)).astype(np.float64)
        return result


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


# One server's votes --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class VoteArrays:
    """A snapshot of one server's votes as compact arrays, for computing co-vote rows in C rather than Python.

    Every member's votes lie back to back in their voting order, one "slot" per vote; for each show, the slots that
    hold a vote on it. A 200,000-vote server takes about 4 MB. The snapshot never changes: members who vote after it
    was taken are "live" (GuildState reads their votes from `user_votes` instead) until the next snapshot.
    """

    show_of_slot: NDArray[np.int32]  # dense show index (GuildState.show_index) of each slot
    value_of_slot: NDArray[np.int8]
    member_start: NDArray[np.int64]  # per slot: where its member's votes start and end
    member_end: NDArray[np.int64]
    slots_by_show: NDArray[np.int64]
    show_bounds: NDArray[np.int64]  # show s's slots are slots_by_show[show_bounds[s] : show_bounds[s + 1]]
    member_of_slot: NDArray[np.int32]
    members: dict[int, int]  # member id -> dense member index
    stale: NDArray[np.bool_]  # per dense member index: their votes here are out of date (they are live)

    @classmethod
    def of(cls, user_votes: Sequence[tuple[int, Sequence[tuple[int, int]]]], show_index: dict[int, int]) -> VoteArrays:
        """From (member, [(show, value), ...] in voting order); every show must already be in show_index."""
        shows: list[int] = []
        values: list[int] = []
        sizes: list[int] = []
        for _, votes in user_votes:
            shows.extend(show_index[show_id] for show_id, _ in votes)
            values.extend(value for _, value in votes)
            sizes.append(len(votes))
        return cls.from_slots(
            [user_id for user_id, _ in user_votes],
            np.array(sizes, dtype=np.int64),
            np.array(shows, dtype=np.int32),
            np.array(values, dtype=np.int8),
            len(show_index),
        )

    @classmethod
    def from_slots(
        cls,
        members: Sequence[int],
        sizes: NDArray[np.int64],
        show_of_slot: NDArray[np.int32],
        value_of_slot: NDArray[np.int8],
        show_count: int,
    ) -> VoteArrays:
        """From each member's number of votes and every vote's show index and value, member after member."""
        ends = np.cumsum(sizes)
        member_of_slot = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
        per_show = np.bincount(show_of_slot, minlength=show_count)
        return cls(
            show_of_slot=show_of_slot,
            value_of_slot=value_of_slot,
            member_start=(ends - sizes)[member_of_slot],
            member_end=ends[member_of_slot],
            slots_by_show=np.argsort(show_of_slot, kind="stable").astype(np.int64),
            show_bounds=np.concatenate(([0], np.cumsum(per_show))).astype(np.int64),
            member_of_slot=member_of_slot,
            members={user_id: index for index, user_id in enumerate(members)},
            stale=np.zeros(len(sizes), dtype=np.bool_),
        )

    def add_covotes(self, show: int, window: int, counts: NDArray[np.float64]) -> None:
        """Add to counts (indexed by show index) the co-votes of show `show` from the members who are not stale."""
        if window <= 0 or show + 1 >= len(self.show_bounds):
            return
        slots = self.slots_by_show[self.show_bounds[show] : self.show_bounds[show + 1]]
        if len(slots) == 0:
            return
        slots = slots[~self.stale[self.member_of_slot[slots]]]
        offsets = np.concatenate((np.arange(-window, 0), np.arange(1, window + 1)))
        around = slots[:, None] + offsets[None, :]
        inside = (around >= self.member_start[slots][:, None]) & (around < self.member_end[slots][:, None])
        near = around[inside]
        products = (self.value_of_slot[slots][:, None] * self.value_of_slot[np.where(inside, around, 0)])[inside]
        found = np.bincount(self.show_of_slot[near], weights=products, minlength=len(counts))
        counts += found[: len(counts)]


@dataclass(slots=True)
class GuildState:
    """One server's votes, kept up to date vote by vote, and the co-vote counts derived from them.

    C[i][j] sums, over members whose votes on i and j are at most `covote_window` apart in their voting order, the
    product of the two votes. A changed vote moves to the end of the member's order (it is their latest).
    Rows of C are computed when a show's neighbour list is needed (from the compact snapshot `arrays`, plus the
    members who voted since it was taken), and only the neighbour lists are kept: the full matrix of a big server
    (over 5 million pairs) would cost hundreds of MB and seconds to build.
    """

    weights: Weights = DEFAULT_WEIGHTS
    # member -> {show: +1/-1}; insertion order is recency (oldest first): a changed vote moves to the end
    user_votes: dict[int, dict[int, int]] = field(default_factory=dict)
    vote_counts: dict[int, int] = field(default_factory=dict)  # n_i: votes of either sign on the show
    net_likes: dict[int, int] = field(default_factory=dict)  # upvotes minus downvotes
    show_index: dict[int, int] = field(default_factory=dict)  # show id -> dense index into the arrays below
    arrays: VoteArrays | None = None
    _show_ids: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    _counts: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))  # n_i by show index
    _live: set[int] = field(default_factory=set)  # members whose votes are not (or no longer) in `arrays`
    _live_voters: dict[int, set[int]] = field(default_factory=dict)  # show -> live members who voted on it
    _live_orders: dict[int, tuple[list[int], list[int], dict[int, int]]] = field(default_factory=dict)
    _voted_since_snapshot: set[int] = field(default_factory=set)
    # show -> (neighbour show indices, their co-vote counts): dropped when one of the show's co-votes changes
    _neighbours: dict[int, tuple[NDArray[np.int32], NDArray[np.float64]]] = field(default_factory=dict)
    _popular: list[int] | None = None  # shows with net likes > 0, most liked first (ties: lower id)
    _popular_keys: list[tuple[int, int]] = field(default_factory=list)  # (-net likes, show), parallel to _popular

    @classmethod
    def build(
        cls, rows: Sequence[Sequence[int]], weights: Weights = DEFAULT_WEIGHTS, *, warm: bool = False
    ) -> GuildState:
        """A state from (user_id, show_id, value) rows, oldest first: the same result as applying them one by one
        (a repeated member and show: the later row wins and counts as their latest vote). In numpy but for the
        per-member dicts, so that a 200,000-vote server loads in well under a second.
        With warm, every neighbour list is built now rather than by the first requests."""
        state = cls(weights=weights)
        count = len(rows)
        members = np.fromiter((row[0] for row in rows), dtype=np.int64, count=count)
        shows = np.fromiter((row[1] for row in rows), dtype=np.int64, count=count)
        values = np.fromiter((row[2] for row in rows), dtype=np.int8, count=count)
        voted, show_of_row = np.unique(shows, return_inverse=True)
        member_ids, member_of_row = np.unique(members, return_inverse=True)
        # The last row of each member and show, then the rows grouped by member in their order (a stable sort).
        pair = member_of_row.astype(np.int64) * max(len(voted), 1) + show_of_row
        _, last_from_end = np.unique(pair[::-1], return_index=True)
        kept = np.sort(count - 1 - last_from_end)
        kept = kept[np.argsort(member_of_row[kept], kind="stable")]
        show_of_slot = show_of_row[kept].astype(np.int32)
        value_of_slot = values[kept]
        sizes = np.bincount(member_of_row[kept], minlength=len(member_ids)).astype(np.int64)
        for show_id in voted.tolist():
            state._index_of(show_id)
        state.arrays = VoteArrays.from_slots(member_ids.tolist(), sizes, show_of_slot, value_of_slot, len(voted))
        slot_shows, slot_values = voted[show_of_slot].tolist(), value_of_slot.tolist()
        start = 0
        for user_id, size in zip(member_ids.tolist(), sizes.tolist(), strict=True):
            end = start + size
            state.user_votes[user_id] = dict(zip(slot_shows[start:end], slot_values[start:end], strict=True))
            start = end
        counts = np.bincount(show_of_slot, minlength=len(voted))
        state._counts[: len(voted)] = counts
        state.vote_counts = dict(zip(voted.tolist(), counts.tolist(), strict=True))
        net = np.bincount(show_of_slot, weights=value_of_slot, minlength=len(voted)).astype(np.int64)
        state.net_likes = dict(zip(voted.tolist(), net.tolist(), strict=True))
        if warm:
            for show_id in voted.tolist():
                state.neighbours(show_id)
        return state

    def _index_of(self, show_id: int) -> int:
        index = self.show_index.get(show_id)
        if index is None:
            index = self.show_index[show_id] = len(self.show_index)
            if index >= len(self._counts):
                capacity = max(64, 2 * len(self._counts), index + 1)
                self._counts = np.concatenate((self._counts, np.zeros(capacity - len(self._counts))))
                self._show_ids = np.concatenate((self._show_ids, np.zeros(capacity - len(self._show_ids), np.int64)))
            self._show_ids[index] = show_id
        return index

    def observe_vote(self, user_id: int, show_id: int, value: int | None) -> bool:
        """Make the member's vote on the show `value` (None: no vote). Idempotent; True when something changed."""
        if value not in (None, 1, -1):
            raise ValueError(f"a vote is +1, -1 or None, not {value!r}")
        votes = self.user_votes.setdefault(user_id, {})
        old = votes.get(show_id)
        if old == value:
            return False
        self._make_live(user_id)
        self._voted_since_snapshot.add(user_id)
        window = self.weights.covote_window
        # The shows whose co-vote rows change: this one, and those within the window of where the vote was (the
        # votes on either side of the gap come into each other's window) and of where it goes (the end).
        touched = {show_id}
        index = self._index_of(show_id)
        if old is not None:
            order = list(votes)
            position = order.index(show_id)
            touched.update(order[max(0, position - window) : position + window + 1])
            del votes[show_id]
            self.vote_counts[show_id] -= 1
            self.net_likes[show_id] -= old
            self._counts[index] -= 1
            self._live_voters[show_id].discard(user_id)
        if value is not None:
            if window:
                touched.update(list(votes)[-window:])
            votes[show_id] = value
            self.vote_counts[show_id] = self.vote_counts.get(show_id, 0) + 1
            self.net_likes[show_id] = self.net_likes.get(show_id, 0) + value
            self._counts[index] += 1
            self._live_voters.setdefault(show_id, set()).add(user_id)
        if not votes:
            del self.user_votes[user_id]
        self._live_orders.pop(user_id, None)
        for show in touched:
            self._neighbours.pop(show, None)
        if self._popular is not None:
            self._move_in_popular(show_id, old or 0, value or 0)
        return True

    def _move_in_popular(self, show_id: int, old: int, new: int) -> None:
        """Keep the popular list sorted as one show's net likes change by new - old (no re-sort per vote)."""
        assert self._popular is not None
        before, after = self.net_likes[show_id] - (new - old), self.net_likes[show_id]
        if before > 0:
            position = bisect.bisect_left(self._popular_keys, (-before, show_id))
            del self._popular_keys[position], self._popular[position]
        if after > 0:
            position = bisect.bisect_left(self._popular_keys, (-after, show_id))
            self._popular_keys.insert(position, (-after, show_id))
            self._popular.insert(position, show_id)

    def _make_live(self, user_id: int) -> None:
        """From now on the member's votes are read from user_votes, not from the snapshot."""
        if user_id in self._live:
            return
        self._live.add(user_id)
        if self.arrays is not None:
            member = self.arrays.members.get(user_id)
            if member is not None:
                self.arrays.stale[member] = True
        for show_id in self.user_votes.get(user_id, {}):
            self._live_voters.setdefault(show_id, set()).add(user_id)

    def covote_row(self, show_id: int) -> dict[int, int]:
        """C[show_id][j] for every j with a non-zero count (computed, not stored)."""
        counts = self._covote_counts(show_id)
        found = np.flatnonzero(counts)
        return dict(zip(self._show_ids[found].tolist(), counts[found].astype(np.int64).tolist(), strict=True))

    def _covote_counts(self, show_id: int) -> NDArray[np.float64]:
        """Row show_id of C, dense over show indices."""
        counts = np.zeros(len(self.show_index))
        index = self.show_index.get(show_id)
        window = self.weights.covote_window
        if index is None or window <= 0:
            return counts
        if self.arrays is not None:
            self.arrays.add_covotes(index, window, counts)
        show_index = self.show_index
        for user_id in self._live_voters.get(show_id, ()):
            order = self._live_orders.get(user_id)
            if order is None:
                votes = self.user_votes[user_id]
                shows = list(votes)
                order = self._live_orders[user_id] = (shows, list(votes.values()), {s: i for i, s in enumerate(shows)})
            shows, values, positions = order
            position = positions[show_id]
            value = values[position]
            for other in range(max(0, position - window), min(len(shows), position + window + 1)):
                if other != position:
                    counts[show_index[shows[other]]] += value * values[other]
        return counts

    def similarity(self, show_i: int, show_j: int, covotes: int) -> float:
        if covotes <= 0:
            return 0.0
        alpha = self.weights.alpha
        n_i = self.vote_counts.get(show_i, 0) or 1
        n_j = self.vote_counts.get(show_j, 0) or 1
        return float(covotes / (n_i**alpha * n_j ** (1.0 - alpha)) * covotes / (covotes + self.weights.shrink))

    def _similarities(self, show_id: int, others: NDArray[np.int32], counts: NDArray[np.float64]) -> NDArray[Any]:
        """similarity(show_id, j, C) for arrays of show indices j and their co-vote counts (all positive)."""
        alpha = self.weights.alpha
        n_i = self.vote_counts.get(show_id, 0) or 1
        n_j = np.maximum(self._counts[others], 1.0)
        result: NDArray[Any] = counts / (n_i**alpha * n_j ** (1.0 - alpha)) * counts / (counts + self.weights.shrink)
        return result

    def _neighbour_arrays(self, show_id: int) -> tuple[NDArray[np.int32], NDArray[np.float64]]:
        cached = self._neighbours.get(show_id)
        if cached is None:
            counts = self._covote_counts(show_id)
            others = np.flatnonzero(counts > 0).astype(np.int32)
            found = counts[others]
            similarities = self._similarities(show_id, others, found)
            limit = self.weights.neighbours
            if len(others) > limit:  # only those at least as similar as the K-th: sorted below, ties and all
                keep = similarities >= np.partition(similarities, len(others) - limit)[len(others) - limit]
                others, found, similarities = others[keep], found[keep], similarities[keep]
            # Most similar first; among equals, the higher show id first (as heapq.nlargest over (similarity, id)).
            order = np.lexsort((-self._show_ids[others], -similarities))[:limit]
            cached = self._neighbours[show_id] = (others[order], found[order])
        return cached

    def neighbours(self, show_id: int) -> list[int]:
        """The show's top-K co-voted shows (positive similarity only), cached until one of its co-votes changes."""
        others, _ = self._neighbour_arrays(show_id)
        return list(self._show_ids[others].tolist())

    def neighbour_similarities(self, show_id: int) -> list[tuple[int, float]]:
        """(show, similarity) for the show's neighbours, with the similarities as of now."""
        others, similarities = self.neighbour_arrays(show_id)
        return list(zip(self._show_ids[others].tolist(), similarities.tolist(), strict=True))

    def neighbour_arrays(self, show_id: int) -> tuple[NDArray[np.int32], NDArray[np.float64]]:
        """The show's neighbours as show indices (see `show_ids`) and their similarities as of now."""
        others, counts = self._neighbour_arrays(show_id)
        return others, self._similarities(show_id, others, counts)

    def show_ids(self, indices: NDArray[np.int32]) -> NDArray[np.int64]:
        return self._show_ids[indices]

    def wants_snapshot(self) -> bool:
        """Many members voted since the snapshot: reading their votes in Python makes rows slow; take a new one."""
        return len(self._live) > max(LIVE_MEMBERS_BEFORE_SNAPSHOT, len(self.user_votes) // 10)

    def snapshot(self) -> list[tuple[int, list[tuple[int, int]]]]:
        """The votes as they are now, for VoteArrays.of (which may then run in another thread); `install` the
        result. Members who vote in between stay live."""
        self._voted_since_snapshot = set()
        return [(user_id, list(votes.items())) for user_id, votes in self.user_votes.items()]

    def install(self, arrays: VoteArrays) -> None:
        """Read votes from `arrays`, made from `snapshot()`, except those of members who voted since."""
        self.arrays = arrays
        self._live, self._live_voters, self._live_orders = set(), {}, {}
        for user_id in self._voted_since_snapshot:
            self._make_live(user_id)

    def popular(self) -> list[int]:
        """Shows with more up- than downvotes here, most liked first."""
        if self._popular is None:
            self._popular_keys = sorted((-count, show) for show, count in self.net_likes.items() if count > 0)
            self._popular = [show for _, show in self._popular_keys]
        return self._popular

    def max_net_likes(self) -> int:
        popular = self.popular()
        return self.net_likes[popular[0]] if popular else 0


@dataclass(slots=True)
class ScoredCandidate:
    show_id: int
    collaborative: float = 0.0
    content: float = 0.0
    popularity: float = 0.0
    catalog: float = 0.0
    new_release: float = 0.0
    cf_source: int | None = None  # the member's show contributing most to the collaborative score


@dataclass(slots=True)
class Candidates:
    """A member's candidate shows and each signal's value for them (arrays in the order of show_ids)."""

    show_ids: list[int]
    collaborative: NDArray[np.float64]
    content: NDArray[np.float64]
    popularity: NDArray[np.float64]
    catalog: NDArray[np.float64]
    new_release: NDArray[np.float64]
    known: NDArray[np.bool_]  # still in the catalog
    cf_sources: dict[int, int]  # show -> the member's vote contributing most to its (positive) collaborative score

    def __contains__(self, show_id: object) -> bool:
        return show_id in self.show_ids

    def __len__(self) -> int:
        return len(self.show_ids)

    def candidate(self, position: int) -> ScoredCandidate:
        show_id = self.show_ids[position]
        return ScoredCandidate(
            show_id,
            collaborative=float(self.collaborative[position]),
            content=float(self.content[position]),
            popularity=float(self.popularity[position]),
            catalog=float(self.catalog[position]),
            new_release=float(self.new_release[position]),
            cf_source=self.cf_sources.get(show_id),
        )


def _recency_weights(count: int, half_life: float) -> list[float]:
    """Weights for a member's votes, oldest first; the newest vote weighs 1."""
    if half_life <= 0 or math.isinf(half_life):
        return [1.0] * count
    decay = 0.5 ** (1.0 / half_life)
    return [decay ** (count - 1 - index) for index in range(count)]


class Recommender:
    """Built once per process (`await Recommender.load(db)`); holds the catalog and, lazily, each server's state.

    Feed it changes: `on_vote(...)` after a vote is stored, `await on_catalog_change(show_ids)` after a catalog
    import. Requests never recompute anything from scratch.
    """

    def __init__(self, db: Database, catalog: Catalog, *, clock: Clock | None = None, weights: Weights | None = None):
        self.db = db
        self.catalog = catalog
        self.clock: Clock = clock or SystemClock()
        self.weights = weights or DEFAULT_WEIGHTS
        self._guilds: dict[int, GuildState] = {}
        self._loading: dict[int, asyncio.Future[GuildState]] = {}
        self._pending: dict[int, list[tuple[int, int, int | None]]] = {}
        self._new_shows: tuple[date, set[int]] | None = None  # this week's releases, as of a day
        self._snapshots: dict[int, asyncio.Task[None]] = {}  # servers whose vote snapshot is being retaken

    @classmethod
    async def load(cls, db: Database, *, clock: Clock | None = None, weights: Weights | None = None) -> Recommender:
        catalog = Catalog()
        for info in await load_show_infos(db):
            catalog.put(info)
        catalog.install(await asyncio.to_thread(catalog.content_matrix_job()))
        log.info("recommender: catalog of %s shows loaded", len(catalog.shows))
        return cls(db, catalog, clock=clock, weights=weights)

    # Keeping up to date

    async def guild(self, guild_id: int) -> GuildState:
        """The server's state, loaded from the votes table on first use (one load even when requests race)."""
        state = self._guilds.get(guild_id)
        if state is not None:
            return state
        loading = self._loading.get(guild_id)
        if loading is not None:
            return await asyncio.shield(loading)
        future: asyncio.Future[GuildState] = asyncio.get_running_loop().create_future()
        self._loading[guild_id] = future
        self._pending[guild_id] = []
        try:
            rows = await self.db.fetchall(
                "SELECT user_id, show_id, value FROM votes WHERE guild_id = ? ORDER BY updated_at, show_id",
                (guild_id,),
            )
            state = await asyncio.to_thread(GuildState.build, rows, self.weights)
            # Votes that arrived while loading may or may not be in the rows read: set_vote is idempotent.
            for user_id, show_id, value in self._pending.pop(guild_id):
                state.observe_vote(user_id, show_id, value)
            self._guilds[guild_id] = state
            future.set_result(state)
            log.info("recommender: server %s loaded with %s votes", guild_id, len(rows))
            return state
        except BaseException as exc:
            self._pending.pop(guild_id, None)
            future.set_exception(exc)
            future.exception()  # retrieved here so an unawaited future does not warn
            raise
        finally:
            del self._loading[guild_id]

    def on_vote(self, guild_id: int, user_id: int, show_id: int, old_value: int | None, new_value: int | None) -> None:
        """A member's vote changed (after it was stored). Servers not loaded yet read it from the database later."""
        state = self._guilds.get(guild_id)
        if state is not None:
            current = state.user_votes.get(user_id, {}).get(show_id)
            if current != old_value:
                log.debug("recommender: vote on %s by %s was %s, not %s", show_id, user_id, current, old_value)
            state.observe_vote(user_id, show_id, new_value)
            if state.wants_snapshot() and guild_id not in self._snapshots:
                self._start_snapshot(guild_id, state)
        elif guild_id in self._pending:
            self._pending[guild_id].append((user_id, show_id, new_value))

    def _start_snapshot(self, guild_id: int, state: GuildState) -> None:
        """Retake the server's vote snapshot off the event loop; votes cast meanwhile stay live."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a synchronous caller): take it here
            votes = state.snapshot()
            state.install(VoteArrays.of(votes, state.show_index))
            return
        self._snapshots[guild_id] = asyncio.create_task(self._retake_snapshot(guild_id, state))

    async def _retake_snapshot(self, guild_id: int, state: GuildState) -> None:
        try:
            votes = state.snapshot()
            arrays = await asyncio.to_thread(VoteArrays.of, votes, dict(state.show_index))
            state.install(arrays)
        except Exception:
            log.exception("recommender: retaking the vote snapshot of server %s failed", guild_id)
        finally:
            del self._snapshots[guild_id]

    async def on_catalog_change(self, show_ids: Iterable[int]) -> None:
        """Shows were added, changed or deleted: re-read their features (deleted ones leave the catalog)."""
        wanted = sorted(set(show_ids))
        found = {info.show_id: info for info in await load_show_infos(self.db, wanted)}
        self._new_shows = None
        for show_id in wanted:
            info = found.get(show_id)
            if info is None:
                self.catalog.remove(show_id)
                for state in self._guilds.values():  # deleted shows lose their votes (ON DELETE CASCADE)
                    for user_id in [u for u, votes in state.user_votes.items() if show_id in votes]:
                        state.observe_vote(user_id, show_id, None)
            else:
                self.catalog.put(info)

    # Requests

    async def recommend_for_member(
        self,
        guild_id: int,
        user_id: int,
        *,
        limit: int = 5,
        offset: int = 0,
        genre: str | None = None,
        service: str | None = None,
    ) -> RecommendationPage:
        state = await self.guild(guild_id)
        return self.recommend_member_now(state, user_id, limit=limit, offset=offset, genre=genre, service=service)

    def recommend_member_now(
        self,
        state: GuildState,
        user_id: int,
        *,
        limit: int = 5,
        offset: int = 0,
        genre: str | None = None,
        service: str | None = None,
        weights: Weights | None = None,
    ) -> RecommendationPage:
        """The synchronous core of recommend_for_member (the evaluation calls it with trial weights)."""
        weights = weights or self.weights
        genre_key, service_key = _filter_key(genre), _filter_key(service)
        votes = state.user_votes.get(user_id, {})
        wanted = offset + limit + 1
        if not votes:
            ranked = self._cold_start(state, votes, genre_key, service_key, wanted)
            return _page(ranked, offset, limit, cold_start=True)
        scored = self.score_candidates(state, votes, weights)
        best = self._best(scored, weights, genre_key, service_key, wanted)
        ranked = [self._explain(candidate, score, votes, weights) for score, candidate in best]
        if len(ranked) < wanted:  # few personal candidates pass the filters: fill with popular shows
            seen = {r.show_id for r in ranked}
            ranked += [
                r for r in self._cold_start(state, votes, genre_key, service_key, wanted) if r.show_id not in seen
            ]
        return _page(ranked, offset, limit, cold_start=False)

    def score_candidates(self, state: GuildState, votes: dict[int, int], weights: Weights | None = None) -> Candidates:
        """Every candidate show for a member with its signal values (not yet blended), as arrays."""
        weights = weights or self.weights
        catalog = self.catalog
        recent = list(votes.items())[-weights.recent_votes :]
        recency = _recency_weights(len(recent), weights.recency_half_life)
        order: dict[int, None] = {}  # candidate show ids, collaborative ones first
        collaborative: list[float] = []
        cf_sources: dict[int, int] = {}

        # Collaborative: sum over the member's recent votes of vote * recency * similarity to each neighbour; the
        # reason names the vote that contributed most (the earliest of equals).
        neighbours, contributions, sources = [], [], []
        for position, ((show_i, value_i), weight_i) in enumerate(zip(recent, recency, strict=True)):
            others, similarities = state.neighbour_arrays(show_i)
            neighbours.append(others)
            contributions.append(similarities * (value_i * weight_i))
            sources.append(np.full(len(others), position, dtype=np.int32))
        if neighbours:
            neighbour = np.concatenate(neighbours)
            contribution = np.concatenate(contributions)
            source = np.concatenate(sources)
            voted = np.zeros(len(state.show_index) + 1, dtype=np.bool_)
            voted[[state.show_index.get(show_id, -1) for show_id in votes]] = True
            fresh = ~voted[neighbour]
            neighbour, contribution, source = neighbour[fresh], contribution[fresh], source[fresh]
            ranked = np.lexsort((source, -contribution, neighbour))  # per neighbour: largest contribution first
            first = ranked[np.concatenate(([True], neighbour[ranked][1:] != neighbour[ranked][:-1]))[: len(ranked)]]
            totals = np.bincount(neighbour, weights=contribution)
            show_ids = state.show_ids(neighbour[first]).tolist()
            order = dict.fromkeys(show_ids)
            collaborative = totals[neighbour[first]].tolist()
            for show_j, best, share in zip(show_ids, source[first].tolist(), contribution[first].tolist(), strict=True):
                if share > 0:
                    cf_sources[show_j] = recent[best][0]

        # Content: a profile of the member's recent votes; rare shared features also bring candidates.
        profile: dict[str, float] = {}
        if weights.content > 0:
            for (show_i, value_i), weight_i in zip(recent, recency, strict=True):
                for feature, value in catalog.vector(show_i).items():
                    profile[feature] = profile.get(feature, 0.0) + value_i * weight_i * value
                if value_i > 0:
                    for show_j in catalog.rare_feature_neighbours(show_i):
                        if show_j not in votes:
                            order.setdefault(show_j)

        # Popularity: the server's favourites, the catalog's best known, and this week's releases.
        # At most POPULAR_CANDIDATES of each list that the member has not voted on: a member with thousands of votes
        # must not turn into thousands of candidates.
        for ranking in (state.popular(), catalog.by_popularity()):
            added = 0
            for show_j in ranking:
                if added >= POPULAR_CANDIDATES:
                    break
                if show_j not in votes and show_j in catalog.shows:
                    added += 1
                    order.setdefault(show_j)
        new_shows = self._new_this_week() if weights.new_release > 0 else set()
        liked_genres: set[str] = set()
        if new_shows:
            for show_i, value_i in recent:
                info = catalog.shows.get(show_i)
                if value_i > 0 and info is not None:
                    liked_genres |= info.genres
            for show_j in new_shows:
                if show_j not in votes and show_j in catalog.shows:
                    order.setdefault(show_j)

        ids = list(order)
        count = len(ids)
        cf = np.zeros(count)
        cf[: len(collaborative)] = collaborative
        cf /= float(np.abs(cf).max(initial=0.0)) or 1.0
        content = np.zeros(count)
        if profile:
            profile_norm = math.sqrt(sum(v * v for v in profile.values())) or 1.0
            content = catalog.profile_scores(profile, ids) / profile_norm
        max_likes = math.log1p(state.max_net_likes()) or 1.0
        likes = np.fromiter((state.net_likes.get(show_j, 0) for show_j in ids), dtype=np.float64, count=count)
        infos = [catalog.shows.get(show_j) for show_j in ids]
        known = np.fromiter((info is not None for info in infos), dtype=np.bool_, count=count)
        best_known = np.fromiter((info.popularity if info else 0.0 for info in infos), dtype=np.float64, count=count)
        new_release = np.zeros(count)
        for position, info in enumerate(infos):
            if info is not None and info.show_id in new_shows and info.genres & liked_genres:
                new_release[position] = 1.0
        return Candidates(
            show_ids=ids,
            collaborative=cf,
            content=content,
            popularity=np.log1p(np.maximum(likes, 0.0)) / max_likes,
            catalog=np.log1p(np.maximum(best_known, 0.0)) / (math.log1p(catalog.max_popularity()) or 1.0),
            new_release=new_release,
            known=known,
            cf_sources=cf_sources,
        )

    def _best(
        self, scored: Candidates, weights: Weights, genre_key: str | None, service_key: str | None, wanted: int
    ) -> list[tuple[float, ScoredCandidate]]:
        """The `wanted` best candidates that pass the filters, with their blended scores (ties: lower show id)."""
        blended = (
            weights.collaborative * scored.collaborative
            + weights.content * scored.content
            + weights.popularity * scored.popularity
            + weights.catalog * scored.catalog
            + weights.new_release * scored.new_release
        )
        allowed = scored.known.copy()
        if genre_key is not None or service_key is not None:
            for position, show_id in enumerate(scored.show_ids):
                allowed[position] = allowed[position] and self.catalog.matches(show_id, genre_key, service_key)
        positions = np.flatnonzero(allowed)
        if len(positions) > wanted:  # only those at least as good as the wanted-th: sorted below, ties and all
            threshold = np.partition(blended[positions], len(positions) - wanted)[len(positions) - wanted]
            positions = positions[blended[positions] >= threshold]
        ids = np.array(scored.show_ids, dtype=np.int64)
        positions = positions[np.lexsort((ids[positions], -blended[positions]))][:wanted]
        return [(float(blended[p]), scored.candidate(int(p))) for p in positions]

    def _explain(
        self, candidate: ScoredCandidate, score: float, votes: dict[int, int], weights: Weights
    ) -> Recommendation:
        show_id = candidate.show_id
        title = self.catalog.title(show_id)
        parts = {
            ReasonKind.MEMBERS_WHO_LIKE: weights.collaborative * candidate.collaborative,
            ReasonKind.YOU_LIKED: weights.content * candidate.content,
            ReasonKind.SERVER_POPULAR: weights.popularity * candidate.popularity,
            ReasonKind.BEST_KNOWN: weights.catalog * candidate.catalog,
        }
        if candidate.new_release:
            return Recommendation(show_id, title, score, "new this week, in a genre you like", ReasonKind.NEW_IN_GENRE)
        kind = max(parts, key=lambda k: parts[k])
        if kind is ReasonKind.MEMBERS_WHO_LIKE and candidate.cf_source is not None and parts[kind] > 0:
            source = candidate.cf_source
            return Recommendation(
                show_id, title, score, f"popular with members who like {self.catalog.title(source)}", kind, source
            )
        if kind is ReasonKind.YOU_LIKED and parts[kind] > 0:
            liked = self._closest_liked(show_id, votes)
            if liked is not None:
                return Recommendation(
                    show_id, title, score, f"because you liked {self.catalog.title(liked)}", kind, liked
                )
        if candidate.popularity > 0 and parts[ReasonKind.SERVER_POPULAR] >= parts[ReasonKind.BEST_KNOWN]:
            return Recommendation(show_id, title, score, "popular in this server", ReasonKind.SERVER_POPULAR)
        return Recommendation(show_id, title, score, "one of the best-known shows", ReasonKind.BEST_KNOWN)

    def _closest_liked(self, show_id: int, votes: dict[int, int]) -> int | None:
        """The member's liked show (among the recent ones) most similar in content to show_id."""
        target = self.catalog.vector(show_id)
        best, best_score = None, 0.0
        for show_i, value_i in list(votes.items())[-self.weights.recent_votes :]:
            if value_i <= 0:
                continue
            score = sum(value * target.get(feature, 0.0) for feature, value in self.catalog.vector(show_i).items())
            if score > best_score:
                best, best_score = show_i, score
        return best

    def _cold_start(
        self, state: GuildState, votes: dict[int, int], genre: str | None, service: str | None, wanted: int
    ) -> list[Recommendation]:
        """The server's favourites, then the catalog's best-known shows, filtered, never one already voted on."""
        ranked: list[Recommendation] = []
        seen: set[int] = set()
        max_likes = math.log1p(state.max_net_likes()) or 1.0
        for show_id in state.popular():
            if len(ranked) >= wanted:
                return ranked
            if show_id not in votes and self.catalog.matches(show_id, genre, service):
                score = 1.0 + math.log1p(state.net_likes[show_id]) / max_likes
                title = self.catalog.title(show_id)
                ranked.append(
                    Recommendation(show_id, title, score, "popular in this server", ReasonKind.SERVER_POPULAR)
                )
                seen.add(show_id)
        max_popularity = math.log1p(self.catalog.max_popularity()) or 1.0
        for show_id in self.catalog.by_popularity():
            if len(ranked) >= wanted:
                break
            if show_id not in votes and show_id not in seen and self.catalog.matches(show_id, genre, service):
                info = self.catalog.shows[show_id]
                score = math.log1p(max(info.popularity, 0.0)) / max_popularity
                ranked.append(
                    Recommendation(show_id, info.title, score, "one of the best-known shows", ReasonKind.BEST_KNOWN)
                )
        return ranked

    def _new_this_week(self) -> set[int]:
        today = self.clock.now().date()
        cached = self._new_shows
        if cached is not None and cached[0] == today:
            return cached[1]
        start = (today - timedelta(days=NEW_RELEASE_DAYS - 1)).isoformat()
        end = today.isoformat()
        new_shows = {
            show_id
            for show_id, info in self.catalog.shows.items()
            if info.release_dates and any(start <= day <= end for day in info.release_dates)
        }
        self._new_shows = (today, new_shows)  # until tomorrow or the next catalog change
        return new_shows

    async def recommend_for_guild(
        self, guild_id: int, *, limit: int = 5, offset: int = 0, genre: str | None = None, service: str | None = None
    ) -> RecommendationPage:
        """What the server as a whole may enjoy next: shows co-liked with its favourites, which it has not voted
        on much yet. A server without votes gets the catalog's best-known shows (cold_start=True)."""
        state = await self.guild(guild_id)
        genre_key, service_key = _filter_key(genre), _filter_key(service)
        wanted = offset + limit + 1
        # The top half of the server's favourites (at most 20) seed the suggestions; the rest may be suggested.
        liked = state.popular()
        favourites = liked[: min(20, max(1, len(liked) // 2))]
        if not favourites:
            return _page(self._cold_start(state, {}, genre_key, service_key, wanted), offset, limit, cold_start=True)
        # The server as a pseudo-member who upvoted its favourites, the most liked counting as the most recent.
        pseudo_votes = dict.fromkeys(reversed(favourites), 1)
        weights = self.weights
        scored = self.score_candidates(state, pseudo_votes, weights)
        best = self._best(scored, weights, genre_key, service_key, wanted)
        ranked = []
        for score, candidate in best:
            if candidate.new_release:
                ranked.append(
                    Recommendation(
                        candidate.show_id,
                        self.catalog.title(candidate.show_id),
                        score,
                        "new this week, in a genre this server likes",
                        ReasonKind.NEW_IN_GENRE,
                    )
                )
            elif candidate.collaborative > 0 and candidate.cf_source is not None:
                source = candidate.cf_source
                reason = f"popular with members who like {self.catalog.title(source)}"
                ranked.append(
                    Recommendation(
                        candidate.show_id,
                        self.catalog.title(candidate.show_id),
                        score,
                        reason,
                        ReasonKind.MEMBERS_WHO_LIKE,
                        source,
                    )
                )
            else:
                ranked.append(self._explain(candidate, score, {}, weights))
        return _page(ranked, offset, limit, cold_start=False)

    async def similar(self, show_id: int, *, guild_id: int, limit: int = 10) -> list[Recommendation]:
        """Shows like this one: content similarity from the catalog, plus co-votes within this server only."""
        state = await self.guild(guild_id)
        if show_id not in self.catalog.shows:
            return []
        content = dict(self.catalog.content_neighbours(show_id, limit=max(50, limit * 3)))
        covoted = dict(state.neighbour_similarities(show_id))
        max_covoted = max(covoted.values(), default=0.0) or 1.0
        max_content = max(content.values(), default=0.0) or 1.0
        scores: dict[int, tuple[float, float]] = {}
        for other in content.keys() | covoted.keys():
            if other in self.catalog.shows:
                scores[other] = (content.get(other, 0.0) / max_content, covoted.get(other, 0.0) / max_covoted)
        best = heapq.nlargest(limit, scores, key=lambda s: (sum(scores[s]), -s))
        source_title = self.catalog.title(show_id)
        results = []
        for other in best:
            content_part, covote_part = scores[other]
            if covote_part > content_part:
                reason, kind = f"members who like {source_title} like it too", ReasonKind.COVOTED
            else:
                reason, kind = self._content_reason(show_id, other), ReasonKind.SIMILAR_CONTENT
            results.append(Recommendation(other, self.catalog.title(other), sum(scores[other]), reason, kind, show_id))
        return results

    def _content_reason(self, show_id: int, other: int) -> str:
        shared = set(self.catalog.shows[show_id].features).intersection(self.catalog.shows[other].features)
        kinds = {feature.split(":", 1)[0] for feature in shared}
        if "creator" in kinds:
            return "from the same creator"
        if "cast" in kinds:
            return "shares cast members"
        genres = sorted(self.catalog.shows[show_id].genres & self.catalog.shows[other].genres)
        if genres:
            return "also " + ", ".join(genres[:2])
        return "similar story"


def _filter_key(value: str | None) -> str | None:
    return value.strip().lower() if value and value.strip() else None


def _page(ranked: list[Recommendation], offset: int, limit: int, *, cold_start: bool) -> RecommendationPage:
    return RecommendationPage(tuple(ranked[offset : offset + limit]), cold_start, len(ranked) > offset + limit)
