"""The stored forms: a vote, a votable (tracked) message and its emoji targets, a member's vote as /myvotes lists
it, a committed vote change as listeners hear it, and the SQL and row conversions the store and the batches share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from bot.storage import Row
from bot.votes.emoji import emoji_key

# How a vote was cast: a reaction, /vote, reconciliation after downtime, an import, a watch night's poll answer, or
# a card's vote button (where the bot cannot read reactions). The votes table's CHECK lists the same (0008).
VoteSource = Literal["reaction", "command", "reconcile", "import", "poll", "button"]
# A member's own votes, cast where the bot cannot read reactions (a user-installed command in a direct message or in a
# server without the bot: the card's vote buttons), are kept as if in one server of this id. Discord never gives a
# server this id (a snowflake is never 0), so they can never mix with a real server's votes, and they go through
# the same store, processor and listeners as every other vote (docs/votes.md, "A member's own votes").
PERSONAL_GUILD_ID = 0


@dataclass(frozen=True, slots=True)
class Vote:
    guild_id: int
    user_id: int
    show_id: int
    value: int
    source: str
    message_id: int | None
    emoji: str | None
    updated_at: str


@dataclass(frozen=True, slots=True)
class EmojiTarget:
    show_id: int
    value: int
    emoji: str  # as stored for the message (canonical form)


@dataclass(frozen=True, slots=True)
class TrackedMessage:
    message_id: int
    guild_id: int
    channel_id: int
    kind: str
    created_at: str
    active: bool
    targets: dict[str, EmojiTarget]  # emoji_key(emoji) -> target

    def target(self, emoji: str) -> EmojiTarget | None:
        return self.targets.get(emoji_key(emoji))

    @property
    def emojis(self) -> list[str]:
        return [target.emoji for target in self.targets.values()]


@dataclass(frozen=True, slots=True)
class MemberVote:
    show_id: int
    title: str
    value: int
    source: str
    updated_at: str


class VoteChange(NamedTuple):
    """One committed change of a member's vote (None: no vote), as listeners receive it."""

    guild_id: int
    user_id: int
    show_id: int
    old_value: int | None
    new_value: int | None


# Called after each committed transaction that changed votes, with the net change of every vote it touched (in the
# order they were last changed). Synchronous on purpose: it runs before anything else can read the new votes.
VoteListener = Callable[[Sequence[VoteChange]], object]


VOTE_COLUMNS = "guild_id, user_id, show_id, value, source, message_id, emoji, updated_at"
UPSERT_VOTE = f"""
    INSERT INTO votes ({VOTE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (guild_id, user_id, show_id) DO UPDATE SET
        value = excluded.value, source = excluded.source, message_id = excluded.message_id,
        emoji = excluded.emoji, updated_at = excluded.updated_at
"""
DELETE_VOTE = "DELETE FROM votes WHERE guild_id = ? AND user_id = ? AND show_id = ?"

VoteKey = tuple[int, int, int]  # guild, user, show
ReactionKey = tuple[int, str, int]  # message, emoji, user


def vote_from_row(row: Row) -> Vote:
    return Vote(
        guild_id=row[0],
        user_id=row[1],
        show_id=row[2],
        value=row[3],
        source=row[4],
        message_id=row[5],
        emoji=row[6],
        updated_at=row[7],
    )


def vote_row(vote: Vote) -> tuple[Any, ...]:
    return (
        vote.guild_id,
        vote.user_id,
        vote.show_id,
        vote.value,
        vote.source,
        vote.message_id,
        vote.emoji,
        vote.updated_at,
    )
