"""What a week's post lists, as data (`weekly_content`): the releases out this week and coming up, in the server's
zone and region, ranked by what is new and by the server's votes; picks when nothing is new; and the reads one tick
shares across its posts (`ContentCache`). The layout is bot.weekly.layout's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bot.common import render
from bot.common.render import KEYCAPS
from bot.storage import Database, Row
from bot.votes import net_votes, net_votes_of_guilds
from bot.weekly.schedule import local_instant, week_key, zone_for
from bot.weekly.settings import get_weekly_settings

MAX_ITEMS = 10  # one keycap per show: 1️⃣ … 🔟
COMING_UP_RESERVED = 3  # slots kept for "Coming up" when "Out this week" alone could fill the post
PICKS_LIMIT = 5  # shows listed when nothing is new
RELEASE_KINDS = ("premiere", "season_premiere", "episodes", "added")
KIND_PRIORITY = {"premiere": 0, "season_premiere": 1, "added": 2, "episodes": 3}
# A season premiere "returns" when the show's previous episode aired at least this long before it (the source must
# say when: TMDB's last_episode_to_air does; a release without that date is a plain season premiere). A year: a show
# back on its yearly rhythm is a season premiere, one back from a longer break returns.
RETURN_AFTER = timedelta(days=365)

Section = Literal["out", "coming", "picks"]


@dataclass(frozen=True, slots=True)
class WeeklyItem:
    number: int  # 1..10, the keycap members vote with
    show_id: int
    title: str
    section: Section
    service: str  # the release's service, else the show's network; '' when unknown
    release_kind: str | None  # premiere, season_premiere, episodes, added; None for picks
    season: int | None
    date_timestamp: int | None  # unix seconds for a Discord <t:...:D> mark (local noon for plain dates)
    synopsis: str  # first sentence, at most SYNOPSIS_LENGTH characters; '' when unknown
    net_votes: int  # this server's score
    poster_url: str | None = None  # from a source; the first item's is the post's thumbnail
    returns: bool = False  # a season premiere after a break of RETURN_AFTER or more

    @property
    def emoji(self) -> str:
        return KEYCAPS[self.number - 1]


@dataclass(frozen=True, slots=True)
class WeeklyContent:
    guild_id: int
    week: str  # ledger key of the post time
    post_time: datetime  # UTC
    timezone: str
    out_this_week: tuple[WeeklyItem, ...]
    coming_up: tuple[WeeklyItem, ...]
    picks: tuple[WeeklyItem, ...]  # only when nothing is new
    picks_from_votes: bool  # picks come from the server's votes (else the catalog's best-known shows)
    not_shown: int  # releases in the two windows beyond the 10 listed

    @property
    def nothing_new(self) -> bool:
        return not self.out_this_week and not self.coming_up

    @property
    def items(self) -> tuple[WeeklyItem, ...]:
        """Every listed show in number order."""
        return self.out_this_week + self.coming_up + self.picks

    @property
    def numbering(self) -> list[tuple[str, int]]:
        """(keycap, show_id) pairs: what the cog adds as reactions and stores in vote_emoji."""
        return [(item.emoji, item.show_id) for item in self.items]


SYNOPSIS_LENGTH = 140
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"[.!?…](?=\s+[\"'“‘(\[]?[A-Z0-9])")
_ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "no", "mt", "prof", "gen", "capt", "lt"})


@lru_cache(maxsize=4096)
def first_sentence(text: str | None, limit: int = SYNOPSIS_LENGTH) -> str:
    """The first sentence of a synopsis (HTML tags removed, whitespace collapsed), shortened to `limit`."""
    if not text:
        return ""
    plain = _SPACE.sub(" ", _TAG.sub(" ", text)).strip()
    for match in _SENTENCE_END.finditer(plain):
        before = plain[: match.start()].rsplit(" ", 1)[-1].casefold().strip("\"'“‘(")
        if before in _ABBREVIATIONS or (len(before) == 1 and before.isalpha()):
            continue  # "Dr. Who", "J. R. R. Tolkien": not the end of a sentence
        plain = plain[: match.end()]
        break
    return render.shorten(plain, limit)


@lru_cache(maxsize=16384)
def _release_moment(value: str, zone: ZoneInfo) -> tuple[date, datetime] | None:
    """(local date, instant) of a release: a plain date is that day in the server's zone (instant: local noon, so a
    <t:...:D> mark shows the same date to members a few zones away); an instant without offset is UTC."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return day, local_instant(day, time(12, 0), zone)
        instant = datetime.fromisoformat(value)
    except ValueError:
        return None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(zone).date(), instant.astimezone(UTC)


