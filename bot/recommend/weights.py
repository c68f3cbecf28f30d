"""How the recommender blends its signals and sizes its neighbourhoods: `Weights`, one frozen object, and the
defaults the offline evaluation chose."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Weights:
    """How the signals are blended. The defaults are what `python -m bot evaluate --dataset
    ../shared/data/movielens/ml-latest-small` chose on its validation split (leave-last-out, each member's upvote
    before their test item; coordinate search, best NDCG@10; grids and their sources in bot/recommend/tuning.py and
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
