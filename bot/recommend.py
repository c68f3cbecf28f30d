"""Recommendations: what a member, or a whole server, is likely to enjoy next, and why.

A hybrid of three signals, blended with weights chosen by the offline evaluation (`bot/evaluate.py`,
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
import heapq
import logging
import math
import re
import sys
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from bot.clock import Clock, SystemClock
from bot.text import normalise

if TYPE_CHECKING:
    from bot.db import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Weights:
    """How the signals are blended. The defaults were chosen on a validation split of MovieLens
    (ml-latest-small, leave-last-out, see docs/recommendations.md): a grid over the blend weights and the recency
    half-life, keeping the combination with the best NDCG@10 on the validation items (never the test items).
    `python -m bot evaluate --dataset ../shared/data/movielens/ml-latest-small --tune --json` chose: recency half-life
    5 votes (validation NDCG@10 0.0646 vs 0.0465 without recency), content 0.4, popularity 0.1, alpha 0.5, K 100.
    `catalog` and `new_release` cannot be measured on MovieLens (no popularity prior, no releases): set by judgement.
    """

    collaborative: float = 1.0
    content: float = 0.4
    popularity: float = 0.1  # net likes in this server
    catalog: float = 0.05  # the catalog's own "best known" prior
    new_release: float = 0.3  # bonus for shows released this week in a genre the member likes
    recency_half_life: float = 5.0  # a member's vote this many votes ago counts half as much as their latest
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

    # Maintenance

    def put(self, info: ShowInfo) -> None:
        self.remove(info.show_id)
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
        for feature in old.features:
            holders = self.postings.get(feature)
            if holders is not None and old.show_id in holders:
                holders.remove(old.show_id)
                if not holders:
                    del self.postings[feature]
        self._changed()

    def _changed(self) -> None:
        # Document frequencies moved, so cached norms and content neighbour lists may be stale: they are cheap to
        # rebuild lazily, and catalog changes are rare (a sync), unlike requests.
        self._norms.clear()
        self._by_popularity = None
        self._neighbours.clear()

    # Features

    def weight(self, feature: str) -> float:
        holders = self.postings.get(feature)
        df = len(holders) if holders else 0
        kind = feature.split(":", 1)[0]
        return _FEATURE_TYPE_WEIGHT.get(kind, 0.5) * math.log((len(self.shows) + 1) / (df + 1) + 1.0)

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

    def profile_score(self, profile: dict[str, float], show_id: int) -> float:
        """Cosine-like score of a show against a (not normalised) profile vector."""
        info = self.shows.get(show_id)
        norm = self.norm(show_id)
        if info is None or norm == 0.0:
            return 0.0
        total = 0.0
        for feature in info.features:
            value = profile.get(feature)
            if value is not None:
                total += value * self.weight(feature)
        return total / norm

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
                # The network counts as a service, as in /search's filter (bot.browse): "Sky Atlantic" finds Gomorrah.
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
class GuildState:
    """One server's votes and the co-vote counts derived from them, kept up to date vote by vote.

    C[i][j] sums, over members whose votes on i and j are at most `covote_window` apart in their voting order, the
    product of the two votes. A changed vote moves to the end of the member's order (it is their latest).
    """

    weights: Weights = DEFAULT_WEIGHTS
    # member -> {show: +1/-1}; insertion order is recency (oldest first): a changed vote moves to the end
    user_votes: dict[int, dict[int, int]] = field(default_factory=dict)
    vote_counts: dict[int, int] = field(default_factory=dict)  # n_i: votes of either sign on the show
    net_likes: dict[int, int] = field(default_factory=dict)  # upvotes minus downvotes
    covotes: dict[int, dict[int, int]] = field(default_factory=dict)  # C[i][j], symmetric, zero entries dropped
    _neighbours: dict[int, list[int]] = field(default_factory=dict)  # cache, dropped when the show's row changes
    _popular: list[int] | None = None

    @classmethod
    def build(
        cls, rows: Iterable[tuple[int, int, int]], weights: Weights = DEFAULT_WEIGHTS, *, warm: bool = False
    ) -> GuildState:
        """A state from (user_id, show_id, value) rows, oldest first: the same result as applying them one by one.
        With warm, every neighbour list is built now (off the event loop) rather than by the first requests."""
        state = cls(weights=weights)
        for user_id, show_id, value in rows:
            votes = state.user_votes.setdefault(user_id, {})
            votes.pop(show_id, None)  # duplicates in the input: the later one wins, as a live vote change would
            votes[show_id] = value
        covotes = state.covotes
        window = weights.covote_window
        for votes in state.user_votes.values():
            items = list(votes.items())
            for index, (show_i, value_i) in enumerate(items):
                state.vote_counts[show_i] = state.vote_counts.get(show_i, 0) + 1
                state.net_likes[show_i] = state.net_likes.get(show_i, 0) + value_i
                row_i = covotes.get(show_i)
                if row_i is None:
                    row_i = covotes[show_i] = {}
                for show_j, value_j in items[max(0, index - window) : index]:
                    product = value_i * value_j
                    row_i[show_j] = row_i.get(show_j, 0) + product
                    row_j = covotes[show_j]
                    row_j[show_i] = row_j.get(show_i, 0) + product
        for row in covotes.values():
            for other in [other for other, count in row.items() if count == 0]:
                del row[other]
        if warm:
            for show_id in covotes:
                state.neighbours(show_id)
        return state

    def set_vote(self, user_id: int, show_id: int, value: int | None) -> bool:
        """Make the member's vote on the show `value` (None: no vote). Idempotent; True when something changed."""
        if value not in (None, 1, -1):
            raise ValueError(f"a vote is +1, -1 or None, not {value!r}")
        votes = self.user_votes.setdefault(user_id, {})
        old = votes.get(show_id)
        if old == value:
            return False
        window = self.weights.covote_window
        touched = {show_id}
        if old is not None:
            items = list(votes.items())
            position = items.index((show_id, old))
            for other, other_value in (
                items[max(0, position - window) : position] + items[position + 1 : position + 1 + window]
            ):
                self._add_covote(show_id, other, -old * other_value)
                touched.add(other)
            # Votes on either side that were just out of each other's window come into it.
            for left in range(max(0, position - window), position):
                right = left + window + 1
                if right < len(items):
                    (show_a, value_a), (show_b, value_b) = items[left], items[right]
                    self._add_covote(show_a, show_b, value_a * value_b)
                    touched.update((show_a, show_b))
            del votes[show_id]
            self.vote_counts[show_id] -= 1
            self.net_likes[show_id] -= old
        if value is not None:
            for other, other_value in list(votes.items())[-window:] if window else ():
                self._add_covote(show_id, other, value * other_value)
                touched.add(other)
            votes[show_id] = value
            self.vote_counts[show_id] = self.vote_counts.get(show_id, 0) + 1
            self.net_likes[show_id] = self.net_likes.get(show_id, 0) + value
        if not votes:
            del self.user_votes[user_id]
        for show in touched:
            self._neighbours.pop(show, None)
        self._popular = None
        return True

    def _add_covote(self, show_i: int, show_j: int, delta: int) -> None:
        for a, b in ((show_i, show_j), (show_j, show_i)):
            row = self.covotes.setdefault(a, {})
            count = row.get(b, 0) + delta
            if count:
                row[b] = count
            else:
                row.pop(b, None)

    def similarity(self, show_i: int, show_j: int, covotes: int) -> float:
        if covotes <= 0:
            return 0.0
        alpha = self.weights.alpha
        n_i = self.vote_counts.get(show_i, 0) or 1
        n_j = self.vote_counts.get(show_j, 0) or 1
        return float(covotes / (n_i**alpha * n_j ** (1.0 - alpha)) * covotes / (covotes + self.weights.shrink))

    def neighbours(self, show_id: int) -> list[int]:
        """The show's top-K co-voted shows (positive similarity only), cached until one of its co-votes changes."""
        cached = self._neighbours.get(show_id)
        if cached is None:
            row = self.covotes.get(show_id, {})
            scored = [(self.similarity(show_id, other, count), other) for other, count in row.items() if count > 0]
            cached = [other for _, other in heapq.nlargest(self.weights.neighbours, scored)]
            self._neighbours[show_id] = cached
        return cached

    def popular(self) -> list[int]:
        """Shows with more up- than downvotes here, most liked first."""
        if self._popular is None:
            liked = [(count, show) for show, count in self.net_likes.items() if count > 0]
            liked.sort(key=lambda pair: (-pair[0], pair[1]))
            self._popular = [show for _, show in liked]
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
    cf_source_share: float = 0.0


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

    @classmethod
    async def load(cls, db: Database, *, clock: Clock | None = None, weights: Weights | None = None) -> Recommender:
        catalog = Catalog()
        for info in await load_show_infos(db):
            catalog.put(info)
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
            triples = [(int(r[0]), int(r[1]), int(r[2])) for r in rows]
            state = await asyncio.to_thread(GuildState.build, triples, self.weights, warm=True)
            # Votes that arrived while loading may or may not be in the rows read: set_vote is idempotent.
            for user_id, show_id, value in self._pending.pop(guild_id):
                state.set_vote(user_id, show_id, value)
            self._guilds[guild_id] = state
            future.set_result(state)
            log.info("recommender: server %s loaded with %s votes", guild_id, len(triples))
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
            state.set_vote(user_id, show_id, new_value)
        elif guild_id in self._pending:
            self._pending[guild_id].append((user_id, show_id, new_value))

    async def on_catalog_change(self, show_ids: Iterable[int]) -> None:
        """Shows were added, changed or deleted: re-read their features (deleted ones leave the catalog)."""
        wanted = sorted(set(show_ids))
        found = {info.show_id: info for info in await load_show_infos(self.db, wanted)}
        for show_id in wanted:
            info = found.get(show_id)
            if info is None:
                self.catalog.remove(show_id)
                for state in self._guilds.values():  # deleted shows lose their votes (ON DELETE CASCADE)
                    for user_id in [u for u, votes in state.user_votes.items() if show_id in votes]:
                        state.set_vote(user_id, show_id, None)
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

    def score_candidates(
        self, state: GuildState, votes: dict[int, int], weights: Weights | None = None
    ) -> dict[int, ScoredCandidate]:
        """Every candidate show for a member with its signal values (not yet blended)."""
        weights = weights or self.weights
        catalog = self.catalog
        recent = list(votes.items())[-weights.recent_votes :]
        recency = _recency_weights(len(recent), weights.recency_half_life)
        candidates: dict[int, ScoredCandidate] = {}

        # Collaborative: sum over the member's recent votes of vote * recency * similarity to each neighbour.
        for (show_i, value_i), weight_i in zip(recent, recency, strict=True):
            row = state.covotes.get(show_i)
            if not row:
                continue
            for show_j in state.neighbours(show_i):
                if show_j in votes:
                    continue
                contribution = value_i * weight_i * state.similarity(show_i, show_j, row.get(show_j, 0))
                candidate = candidates.get(show_j)
                if candidate is None:
                    candidate = candidates[show_j] = ScoredCandidate(show_j)
                candidate.collaborative += contribution
                if contribution > candidate.cf_source_share:
                    candidate.cf_source, candidate.cf_source_share = show_i, contribution

        # Content: a profile of the member's recent votes; rare shared features also bring candidates.
        profile: dict[str, float] = {}
        if weights.content > 0:
            for (show_i, value_i), weight_i in zip(recent, recency, strict=True):
                for feature, value in catalog.vector(show_i).items():
                    profile[feature] = profile.get(feature, 0.0) + value_i * weight_i * value
                if value_i > 0:
                    for show_j in catalog.rare_feature_neighbours(show_i):
                        if show_j not in votes and show_j not in candidates:
                            candidates[show_j] = ScoredCandidate(show_j)

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
                    if show_j not in candidates:
                        candidates[show_j] = ScoredCandidate(show_j)
        new_shows = self._new_this_week() if weights.new_release > 0 else set()
        liked_genres: set[str] = set()
        if new_shows:
            for show_i, value_i in recent:
                info = catalog.shows.get(show_i)
                if value_i > 0 and info is not None:
                    liked_genres |= info.genres
            for show_j in new_shows:
                if show_j not in votes and show_j not in candidates and show_j in catalog.shows:
                    candidates[show_j] = ScoredCandidate(show_j)

        profile_norm = math.sqrt(sum(v * v for v in profile.values())) or 1.0
        max_likes = math.log1p(state.max_net_likes()) or 1.0
        max_popularity = math.log1p(catalog.max_popularity()) or 1.0
        max_cf = max((abs(c.collaborative) for c in candidates.values()), default=0.0) or 1.0
        for candidate in candidates.values():
            show_j = candidate.show_id
            candidate.collaborative /= max_cf
            if profile:
                candidate.content = catalog.profile_score(profile, show_j) / profile_norm
            candidate.popularity = math.log1p(max(state.net_likes.get(show_j, 0), 0)) / max_likes
            info = catalog.shows.get(show_j)
            if info is not None:
                candidate.catalog = math.log1p(max(info.popularity, 0.0)) / max_popularity
                if show_j in new_shows and info.genres & liked_genres:
                    candidate.new_release = 1.0
        return candidates

    def _best(
        self,
        scored: dict[int, ScoredCandidate],
        weights: Weights,
        genre_key: str | None,
        service_key: str | None,
        wanted: int,
    ) -> list[tuple[float, ScoredCandidate]]:
        """The `wanted` best candidates that pass the filters, with their blended scores (ties: lower show id)."""
        blended = [
            (self._blend(candidate, weights), candidate)
            for candidate in scored.values()
            if self.catalog.matches(candidate.show_id, genre_key, service_key)
        ]
        return heapq.nlargest(wanted, blended, key=lambda pair: (pair[0], -pair[1].show_id))

    @staticmethod
    def _blend(candidate: ScoredCandidate, weights: Weights) -> float:
        return (
            weights.collaborative * candidate.collaborative
            + weights.content * candidate.content
            + weights.popularity * candidate.popularity
            + weights.catalog * candidate.catalog
            + weights.new_release * candidate.new_release
        )

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
        start = (today - timedelta(days=NEW_RELEASE_DAYS - 1)).isoformat()
        end = today.isoformat()
        return {
            show_id
            for show_id, info in self.catalog.shows.items()
            if info.release_dates and any(start <= day <= end for day in info.release_dates)
        }

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
        covoted = {
            other: state.similarity(show_id, other, state.covotes.get(show_id, {}).get(other, 0))
            for other in state.neighbours(show_id)
        }
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
