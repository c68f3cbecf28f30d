"""What the evaluation measures: HR@10 and NDCG@10 over the evaluated members, their summary over seeds, and the
exact McNemar test that compares two models on the same members."""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

CUTOFF = 10


@dataclass(slots=True)
class Metrics:
    hits: int = 0
    gain: float = 0.0
    users: int = 0
    hit_users: list[bool] = dataclasses.field(default_factory=list)  # per evaluated member, in held_out order

    def add(self, ranked: Sequence[int], target: int) -> None:
        self.users += 1
        top = list(ranked[:CUTOFF])
        hit = target in top
        self.hit_users.append(hit)
        if hit:
            self.hits += 1
            self.gain += 1.0 / math.log2(top.index(target) + 2)

    @property
    def hr(self) -> float:
        return self.hits / (self.users or 1)

    @property
    def ndcg(self) -> float:
        return self.gain / (self.users or 1)


def mcnemar_p(ours: Sequence[bool], other: Sequence[bool]) -> float:
    """Exact two-sided McNemar test on paired hits: members only one of the two models found."""
    only_ours = sum(a and not b for a, b in zip(ours, other, strict=True))
    only_other = sum(b and not a for a, b in zip(ours, other, strict=True))
    discordant = only_ours + only_other
    if discordant == 0:
        return 1.0
    tail = sum(math.comb(discordant, k) for k in range(min(only_ours, only_other) + 1)) / float(2**discordant)
    return min(1.0, 2 * tail)


def summary(runs: Sequence[Metrics], **extra: Any) -> dict[str, Any]:
    hrs = [m.hr for m in runs]
    return {
        f"hr@{CUTOFF}": round(statistics.fmean(hrs), 4),
        f"ndcg@{CUTOFF}": round(statistics.fmean(m.ndcg for m in runs), 4),
        f"hr@{CUTOFF}_sd": round(statistics.stdev(hrs), 4) if len(hrs) > 1 else 0.0,
        "seeds": len(runs),
        **extra,
    }
