"""Recommendations: the model learned from votes (per-server state, the blend of signals), the picks a member
pages through, and the offline evaluation against MovieLens.

May import: `bot.catalog`, `bot.votes`, `bot.storage` and `bot.common`. Other packages use only the names exported
here.
"""

from __future__ import annotations

from bot.recommend.evaluate import run_cli
from bot.recommend.picks import (
    PickPage,
    PickRequest,
    known_name,
    list_items,
    next_picks,
    no_picks_message,
    picks_embed,
    picks_heading,
    similar_embed,
)
from bot.recommend.recommender import Recommender
from bot.recommend.state import GuildState

__all__ = [
    "GuildState",
    "PickPage",
    "PickRequest",
    "Recommender",
    "known_name",
    "list_items",
    "next_picks",
    "no_picks_message",
    "picks_embed",
    "picks_heading",
    "run_cli",
    "similar_embed",
]
