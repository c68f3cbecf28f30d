"""Tuning, the same for every model: each model's starting grid, defaults and caps, and the coordinate search that
chooses its parameters on the validation split (best NDCG@10) within the same budget of distinct trials."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.recommend.baselines import evaluate_recommender
from bot.recommend.movielens import Split
from bot.recommend.peers import SEEDS, UpvoteMatrix, rank_peer
from bot.recommend.recommender import Recommender
from bot.recommend.state import GuildState
from bot.recommend.weights import DEFAULT_WEIGHTS, Weights

log = logging.getLogger(__name__)


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
    """Coordinate search over our weights on the validation split; best NDCG@10 wins.

    Neighbour lists depend only on the weights that choose them (`_neighbour_key`): a trial that changes the half-life,
    content or popularity reuses the lists the previous trials built, a trial that changes K or alpha gets its own
    (the last few sets are kept, so coming back to the best so far costs nothing). The scores are the same as with
    lists rebuilt for every trial."""
    cache: dict[Weights, float] = {}
    lists: dict[tuple[float, ...], dict[int, Any]] = {}

    def score(values: dict[str, Any]) -> float:
        weights = dataclasses.replace(start, **{k: type(getattr(start, k))(v) for k, v in values.items()})
        if weights not in cache:
            state.weights = weights
            key = _neighbour_key(weights)
            if key not in lists and len(lists) >= _NEIGHBOUR_SETS_KEPT:
                del lists[next(iter(lists))]  # the oldest set
            state._neighbours = lists.setdefault(key, {})
            lists[key] = lists.pop(key)  # now the newest
            metrics = evaluate_recommender(recommender, state, split, weights)
            cache[weights] = metrics.ndcg
            log.info("tuning: %s -> NDCG@10 %.4f, HR@10 %.4f", values, metrics.ndcg, metrics.hr)
        return cache[weights]

    chosen_grid = grid or OUR_GRID
    search = _coordinate_search(
        chosen_grid, {k: getattr(start, k) for k in chosen_grid}, score, GRID_CAPS["ours"] if caps is None else caps
    )
    state.weights = DEFAULT_WEIGHTS
    state._neighbours = {}
    return dataclasses.replace(start, **{k: type(getattr(start, k))(v) for k, v in search.chosen.items()}), search


# How many sets of neighbour lists (one per K, alpha, shrink and co-vote window tried) tuning keeps: the current one
# and the few before it, so that a coordinate search coming back to its best K and alpha finds them built.
_NEIGHBOUR_SETS_KEPT = 3


def _neighbour_key(weights: Weights) -> tuple[float, ...]:
    """The weights a show's neighbour list depends on (`GuildState._neighbour_list`)."""
    return (weights.neighbours, weights.alpha, weights.shrink, weights.covote_window)


def tune_peer(name: str, matrix: UpvoteMatrix, split: Split) -> Search:
    """The peer's parameters with the best validation NDCG@10 (first seed), and how the search went."""
    cache: dict[tuple[tuple[str, float], ...], float] = {}

    def score(params: dict[str, Any]) -> float:
        key = tuple(sorted(params.items()))
        if key not in cache:
            cache[key] = rank_peer(name, params, matrix, split, SEEDS[0]).ndcg
            log.info("tuning %s: %s -> %.4f", name, params, cache[key])
        return cache[key]

    return _coordinate_search(PEER_GRIDS[name], PEER_DEFAULTS[name], score, GRID_CAPS[name])


def _grid_dict(grid: Mapping[str, Sequence[float]]) -> dict[str, list[Any]]:
    return {k: [None if isinstance(v, float) and math.isinf(v) else v for v in values] for k, values in grid.items()}
