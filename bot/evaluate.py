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
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.db import open_database
from bot.recommend import DEFAULT_WEIGHTS, GuildState, Recommender, Weights
from bot.text import normalise

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
class Vote:
    user_id: int
    movie_id: int
    value: int
    timestamp: int


@dataclass(frozen=True, slots=True)
class Split:
    train: list[Vote]  # oldest first
    held_out: dict[int, int]  # user -> movie to find


def read_movielens(directory: Path, *, max_users: int | None = None) -> tuple[list[Movie], list[Vote]]:
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
                votes.append(Vote(int(row["userId"]), int(row["movieId"]), value, int(row["timestamp"])))
    if max_users is not None:
        users = sorted({v.user_id for v in votes}, key=lambda u: hashlib.sha256(str(u).encode()).hexdigest())
        kept = set(users[:max_users])
        votes = [v for v in votes if v.user_id in kept]
    return movies, votes


def leave_last_out(votes: Sequence[Vote], *, holdouts: int = 1) -> tuple[Split, Split]:
    """(test split, validation split). The test split holds out each member's last upvote; the validation split
    also removes it and holds out the upvote before it."""
    by_user: dict[int, list[Vote]] = {}
    for vote in sorted(votes, key=lambda v: (v.timestamp, v.movie_id)):
        by_user.setdefault(vote.user_id, []).append(vote)
    test_out: dict[int, int] = {}
    valid_out: dict[int, int] = {}
    for user_id, user_votes in by_user.items():
        upvotes = [v for v in user_votes if v.value > 0]
        if len(upvotes) >= MIN_UPVOTES:
            test_out[user_id] = upvotes[-1].movie_id
            valid_out[user_id] = upvotes[-2].movie_id
    ordered = sorted(votes, key=lambda v: (v.timestamp, v.movie_id))
    test_train = [v for v in ordered if test_out.get(v.user_id) != v.movie_id]
    valid_train = [v for v in test_train if valid_out.get(v.user_id) != v.movie_id]
    return Split(test_train, test_out), Split(valid_train, valid_out)


async def build_database(path: Path, movies: Iterable[Movie], votes: Iterable[Vote]) -> None:
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

    def add(self, ranked: Sequence[int], target: int) -> None:
        self.users += 1
        top = list(ranked[:CUTOFF])
        if target in top:
            self.hits += 1
            self.gain += 1.0 / math.log2(top.index(target) + 2)

    def as_dict(self) -> dict[str, float]:
        users = self.users or 1
        return {f"hr@{CUTOFF}": round(self.hits / users, 4), f"ndcg@{CUTOFF}": round(self.gain / users, 4)}


def _user_votes(train: Sequence[Vote]) -> dict[int, dict[int, int]]:
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


ITEM_KNN_WEIGHTS = Weights(
    collaborative=1.0, content=0.0, popularity=0.0, catalog=0.0, new_release=0.0, recency_half_life=math.inf,
    recent_votes=1_000_000,
)  # fmt: skip


def _peer_models() -> dict[str, Callable[[], Any]] | None:
    try:
        import implicit  # noqa: F401
    except ImportError:
        return None
    from implicit.als import AlternatingLeastSquares
    from implicit.bpr import BayesianPersonalizedRanking
    from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

    return {
        "implicit_als": lambda: AlternatingLeastSquares(
            factors=64, regularization=0.05, iterations=20, random_state=7, num_threads=1
        ),
        "implicit_bpr": lambda: BayesianPersonalizedRanking(
            factors=64, learning_rate=0.01, iterations=200, random_state=7, num_threads=1
        ),
        "implicit_item_cosine": lambda: CosineRecommender(K=100),
        "implicit_item_bm25": lambda: BM25Recommender(K=100),
    }


def evaluate_peers(split: Split, item_ids: Sequence[int]) -> dict[str, dict[str, float]] | None:
    """implicit's models on the same split (upvotes as implicit feedback, as it has no negative feedback)."""
    factories = _peer_models()
    if factories is None:
        return None
    import numpy as np
    from scipy.sparse import csr_matrix

    item_index = {movie_id: index for index, movie_id in enumerate(item_ids)}
    users = sorted({v.user_id for v in split.train} | set(split.held_out))
    user_index = {user_id: index for index, user_id in enumerate(users)}
    positives = [(user_index[v.user_id], item_index[v.movie_id]) for v in split.train if v.value > 0]
    rows = np.array([p[0] for p in positives], dtype=np.int32)
    cols = np.array([p[1] for p in positives], dtype=np.int32)
    matrix = csr_matrix((np.ones(len(positives), dtype=np.float32), (rows, cols)), shape=(len(users), len(item_ids)))
    voted = _user_votes(split.train)
    results = {}
    for name, factory in factories.items():
        model = factory()
        model.fit(matrix, show_progress=False)
        metrics = Metrics()
        eval_users = list(split.held_out)
        indices = np.array([user_index[u] for u in eval_users], dtype=np.int32)
        depth = CUTOFF + max(len(voted.get(u, {})) for u in eval_users)
        ids, _ = model.recommend(indices, matrix[indices], N=min(depth, len(item_ids)), filter_already_liked_items=True)
        for row, user_id in zip(ids, eval_users, strict=True):
            seen = voted.get(user_id, {})
            ranked = [item_ids[i] for i in row if i >= 0 and item_ids[i] not in seen]
            metrics.add(ranked, split.held_out[user_id])
        results[name] = metrics.as_dict()
    return results