@dataclass(slots=True)
class _Candidate:
    show_id: int
    title: str
    synopsis: str | None
    network: str | None
    popularity: float
    kind: str
    season: int | None
    service: str
    instant: datetime
    poster_url: str | None
    returns: bool

    def replaces(self, known: _Candidate, later: bool) -> bool:
        """Whether this release stands for the show instead of `known` (same section): the later one in "Out this
        week", the earlier one in "Coming up"; on the same date (two sources' rows for one episode), the one that
        says more: the higher kind, then a return."""
        if self.instant != known.instant:
            return self.instant > known.instant if later else self.instant < known.instant
        return (-KIND_PRIORITY.get(self.kind, len(KIND_PRIORITY)), self.returns) > (
            -KIND_PRIORITY.get(known.kind, len(KIND_PRIORITY)),
            known.returns,
        )


def returns_from_break(kind: str, day: date, previous_episode: str | None) -> bool:
    """A season premiere whose previous episode aired RETURN_AFTER or more before it (see docs/weekly.md)."""
    if kind != "season_premiere" or not previous_episode:
        return False
    try:
        previous = date.fromisoformat(previous_episode[:10])
    except ValueError:
        return False
    return day - previous >= RETURN_AFTER


class ContentCache:
    """Reads shared by the posts of one tick: release rows per date window, and votes preloaded per guild."""

    def __init__(self) -> None:
        self.releases: dict[tuple[str, str], list[Row]] = {}
        self.votes: dict[int, dict[int, int]] = {}

    async def preload_votes(self, db: Database, guild_ids: Sequence[int]) -> None:
        missing = [guild_id for guild_id in guild_ids if guild_id not in self.votes]
        if not missing:
            return
        self.votes.update(await net_votes_of_guilds(db, missing))


async def _guild_votes(db: Database, guild_id: int, cache: ContentCache | None) -> dict[int, int]:
    if cache is not None and guild_id in cache.votes:
        return cache.votes[guild_id]
    return await net_votes(db, guild_id)


_RELEASES_SQL = """
    SELECT r.show_id, r.kind, r.date, r.season, r.service, r.region, r.previous_episode, s.title, s.synopsis, s.network,
           s.popularity, s.poster_url
    FROM releases r JOIN shows s ON s.id = r.show_id
    WHERE r.date >= ? AND r.date < ?"""


async def weekly_content(
    db: Database,
    guild_id: int,
    post_time_utc: datetime,
    tz_name: str,
    *,
    region: str | None = None,
    cache: ContentCache | None = None,
) -> WeeklyContent:
    """What the post made at `post_time_utc` lists, for a server in `tz_name`.

    "Out this week": shows with a release (premiere, season premiere, episodes, added) in the seven days up to the
    post: a plain date counts when it is the post's local day or one of the six before; an instant when it falls in
    (post - 7 days, post]. "Coming up": the seven days after. A show is listed once (in "Out this week" if it has
    releases in both; its latest release there, its earliest in "Coming up"). Ranked by what is new (series
    premieres, season premieres, additions, then plain episodes), then this server's net votes, popularity, title;
    at most 10 in all, COMING_UP_RESERVED of them kept for "Coming up" when it has shows. `region`: only releases
    for that region or for no region. When nothing is new, PICKS_LIMIT picks: the server's top net-voted shows,
    topped up with the catalog's best-known shows it has not voted down.
    """
    zone = zone_for(tz_name)
    post_time = post_time_utc.astimezone(UTC)
    post_day = post_time.astimezone(zone).date()
    window = ((post_day - timedelta(days=8)).isoformat(), (post_day + timedelta(days=9)).isoformat())
    rows = None if cache is None else cache.releases.get(window)
    if rows is None:
        rows = await db.fetchall(_RELEASES_SQL, window)
        if cache is not None:
            cache.releases[window] = rows
    out: dict[int, _Candidate] = {}
    coming: dict[int, _Candidate] = {}
    for row in rows:
        if row["kind"] not in RELEASE_KINDS:
            continue
        if region and row["region"] and row["region"] != region:
            continue
        moment = _release_moment(row["date"], zone)
        if moment is None:
            continue
        day, instant = moment
        if len(row["date"]) == 10:
            is_out = post_day - timedelta(days=6) <= day <= post_day
            is_coming = post_day < day <= post_day + timedelta(days=7)
        else:
            is_out = post_time - timedelta(days=7) < instant <= post_time
            is_coming = post_time < instant <= post_time + timedelta(days=7)
        if not (is_out or is_coming):
            continue
        candidate = _Candidate(
            show_id=int(row["show_id"]),
            title=row["title"],
            synopsis=row["synopsis"],
            network=row["network"],
            popularity=float(row["popularity"] or 0),
            kind=row["kind"],
            season=row["season"],
            service=row["service"] or row["network"] or "",
            instant=instant,
            poster_url=row["poster_url"],
            returns=returns_from_break(row["kind"], day, row["previous_episode"]),
        )
        target, keep_later = (out, True) if is_out else (coming, False)
        known = target.get(candidate.show_id)
        if known is None or candidate.replaces(known, keep_later):
            target[candidate.show_id] = candidate
    for show_id in out:
        coming.pop(show_id, None)

    votes = await _guild_votes(db, guild_id, cache)

    def rank(candidate: _Candidate) -> tuple[int, int, float, str, int]:
        # What is new first: series premieres, season premieres, then additions, and plain episodes (a daily show's
        # every episode) last; within each, the server's votes, then popularity.
        return (
            KIND_PRIORITY.get(candidate.kind, len(KIND_PRIORITY)),
            -votes.get(candidate.show_id, 0),
            -candidate.popularity,
            candidate.title.casefold(),
            candidate.show_id,
        )

    out_ranked = sorted(out.values(), key=rank)
    coming_ranked = sorted(coming.values(), key=rank)
    coming_slots = min(len(coming_ranked), COMING_UP_RESERVED)
    out_shown = out_ranked[: MAX_ITEMS - coming_slots]
    coming_shown = coming_ranked[: MAX_ITEMS - len(out_shown)]
    numbered: list[WeeklyItem] = []
    for section, chosen in (("out", out_shown), ("coming", coming_shown)):
        for candidate in chosen:
            numbered.append(
                WeeklyItem(
                    number=len(numbered) + 1,
                    show_id=candidate.show_id,
                    title=candidate.title,
                    section=section,  # type: ignore[arg-type]
                    service=candidate.service,
                    release_kind=candidate.kind,
                    season=candidate.season,
                    date_timestamp=int(candidate.instant.timestamp()),
                    synopsis=first_sentence(candidate.synopsis),
                    net_votes=votes.get(candidate.show_id, 0),
                    poster_url=candidate.poster_url,
                    returns=candidate.returns,
                )
            )
    picks: list[WeeklyItem] = []
    picks_from_votes = False
    if not numbered:
        picks, picks_from_votes = await _picks(db, votes)
    return WeeklyContent(
        guild_id=guild_id,
        week=week_key(post_time),
        post_time=post_time,
        timezone=tz_name,
        out_this_week=tuple(item for item in numbered if item.section == "out"),
        coming_up=tuple(item for item in numbered if item.section == "coming"),
        picks=tuple(picks),
        picks_from_votes=picks_from_votes,
        not_shown=len(out_ranked) + len(coming_ranked) - len(numbered),
    )


