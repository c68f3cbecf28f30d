"""A show's content as the recommender compares it: synopsis terms, each feature's TF-IDF weight, and the content
matrix that scores many shows against a member's profile at once. Features are strings ("genre:drama",
"creator:12", "term:detective", ...), built from the catalog by `catalog_view.load_show_infos`."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bot.common.text import normalise

_FEATURE_TYPE_WEIGHT = {"genre": 1.0, "creator": 1.5, "cast": 1.0, "term": 0.6, "network": 0.4, "decade": 0.5}
_TERMS_PER_SHOW = 30
_WORD = re.compile(r"[a-z][a-z']{3,}")
_STOPWORD_TEXT = """
about after again against also among another around because been before being between both cannot could does
doing down during each even every first from further have having here however into itself just last later like
made make many more most much must never next only other over own same season series several show shows since
some still such than that their them then there these they this those through under until upon very want what
when where which while will with within without would year years your
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def synopsis_terms(text: str | None) -> list[str]:
    """Distinct content words of a synopsis, in order of first appearance (at most _TERMS_PER_SHOW)."""
    if not text:
        return []
    seen: dict[str, None] = {}
    # ASCII text needs none of normalise()'s Unicode folding: lower case without apostrophes yields the same words
    # (normalise only adds spaces where the word pattern stops anyway), at a fraction of the cost; a TVmaze
    # bootstrap reads 90,000 synopses.
    plain = text.lower().replace("'", "") if text.isascii() else normalise(text)
    for match in _WORD.findall(plain):
        word = match.strip("'")
        if len(word) >= 4 and word not in _STOPWORDS:
            seen.setdefault(word, None)
            if len(seen) >= _TERMS_PER_SHOW:
                break
    return list(seen)


def feature_weight(feature: str, frequency: int, shows: int) -> float:
    """A feature's TF-IDF weight: its kind's weight times the IDF over the catalog's shows."""
    return _FEATURE_TYPE_WEIGHT.get(feature.split(":", 1)[0], 0.5) * math.log((shows + 1) / (frequency + 1) + 1.0)


@dataclass(slots=True)
class ContentMatrix:
    """Every show's normalised TF-IDF vector (Catalog.vector) as one sparse row-major matrix, for scoring the many
    candidates of a request against a member's profile without a Python loop per feature. Built in a worker thread
    at start-up and after each catalog change (seconds for the 90,000 shows of the TVmaze index); until it is
    current, requests score feature by feature."""

    version: int  # Catalog.version it was built at
    features: dict[str, int]
    rows: dict[int, int]  # show id -> row
    starts: NDArray[np.int64]  # row r's entries are starts[r] : starts[r + 1]
    columns: NDArray[np.int32]
    values: NDArray[np.float64]

    @classmethod
    def of(cls, version: int, shows: Sequence[tuple[int, Sequence[str]]], frequencies: dict[str, int]) -> ContentMatrix:
        """From each show's features and each feature's document frequency (a snapshot of the catalog)."""
        features: dict[str, int] = {}
        rows: dict[int, int] = {}
        weights: dict[str, float] = {}
        starts: list[int] = [0]
        columns: list[int] = []
        values: list[float] = []
        for show_id, show_features in shows:
            rows[show_id] = len(rows)
            row = []
            for feature in show_features:
                weight = weights.get(feature)
                if weight is None:
                    weight = weights[feature] = feature_weight(feature, frequencies.get(feature, 0), len(shows))
                row.append(weight)
                columns.append(features.setdefault(feature, len(features)))
            norm = math.sqrt(sum(weight * weight for weight in row)) or 1.0
            values.extend(weight / norm for weight in row)
            starts.append(len(columns))
        return cls(
            version,
            features,
            rows,
            np.array(starts, np.int64),
            np.array(columns, np.int32),
            np.array(values, np.float64),
        )

    def scores(self, profile: dict[str, float], show_ids: Sequence[int]) -> NDArray[np.float64]:
        dense = np.zeros(len(self.features) + 1)  # the last column stands for features no show has
        for feature, value in profile.items():
            dense[self.features.get(feature, -1)] += value
        dense[-1] = 0.0
        rows = np.array([self.rows.get(show_id, -1) for show_id in show_ids], dtype=np.int64)
        known = rows >= 0
        begin = np.where(known, self.starts[np.where(known, rows, 0)], 0)
        length = np.where(known, self.starts[np.where(known, rows, 0) + 1] - begin, 0)
        owner = np.repeat(np.arange(len(rows)), length)
        entry = np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length) + np.repeat(begin, length)
        products = self.values[entry] * dense[self.columns[entry]]
        result: NDArray[np.float64] = np.bincount(owner, weights=products, minlength=len(rows)).astype(np.float64)
        return result
