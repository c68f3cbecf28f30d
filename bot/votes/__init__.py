"""Votes: the store (one vote per member and show), the ordered processor that applies reaction events in the
gateway's order, reconciliation after downtime, and the leaderboards.

May import: `bot.storage` and `bot.common`. Other packages use only the names exported here.
"""

from __future__ import annotations

from bot.votes.store import (
    THUMBS_DOWN,
    THUMBS_UP,
    ChannelGone,
    CommandVote,
    ForgetMember,
    MessageGone,
    ReactionClear,
    ReactionEvent,
    Untrack,
    VoteChange,
    VoteProcessor,
    VoteStore,
    list_emoji_map,
    reconcile_tracked_messages,
    show_emoji_map,
    votes_table,
)
from bot.votes.tallies import NET_VOTES_SQL, TopShow, net_votes, net_votes_of_guilds, top_shows, vote_tallies

__all__ = [
    "NET_VOTES_SQL",
    "THUMBS_DOWN",
    "THUMBS_UP",
    "ChannelGone",
    "CommandVote",
    "ForgetMember",
    "MessageGone",
    "ReactionClear",
    "ReactionEvent",
    "TopShow",
    "Untrack",
    "VoteChange",
    "VoteProcessor",
    "VoteStore",
    "list_emoji_map",
    "net_votes",
    "net_votes_of_guilds",
    "reconcile_tracked_messages",
    "show_emoji_map",
    "top_shows",
    "vote_tallies",
    "votes_table",
]
