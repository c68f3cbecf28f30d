"""Which reactions vote: 👍/👎 on a message about one show, keycaps 1️⃣…🔟 on a numbered list, and the form emoji are
compared in (clients differ on the variation selector)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.common.render import KEYCAPS

THUMBS_UP = "👍"
THUMBS_DOWN = "👎"
EmojiMap = Mapping[str, tuple[int, int]]  # emoji -> (show_id, value)


def emoji_key(emoji: str) -> str:
    """The comparison form of an emoji: clients differ on the variation selector U+FE0F (1️⃣ vs 1⃣)."""
    return emoji.replace("\ufe0f", "")


def show_emoji_map(show_id: int) -> dict[str, tuple[int, int]]:
    """👍/👎 for a message about one show."""
    return {THUMBS_UP: (show_id, 1), THUMBS_DOWN: (show_id, -1)}


def list_emoji_map(show_ids: Sequence[int]) -> dict[str, tuple[int, int]]:
    """1️⃣…🔟 for a numbered list: each keycap is an upvote for the show at that position (at most ten)."""
    return {keycap: (show_id, 1) for keycap, show_id in zip(KEYCAPS, show_ids, strict=False)}
