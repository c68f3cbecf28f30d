"""Why a show is recommended: the reason kinds, `Recommendation` (a show, its score and a short human reason) and
the choice of the reason from the signal that contributed most."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.common.i18n import _

if TYPE_CHECKING:
    from bot.recommend.catalog_view import Catalog
    from bot.recommend.signals import ScoredCandidate
    from bot.recommend.weights import Weights


class ReasonKind(StrEnum):
    YOU_LIKED = "you_liked"
    MEMBERS_WHO_LIKE = "members_who_like"
    NEW_IN_GENRE = "new_in_genre"
    SERVER_POPULAR = "server_popular"
    BEST_KNOWN = "best_known"
    SIMILAR_CONTENT = "similar_content"
    COVOTED = "covoted"


@dataclass(frozen=True, slots=True)
class Recommendation:
    show_id: int
    title: str
    score: float
    reason: str  # short and human: "because you liked Seven Seconds"
    reason_kind: ReasonKind
    because_show_id: int | None = None  # the show the reason names, when it names one


def explain(
    catalog: Catalog, candidate: ScoredCandidate, score: float, votes: dict[int, int], weights: Weights
) -> Recommendation:
    """A member's pick with the reason of the signal that contributed most to its score."""
    show_id = candidate.show_id
    title = catalog.title(show_id)
    parts = {
        ReasonKind.MEMBERS_WHO_LIKE: weights.collaborative * candidate.collaborative,
        ReasonKind.YOU_LIKED: weights.content * candidate.content,
        ReasonKind.SERVER_POPULAR: weights.popularity * candidate.popularity,
        ReasonKind.BEST_KNOWN: weights.catalog * candidate.catalog,
    }
    if candidate.new_release:
        return Recommendation(show_id, title, score, _("new this week, in a genre you like"), ReasonKind.NEW_IN_GENRE)
    kind = max(parts, key=lambda k: parts[k])
    if kind is ReasonKind.MEMBERS_WHO_LIKE and candidate.cf_source is not None and parts[kind] > 0:
        source = candidate.cf_source
        return Recommendation(
            show_id, title, score, _("popular with members who like {title}", title=catalog.title(source)), kind, source
        )
    if kind is ReasonKind.YOU_LIKED and parts[kind] > 0:
        liked = _closest_liked(catalog, show_id, votes, weights.recent_votes)
        if liked is not None:
            reason = _("because you liked {title}", title=catalog.title(liked))
            return Recommendation(show_id, title, score, reason, kind, liked)
    if candidate.popularity > 0 and parts[ReasonKind.SERVER_POPULAR] >= parts[ReasonKind.BEST_KNOWN]:
        return Recommendation(show_id, title, score, _("popular in this server"), ReasonKind.SERVER_POPULAR)
    return Recommendation(show_id, title, score, _("one of the best-known shows"), ReasonKind.BEST_KNOWN)


def _closest_liked(catalog: Catalog, show_id: int, votes: dict[int, int], recent_votes: int) -> int | None:
    """The member's liked show (among the `recent_votes` most recent) most similar in content to show_id."""
    target = catalog.vector(show_id)
    best, best_score = None, 0.0
    for show_i, value_i in list(votes.items())[-recent_votes:]:
        if value_i <= 0:
            continue
        score = sum(value * target.get(feature, 0.0) for feature, value in catalog.vector(show_i).items())
        if score > best_score:
            best, best_score = show_i, score
    return best


def explain_for_server(catalog: Catalog, candidate: ScoredCandidate, score: float, weights: Weights) -> Recommendation:
    """A server's pick: new this week in a genre the server likes, co-liked with one of its favourites, or else the
    reason a member's pick would have."""
    if candidate.new_release:
        return Recommendation(
            candidate.show_id,
            catalog.title(candidate.show_id),
            score,
            _("new this week, in a genre this server likes"),
            ReasonKind.NEW_IN_GENRE,
        )
    if candidate.collaborative > 0 and candidate.cf_source is not None:
        source = candidate.cf_source
        reason = _("popular with members who like {title}", title=catalog.title(source))
        return Recommendation(
            candidate.show_id,
            catalog.title(candidate.show_id),
            score,
            reason,
            ReasonKind.MEMBERS_WHO_LIKE,
            source,
        )
    return explain(catalog, candidate, score, {}, weights)


def content_reason(catalog: Catalog, show_id: int, other: int) -> str:
    """Why `other` is like `show_id` in content: a shared creator, shared cast, shared genres or the story."""
    shared = set(catalog.shows[show_id].features).intersection(catalog.shows[other].features)
    kinds = {feature.split(":", 1)[0] for feature in shared}
    if "creator" in kinds:
        return _("from the same creator")
    if "cast" in kinds:
        return _("shares cast members")
    genres = sorted(catalog.shows[show_id].genres & catalog.shows[other].genres)
    if genres:
        return _("also {genres}", genres=", ".join(genres[:2]))
    return _("similar story")
