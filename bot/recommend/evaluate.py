"""Offline evaluation of the recommender on MovieLens (research use only: read from ../shared, never shipped).

Protocol (docs/recommendations.md):
- ratings >= 4 are upvotes, <= 2 downvotes, the rest ignored; movies (title, year, genres) become catalog items in a
  fresh temporary database; every MovieLens user is a member of one server (guild id 1);
- leave-last-out by timestamp: each member's last upvote (ties broken by movie id) is the test item; the upvote
  before it is the validation item, used only to tune weights (`--tune`), with the test item removed as well;
- members with fewer than MIN_UPVOTES upvotes are not evaluated (their votes still train the model): with one or
  two upvotes nothing personal is left to learn from once the held-out items are removed;
- every model ranks the whole catalog minus the member's training votes; HR@10 and NDCG@10 over evaluated members.

"ours" is the Recommender itself: the same `recommend_for_member` call the /recommend command makes, on a database
built from the data set. The baselines: "popularity" (most upvoted), "item_knn" (our co-vote component alone, no
recency, content or popularity), "content" (TF-IDF genre/decade profile). Peers from an established library
(`implicit`, optional: `pip install -e .[bench]`) run on the same split in the same run.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import logging
import math
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bot.common.text import normalise
from bot.recommend.model import DEFAULT_WEIGHTS, GuildState, Recommender, Weights
from bot.storage import open_database

log = logging.getLogger(__name__)

GUILD_ID = 1
MIN_UPVOTES = 3
CUTOFF = 10
_TITLE_YEAR = re.compile(r"^(.*?)\s*\((\d{4})\)\s*$")


@dataclass(frozen=True, slots=True)
class Movie:
    movie_id: int
    title: str
    year: int | None
    genres: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RatingEvent:
    user_id: int
    movie_id: int
    value: int
    timestamp: int


@dataclass(frozen=True, slots=True)
class Split:
    train: list[RatingEvent]  # oldest first
    held_out: dict[int, int]  # user -> movie to find


def read_movielens(directory: Path, *, max_users: int | None = None) -> tuple[list[Movie], list[RatingEvent]]:
    """Movies and votes (ratings >= 4 up, <= 2 down). With max_users, a deterministic subsample of users
    (those with the smallest hash of their id), so a small test run always sees the same members."""
    movies = []
    with (directory / "movies.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            match = _TITLE_YEAR.match(row["title"].strip())
            title, year = (match.group(1), int(match.group(2))) if match else (row["title"].strip(), None)
            genres = tuple(g for g in row["genres"].split("|") if g and g != "(no genres listed)")
            movies.append(Movie(int(row["movieId"]), title or row["title"], year, genres))
    votes = []
    with (directory / "ratings.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            rating = float(row["rating"])
            if rating >= 4 or rating <= 2:
                value = 1 if rating >= 4 else -1
                votes.append(RatingEvent(int(row["userId"]), int(row["movieId"]), value, int(row["timestamp"])))
    if max_users is not None:
        users = sorted({v.user_id for v in votes}, key=lambda u: hashlib.sha256(str(u).encode()).hexdigest())
        kept = set(users[:max_users])
        votes = [v for v in votes if v.user_id in kept]
    return movies, votes


def leave_last_out(votes: Sequence[RatingEvent]) -> tuple[Split, Split]:
    """(test split, validation split). The test split holds out each evaluated member's last upvote and drops their
    votes after it (ties in time broken by movie id), so no training vote is later than the test item; the
    validation split does the same one upvote earlier, on the test split's training votes."""
    by_user: dict[int, list[RatingEvent]] = {}
    for vote in sorted(votes, key=lambda v: (v.timestamp, v.movie_id)):
        by_user.setdefault(vote.user_id, []).append(vote)
    test_train: list[RatingEvent] = []
    valid_train: list[RatingEvent] = []
    test_out: dict[int, int] = {}
    valid_out: dict[int, int] = {}
    for user_id, user_votes in by_user.items():
        upvotes = [index for index, v in enumerate(user_votes) if v.value > 0]
        if len(upvotes) < MIN_UPVOTES:
            test_train += user_votes
            valid_train += user_votes
            continue
        test_out[user_id] = user_votes[upvotes[-1]].movie_id
        valid_out[user_id] = user_votes[upvotes[-2]].movie_id
        test_train += user_votes[: upvotes[-1]]
        valid_train += user_votes[: upvotes[-2]]
    order = lambda v: (v.timestamp, v.movie_id)  # noqa: E731
    return Split(sorted(test_train, key=order), test_out), Split(sorted(valid_train, key=order), valid_out)


