"""One server's votes as a compact snapshot of numpy arrays (`VoteArrays`), from which a show's co-vote row is
computed in C rather than Python."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(slots=True)
class VoteArrays:
    """A snapshot of one server's votes as compact arrays, for computing co-vote rows in C rather than Python.

    Every member's votes lie back to back in their voting order, one "slot" per vote; for each show, the slots that
    hold a vote on it. A 200,000-vote server takes about 4 MB. The snapshot never changes: members who vote after it
    was taken are "live" (GuildState reads their votes from `user_votes` instead) until the next snapshot.
    """

    show_of_slot: NDArray[np.int32]  # dense show index (GuildState.show_index) of each slot
    value_of_slot: NDArray[np.int8]
    member_start: NDArray[np.int64]  # per slot: where its member's votes start and end
    member_end: NDArray[np.int64]
    slots_by_show: NDArray[np.int64]
    show_bounds: NDArray[np.int64]  # show s's slots are slots_by_show[show_bounds[s] : show_bounds[s + 1]]
    member_of_slot: NDArray[np.int32]
    members: dict[int, int]  # member id -> dense member index
    stale: NDArray[np.bool_]  # per dense member index: their votes here are out of date (they are live)

    @classmethod
    def of(cls, user_votes: Sequence[tuple[int, Sequence[tuple[int, int]]]], show_index: dict[int, int]) -> VoteArrays:
        """From (member, [(show, value), ...] in voting order); every show must already be in show_index."""
        shows: list[int] = []
        values: list[int] = []
        sizes: list[int] = []
        for _, votes in user_votes:
            shows.extend(show_index[show_id] for show_id, _ in votes)
            values.extend(value for _, value in votes)
            sizes.append(len(votes))
        return cls.from_slots(
            [user_id for user_id, _ in user_votes],
            np.array(sizes, dtype=np.int64),
            np.array(shows, dtype=np.int32),
            np.array(values, dtype=np.int8),
            len(show_index),
        )

    @classmethod
    def from_slots(
        cls,
        members: Sequence[int],
        sizes: NDArray[np.int64],
        show_of_slot: NDArray[np.int32],
        value_of_slot: NDArray[np.int8],
        show_count: int,
    ) -> VoteArrays:
        """From each member's number of votes and every vote's show index and value, member after member."""
        ends = np.cumsum(sizes)
        member_of_slot = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
        per_show = np.bincount(show_of_slot, minlength=show_count)
        return cls(
            show_of_slot=show_of_slot,
            value_of_slot=value_of_slot,
            member_start=(ends - sizes)[member_of_slot],
            member_end=ends[member_of_slot],
            slots_by_show=np.argsort(show_of_slot, kind="stable").astype(np.int64),
            show_bounds=np.concatenate(([0], np.cumsum(per_show))).astype(np.int64),
            member_of_slot=member_of_slot,
            members={user_id: index for index, user_id in enumerate(members)},
            stale=np.zeros(len(sizes), dtype=np.bool_),
        )

    def add_covotes(self, show: int, window: int, counts: NDArray[np.float64]) -> None:
        """Add to counts (indexed by show index) the co-votes of show `show` from the members who are not stale."""
        if window <= 0 or show + 1 >= len(self.show_bounds):
            return
        slots = self.slots_by_show[self.show_bounds[show] : self.show_bounds[show + 1]]
        if len(slots) == 0:
            return
        slots = slots[~self.stale[self.member_of_slot[slots]]]
        offsets = np.concatenate((np.arange(-window, 0), np.arange(1, window + 1)))
        around = slots[:, None] + offsets[None, :]
        inside = (around >= self.member_start[slots][:, None]) & (around < self.member_end[slots][:, None])
        near = around[inside]
        products = (self.value_of_slot[slots][:, None] * self.value_of_slot[np.where(inside, around, 0)])[inside]
        found = np.bincount(self.show_of_slot[near], weights=products, minlength=len(counts))
        counts += found[: len(counts)]
