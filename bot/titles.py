"""Title options: the one place that turns what a member typed (or picked) into a show, for every cog.

Autocomplete choices carry `id:` and the show id as their value (`bot.search.choice_value`); a title typed without
picking a choice is resolved by the same search, by title: a title made of digits ("24", "1883") is a title, not an id.
The server's votes boost what it likes; they are cached briefly so that each keystroke does not aggregate the server's
votes again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from bot.db import Database
from bot.errors import UserFacingError
from bot.search import SearchIndex, autocomplete_choices, not_found_message, show_id_of_choice
from bot.votes import net_votes

BOOST_TTL_SECONDS = 30.0


class TitleResolver:
    def __init__(self, db: Database, index: SearchIndex) -> None:
        self.db = db
        self.index = index
        self._boosts: dict[int, tuple[float, dict[int, float]]] = {}

    @classmethod
    async def load(cls, db: Database) -> TitleResolver:
        return cls(db, await SearchIndex.load(db))

    async def boosts(self, guild_id: int | None) -> Mapping[int, float] | None:
        """The server's net votes per show (cached for a few seconds), or None outside a server."""
        if guild_id is None:
            return None
        cached = self._boosts.get(guild_id)
        if cached is not None and time.monotonic() - cached[0] < BOOST_TTL_SECONDS:
            return cached[1]
        scores = {show_id: float(net) for show_id, net in (await net_votes(self.db, guild_id)).items()}
        self._boosts[guild_id] = (time.monotonic(), scores)
        return scores

    def forget_boosts(self, guild_id: int) -> None:
        self._boosts.pop(guild_id, None)

    async def choices(self, guild_id: int | None, current: str) -> list[tuple[str, str]]:
        """Autocomplete (name, value) pairs: at most 25, each at most 100 characters, value = `id:<show id>`."""
        return autocomplete_choices(self.index, current, await self.boosts(guild_id))

    async def resolve(self, guild_id: int | None, text: str) -> tuple[int, str]:
        """(show id, title) for a picked choice or a typed title; an unknown title raises with suggestions."""
        text = text.strip()
        show_id = show_id_of_choice(text)
        if show_id is not None:  # a choice picked from autocomplete
            title = await self.db.fetchval("SELECT title FROM shows WHERE id = ?", (show_id,))
            if title is None:
                raise UserFacingError("That show is no longer in the catalog.")
            return show_id, str(title)
        boosts = await self.boosts(guild_id)
        match = self.index.resolve(text, boosts)
        if match is None:
            raise UserFacingError(not_found_message(text, self.index.search(text, limit=5, boosts=boosts)))
        return match.show_id, match.title

    async def refresh(self, show_ids: list[int]) -> None:
        """Take catalog changes (a show added by a lookup or a sync) into the index."""
        await self.index.refresh(self.db, show_ids)
