"""The peers, fitted on the same training upvotes (they have no notion of downvotes) and ranking the whole catalog:
EASE^R (Steck 2019, numpy only, so it always runs) and, from the optional `implicit` library
(`pip install -e .[bench]`), ALS, BPR and item-item cosine and BM25."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bot.recommend.metrics import CUTOFF, Metrics
from bot.recommend.movielens import Split, votes_by_user

SEEDS = (7, 8, 9, 10, 11)  # the stochastic peers are fitted once per seed; tuning uses the first
STOCHASTIC = {"implicit_als", "implicit_bpr"}


def implicit_available() -> bool:
    try:
        import implicit  # noqa: F401
    except ImportError:
        return False
    return True


class UpvoteMatrix:
    """The training upvotes of a split as a users x items matrix (implicit feedback: peers have no downvotes)."""

    def __init__(self, split: Split, item_ids: Sequence[int]) -> None:
        self.item_ids = list(item_ids)
        item_index = {movie_id: index for index, movie_id in enumerate(item_ids)}
        users = sorted({v.user_id for v in split.train} | set(split.held_out))
        self.user_index = {user_id: index for index, user_id in enumerate(users)}
        positives = [(self.user_index[v.user_id], item_index[v.movie_id]) for v in split.train if v.value > 0]
        self.rows = np.array([p[0] for p in positives], dtype=np.int32)
        self.columns = np.array([p[1] for p in positives], dtype=np.int32)
        self.shape = (len(users), len(item_ids))
        self.voted = votes_by_user(split.train)
        self._dense: NDArray[np.float64] | None = None
        self._gram: NDArray[np.float64] | None = None

    def dense(self) -> NDArray[np.float64]:
        """The matrix as 0/1 floats (built once: tuning fits EASE^R on it for every lambda it tries)."""
        if self._dense is None:
            self._dense = np.zeros(self.shape)
            self._dense[self.rows, self.columns] = 1.0
        return self._dense

    def gram(self) -> NDArray[np.float64]:
        """X X' (users x users), which does not depend on EASE^R's lambda: computed once. Its entries are counts of
        shared items, exact in floating point, so it is the same matrix as one computed afresh."""
        if self._gram is None:
            dense = self.dense()
            self._gram = dense @ dense.T
        return self._gram

    def sparse(self) -> Any:
        """A scipy CSR matrix, for implicit (which brings scipy)."""
        from scipy.sparse import csr_matrix

        data = np.ones(len(self.rows), dtype=np.float32)
        return csr_matrix((data, (self.rows, self.columns)), shape=self.shape)


def rank_peer(name: str, params: dict[str, float], matrix: UpvoteMatrix, split: Split, seed: int) -> Metrics:
    """Fit one peer on the split's training upvotes and rank the whole catalog minus each member's votes."""
    eval_users = list(split.held_out)
    indices = np.array([matrix.user_index[u] for u in eval_users], dtype=np.int32)
    metrics = Metrics()
    if name == "ease":
        scores = _ease_scores(matrix.dense(), matrix.gram(), indices, params["lambda_"])
        rankings = _top_unseen(scores, [matrix.voted.get(u, {}) for u in eval_users], matrix.item_ids)
    else:
        from threadpoolctl import threadpool_limits  # implicit's own dependency

        model = _implicit_model(name, params, seed)
        sparse = matrix.sparse()
        depth = CUTOFF + max(len(matrix.voted.get(u, {})) for u in eval_users)
        # implicit asks for BLAS's own thread pool to be off (its fits call BLAS on small per-user blocks, where
        # OpenBLAS's threads spin rather than help: CPU time burnt on the other core for nothing).
        with threadpool_limits(1, "blas"):
            model.fit(sparse, show_progress=False)
            rankings, _ = model.recommend(
                indices, sparse[indices].tocsr(), N=min(depth, len(matrix.item_ids)), filter_already_liked_items=True
            )
    for row, user_id in zip(rankings, eval_users, strict=True):
        seen = matrix.voted.get(user_id, {})
        ranked = []
        for index in row:
            if index >= 0 and matrix.item_ids[index] not in seen:
                ranked.append(matrix.item_ids[index])
                if len(ranked) == CUTOFF:
                    break
        metrics.add(ranked, split.held_out[user_id])
    return metrics


def _implicit_model(name: str, params: dict[str, float], seed: int) -> Any:
    from implicit.als import AlternatingLeastSquares
    from implicit.bpr import BayesianPersonalizedRanking
    from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

    if name == "implicit_als":
        return AlternatingLeastSquares(
            factors=int(params["factors"]), regularization=params["regularization"], alpha=params["alpha"],
            iterations=int(params["iterations"]), random_state=seed, num_threads=1,
        )  # fmt: skip
    if name == "implicit_bpr":
        return BayesianPersonalizedRanking(
            factors=int(params["factors"]), learning_rate=params["learning_rate"],
            regularization=params["regularization"], iterations=int(params["iterations"]), random_state=seed,
            num_threads=1,
        )  # fmt: skip
    if name == "implicit_item_cosine":
        return CosineRecommender(K=int(params["K"]))
    return BM25Recommender(K=int(params["K"]))


def _top_unseen(
    scores: NDArray[np.float64], seen: Sequence[dict[int, int]], item_ids: Sequence[int]
) -> NDArray[np.intp]:
    """Per row, the CUTOFF best items the member has not voted on, best first, ties to the lower index: the same
    items, in the same order, as the head of a stable argsort of -scores once the seen items are skipped, without
    sorting the whole catalog for every member."""
    item_index = {item: index for index, item in enumerate(item_ids)}
    masked = scores.copy()
    for row, voted in enumerate(seen):
        masked[row, [item_index[item] for item in voted if item in item_index]] = -np.inf
    rankings = np.empty((len(masked), min(CUTOFF, masked.shape[1])), dtype=np.intp)
    for row, values in enumerate(masked):
        # Every item at least as good as the CUTOFF-th best (ties and all), then ordered by score and index.
        threshold = np.partition(values, len(values) - rankings.shape[1])[len(values) - rankings.shape[1]]
        found = np.flatnonzero(values >= threshold)
        rankings[row] = found[np.lexsort((found, -values[found]))][: rankings.shape[1]]
    return rankings


def _ease_scores(
    dense: NDArray[np.float64], gram: NDArray[np.float64], users: NDArray[np.int32], lambda_: float
) -> NDArray[np.float64]:
    """EASE^R (Steck 2019): B = I - P / diag(P) with P = (X'X + lambda I)^-1, scores X B, diagonal of B zero.
    With far fewer users than items, P comes from the users x users matrix by the Woodbury identity:
    X P = K X and diag(P) = (1 - colsum(X * K X)) / lambda, where K = (X X' + lambda I)^-1 (gram is X X')."""
    inverse = np.linalg.inv(gram + lambda_ * np.eye(dense.shape[0]))
    spread = inverse @ dense  # X P
    diagonal = (1.0 - (dense * spread).sum(axis=0)) / lambda_
    scores: NDArray[np.float64] = dense[users] - spread[users] / diagonal[None, :]
    return scores
