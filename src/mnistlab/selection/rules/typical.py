"""TypiClust (Hacohen et al., ICML 2022): cluster an embedding of the pool into as many clusters as images to pick
and label the most typical image of each, typicality being the inverse mean distance to its 20 nearest neighbours
within its cluster. No label is read; the embedding is the pool's own (selection/embedding.py): deskewed PCA
features (`typical`, seconds) or a 2-D openTSNE map of them (`typical-tsne`, minutes; clusters that follow digits
far more closely)."""
from __future__ import annotations

import numpy as np

from mnistlab.selection.embedding import embed, tsne_map
from mnistlab.selection.rule import Pool, register_rule

NEIGHBOURS = 20  # the paper's k for typicality
MAX_PICKS = 2000  # k-means with more clusters than this costs minutes on 2 cores


@register_rule("typical", label="typical (TypiClust)", max_count=MAX_PICKS)
def typical(pool: Pool) -> np.ndarray:
    return most_typical(embed(pool.images, pool.seed), pool.count, pool.seed)


@register_rule("typical-tsne", label="typical (TypiClust, t-SNE map)", max_count=MAX_PICKS)
def typical_on_a_map(pool: Pool) -> np.ndarray:
    return most_typical(tsne_map(pool.images, pool.seed), pool.count, pool.seed)


def most_typical(features: np.ndarray, count: int, seed: int) -> np.ndarray:
    """One image per k-means cluster of `features` (count clusters): the one with the highest typicality."""
    from sklearn.neighbors import NearestNeighbors

    assignment, _ = clusters_of(features, count, seed)
    picked: list[int] = []
    for c in range(count):
        members = np.flatnonzero(assignment == c)
        if len(members) == 0:  # an empty cluster (rare with k-means++): the most typical image not yet picked
            members = np.setdiff1d(np.arange(len(features)), picked)
        k = min(NEIGHBOURS + 1, len(members))
        distances, _ = NearestNeighbors(n_neighbors=k).fit(features[members]).kneighbors(features[members])
        typicality = 1.0 / (distances[:, 1:].mean(1) + 1e-12) if k > 1 else np.ones(len(members))
        picked.append(int(members[np.argmax(typicality)]))
    return np.array(picked, dtype=np.int64)


def clusters_of(features: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """k-means into `count` clusters (mini-batch beyond 50, where full k-means costs minutes): each image's
    cluster, and the centres."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    clusters = (KMeans(count, n_init=3, random_state=seed) if count <= 50
                else MiniBatchKMeans(count, n_init=3, random_state=seed, batch_size=4096))
    return clusters.fit_predict(features), clusters.cluster_centers_
