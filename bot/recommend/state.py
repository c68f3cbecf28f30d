"""One server's state (`GuildState`): its votes, kept up to date vote by vote, the show counts, the popular list,
and the co-vote neighbour lists derived from them. Nothing in it is shared with another server."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bot.recommend.vote_arrays import VoteArrays
from bot.recommend.weights import DEFAULT_WEIGHTS, Weights

LIVE_MEMBERS_BEFORE_SNAPSHOT = 500  # members who voted since a server's snapshot before a new one is taken


@dataclass(slots=True)
class NeighbourList:
    """A show's neighbours (show indices, most similar first) with their co-vote counts, and the similarities last
    computed from them with the vote counts and weights in `as_of` (read them through `GuildState.neighbour_arrays`)."""

    others: NDArray[np.int32]
    counts: NDArray[np.float64]
    similarities: NDArray[Any] | None = None
    as_of: tuple[int, float, float] | None = None  # (votes changed, alpha, shrink)


@dataclass(slots=True)
class GuildState:
    """One server's votes, kept up to date vote by vote, and the co-vote counts derived from them.

    C[i][j] sums, over members whose votes on i and j are at most `covote_window` apart in their voting order, the
    product of the two votes. A changed vote moves to the end of the member's order (it is their latest).
    Rows of C are computed when a show's neighbour list is needed (from the compact snapshot `arrays`, plus the
    members who voted since it was taken), and only the neighbour lists are kept: the full matrix of a big server
    (over 5 million pairs) would cost hundreds of MB and seconds to build.
    """

    weights: Weights = DEFAULT_WEIGHTS
    # member -> {show: +1/-1}; insertion order is recency (oldest first): a changed vote moves to the end
    user_votes: dict[int, dict[int, int]] = field(default_factory=dict)
    vote_counts: dict[int, int] = field(default_factory=dict)  # n_i: votes of either sign on the show
    net_likes: dict[int, int] = field(default_factory=dict)  # upvotes minus downvotes
    show_index: dict[int, int] = field(default_factory=dict)  # show id -> dense index into the arrays below
    arrays: VoteArrays | None = None
    _show_ids: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    _counts: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))  # n_i by show index
    _live: set[int] = field(default_factory=set)  # members whose votes are not (or no longer) in `arrays`
    _live_voters: dict[int, set[int]] = field(default_factory=dict)  # show -> live members who voted on it
    _live_orders: dict[int, tuple[list[int], list[int], dict[int, int]]] = field(default_factory=dict)
    _voted_since_snapshot: set[int] = field(default_factory=set)
    # show -> its neighbour list: dropped when one of the show's co-votes changes
    _neighbours: dict[int, NeighbourList] = field(default_factory=dict)
    _vote_changes: int = 0  # votes changed since the state was built: the vote counts similarities are made of
    _popular: list[int] | None = None  # shows with net likes > 0, most liked first (ties: lower id)
    _popular_keys: list[tuple[int, int]] = field(default_factory=list)  # (-net likes, show), parallel to _popular

    @classmethod
    def build(cls, rows: Sequence[Sequence[int]], weights: Weights = DEFAULT_WEIGHTS) -> GuildState:
        """A state from (user_id, show_id, value) rows, oldest first: the same result as applying them one by one
        (a repeated member and show: the later row wins and counts as their latest vote). In numpy but for the
        per-member dicts, so that a 200,000-vote server loads in well under a second; no neighbour list is built
        before a request needs it."""
        state = cls(weights=weights)
        count = len(rows)
        members = np.fromiter((row[0] for row in rows), dtype=np.int64, count=count)
        shows = np.fromiter((row[1] for row in rows), dtype=np.int64, count=count)
        values = np.fromiter((row[2] for row in rows), dtype=np.int8, count=count)
        voted, show_of_row = np.unique(shows, return_inverse=True)
        member_ids, member_of_row = np.unique(members, return_inverse=True)
        # The last row of each member and show, then the rows grouped by member in their order (a stable sort).
        pair = member_of_row.astype(np.int64) * max(len(voted), 1) + show_of_row
        _, last_from_end = np.unique(pair[::-1], return_index=True)
        kept = np.sort(count - 1 - last_from_end)
        kept = kept[np.argsort(member_of_row[kept], kind="stable")]
        show_of_slot = show_of_row[kept].astype(np.int32)
        value_of_slot = values[kept]
        sizes = np.bincount(member_of_row[kept], minlength=len(member_ids)).astype(np.int64)
        for show_id in voted.tolist():
            state._index_of(show_id)
        state.arrays = VoteArrays.from_slots(member_ids.tolist(), sizes, show_of_slot, value_of_slot, len(voted))
        slot_shows, slot_values = voted[show_of_slot].tolist(), value_of_slot.tolist()
        start = 0
        for user_id, size in zip(member_ids.tolist(), sizes.tolist(), strict=True):
            end = start + size
            state.user_votes[user_id] = dict(zip(slot_shows[start:end], slot_values[start:end], strict=True))
            start = end
        counts = np.bincount(show_of_slot, minlength=len(voted))
        state._counts[: len(voted)] = counts
        state.vote_counts = dict(zip(voted.tolist(), counts.tolist(), strict=True))
        net = np.bincount(show_of_slot, weights=value_of_slot, minlength=len(voted)).astype(np.int64)
        state.net_likes = dict(zip(voted.tolist(), net.tolist(), strict=True))
        return state

    def _index_of(self, show_id: int) -> int:
        index = self.show_index.get(show_id)
        if index is None:
            index = self.show_index[show_id] = len(self.show_index)
            if index >= len(self._counts):
                capacity = max(64, 2 * len(self._counts), index + 1)
                self._counts = np.concatenate((self._counts, np.zeros(capacity - len(self._counts))))
                self._show_ids = np.concatenate((self._show_ids, np.zeros(capacity - len(self._show_ids), np.int64)))
            self._show_ids[index] = show_id
        return index

    def observe_vote(self, user_id: int, show_id: int, value: int | None) -> bool:
        """Make the member's vote on the show `value` (None: no vote). Idempotent; True when something changed."""
        if value not in (None, 1, -1):
            raise ValueError(f"a vote is +1, -1 or None, not {value!r}")
        votes = self.user_votes.setdefault(user_id, {})
        old = votes.get(show_id)
        if old == value:
            return False
        self._make_live(user_id)
        self._voted_since_snapshot.add(user_id)
        window = self.weights.covote_window
        # The shows whose co-vote rows change: this one, and those within the window of where the vote was (the
        # votes on either side of the gap come into each other's window) and of where it goes (the end).
        touched = {show_id}
        index = self._index_of(show_id)
        if old is not None:
            order = list(votes)
            position = order.index(show_id)
            touched.update(order[max(0, position - window) : position + window + 1])
            del votes[show_id]
            self.vote_counts[show_id] -= 1
            self.net_likes[show_id] -= old
            self._counts[index] -= 1
            self._live_voters[show_id].discard(user_id)
        if value is not None:
            if window:
                touched.update(list(votes)[-window:])
            votes[show_id] = value
            self.vote_counts[show_id] = self.vote_counts.get(show_id, 0) + 1
            self.net_likes[show_id] = self.net_likes.get(show_id, 0) + value
            self._counts[index] += 1
            self._live_voters.setdefault(show_id, set()).add(user_id)
        if not votes:
            del self.user_votes[user_id]
        self._live_orders.pop(user_id, None)
        self._vote_changes += 1  # n_i and n_j moved: every cached similarity is recomputed when next read
        for show in touched:
            self._neighbours.pop(show, None)
        if self._popular is not None:
            self._move_in_popular(show_id, old or 0, value or 0)
        return True

    def _move_in_popular(self, show_id: int, old: int, new: int) -> None:
        """Keep the popular list sorted as one show's net likes change by new - old (no re-sort per vote)."""
        assert self._popular is not None
        before, after = self.net_likes[show_id] - (new - old), self.net_likes[show_id]
        if before > 0:
            position = bisect.bisect_left(self._popular_keys, (-before, show_id))
            del self._popular_keys[position], self._popular[position]
        if after > 0:
            position = bisect.bisect_left(self._popular_keys, (-after, show_id))
            self._popular_keys.insert(position, (-after, show_id))
            self._popular.insert(position, show_id)

    def _make_live(self, user_id: int) -> None:
        """From now on the member's votes are read from user_votes, not from the snapshot."""
        if user_id in self._live:
            return
        self._live.add(user_id)
        if self.arrays is not None:
            member = self.arrays.members.get(user_id)
            if member is not None:
                self.arrays.stale[member] = True
        for show_id in self.user_votes.get(user_id, {}):
            self._live_voters.setdefault(show_id, set()).add(user_id)

    def _covote_counts(self, show_id: int) -> NDArray[np.float64]:
        """Row show_id of C, dense over show indices."""
        counts = np.zeros(len(self.show_index))
        index = self.show_index.get(show_id)
        window = self.weights.covote_window
        if index is None or window <= 0:
            return counts
        if self.arrays is not None:
            self.arrays.add_covotes(index, window, counts)
        show_index = self.show_index
        for user_id in self._live_voters.get(show_id, ()):
            order = self._live_orders.get(user_id)
            if order is None:
                votes = self.user_votes[user_id]
                shows = list(votes)
                order = self._live_orders[user_id] = (shows, list(votes.values()), {s: i for i, s in enumerate(shows)})
            shows, values, positions = order
            position = positions[show_id]
            value = values[position]
            for other in range(max(0, position - window), min(len(shows), position + window + 1)):
                if other != position:
                    counts[show_index[shows[other]]] += value * values[other]
        return counts

    def _similarities(self, show_id: int, others: NDArray[np.int32], counts: NDArray[np.float64]) -> NDArray[Any]:
        """C / (n_i^alpha * n_j^(1 - alpha)) * C / (C + shrink): the similarity of show_id to each show index j, from
        their co-vote counts C (all positive)."""
        alpha = self.weights.alpha
        n_i = self.vote_counts.get(show_id, 0) or 1
        n_j = np.maximum(self._counts[others], 1.0)
        result: NDArray[Any] = counts / (n_i**alpha * n_j ** (1.0 - alpha)) * counts / (counts + self.weights.shrink)
        return result

    def _neighbour_list(self, show_id: int) -> NeighbourList:
        cached = self._neighbours.get(show_id)
        if cached is None:
            counts = self._covote_counts(show_id)
            others = np.flatnonzero(counts > 0).astype(np.int32)
            found = counts[others]
            similarities = self._similarities(show_id, others, found)
            limit = self.weights.neighbours
            if len(others) > limit:  # only those at least as similar as the K-th: sorted below, ties and all
                keep = similarities >= np.partition(similarities, len(others) - limit)[len(others) - limit]
                others, found, similarities = others[keep], found[keep], similarities[keep]
            # Most similar first; among equals, the higher show id first (as heapq.nlargest over (similarity, id)).
            order = np.lexsort((-self._show_ids[others], -similarities))[:limit]
            cached = self._neighbours[show_id] = NeighbourList(others[order], found[order])
        return cached

    def neighbour_similarities(self, show_id: int) -> list[tuple[int, float]]:
        """(show, similarity) for the show's neighbours, with the similarities as of now."""
        others, similarities = self.neighbour_arrays(show_id)
        return list(zip(self._show_ids[others].tolist(), similarities.tolist(), strict=True))

    def neighbour_arrays(self, show_id: int) -> tuple[NDArray[np.int32], NDArray[np.float64]]:
        """The show's neighbours as show indices (see `show_ids`) and their similarities as of now."""
        listed = self._neighbour_list(show_id)
        # The similarities as of now: the same arithmetic on the same counts gives the same numbers, so they are
        # kept until a vote changes the counts or the weights change (tuning tries many on one state).
        stamp = (self._vote_changes, self.weights.alpha, self.weights.shrink)
        if listed.similarities is None or listed.as_of != stamp:
            listed.similarities = self._similarities(show_id, listed.others, listed.counts)
            listed.as_of = stamp
        return listed.others, listed.similarities

    def show_ids(self, indices: NDArray[np.int32]) -> NDArray[np.int64]:
        return self._show_ids[indices]

    def wants_snapshot(self) -> bool:
        """Many members voted since the snapshot: reading their votes in Python makes rows slow; take a new one."""
        return len(self._live) > max(LIVE_MEMBERS_BEFORE_SNAPSHOT, len(self.user_votes) // 10)

    def snapshot(self) -> list[tuple[int, list[tuple[int, int]]]]:
        """The votes as they are now, for VoteArrays.of (which may then run in another thread); `install` the
        result. Members who vote in between stay live."""
        self._voted_since_snapshot = set()
        return [(user_id, list(votes.items())) for user_id, votes in self.user_votes.items()]

    def install(self, arrays: VoteArrays) -> None:
        """Read votes from `arrays`, made from `snapshot()`, except those of members who voted since."""
        self.arrays = arrays
        self._live, self._live_voters, self._live_orders = set(), {}, {}
        for user_id in self._voted_since_snapshot:
            self._make_live(user_id)

    def popular(self) -> list[int]:
        """Shows with more up- than downvotes here, most liked first."""
        if self._popular is None:
            self._popular_keys = sorted((-count, show) for show, count in self.net_likes.items() if count > 0)
            self._popular = [show for _, show in self._popular_keys]
        return self._popular

    def max_net_likes(self) -> int:
        popular = self.popular()
        return self.net_likes[popular[0]] if popular else 0
