"""The most central image of each group of the 2-D openTSNE map (as `central-tsne`), the groups found by cutting
the map into many small k-means cells (CELLS_PER_PICK per image to pick) and merging neighbouring cells by Ward
linkage until there are as many groups as images to pick.

k-means with one cluster per pick spends picks on the largest islands and merges the smallest: on a synthetic map of
10 islands of 100 to 6,000 points it kept 9, 10 and 8 of them on k-means seeds 0-2, the merged cells 10 each time
(cells count alike however many images they hold). On MNIST maps: docs/selection.md. No label is read."""
from __future__ import annotations

import numpy as np

from mnistlab.selection.embedding import tsne_map
from mnistlab.selection.rule import Pool, register_rule
from mnistlab.selection.rules.typical import MAX_PICKS

CELLS_PER_PICK = 10  # 10 per pick kept every digit on the search maps; 20 lost one on one map
MAX_CELLS = 4000  # Ward linkage holds a cells x cells distance matrix (4000: 128 MB)


@register_rule("ward-tsne", label="central (merged cells, t-SNE map)", max_count=MAX_PICKS)
def central_of_merged_cells(pool: Pool) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering, KMeans

    features = tsne_map(pool.images, pool.seed)
    cells = max(pool.count, min(CELLS_PER_PICK * pool.count, MAX_CELLS, len(features)))
    # full k-means, one start: mini-batch k-means cells lost a digit on two of ten maps where these kept all
    cells_fit = KMeans(cells, n_init=1, random_state=pool.seed).fit(features)
    cell_of, centres = cells_fit.labels_, cells_fit.cluster_centers_
    if cells == pool.count:  # nothing to merge: a pool as small as the count
        group_of = cell_of
    else:
        group_of = AgglomerativeClustering(pool.count, linkage="ward").fit_predict(centres)[cell_of]
    picked: list[int] = []
    for g in range(pool.count):
        members = np.flatnonzero(group_of == g)
        if len(members) == 0:  # a group whose cells k-means left empty: the images not yet picked
            members = np.setdiff1d(np.arange(len(features)), picked)
        centre = features[members].mean(0)
        picked.append(int(members[np.argmin(((features[members] - centre) ** 2).sum(1))]))
    return np.array(picked, dtype=np.int64)
