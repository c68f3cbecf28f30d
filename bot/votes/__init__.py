"""Votes: the store (one vote per member and show, the votable messages), the batch engine and the ordered processor
that applies reaction events in the gateway's order, reconciliation after downtime, and counting (net votes, tallies,
the Wilson-score leaderboard).

Modules: `emoji` (which reactions vote), `records` (stored forms and their rows), `events` (what the processor
takes), `store` (VoteStore), `batch` (one transaction of events), `processor` (VoteProcessor), `reconcile`,
`tallies` (the one place that counts votes), `export`, `wording` (what the votes commands say, translated).

May import: `bot.storage` and `bot.common`. Other packages use only the names exported here.
"""

from __future__ import annotations

from bot.votes.emoji import THUMBS_DOWN, THUMBS_UP, list_emoji_map, show_emoji_map
from bot.votes.events import CommandVote, ForgetMember, ReactionClear, ReactionEvent, Untrack
from bot.votes.export import votes_table
from bot.votes.processor import VoteProcessor
from bot.votes.reconcile import ChannelGone, MessageGone, reconcile_tracked_messages
from bot.votes.records import PERSONAL_GUILD_ID, VoteChange
from bot.votes.store import VoteStore
from bot.votes.tallies import NET_VOTES_SQL, TopShow, net_votes, net_votes_of_guilds, top_shows, vote_tallies
from bot.votes.wording import forget_message, no_votes_message, top_embed

__all__ = [
    "NET_VOTES_SQL",
    "PERSONAL_GUILD_ID",
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
    "forget_message",
    "list_emoji_map",
    "net_votes",
    "net_votes_of_guilds",
    "no_votes_message",
    "reconcile_tracked_messages",
    "show_emoji_map",
    "top_embed",
    "top_shows",
    "vote_tallies",
    "votes_table",
]