def tune(recommender: Recommender, state: GuildState, split: Split) -> tuple[Weights, list[dict[str, Any]]]:
    """Coordinate search over the blend weights and recency on the validation split; best NDCG@10 wins."""
    grid: dict[str, Sequence[float]] = {
        "recency_half_life": (5.0, 10.0, 20.0, 50.0, math.inf),
        "content": (0.0, 0.05, 0.1, 0.2, 0.4),
        "popularity": (0.0, 0.05, 0.1, 0.2, 0.4),
        "alpha": (0.3, 0.5, 0.7),
        "neighbours": (50, 100, 200),
    }
    trials: list[dict[str, Any]] = []
    cache: dict[Weights, float] = {}

    def score(weights: Weights) -> float:
        if weights not in cache:
            state.weights = weights
            state._neighbours.clear()  # neighbour lists depend on K and alpha
            result = evaluate_recommender(recommender, state, split, weights).as_dict()
            cache[weights] = result[f"ndcg@{CUTOFF}"]
            trials.append({**_weights_dict(weights), **result})
            log.info("tuning: %s -> %s", _weights_dict(weights), result)
        return cache[weights]

    best = DEFAULT_WEIGHTS
    for _ in range(2):
        for name, values in grid.items():
            candidates = [dataclasses.replace(best, **{name: type(getattr(best, name))(v)}) for v in values]
            best = max(candidates, key=lambda w: (score(w), w == best))
    state.weights = DEFAULT_WEIGHTS
    state._neighbours.clear()
    return best, trials


def _weights_dict(weights: Weights) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in dataclasses.asdict(weights).items()}


async def run_evaluation(
    dataset: Path,
    *,
    max_users: int | None = None,
    peers: bool = True,
    tune_weights: bool = False,
    baselines: bool = True,
) -> dict[str, Any]:
    """The whole evaluation; returns the JSON-ready result. Without baselines, only ours and popularity run."""
    started = time.perf_counter()
    movies, votes = read_movielens(dataset, max_users=max_users)
    test_split, valid_split = leave_last_out(votes)
    result: dict[str, Any] = {
        "dataset": dataset.name,
        "members": len({v.user_id for v in votes}),
        "evaluated_members": len(test_split.held_out),
        "items": len(movies),
        "votes": len(votes),
    }
    weights = DEFAULT_WEIGHTS
    with tempfile.TemporaryDirectory(prefix="showbot-eval-") as scratch:
        if tune_weights:
            path = Path(scratch) / "validation.sqlite3"
            await build_database(path, movies, valid_split.train)
            async with open_database(path) as db:
                recommender = await Recommender.load(db)
                state = await recommender.guild(GUILD_ID)
                weights, trials = tune(recommender, state, valid_split)
            result["tuning"] = {"chosen": _weights_dict(weights), "trials": trials}
            del recommender, state
        path = Path(scratch) / "test.sqlite3"
        await build_database(path, movies, test_split.train)
        async with open_database(path) as db:
            recommender = await Recommender.load(db, weights=weights)
            state = await recommender.guild(GUILD_ID)
            models: dict[str, dict[str, float]] = {}
            ours = Metrics()
            for user_id, target in test_split.held_out.items():
                page = await recommender.recommend_for_member(GUILD_ID, user_id, limit=CUTOFF)
                ours.add([r.show_id for r in page.items], target)
            models["ours"] = ours.as_dict()
            models["popularity"] = evaluate_popularity(test_split).as_dict()
            if baselines:
                state.weights = ITEM_KNN_WEIGHTS
                state._neighbours.clear()
                models["item_knn"] = evaluate_recommender(recommender, state, test_split, ITEM_KNN_WEIGHTS).as_dict()
                models["content"] = evaluate_content(recommender, test_split).as_dict()
    if peers:
        peer_results = evaluate_peers(test_split, [m.movie_id for m in movies])
        if peer_results is None:
            result["peers_skipped"] = "implicit is not installed: pip install -e .[bench]"
        else:
            models.update(peer_results)
    result["models"] = models
    result["weights"] = _weights_dict(weights)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def run_cli(dataset: Path, *, users: int | None, tune: bool, peers: bool, as_json: bool) -> int:
    """`python -m bot evaluate`: prints the result (JSON, or a table) on stdout."""
    import asyncio
    import json
    import sys

    from bot.errors import UserFacingError

    if not (dataset / "ratings.csv").is_file() or not (dataset / "movies.csv").is_file():
        raise UserFacingError(f"{dataset} is not a MovieLens directory (ratings.csv and movies.csv are needed).")
    result = asyncio.run(run_evaluation(dataset, max_users=users, peers=peers, tune_weights=tune))
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return 0
    lines = [f"{result['dataset']}: {result['evaluated_members']} members evaluated, {result['items']} items"]
    lines += [
        f"  {name:<22} HR@10 {m['hr@10']:.4f}  NDCG@10 {m['ndcg@10']:.4f}" for name, m in result["models"].items()
    ]
    if "peers_skipped" in result:
        lines.append(f"  (peers skipped: {result['peers_skipped']})")
    lines.append(f"  {result['seconds']} s")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
