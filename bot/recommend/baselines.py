"""Ours and the in-house baselines measured on a split: `popularity` (most upvoted), `content` (a TF-IDF profile
of all the member's votes), `item_knn` (our co-vote component alone: `ITEM_KNN_WEIGHTS`), and our recommender
through the synchronous core /recommend uses; with the share of held-out items among our candidates."""

from __future__ import annotations

import math

from bot.recommend.metrics import CUTOFF, Metrics
from bot.recommend.movielens import Split, votes_by_user
from bot.recommend.recommender import Recommender
from bot.recommend.state import GuildState
from bot.recommend.weights import Weights


def evaluate_popularity(split: Split) -> Metrics:
    upvotes: dict[int, int] = {}
    for vote in split.train:
        if vote.value > 0:
            upvotes[vote.movie_id] = upvotes.get(vote.movie_id, 0) + 1
    order = sorted(upvotes, key=lambda m: (-upvotes[m], m))
    voted = votes_by_user(split.train)
    metrics = Metrics()
    for user_id, target in split.held_out.items():
        seen = voted.get(user_id, {})
        metrics.add([m for m in order[: CUTOFF + len(seen)] if m not in seen], target)
    return metrics


def evaluate_content(recommender: Recommender, split: Split) -> Metrics:
    voted = votes_by_user(split.train)
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


# item_knn: our co-vote component alone, every vote of the member weighted alike (no recency, content or popularity).
ITEM_KNN_WEIGHTS = Weights(
    collaborative=1.0, content=0.0, popularity=0.0, catalog=0.0, new_release=0.0, recency_half_life=math.inf,
    recent_votes=1_000_000,
)  # fmt: skip
