"""A member's candidates and the three signals scored for them: co-votes in this server (item-item collaborative
filtering, downvotes counting against), content similarity to their recent votes, and popularity (this server's,
the catalog's, this week's releases); each normalised to about [0, 1] per request, then blended by `Weights`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from bot.recommend.catalog_view import Catalog
    from bot.recommend.state import GuildState
    from bot.recommend.weights import Weights

POPULAR_CANDIDATES = 50


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


def score_candidates(
    catalog: Catalog, state: GuildState, votes: dict[int, int], weights: Weights, new_shows: set[int]
) -> Candidates:
    """Every candidate show for a member with its signal values (not yet blended), as arrays. `new_shows`: this
    week's releases (empty when the weights give them no bonus)."""
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
    for position, info in enumerate(infos if new_shows else ()):
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


def best_candidates(
    catalog: Catalog, scored: Candidates, weights: Weights, genre_key: str | None, service_key: str | None, wanted: int
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
            allowed[position] = allowed[position] and catalog.matches(show_id, genre_key, service_key)
    positions = np.flatnonzero(allowed)
    if len(positions) > wanted:  # only those at least as good as the wanted-th: sorted below, ties and all
        threshold = np.partition(blended[positions], len(positions) - wanted)[len(positions) - wanted]
        positions = positions[blended[positions] >= threshold]
    ids = np.array(scored.show_ids, dtype=np.int64)
    positions = positions[np.lexsort((ids[positions], -blended[positions]))][:wanted]
    return [(float(blended[p]), scored.candidate(int(p))) for p in positions]
