"""Offline evaluation of the recommender on MovieLens (research use only: read from ../shared, never shipped).

Protocol (docs/recommendations.md):
- ratings >= 4 are upvotes, <= 2 downvotes, the rest ignored; movies (title, year, genres) become catalog items in a
  fresh temporary database; every MovieLens user is a member of one server (guild id 1);
- leave-last-out by timestamp: each member's last upvote (ties broken by movie id) is the test item; the upvote
  before it is the validation item, used only for tuning (skipped with `--no-tune`), with the test item removed;
- members with fewer than MIN_UPVOTES upvotes are not evaluated (their votes still train the model): with one or
  two upvotes nothing personal is left to learn from once the held-out items are removed;
- every model ranks the whole catalog minus the member's training votes; HR@10 and NDCG@10 over evaluated members.

"ours" is the Recommender itself: the same `recommend_for_member` call the /recommend command makes, on a database
built from the data set. The baselines: "popularity" (most upvoted), "item_knn" (our co-vote component alone, no
recency, content or popularity), "content" (TF-IDF genre/decade profile). Peers from an established library
(`implicit`, optional: `pip install -e .[bench]`) run on the same split in the same run.

This module runs the comparison (`run_evaluation`) and the command (`run_cli`); the parts are `movielens` (data,
splits, database), `baselines` (ours and the in-house baselines), `peers`, `tuning` and `metrics`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.recommend.baselines import (
    ITEM_KNN_WEIGHTS,
    candidate_recall,
    evaluate_content,
    evaluate_popularity,
    evaluate_recommender,
)
from bot.recommend.metrics import CUTOFF, Metrics, mcnemar_p, summary
from bot.recommend.movielens import GUILD_ID, build_database, leave_last_out, read_movielens
from bot.recommend.peers import SEEDS, STOCHASTIC, UpvoteMatrix, implicit_available, rank_peer
from bot.recommend.recommender import Recommender
from bot.recommend.tuning import GRID_CAPS, ITEM_KNN_GRID, PEER_DEFAULTS, tune, tune_peer
from bot.recommend.weights import DEFAULT_WEIGHTS, Weights
from bot.storage import open_database

log = logging.getLogger(__name__)


def _weights_dict(weights: Weights) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in dataclasses.asdict(weights).items()}


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
    started, cpu_started = time.perf_counter(), time.process_time()
    cpu: dict[str, float] = {}  # CPU seconds (every thread of this process) per part, tuning included

    def lap(part: str, since: float) -> float:
        now = time.process_time()
        cpu[part] = round(cpu.get(part, 0.0) + now - since, 1)
        return now

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
    mark = cpu_started
    with tempfile.TemporaryDirectory(prefix="showbot-eval-") as scratch:
        if tune_weights:
            path = Path(scratch) / "validation.sqlite3"
            await build_database(path, movies, valid_split.train)
            async with open_database(path) as db:
                recommender = await Recommender.load(db)
                state = await recommender.guild(GUILD_ID)
                mark = lap("data", mark)
                weights, search = tune(recommender, state, valid_split)
                tuning["ours"] = search.report()
                mark = lap("ours", mark)
                if baselines:
                    knn_weights, search = tune(
                        recommender, state, valid_split, ITEM_KNN_WEIGHTS, ITEM_KNN_GRID, GRID_CAPS["item_knn"]
                    )
                    tuning["item_knn"] = search.report()
                    mark = lap("item_knn", mark)
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
            mark = lap("ours", mark)
            runs["popularity"] = [evaluate_popularity(test_split)]
            if baselines:
                state.weights = knn_weights
                state._neighbours.clear()
                knn = evaluate_recommender(recommender, state, test_split, knn_weights)
                knn_recall = candidate_recall(recommender, state, test_split, knn_weights)
                runs["item_knn"] = [knn]
                extra["item_knn"] = {"candidate_recall": round(knn_recall, 4)}
                mark = lap("item_knn", mark)
                runs["content"] = [evaluate_content(recommender, test_split)]
        mark = lap("data", mark)  # the test database, popularity and content included
    if peers:
        item_ids = [m.movie_id for m in movies]
        valid_matrix, test_matrix = UpvoteMatrix(valid_split, item_ids), UpvoteMatrix(test_split, item_ids)
        names = ["ease"]
        if implicit_available():
            names += ["implicit_als", "implicit_bpr", "implicit_item_cosine", "implicit_item_bm25"]
        else:
            result["peers_skipped"] = "implicit is not installed (pip install -e .[bench]): ALS, BPR, item cosine/BM25"
        for name in names:
            params = PEER_DEFAULTS[name]
            if tune_weights:
                search = tune_peer(name, valid_matrix, valid_split)
                params, tuning[name] = search.chosen, search.report()
            peer_seeds = seeds if name in STOCHASTIC else seeds[:1]
            runs[name] = [rank_peer(name, params, test_matrix, test_split, seed) for seed in peer_seeds]
            mark = lap(name, mark)
    models = {name: summary(metrics, **extra.get(name, {})) for name, metrics in runs.items()}
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
    result["cpu_seconds"] = round(time.process_time() - cpu_started, 1)
    result["cpu_seconds_by_part"] = cpu
    return result


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
    lines.append(f"  {result['seconds']} s ({result['cpu_seconds']} s of CPU time)")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
