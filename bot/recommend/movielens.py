"""MovieLens as Showbot data (research use only: read from ../shared, never shipped): movies and votes read from
the CSV files (ratings >= 4 up, <= 2 down), the leave-last-out test and validation splits, and a fresh database
holding the movies as catalog items and the votes of one server."""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.common.text import normalise
from bot.storage import open_database

GUILD_ID = 1
MIN_UPVOTES = 3
_TITLE_YEAR = re.compile(r"^(.*?)\s*\((\d{4})\)\s*$")


@dataclass(frozen=True, slots=True)
class Movie:
    movie_id: int
    title: str
    year: int | None
    genres: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RatingEvent:
    user_id: int
    movie_id: int
    value: int
    timestamp: int


@dataclass(frozen=True, slots=True)
class Split:
    train: list[RatingEvent]  # oldest first
    held_out: dict[int, int]  # user -> movie to find


def read_movielens(directory: Path, *, max_users: int | None = None) -> tuple[list[Movie], list[RatingEvent]]:
    """Movies and votes (ratings >= 4 up, <= 2 down). With max_users, a deterministic subsample of users
    (those with the smallest hash of their id), so a small test run always sees the same members."""
    movies = []
    with (directory / "movies.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            match = _TITLE_YEAR.match(row["title"].strip())
            title, year = (match.group(1), int(match.group(2))) if match else (row["title"].strip(), None)
            genres = tuple(g for g in row["genres"].split("|") if g and g != "(no genres listed)")
            movies.append(Movie(int(row["movieId"]), title or row["title"], year, genres))
    votes = []
    with (directory / "ratings.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            rating = float(row["rating"])
            if rating >= 4 or rating <= 2:
                value = 1 if rating >= 4 else -1
                votes.append(RatingEvent(int(row["userId"]), int(row["movieId"]), value, int(row["timestamp"])))
    if max_users is not None:
        users = sorted({v.user_id for v in votes}, key=lambda u: hashlib.sha256(str(u).encode()).hexdigest())
        kept = set(users[:max_users])
        votes = [v for v in votes if v.user_id in kept]
    return movies, votes


def leave_last_out(votes: Sequence[RatingEvent]) -> tuple[Split, Split]:
    """(test split, validation split). The test split holds out each evaluated member's last upvote and drops their
    votes after it (ties in time broken by movie id), so no training vote is later than the test item; the
    validation split does the same one upvote earlier, on the test split's training votes."""
    by_user: dict[int, list[RatingEvent]] = {}
    for vote in sorted(votes, key=lambda v: (v.timestamp, v.movie_id)):
        by_user.setdefault(vote.user_id, []).append(vote)
    test_train: list[RatingEvent] = []
    valid_train: list[RatingEvent] = []
    test_out: dict[int, int] = {}
    valid_out: dict[int, int] = {}
    for user_id, user_votes in by_user.items():
        upvotes = [index for index, v in enumerate(user_votes) if v.value > 0]
        if len(upvotes) < MIN_UPVOTES:
            test_train += user_votes
            valid_train += user_votes
            continue
        test_out[user_id] = user_votes[upvotes[-1]].movie_id
        valid_out[user_id] = user_votes[upvotes[-2]].movie_id
        test_train += user_votes[: upvotes[-1]]
        valid_train += user_votes[: upvotes[-2]]
    order = lambda v: (v.timestamp, v.movie_id)  # noqa: E731
    return Split(sorted(test_train, key=order), test_out), Split(sorted(valid_train, key=order), valid_out)


async def build_database(path: Path, movies: Iterable[Movie], votes: Iterable[RatingEvent]) -> None:
    """A fresh Showbot database holding the movies as catalog items and the votes of one server."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    async with open_database(path) as db, db.transaction() as tx:
        genre_ids: dict[str, int] = {}
        show_rows, genre_rows = [], []
        for movie in movies:
            premiered = f"{movie.year:04d}-01-01" if movie.year else None
            show_rows.append((movie.movie_id, movie.title, normalise(movie.title), premiered, "movielens", now))
            for genre in movie.genres:
                genre_ids.setdefault(genre, len(genre_ids) + 1)
                genre_rows.append((movie.movie_id, genre_ids[genre]))
        await tx.executemany(
            "INSERT INTO shows (id, title, title_norm, premiered, source, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            show_rows,
        )
        await tx.executemany("INSERT INTO genres (id, name) VALUES (?, ?)", [(i, g) for g, i in genre_ids.items()])
        await tx.executemany("INSERT INTO show_genres (show_id, genre_id) VALUES (?, ?)", genre_rows)
        await tx.executemany(
            "INSERT INTO votes (guild_id, user_id, show_id, value, source, updated_at)"
            " VALUES (?, ?, ?, ?, 'import', ?)",
            [
                (GUILD_ID, v.user_id, v.movie_id, v.value, datetime.fromtimestamp(v.timestamp, UTC).isoformat())
                for v in votes
            ],
        )


def votes_by_user(train: Sequence[RatingEvent]) -> dict[int, dict[int, int]]:
    """Each member's votes, {movie: value}, in the order given."""
    votes: dict[int, dict[int, int]] = {}
    for vote in train:
        votes.setdefault(vote.user_id, {})[vote.movie_id] = vote.value
    return votes
