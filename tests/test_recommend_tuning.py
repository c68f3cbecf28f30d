"""The evaluation's shortcuts give the same answers as the long way: EASE^R's top items without a full sort, and
tuning that reuses neighbour lists across trials."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from shared_data import SHARED_DATA, require_shared

from bot.recommend import tuning
from bot.recommend.baselines import evaluate_recommender
from bot.recommend.metrics import CUTOFF, Metrics
from bot.recommend.peers import _top_unseen

MOVIELENS = SHARED_DATA / "movielens" / "ml-latest-small"


def test_top_unseen_is_the_head_of_a_stable_sort_skipping_seen_items() -> None:
    generator = np.random.default_rng(3)
    item_ids = list(range(100, 160))
    scores = generator.integers(0, 6, size=(40, 60)).astype(np.float64)  # many ties
    seen = [
        {int(i): 1 for i in generator.choice(item_ids, size=generator.integers(0, 50), replace=False)}
        for _ in range(40)
    ]
    rankings = _top_unseen(scores, seen, item_ids)
    for row, voted in enumerate(seen):
        expected = [i for i in np.argsort(-scores[row], kind="stable") if item_ids[i] not in voted][:CUTOFF]
        assert rankings[row].tolist() == expected


@pytest.mark.slow
async def test_tuning_with_reused_neighbour_lists_scores_as_lists_rebuilt_for_each_trial(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    require_shared(MOVIELENS)
    from bot.recommend.movielens import GUILD_ID, build_database, leave_last_out, read_movielens
    from bot.recommend.recommender import Recommender
    from bot.storage import open_database

    movies, votes = read_movielens(MOVIELENS, max_users=60)
    _, valid = leave_last_out(votes)
    await build_database(tmp_path / "v.sqlite3", movies, valid.train)
    tried: list[tuple[Any, Metrics]] = []

    def recording(*args: Any) -> Metrics:
        metrics = evaluate_recommender(*args)
        tried.append((args[3], metrics))
        return metrics

    monkeypatch.setattr(tuning, "evaluate_recommender", recording)
    async with open_database(tmp_path / "v.sqlite3") as db:
        recommender = await Recommender.load(db)
        state = await recommender.guild(GUILD_ID)
        grid = {"neighbours": (25, 50), "popularity": (0.0, 0.2), "alpha": (0.3, 0.7)}
        tuning.tune(recommender, state, valid, grid=grid, caps={})
        assert len({(w.neighbours, w.alpha) for w, _ in tried}) >= 2 and len(tried) >= 5
        for weights, metrics in tried:
            state.weights, state._neighbours = weights, {}  # every list built afresh for these weights
            fresh = evaluate_recommender(recommender, state, valid, weights)
            assert (fresh.hit_users, fresh.gain) == (metrics.hit_users, metrics.gain), dataclasses.asdict(weights)
