"""The poster's contract with the tick: what a poster is given (`DuePost` and the week's `WeeklyContent`) and what it
returns right after sending (`PostResult`, with the slow follow-ups run_tick runs later). What it may raise instead
is bot.weekly.tick's `PostFailure` and its kinds, next to the code that acts on them.

The poster itself is Discord's side (cogs/weekly.py); this module knows no Discord.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.weekly.content import WeeklyContent


@dataclass(frozen=True, slots=True)
class DuePost:
    guild_id: int
    channel_id: int
    week: str  # the ledger key
    scheduled: datetime  # UTC
    timezone: str
    region: str | None
    late_by: timedelta  # now - scheduled; always < CATCH_UP_WINDOW
    attempt: int  # 1 for the first try
    problem: str | None = None  # the setting's recorded problem, cleared by a successful post
    # True when an earlier claim of this week was interrupted (the process died while posting): the poster must look
    # for a message of its own with weekly_marker(week) in the channel and return it instead of posting again.
    recovering: bool = False


# What a poster leaves for after the message id is recorded: making the post votable (its reactions take seconds under
# rate limits, and can fail). Returns a problem for the admins (e.g. the post went out without Add Reactions) or None.
AfterRecorded = Callable[[], Awaitable[str | None]]
# Quick work right after the record (tracking the message for votes: a database write, no request).
Recorded = Callable[[], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class PostResult:
    """What the poster returns right after sending, before anything slow or fallible. message_id None: nothing was
    sent (e.g. a recovery that could not check the channel), and the week is marked failed without retry.

    run_tick records the message id first, then runs `recorded` at once, and `after_recorded` only once every due
    server's post of the tick is out: under Discord's limit of one reaction per 0.25 s per channel, ten keycaps take
    2.5 s, and they must never hold back another server's post.
    """

    message_id: int | None
    channel_id: int | None = None  # when it differs from DuePost.channel_id (e.g. a thread)
    after_recorded: AfterRecorded | None = None  # once the tick's posts are all out
    recorded: Recorded | None = None  # right after the message id is in the ledger


# What run_tick calls for each due week it claimed: send the post, or raise a PostFailure.
Poster = Callable[[DuePost, WeeklyContent], Awaitable[PostResult]]