async def _picks(db: Database, votes: dict[int, int]) -> tuple[list[WeeklyItem], bool]:
    liked = [show_id for show_id, net in sorted(votes.items(), key=lambda pair: (-pair[1], pair[0])) if net > 0]
    chosen_ids = liked[:PICKS_LIMIT]
    rows: list[Any] = []
    if chosen_ids:
        placeholders = ", ".join("?" * len(chosen_ids))
        found = {
            int(row["id"]): row
            for row in await db.fetchall(
                f"SELECT id, title, synopsis, network, popularity, poster_url FROM shows WHERE id IN ({placeholders})",
                chosen_ids,
            )
        }
        rows = [found[show_id] for show_id in chosen_ids if show_id in found]
    if len(rows) < PICKS_LIMIT:
        # Top up with the best-known shows not already chosen and not voted down here. Voted-down shows are few;
        # fetch a margin rather than passing every id to SQL.
        exclude = {int(row["id"]) for row in rows} | {show_id for show_id, net in votes.items() if net < 0}
        extra = await db.fetchall(
            """SELECT id, title, synopsis, network, popularity, poster_url FROM shows
               ORDER BY popularity DESC, title LIMIT ?""",
            (PICKS_LIMIT + len(exclude),),
        )
        rows += [row for row in extra if int(row["id"]) not in exclude][: PICKS_LIMIT - len(rows)]
    picks = [
        WeeklyItem(
            number=number,
            show_id=int(row["id"]),
            title=row["title"],
            section="picks",
            service=row["network"] or "",
            release_kind=None,
            season=None,
            date_timestamp=None,
            synopsis=first_sentence(row["synopsis"]),
            net_votes=votes.get(int(row["id"]), 0),
            poster_url=row["poster_url"],
        )
        for number, row in enumerate(rows, start=1)
    ]
    return picks, bool(liked)


async def preview_content(db: Database, guild_id: int, now: datetime) -> WeeklyContent:
    """What a post made now would list (/weekly preview), in the server's zone (UTC when none is set)."""
    settings = await get_weekly_settings(db, guild_id)
    tz_name = settings.timezone if settings is not None and settings.timezone else "UTC"
    region = settings.region if settings is not None else None
    return await weekly_content(db, guild_id, now, tz_name, region=region)
