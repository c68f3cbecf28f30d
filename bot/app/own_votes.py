"""A member's own votes: the 👍/👎 buttons under a card where the bot cannot read reactions.

A member who installed the bot on their own account can look a show up in a direct message or in a server that has
not invited the bot; there the bot receives no reactions, so the card carries two buttons instead. Whoever presses
one votes for the show as their own vote (kept under `bot.votes.PERSONAL_GUILD_ID`, source "button"), which feeds
their /recommend wherever they use it. The buttons are persistent: the custom_id carries the show and the vote, so a
press is understood after a restart too (the votes cog registers `OwnVoteButton`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.app.ui import defer_first, send_private, send_response
from bot.catalog import choice_value
from bot.common.i18n import N_, _, set_locale
from bot.common.render import plain_line
from bot.votes import PERSONAL_GUILD_ID, THUMBS_DOWN, THUMBS_UP, CommandVote, VoteProcessor

if TYPE_CHECKING:
    from bot.app.core import ShowBot

# The member-facing text of this feature (translated in bot/common/locales).
OWN_VOTE_STORED = N_("Your own vote for **{title}**: {emoji}. It shapes your /recommend wherever you use it.")
SHOW_GONE = N_("That show is no longer in the catalog.")
VOTES_UNAVAILABLE = N_("Votes cannot be taken right now; try again in a moment.")

CUSTOM_ID = "vote:own:{show_id}:{choice}"
CHOICES = {"up": (THUMBS_UP, 1), "down": (THUMBS_DOWN, -1)}


class OwnVoteButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"vote:own:(?P<show_id>[0-9]{1,19}):(?P<choice>up|down)"
):
    """One of the two vote buttons of a card: 👍 (`choice` "up") or 👎 ("down") for the show `show_id`."""

    def __init__(self, show_id: int, choice: str) -> None:
        emoji, self.value = CHOICES[choice]
        super().__init__(
            discord.ui.Button(
                emoji=emoji,
                style=discord.ButtonStyle.secondary,
                custom_id=CUSTOM_ID.format(show_id=show_id, choice=choice),
            )
        )
        self.show_id = show_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> OwnVoteButton:
        return cls(int(match["show_id"]), match["choice"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        set_locale(interaction.locale)  # the answer in the language of the member who pressed
        bot: ShowBot = interaction.client
        processor = getattr(bot.get_cog("Votes"), "processor", None)
        if not isinstance(processor, VoteProcessor):
            await send_private(interaction, _(VOTES_UNAVAILABLE))
            return
        if self.show_id not in bot.titles.index:
            await send_private(interaction, _(SHOW_GONE))
            return
        # Queued before the first await, as reactions are: two quick presses are applied in the order they came.
        stored = processor.submit_and_wait(
            CommandVote(PERSONAL_GUILD_ID, interaction.user.id, self.show_id, self.value, source="button")
        )
        await defer_first(interaction, private=True)  # the vote queue may be waiting for the database
        await stored
        _show_id, title = await bot.titles.resolve(None, choice_value(self.show_id))
        emoji = THUMBS_UP if self.value > 0 else THUMBS_DOWN
        await send_response(interaction, _(OWN_VOTE_STORED, title=plain_line(title, 150), emoji=emoji))


def own_vote_buttons(show_id: int) -> list[OwnVoteButton]:
    """👍 and 👎 for a card the bot cannot read reactions on."""
    return [OwnVoteButton(show_id, "up"), OwnVoteButton(show_id, "down")]
