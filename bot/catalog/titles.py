"""Title options: the one place that turns what a member typed (or picked) into a show, for every cog.

Autocomplete choices carry `id:` and the show id as their value (`bot.catalog.choices.choice_value`); a title typed
without picking a choice is resolved by the same search, by title: a title made of digits ("24", "1883") is a title, not
an id. The server's votes boost what it likes: they are read once per server and then follow every vote change the bot's
vote store commits (`votes_changed`), so that neither a keystroke nor a vote makes the server's votes be aggregated
again."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from bot.catalog.boosts import Boosts
from bot.catalog.choices import autocomplete_choices, not_found_message, show_id_of_choice
from bot.catalog.search import SearchIndex
from bot.common.errors import UserFacingError
from bot.common.i18n import _
from bot.storage import Database
from bot.votes import VoteChange, vote_tallies

# A safety net only: the boosts follow every change the vote store commits, so this catches only votes written
# around it (another process on the same database, a manual fix), which would otherwise never be seen.
BOOST_TTL_SECONDS = 300.0
# Reads of a server's votes that a concurrent vote change made stale before the answer is cached.
BOOST_READ_ATTEMPTS = 3


class TitleResolver:
    def __init__(self, db: Database, index: SearchIndex) -> None:
        self.db = db
        self.index = index
        self._boosts: dict[int, tuple[float, Boosts]] = {}
        self._changes_heard: dict[int, int] = {}  # guild id -> vote changes, to notice one during a read

    @classmethod
    async def load(cls, db: Database) -> TitleResolver:
        return cls(db, await SearchIndex.load(db))

    async def boosts(self, guild_id: int | None) -> Mapping[int, float] | None:
        """The server's net votes per show (read once, then kept up to date by `votes_changed`), or None outside a
        server."""
        if guild_id is None:
            return None
        cached = self._boosts.get(guild_id)
        if cached is not None and time.monotonic() - cached[0] < BOOST_TTL_SECONDS:
            return cached[1]
        for _attempt in range(BOOST_READ_ATTEMPTS):
            heard = self._changes_heard.get(guild_id, 0)
            boosts = Boosts.from_tallies(await vote_tallies(self.db, guild_id))
            if self._changes_heard.get(guild_id, 0) == heard:
                # No vote changed while reading: the read is current, and changes from now on are applied to it.
                self._boosts[guild_id] = (time.monotonic(), boosts)
                break
        return boosts  # votes kept changing during every read: right for this query, read again for the next

    def forget_boosts(self, guild_id: int) -> None:
        """Drop a server's cached boosts: the next query reads them afresh (what a start or the TTL leads to)."""
        self._boosts.pop(guild_id, None)

    def votes_changed(self, changes: Iterable[VoteChange]) -> None:
        """Committed vote changes (from the bot's `votes_changed`): each cached server's boosts follow them."""
        for change in changes:
            self._changes_heard[change.guild_id] = self._changes_heard.get(change.guild_id, 0) + 1
            cached = self._boosts.get(change.guild_id)
            if cached is not None:
                cached[1].apply(change.show_id, change.old_value, change.new_value)

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
                raise UserFacingError(_("That show is no longer in the catalog."))
            return show_id, str(title)
        boosts = await self.boosts(guild_id)
        match = self.index.resolve(text, boosts)
        if match is None:
            raise UserFacingError(not_found_message(text, self.index.search(text, limit=5, boosts=boosts)))
        return match.show_id, match.title

    async def refresh(self, show_ids: list[int]) -> None:
        """Take catalog changes (a show added by a lookup or a sync) into the index. A deleted show's votes went with
        it (ON DELETE CASCADE, announced to no listener): the cached boosts drop it too."""
        await self.index.refresh(self.db, show_ids)
        gone = [show_id for show_id in show_ids if show_id not in self.index]
        for _read_at, boosts in self._boosts.values():
            for show_id in gone:
                boosts.forget(show_id)