async def build_database(path: Path, movies: Iterable[Movie], votes: Iterable[RatingEvent]) -> None:
    """A fresh Showbot database holding the movies as catalog items and the votes of one server."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    async with open_database(path) as db, db.transaction() as conn:
        genre_ids: dict[str, int] = {}
        show_rows, genre_rows = [], []
        for movie in movies:
            premiered = f"{movie.year:04d}-01-01" if movie.year else None
            show_rows.append((movie.movie_id, movie.title, normalise(movie.title), premiered, "movielens", now))
            for genre in movie.genres:
                genre_ids.setdefault(genre, len(genre_ids) + 1)
                genre_rows.append((movie.movie_id, genre_ids[genre]))
        await conn.executemany(
            "INSERT INTO shows (id, title, title_norm, premiered, source, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            show_rows,
        )
        await conn.executemany("INSERT INTO genres (id, name) VALUES (?, ?)", [(i, g) for g, i in genre_ids.items()])
        await conn.executemany("INSERT INTO show_genres (show_id, genre_id) VALUES (?, ?)", genre_rows)
        await conn.executemany(
            "INSERT INTO votes (guild_id, user_id, show_id, value, source, updated_at)"
            " VALUES (?, ?, ?, ?, 'import', ?)",
            [
                (GUILD_ID, v.user_id, v.movie_id, v.value, datetime.fromtimestamp(v.timestamp, UTC).isoformat())
                for v in votes
            ],
        )


@dataclass(slots=True)
class Metrics:
    hits: int = 0
    gain: float = 0.0
    users: int = 0
    hit_users: list[bool] = dataclasses.field(default_factory=list)  # per evaluated member, in held_out order

    def add(self, ranked: Sequence[int], target: int) -> None:
        self.users += 1
        top = list(ranked[:CUTOFF])
        hit = target in top
        self.hit_users.append(hit)
        if hit:
            self.hits += 1
            self.gain += 1.0 / math.log2(top.index(target) + 2)

    @property
    def hr(self) -> float:
        return self.hits / (self.users or 1)

    @property
    def ndcg(self) -> float:
        return self.gain / (self.users or 1)


def _user_votes(train: Sequence[RatingEvent]) -> dict[int, dict[int, int]]:
    votes: dict[int, dict[int, int]] = {}
    for vote in train:
        votes.setdefault(vote.user_id, {})[vote.movie_id] = vote.value
    return votes


def evaluate_popularity(split: Split) -> Metrics:
    upvotes: dict[int, int] = {}
    for vote in split.train:
        if vote.value > 0:
            upvotes[vote.movie_id] = upvotes.get(vote.movie_id, 0) + 1
    order = sorted(upvotes, key=lambda m: (-upvotes[m], m))
    voted = _user_votes(split.train)
    metrics = Metrics()
    for user_id, target in split.held_out.items():
        seen = voted.get(user_id, {})
        metrics.add([m for m in order[: CUTOFF + len(seen)] if m not in seen], target)
    return metrics


def evaluate_content(recommender: Recommender, split: Split) -> Metrics:
    voted = _user_votes(split.train)
    metrics = Metrics()
    for user_id, target in split.held_out.items():
        seen = voted.get(user_id, {})
        profile: dict[str, float] = {}
        for show_id, value in seen.items():
            for feature, weight in recommender.catalog.vector(show_id).items():
                profile[feature] = profile.get(feature, 0.0) + value * weight
        metrics.add(recommender.catalog.rank_by_profile(profile, exclude=seen, limit=CUTOFF), target)
    return metrics


def evaluate_recommender(recommender: Recommender, state: GuildState, split: Split, weights: Weights) -> Metrics:
    """Our model through the same synchronous core /recommend uses."""
    metrics = Metrics()
    for user_id, target in split.held_out.items():
        page = recommender.recommend_member_now(state, user_id, limit=CUTOFF, weights=weights)
        metrics.add([r.show_id for r in page.items], target)
    return metrics


def candidate_recall(recommender: Recommender, state: GuildState, split: Split, weights: Weights) -> float:
    """The share of held-out items among the shows the model scores at all (the rest can never be recommended)."""
    found = 0
    for user_id, target in split.held_out.items():
        votes = state.user_votes.get(user_id, {})
        found += bool(votes) and target in recommender.score_candidates(state, votes, weights)
    return found / (len(split.held_out) or 1)


ITEM_KNN_WEIGHTS = Weights(
    collaborative=1.0, content=0.0, popularity=0.0, catalog=0.0, new_release=0.0, recency_half_life=math.inf,
    recent_votes=1_000_000,
)  # fmt: skip

# Where each range comes from. recency_half_life: from "the last 2 votes" to none at all (votes as a set); content and
# popularity: from off to 1.6x the co-vote signal (each signal is normalised to about [0, 1] per request, so 1.0 means
# "as loud as collaborative filtering"); alpha: the asymmetric-cosine range of Aiolli (2013), 0.5 being the cosine;
# neighbours: the K values common in item-kNN studies (Dacrema et al. 2019 tune K in 5..1000).
OUR_GRID: dict[str, Sequence[float]] = {
    "recency_half_life": (2.0, 3.0, 5.0, 10.0, 20.0, 50.0, math.inf),
    "content": (0.0, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6),
    "popularity": (0.0, 0.05, 0.1, 0.2, 0.4, 0.8),
    "alpha": (0.3, 0.5, 0.7),
    "neighbours": (50, 100, 200, 400),
}
ITEM_KNN_GRID: dict[str, Sequence[float]] = {"neighbours": (50, 100, 200, 400), "alpha": (0.3, 0.5, 0.7)}
# Every model gets the same number of distinct validation trials: about what one pass over our own grid costs (23),
# so ours gets no more tuning than it had before the peers were given the same; the peers' search goes on (more
# passes, edges widened, midpoints) until it has used as many or has converged.
TRIAL_BUDGET = 24
# The peers' grids, searched the same way (the same coordinate search and budget, NDCG@10 on the same validation items),
# around the defaults their authors recommend: implicit's documentation for ALS and BPR, Steck (2019) for EASE^R's
# lambda (best values between 100 and 1000 on MovieLens-20M; ml-latest-small has 30x fewer ratings per item).
PEER_GRIDS: dict[str, dict[str, Sequence[float]]] = {
    "implicit_als": {
        "factors": (16, 32, 64, 128),
        "regularization": (0.01, 0.05, 0.1, 0.5),
        "alpha": (1.0, 5.0, 20.0, 40.0),
        "iterations": (10, 20, 40),
    },
    "implicit_bpr": {
        "factors": (16, 32, 64, 128),
        "learning_rate": (0.005, 0.01, 0.05),
        "regularization": (0.001, 0.01, 0.1),
        "iterations": (100, 200, 400),
    },
    "implicit_item_cosine": {"K": (20, 50, 100, 200, 400, 1000)},
    "implicit_item_bm25": {"K": (20, 50, 100, 200, 400, 1000)},
    "ease": {"lambda_": (10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0)},
}
PEER_DEFAULTS: dict[str, dict[str, float]] = {
    "implicit_als": {"factors": 64, "regularization": 0.05, "alpha": 1.0, "iterations": 20},
    "implicit_bpr": {"factors": 64, "learning_rate": 0.01, "regularization": 0.01, "iterations": 200},
    "implicit_item_cosine": {"K": 100},
    "implicit_item_bm25": {"K": 100},
    "ease": {"lambda_": 300.0},
}
# How far each grid may grow when its best value sits on an edge (low, high); a parameter absent here is not widened.
# ours: half-life down to "the last vote alone", content and popularity up to twice the grid's top (3.2x and 1.6x
# the co-vote signal), alpha within Aiolli's (2013) 0.1-0.9, K 25-800. ALS and BPR factors up to 4x the grid's top,
# 512 (one ALS fit at 512 factors takes about 90 s of CPU here: more is not affordable on 2 cores), iterations up to
# twice the grid's top; item-item K from 5 (Dacrema et al. 2019 tune K from 5);
# EASE^R's lambda over a further decade either way. Regularisation, learning rate and ALS's alpha a decade either way.
GRID_CAPS: dict[str, dict[str, tuple[float, float]]] = {
    "ours": {
        "recency_half_life": (1.0, math.inf), "content": (0.0, 3.2), "popularity": (0.0, 1.6), "alpha": (0.1, 0.9),
        "neighbours": (25, 800),
    },
    "item_knn": {"alpha": (0.1, 0.9), "neighbours": (25, 800)},
    "implicit_als": {
        "factors": (8, 512), "regularization": (0.001, 5.0), "alpha": (0.1, 400.0), "iterations": (5, 80),
    },
    "implicit_bpr": {
        "factors": (8, 512), "learning_rate": (0.0005, 0.5), "regularization": (0.0001, 1.0), "iterations": (50, 800),
    },
    "implicit_item_cosine": {"K": (5, 2000)},
    "implicit_item_bm25": {"K": (5, 2000)},
    "ease": {"lambda_": (1.0, 30000.0)},
}  # fmt: skip
STOCHASTIC = {"implicit_als", "implicit_bpr"}


def _implicit_available() -> bool:
    try:
        import implicit  # noqa: F401
    except ImportError:
        return False
    return True


class _Matrix:
    """The training upvotes of a split as a users x items matrix (implicit feedback: peers have no downvotes)."""

    def __init__(self, split: Split, item_ids: Sequence[int]) -> None:
        self.item_ids = list(item_ids)
        item_index = {movie_id: index for index, movie_id in enumerate(item_ids)}
        users = sorted({v.user_id for v in split.train} | set(split.held_out))
        self.user_index = {user_id: index for index, user_id in enumerate(users)}
        positives = [(self.user_index[v.user_id], item_index[v.movie_id]) for v in split.train if v.value > 0]
        self.rows = np.array([p[0] for p in positives], dtype=np.int32)
        self.columns = np.array([p[1] for p in positives], dtype=np.int32)
        self.shape = (len(users), len(item_ids))
        self.voted = _user_votes(split.train)

    def dense(self) -> NDArray[np.float64]:
        matrix = np.zeros(self.shape)
        matrix[self.rows, self.columns] = 1.0
        return matrix

    def sparse(self) -> Any:
        """A scipy CSR matrix, for implicit (which brings scipy)."""
        from scipy.sparse import csr_matrix

        data = np.ones(len(self.rows), dtype=np.float32)
        return csr_matrix((data, (self.rows, self.columns)), shape=self.shape)


def _rank_peer(name: str, params: dict[str, float], matrix: _Matrix, split: Split, seed: int) -> Metrics:
    """Fit one peer on the split's training upvotes and rank the whole catalog minus each member's votes."""
    eval_users = list(split.held_out)
    indices = np.array([matrix.user_index[u] for u in eval_users], dtype=np.int32)
    metrics = Metrics()
    if name == "ease":
        scores = _ease_scores(matrix.dense(), indices, params["lambda_"])
        rankings = np.argsort(-scores, axis=1, kind="stable")
    else:
        model = _implicit_model(name, params, seed)
        sparse = matrix.sparse()
        model.fit(sparse, show_progress=False)
        depth = CUTOFF + max(len(matrix.voted.get(u, {})) for u in eval_users)
        rankings, _ = model.recommend(
            indices, sparse[indices].tocsr(), N=min(depth, len(matrix.item_ids)), filter_already_liked_items=True
        )
    for row, user_id in zip(rankings, eval_users, strict=True):
        seen = matrix.voted.get(user_id, {})
        ranked = []
        for index in row:
            if index >= 0 and matrix.item_ids[index] not in seen:
                ranked.append(matrix.item_ids[index])
                if len(ranked) == CUTOFF:
                    break
        metrics.add(ranked, split.held_out[user_id])
    return metrics


def _implicit_model(name: str, params: dict[str, float], seed: int) -> Any:
    from implicit.als import AlternatingLeastSquares
    from implicit.bpr import BayesianPersonalizedRanking
    from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

    if name == "implicit_als":
        return AlternatingLeastSquares(
            factors=int(params["factors"]), regularization=params["regularization"], alpha=params["alpha"],
            iterations=int(params["iterations"]), random_state=seed, num_threads=1,
        )  # fmt: skip
    if name == "implicit_bpr":
        return BayesianPersonalizedRanking(
            factors=int(params["factors"]), learning_rate=params["learning_rate"],
            regularization=params["regularization"], iterations=int(params["iterations"]), random_state=seed,
            num_threads=1,
        )  # fmt: skip
    if name == "implicit_item_cosine":
        return CosineRecommender(K=int(params["K"]))
    return BM25Recommender(K=int(params["K"]))


def _ease_scores(dense: NDArray[np.float64], users: NDArray[np.int32], lambda_: float) -> NDArray[np.float64]:
    """EASE^R (Steck 2019): B = I - P / diag(P) with P = (X'X + lambda I)^-1, scores X B, diagonal of B zero.
    With far fewer users than items, P comes from the users x users matrix by the Woodbury identity:
    X P = K X and diag(P) = (1 - colsum(X * K X)) / lambda, where K = (X X' + lambda I)^-1."""
    inverse = np.linalg.inv(dense @ dense.T + lambda_ * np.eye(dense.shape[0]))
    spread = inverse @ dense  # X P
    diagonal = (1.0 - (dense * spread).sum(axis=0)) / lambda_
    scores: NDArray[np.float64] = dense[users] - spread[users] / diagonal[None, :]
    return scores


def _extend(values: Sequence[float], edge: int, cap: float) -> float | None:
    """The next value beyond a grid's edge (index 0 or -1), one geometric step further, clamped to the cap; None when
    the edge is already at the cap, is 0 ("off") or infinite ("none")."""
    value, neighbour = values[edge], values[1 if edge == 0 else -2]
    if value <= 0 or neighbour <= 0 or math.isinf(value) or math.isinf(neighbour):
        return None
    step = value * value / neighbour
    step = max(step, cap) if edge == 0 else min(step, cap)
    if all(isinstance(v, int) for v in values):
        step = round(step)
    return None if step in values or (step >= value if edge == 0 else step <= value) else step


def _midpoints(values: Sequence[float], best: float) -> list[float]:
    """Values halfway (geometrically; arithmetically next to 0) between the best value and its grid neighbours."""
    ordered = sorted(values)
    at = ordered.index(best)
    found: list[float] = []
    for neighbour in ordered[max(at - 1, 0) : at] + ordered[at + 1 : at + 2]:
        if math.isinf(neighbour) or math.isinf(best):
            continue
        middle = math.sqrt(best * neighbour) if best > 0 and neighbour > 0 else (best + neighbour) / 2
        if all(isinstance(v, int) for v in values):
            middle = round(middle)
        if middle not in values and middle not in found:
            found.append(middle)
    return found


@dataclass(slots=True)
class Search:
    """The outcome of one model's tuning: its choice, the distinct trials it cost, the grid as it ended up (with the
    values added beyond an edge or between the best and its neighbours) and why it stopped."""

    chosen: dict[str, Any]
    trials: int
    grid: dict[str, list[float]]
    extended: dict[str, list[float]]
    stopped: str  # "budget" or "converged"

    def report(self) -> dict[str, Any]:
        return {
            "chosen": {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in self.chosen.items()},
            "trials": self.trials, "budget": TRIAL_BUDGET, "stopped": self.stopped,
            "grid": _grid_dict(self.grid), "extended_at_edge": self.extended,
        }  # fmt: skip


def _coordinate_search(
    grid: dict[str, Sequence[float]], start: dict[str, Any], score: Callable[[dict[str, Any]], float],
    caps: dict[str, tuple[float, float]], budget: int = TRIAL_BUDGET,
) -> Search:  # fmt: skip
    """Coordinate search with the same budget for every model, ours included, on the same validation items.

    One coordinate at a time, every value of its grid is tried with the others held at the best so far; the best
    validation score wins (ties: the current). When the best value sits on the grid's edge, the grid grows one step
    beyond it (within `caps`) and the coordinate is searched again. Passes repeat; after a pass that changed nothing,
    each grid gets the midpoints between its best value and their neighbours. The search stops when `budget` distinct
    settings have been tried, or when a pass changes nothing and no midpoint is left to add (converged)."""
    values = {name: sorted(options) for name, options in grid.items()}
    extended: dict[str, list[float]] = {}
    best = dict(start)
    seen: dict[tuple[tuple[str, Any], ...], float] = {}

    def trial(candidate: dict[str, Any]) -> float | None:
        key = tuple(sorted(candidate.items()))
        if key not in seen:
            if len(seen) >= budget:
                return None
            seen[key] = score(candidate)
        return seen[key]

    def result(stopped: str) -> Search:
        return Search(best, len(seen), values, extended, stopped)

    while True:
        changed = False
        for name in list(values):  # a grid may grow while its coordinate is searched
            while True:
                scored = []
                for value in values[name]:
                    candidate = {**best, name: value}
                    got = trial(candidate)
                    if got is not None:
                        scored.append((got, candidate == best, candidate))
                chosen = max(scored, key=lambda s: (s[0], s[1]))[2]
                changed |= chosen != best
                best = chosen
                if len(scored) < len(values[name]):
                    return result("budget")
                edge = values[name].index(best[name])
                low, high = caps.get(name, (values[name][0], values[name][-1]))  # no cap given: no extension
                beyond = (
                    _extend(values[name], 0, low) if edge == 0
                    else _extend(values[name], -1, high) if edge == len(values[name]) - 1 else None
                )  # fmt: skip
                if beyond is None:
                    break
                values[name] = sorted([*values[name], beyond])
                extended.setdefault(name, []).append(beyond)
        if len(seen) >= budget:
            return result("budget")
        if not changed:
            added = False
            for name in list(values):
                middles = _midpoints(values[name], best[name])
                values[name] = sorted([*values[name], *middles])
                added |= bool(middles)
            if not added:
                return result("converged")


def tune(
    recommender: Recommender, state: GuildState, split: Split, start: Weights = DEFAULT_WEIGHTS,
    grid: dict[str, Sequence[float]] | None = None, caps: dict[str, tuple[float, float]] | None = None,
) -> tuple[Weights, Search]:  # fmt: skip
    """Coordinate search over our weights on the validation split; best NDCG@10 wins."""
    cache: dict[Weights, float] = {}

    def score(values: dict[str, Any]) -> float:
        weights = dataclasses.replace(start, **{k: type(getattr(start, k))(v) for k, v in values.items()})
        if weights not in cache:
            state.weights = weights
            state._neighbours.clear()  # neighbour lists depend on K and alpha
            metrics = evaluate_recommender(recommender, state, split, weights)
            cache[weights] = metrics.ndcg
            log.info("tuning: %s -> NDCG@10 %.4f, HR@10 %.4f", values, metrics.ndcg, metrics.hr)
        return cache[weights]

    chosen_grid = grid or OUR_GRID
    search = _coordinate_search(
        chosen_grid, {k: getattr(start, k) for k in chosen_grid}, score, GRID_CAPS["ours"] if caps is None else caps
    )
    state.weights = DEFAULT_WEIGHTS
    state._neighbours.clear()
    return dataclasses.replace(start, **{k: type(getattr(start, k))(v) for k, v in search.chosen.items()}), search


def tune_peer(name: str, matrix: _Matrix, split: Split) -> Search:
    """The peer's parameters with the best validation NDCG@10 (first seed), and how the search went."""
    cache: dict[tuple[tuple[str, float], ...], float] = {}

    def score(params: dict[str, Any]) -> float:
        key = tuple(sorted(params.items()))
        if key not in cache:
            cache[key] = _rank_peer(name, params, matrix, split, SEEDS[0]).ndcg
            log.info("tuning %s: %s -> %.4f", name, params, cache[key])
        return cache[key]

    return _coordinate_search(PEER_GRIDS[name], PEER_DEFAULTS[name], score, GRID_CAPS[name])


def _weights_dict(weights: Weights) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in dataclasses.asdict(weights).items()}


SEEDS = (7, 8, 9, 10, 11)


def mcnemar_p(ours: Sequence[bool], other: Sequence[bool]) -> float:
    """Exact two-sided McNemar test on paired hits: members only one of the two models found."""
    only_ours = sum(a and not b for a, b in zip(ours, other, strict=True))
    only_other = sum(b and not a for a, b in zip(ours, other, strict=True))
    discordant = only_ours + only_other
    if discordant == 0:
        return 1.0
    tail = sum(math.comb(discordant, k) for k in range(min(only_ours, only_other) + 1)) / float(2**discordant)
    return min(1.0, 2 * tail)


def _summary(runs: Sequence[Metrics], **extra: Any) -> dict[str, Any]:
    hrs = [m.hr for m in runs]
    return {
        f"hr@{CUTOFF}": round(statistics.fmean(hrs), 4),
        f"ndcg@{CUTOFF}": round(statistics.fmean(m.ndcg for m in runs), 4),
        f"hr@{CUTOFF}_sd": round(statistics.stdev(hrs), 4) if len(hrs) > 1 else 0.0,
        "seeds": len(runs),
        **extra,
    }


async def run_evaluation(
    dataset: Path,
    *,
    max_users: int | None = None,
    peers: bool = True,
    tune_weights: bool = True,
    baselines: bool = True,
    seeds: Sequence[int] = SEEDS,
) -> dict[str, Any]:
    """The whole comparison; returns the JSON-ready result. Without baselines, only ours and popularity run.

    Deterministic models (ours, item_knn, content, popularity, item-item peers, EASE^R) give the same result for
    every seed and run once (their sd is 0); ALS and BPR run once per seed."""
    started = time.perf_counter()
    movies, votes = read_movielens(dataset, max_users=max_users)
    test_split, valid_split = leave_last_out(votes)
    result: dict[str, Any] = {
        "dataset": dataset.name,
        "members": len({v.user_id for v in votes}),
        "evaluated_members": len(test_split.held_out),
        "items": len(movies),
        "votes": len(votes),
        "protocol": "leave-last-out; full ranking over the catalog minus the member's training votes, except ours and "
        "item_knn, which rank their candidate set (see candidate_recall)",
    }
    weights, knn_weights = DEFAULT_WEIGHTS, ITEM_KNN_WEIGHTS
    tuning: dict[str, Any] = {}
    runs: dict[str, list[Metrics]] = {}
    extra: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="showbot-eval-") as scratch:
        if tune_weights:
            path = Path(scratch) / "validation.sqlite3"
            await build_database(path, movies, valid_split.train)
            async with open_database(path) as db:
                recommender = await Recommender.load(db)
                state = await recommender.guild(GUILD_ID)
                weights, search = tune(recommender, state, valid_split)
                tuning["ours"] = search.report()
                if baselines:
                    knn_weights, search = tune(
                        recommender, state, valid_split, ITEM_KNN_WEIGHTS, ITEM_KNN_GRID, GRID_CAPS["item_knn"]
                    )
                    tuning["item_knn"] = search.report()
            del recommender, state
        path = Path(scratch) / "test.sqlite3"
        await build_database(path, movies, test_split.train)
        async with open_database(path) as db:
            recommender = await Recommender.load(db, weights=weights)
            state = await recommender.guild(GUILD_ID)
            ours = Metrics()
            for user_id, target in test_split.held_out.items():
                page = await recommender.recommend_for_member(GUILD_ID, user_id, limit=CUTOFF)
                ours.add([r.show_id for r in page.items], target)
            recall = candidate_recall(recommender, state, test_split, weights)
            runs["ours"] = [ours]
            extra["ours"] = {"candidate_recall": round(recall, 4)}
            runs["popularity"] = [evaluate_popularity(test_split)]
            if baselines:
                state.weights = knn_weights
                state._neighbours.clear()
                knn = evaluate_recommender(recommender, state, test_split, knn_weights)
                knn_recall = candidate_recall(recommender, state, test_split, knn_weights)
                runs["item_knn"] = [knn]
                extra["item_knn"] = {"candidate_recall": round(knn_recall, 4)}
                runs["content"] = [evaluate_content(recommender, test_split)]
    if peers:
        item_ids = [m.movie_id for m in movies]
        valid_matrix, test_matrix = _Matrix(valid_split, item_ids), _Matrix(test_split, item_ids)
        names = ["ease"]
        if _implicit_available():
            names += ["implicit_als", "implicit_bpr", "implicit_item_cosine", "implicit_item_bm25"]
        else:
            result["peers_skipped"] = "implicit is not installed (pip install -e .[bench]): ALS, BPR, item cosine/BM25"
        for name in names:
            params = PEER_DEFAULTS[name]
            if tune_weights:
                search = tune_peer(name, valid_matrix, valid_split)
                params, tuning[name] = search.chosen, search.report()
            peer_seeds = seeds if name in STOCHASTIC else seeds[:1]
            runs[name] = [_rank_peer(name, params, test_matrix, test_split, seed) for seed in peer_seeds]
    models = {name: _summary(metrics, **extra.get(name, {})) for name, metrics in runs.items()}
    peer_names = [name for name in runs if name not in ("ours", "popularity", "item_knn", "content")]
    result["models"] = models
    if peer_names:
        best_peer = max(peer_names, key=lambda n: (models[n][f"hr@{CUTOFF}"], models[n][f"ndcg@{CUTOFF}"]))
        # Paired on the same members; for a peer with several seeds, the least significant of its runs.
        p_value = max(mcnemar_p(ours.hit_users, run.hit_users) for run in runs[best_peer])
        better = models["ours"][f"hr@{CUTOFF}"] > models[best_peer][f"hr@{CUTOFF}"]
        result["best_peer"] = best_peer
        result["p_value"] = round(p_value, 4)
        result["test"] = "exact McNemar on HR@10 hits, ours vs best_peer (each of its seeds; the largest p)"
        result["verdict"] = ("better" if better else "worse") if p_value < 0.05 else "on par"
    result["tuning"] = tuning if tune_weights else "off: default parameters"
    result["weights"] = _weights_dict(weights)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def _grid_dict(grid: Mapping[str, Sequence[float]]) -> dict[str, list[Any]]:
    return {k: [None if isinstance(v, float) and math.isinf(v) else v for v in values] for k, values in grid.items()}


