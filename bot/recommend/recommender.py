"""The recommender service (`Recommender`): what a member, or a whole server, is likely to enjoy next, and why.

Built once per process; it holds the catalog view (`catalog_view`) and, loaded on first use, each server's state
(`state.GuildState`), which it keeps current through `on_vote` and `on_catalog_change`. A request scores the
member's candidates (`signals`: co-votes in this server, content, popularity, blended with the weights the offline
evaluation chose, `weights`) and names each pick's reason (`reasons`); a member without votes gets the cold-start
picks, the server's favourites then the catalog's best known.

Nothing is shared between servers except the catalog, which holds no votes: one server's votes never influence
another server's recommendations. Everything here is synchronous CPU work on in-memory state except loading,
which reads the database; there is no Discord in this module.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from bot.common.clock import Clock, SystemClock
from bot.common.i18n import _
from bot.recommend.catalog_view import Catalog, load_show_infos
from bot.recommend.reasons import ReasonKind, Recommendation, content_reason, explain, explain_for_server
from bot.recommend.signals import Candidates, best_candidates, score_candidates
from bot.recommend.state import GuildState
from bot.recommend.vote_arrays import VoteArrays
from bot.recommend.weights import DEFAULT_WEIGHTS, Weights
from bot.votes import PERSONAL_GUILD_ID

if TYPE_CHECKING:
    from bot.storage import Database

log = logging.getLogger(__name__)

NEW_RELEASE_DAYS = 7


@dataclass(frozen=True, slots=True)
class RecommendationPage:
    items: tuple[Recommendation, ...]
    cold_start: bool  # the member has no votes here: the cog should suggest voting to get personal picks
    has_more: bool  # another page exists after this one


class Recommender:
    """Built once per process (`await Recommender.load(db)`); holds the catalog and, lazily, each server's state.

    Feed it changes: `on_vote(...)` after a vote is stored, `await on_catalog_change(show_ids)` after a catalog
    import. Requests never recompute anything from scratch.
    """

    def __init__(self, db: Database, catalog: Catalog, *, clock: Clock | None = None, weights: Weights | None = None):
        self.db = db
        self.catalog = catalog
        self.clock: Clock = clock or SystemClock()
        self.weights = weights or DEFAULT_WEIGHTS
        self._guilds: dict[int, GuildState] = {}
        self._loading: dict[int, asyncio.Future[GuildState]] = {}
        self._pending: dict[int, list[tuple[int, int, int | None]]] = {}
        self._new_shows: tuple[date, set[int]] | None = None  # this week's releases, as of a day
        self._snapshots: dict[int, asyncio.Task[None]] = {}  # servers whose vote snapshot is being retaken

    @classmethod
    async def load(cls, db: Database, *, clock: Clock | None = None, weights: Weights | None = None) -> Recommender:
        catalog = Catalog()
        for info in await load_show_infos(db):
            catalog.put(info)
        catalog.install(await asyncio.to_thread(catalog.content_matrix_job()))
        log.info("recommender: catalog of %s shows loaded", len(catalog.shows))
        return cls(db, catalog, clock=clock, weights=weights)

    # Keeping up to date

    async def guild(self, guild_id: int) -> GuildState:
        """The server's state, loaded from the votes table on first use (one load even when requests race)."""
        state = self._guilds.get(guild_id)
        if state is not None:
            return state
        loading = self._loading.get(guild_id)
        if loading is not None:
            return await asyncio.shield(loading)
        future: asyncio.Future[GuildState] = asyncio.get_running_loop().create_future()
        self._loading[guild_id] = future
        self._pending[guild_id] = []
        try:
            rows = await self.db.fetchall(
                "SELECT user_id, show_id, value FROM votes WHERE guild_id = ? ORDER BY updated_at, show_id",
                (guild_id,),
            )
            votes = [(int(user_id), int(show_id), int(value)) for user_id, show_id, value in rows]
            state = await asyncio.to_thread(GuildState.build, votes, self.weights)
            # Votes that arrived while loading may or may not be in the rows read: set_vote is idempotent.
            for user_id, show_id, value in self._pending.pop(guild_id):
                state.observe_vote(user_id, show_id, value)
            self._guilds[guild_id] = state
            future.set_result(state)
            log.info("recommender: server %s loaded with %s votes", guild_id, len(rows))
            return state
        except BaseException as exc:
            self._pending.pop(guild_id, None)
            future.set_exception(exc)
            future.exception()  # retrieved here so an unawaited future does not warn
            raise
        finally:
            del self._loading[guild_id]

    def on_vote(self, guild_id: int, user_id: int, show_id: int, old_value: int | None, new_value: int | None) -> None:
        """A member's vote changed (after it was stored). Servers not loaded yet read it from the database later."""
        state = self._guilds.get(guild_id)
        if state is not None:
            current = state.user_votes.get(user_id, {}).get(show_id)
            if current != old_value:
                log.debug("recommender: vote on %s by %s was %s, not %s", show_id, user_id, current, old_value)
            state.observe_vote(user_id, show_id, new_value)
            if state.wants_snapshot() and guild_id not in self._snapshots:
                self._start_snapshot(guild_id, state)
        elif guild_id in self._pending:
            self._pending[guild_id].append((user_id, show_id, new_value))

    def _start_snapshot(self, guild_id: int, state: GuildState) -> None:
        """Retake the server's vote snapshot off the event loop; votes cast meanwhile stay live."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a synchronous caller): take it here
            votes = state.snapshot()
            state.install(VoteArrays.of(votes, state.show_index))
            return
        self._snapshots[guild_id] = asyncio.create_task(self._retake_snapshot(guild_id, state))

    async def _retake_snapshot(self, guild_id: int, state: GuildState) -> None:
        try:
            votes = state.snapshot()
            arrays = await asyncio.to_thread(VoteArrays.of, votes, dict(state.show_index))
            state.install(arrays)
        except Exception:
            log.exception("recommender: retaking the vote snapshot of server %s failed", guild_id)
        finally:
            del self._snapshots[guild_id]

    async def on_catalog_change(self, show_ids: Iterable[int]) -> None:
        """Shows were added, changed or deleted: re-read their features (deleted ones leave the catalog)."""
        wanted = sorted(set(show_ids))
        found = {info.show_id: info for info in await load_show_infos(self.db, wanted)}
        self._new_shows = None
        for show_id in wanted:
            info = found.get(show_id)
            if info is None:
                self.catalog.remove(show_id)
                for state in self._guilds.values():  # deleted shows lose their votes (ON DELETE CASCADE)
                    for user_id in [u for u, votes in state.user_votes.items() if show_id in votes]:
                        state.observe_vote(user_id, show_id, None)
            else:
                self.catalog.put(info)

    # Requests

    async def recommend_for_member(
        self,
        guild_id: int,
        user_id: int,
        *,
        limit: int = 5,
        offset: int = 0,
        genre: str | None = None,
        service: str | None = None,
    ) -> RecommendationPage:
        state = await self.guild(guild_id)
        own = await self.personal_votes(user_id) if guild_id != PERSONAL_GUILD_ID else {}
        return self.recommend_member_now(
            state,
            user_id,
            limit=limit,
            offset=offset,
            genre=genre,
            service=service,
            own_votes=own,
            server_favourites=guild_id != PERSONAL_GUILD_ID,  # members' own votes are no server's favourites
        )

    async def personal_votes(self, user_id: int) -> dict[int, int]:
        """The member's own votes (cast with a card's buttons where the bot cannot read reactions), show -> value."""
        return (await self.guild(PERSONAL_GUILD_ID)).user_votes.get(user_id, {})

    def recommend_member_now(
        self,
        state: GuildState,
        user_id: int,
        *,
        limit: int = 5,
        offset: int = 0,
        genre: str | None = None,
        service: str | None = None,
        weights: Weights | None = None,
        own_votes: dict[int, int] | None = None,
        server_favourites: bool = True,
    ) -> RecommendationPage:
        """The synchronous core of recommend_for_member (the evaluation calls it with trial weights). `own_votes`:
        the member's own votes from elsewhere (`personal_votes`), counted as older than their votes here, which win
        where both name a show."""
        weights = weights or self.weights
        genre_key, service_key = _filter_key(genre), _filter_key(service)
        votes = state.user_votes.get(user_id, {})
        if own_votes:
            votes = {**{show: value for show, value in own_votes.items() if show not in votes}, **votes}
        wanted = offset + limit + 1
        if not votes:
            ranked = self._cold_start(state, votes, genre_key, service_key, wanted, server_favourites)
            return _page(ranked, offset, limit, cold_start=True)
        scored = self.score_candidates(state, votes, weights)
        best = best_candidates(self.catalog, scored, weights, genre_key, service_key, wanted)
        ranked = [explain(self.catalog, candidate, score, votes, weights) for score, candidate in best]
        if len(ranked) < wanted:  # few personal candidates pass the filters: fill with popular shows
            seen = {r.show_id for r in ranked}
            ranked += [
                r
                for r in self._cold_start(state, votes, genre_key, service_key, wanted, server_favourites)
                if r.show_id not in seen
            ]
        return _page(ranked, offset, limit, cold_start=False)

    def score_candidates(self, state: GuildState, votes: dict[int, int], weights: Weights | None = None) -> Candidates:
        """Every candidate show for a member with its signal values (not yet blended), as arrays."""
        weights = weights or self.weights
        new_shows = self._new_this_week() if weights.new_release > 0 else set()
        return score_candidates(self.catalog, state, votes, weights, new_shows)

    def _cold_start(
        self,
        state: GuildState,
        votes: dict[int, int],
        genre: str | None,
        service: str | None,
        wanted: int,
        server_favourites: bool = True,
    ) -> list[Recommendation]:
        """The server's favourites (unless not `server_favourites`), then the catalog's best-known shows, filtered,
        never one already voted on."""
        ranked: list[Recommendation] = []
        seen: set[int] = set()
        max_likes = math.log1p(state.max_net_likes()) or 1.0
        for show_id in state.popular() if server_favourites else ():
            if len(ranked) >= wanted:
                return ranked
            if show_id not in votes and self.catalog.matches(show_id, genre, service):
                score = 1.0 + math.log1p(state.net_likes[show_id]) / max_likes
                title = self.catalog.title(show_id)
                ranked.append(
                    Recommendation(show_id, title, score, "popular in this server", ReasonKind.SERVER_POPULAR)
                )
                seen.add(show_id)
        max_popularity = math.log1p(self.catalog.max_popularity()) or 1.0
        for show_id in self.catalog.by_popularity():
            if len(ranked) >= wanted:
                break
            if show_id not in votes and show_id not in seen and self.catalog.matches(show_id, genre, service):
                info = self.catalog.shows[show_id]
                score = math.log1p(max(info.popularity, 0.0)) / max_popularity
                ranked.append(
                    Recommendation(show_id, info.title, score, "one of the best-known shows", ReasonKind.BEST_KNOWN)
                )
        return ranked

    def _new_this_week(self) -> set[int]:
        today = self.clock.now().date()
        cached = self._new_shows
        if cached is not None and cached[0] == today:
            return cached[1]
        start = (today - timedelta(days=NEW_RELEASE_DAYS - 1)).isoformat()
        end = today.isoformat()
        new_shows = {
            show_id
            for show_id, info in self.catalog.shows.items()
            if info.release_dates and any(start <= day <= end for day in info.release_dates)
        }
        self._new_shows = (today, new_shows)  # until tomorrow or the next catalog change
        return new_shows

    async def recommend_for_guild(
        self, guild_id: int, *, limit: int = 5, offset: int = 0, genre: str | None = None, service: str | None = None
    ) -> RecommendationPage:
        """What the server as a whole may enjoy next: shows co-liked with its favourites, which it has not voted
        on much yet. A server without votes gets the catalog's best-known shows (cold_start=True)."""
        state = await self.guild(guild_id)
        genre_key, service_key = _filter_key(genre), _filter_key(service)
        wanted = offset + limit + 1
        # The top half of the server's favourites (at most 20) seed the suggestions; the rest may be suggested.
        liked = state.popular()
        favourites = liked[: min(20, max(1, len(liked) // 2))]
        if not favourites:
            return _page(self._cold_start(state, {}, genre_key, service_key, wanted), offset, limit, cold_start=True)
        # The server as a pseudo-member who upvoted its favourites, the most liked counting as the most recent.
        pseudo_votes = dict.fromkeys(reversed(favourites), 1)
        weights = self.weights
        scored = self.score_candidates(state, pseudo_votes, weights)
        best = best_candidates(self.catalog, scored, weights, genre_key, service_key, wanted)
        ranked = [explain_for_server(self.catalog, candidate, score, weights) for score, candidate in best]
        return _page(ranked, offset, limit, cold_start=False)

    async def similar(self, show_id: int, *, guild_id: int, limit: int = 10) -> list[Recommendation]:
        """Shows like this one: content similarity from the catalog, plus co-votes within this server only."""
        state = await self.guild(guild_id)
        if show_id not in self.catalog.shows:
            return []
        content = dict(self.catalog.content_neighbours(show_id, limit=max(50, limit * 3)))
        covoted = dict(state.neighbour_similarities(show_id))
        max_covoted = max(covoted.values(), default=0.0) or 1.0
        max_content = max(content.values(), default=0.0) or 1.0
        scores: dict[int, tuple[float, float]] = {}
        for other in content.keys() | covoted.keys():
            if other in self.catalog.shows:
                scores[other] = (content.get(other, 0.0) / max_content, covoted.get(other, 0.0) / max_covoted)
        best = heapq.nlargest(limit, scores, key=lambda s: (sum(scores[s]), -s))
        source_title = self.catalog.title(show_id)
        results = []
        for other in best:
            content_part, covote_part = scores[other]
            if covote_part > content_part:
                reason = _("members who like {title} like it too", title=source_title)
                kind = ReasonKind.COVOTED
            else:
                reason, kind = content_reason(self.catalog, show_id, other), ReasonKind.SIMILAR_CONTENT
            results.append(Recommendation(other, self.catalog.title(other), sum(scores[other]), reason, kind, show_id))
        return results


def _filter_key(value: str | None) -> str | None:
    return value.strip().lower() if value and value.strip() else None


def _page(ranked: list[Recommendation], offset: int, limit: int, *, cold_start: bool) -> RecommendationPage:
    return RecommendationPage(tuple(ranked[offset : offset + limit]), cold_start, len(ranked) > offset + limit)
