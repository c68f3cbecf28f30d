"""The events the `VoteProcessor` takes (reactions, a moderator's clear, /vote, /forgetme, untracking, reconciliation):
everything that changes votes goes through it, so all of it follows one order. Also what reconciling a message counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bot.votes.records import VoteSource


@dataclass(frozen=True, slots=True)
class ReactionEvent:
    added: bool
    guild_id: int
    user_id: int
    message_id: int
    emoji: str


@dataclass(frozen=True, slots=True)
class ReactionClear:
    """A moderator removed every reaction from a message (emoji None: MESSAGE_REACTION_REMOVE_ALL) or every reaction
    with one emoji (MESSAGE_REACTION_REMOVE_EMOJI): each member's reaction is retracted as if they had removed it."""

    guild_id: int
    message_id: int
    emoji: str | None


@dataclass(frozen=True, slots=True)
class CommandVote:
    """/vote (or a card's vote button, `source="button"`): value +1/-1 sets the vote, None clears it. Result: the
    vote afterwards (or None)."""

    guild_id: int
    user_id: int
    show_id: int
    value: int | None
    source: VoteSource = "command"


@dataclass(frozen=True, slots=True)
class ForgetMember:
    """/forgetme. Result: how many votes were deleted."""

    guild_id: int
    user_id: int


@dataclass(frozen=True, slots=True)
class Untrack:
    """A message, channel or server is gone: its messages stop being votable and reconciled; votes stay."""

    scope: Literal["message", "channel", "guild"]
    ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ReconcileMessage:
    """The members reacting now with each mapped emoji of a message, as Discord reported them.

    `live` holds (member, emoji_key) pairs with live events for this message while its reactions were being fetched:
    those events are at least as new as the fetch, so the diff leaves these pairs alone, and for those members it
    only records reactions without touching their votes (a vote from the diff would land after their newer live
    event). Result: ReconcileCounts.
    """

    message_id: int
    reactors: Mapping[str, frozenset[int]]
    live: frozenset[tuple[int, str]] = frozenset()


VoteEvent = ReactionEvent | ReactionClear | CommandVote | ForgetMember | Untrack | ReconcileMessage


@dataclass(slots=True)
class ReconcileCounts:
    added: int = 0
    removed: int = 0
    changed: int = 0

    @property
    def total(self) -> int:
        return self.added + self.removed + self.changed

    def __iadd__(self, other: ReconcileCounts) -> ReconcileCounts:
        self.added += other.added
        self.removed += other.removed
        self.changed += other.changed
        return self