def run_cli(dataset: Path, *, users: int | None, tune: bool, peers: bool, as_json: bool) -> int:
    """`python -m bot evaluate`: prints the result (JSON, or a table) on stdout."""
    import asyncio
    import json
    import sys

    from bot.common.errors import UserFacingError

    if not (dataset / "ratings.csv").is_file() or not (dataset / "movies.csv").is_file():
        raise UserFacingError(f"{dataset} is not a MovieLens directory (ratings.csv and movies.csv are needed).")
    result = asyncio.run(run_evaluation(dataset, max_users=users, peers=peers, tune_weights=tune))
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return 0
    lines = [f"{result['dataset']}: {result['evaluated_members']} members evaluated, {result['items']} items"]
    for name, m in result["models"].items():
        recall = f"  candidate recall {m['candidate_recall']:.3f}" if "candidate_recall" in m else ""
        lines.append(
            f"  {name:<22} HR@10 {m['hr@10']:.4f} ± {m['hr@10_sd']:.4f}  NDCG@10 {m['ndcg@10']:.4f}"
            f"  ({m['seeds']} seed{'s' if m['seeds'] > 1 else ''}){recall}"
        )
    if "best_peer" in result:
        lines.append(f"  ours vs {result['best_peer']}: {result['verdict']} (McNemar p = {result['p_value']})")
    if "peers_skipped" in result:
        lines.append(f"  (peers skipped: {result['peers_skipped']})")
    lines.append(f"  {result['seconds']} s")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
