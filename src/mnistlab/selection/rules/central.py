"""The most central image of each cluster: k-means on the 2-D openTSNE map of the deskewed features (as
`typical-tsne`), with as many clusters as images to pick, and in each cluster the image nearest its centre.

Density (TypiClust's typicality) is drawn to the map's tightest knots, and a cluster that holds a fragment of
the very dense 1s then offers a 1 as its most typical image: on the search seeds' maps the centre kept one
image per digit where the densest point did not (docs/selection.md). No label is read."""
from __future__ import annotations

import numpy as np

from mnistlab.selection.embedding import tsne_map
from mnistlab.selection.rule import Pool, register_rule
from mnistlab.selection.rules.typical import MAX_PICKS, clusters_of


@register_rule("central-tsne", label="central (k-means centres, t-SNE map)", max_count=MAX_PICKS)
def central_on_a_map(pool: Pool) -> np.ndarray:
    features = tsne_map(pool.images, pool.seed)
    assignment, centres = clusters_of(features, pool.count, pool.seed)
    picked: list[int] = []
    for c in range(pool.count):
        members = np.flatnonzero(assignment == c)
        members = members if len(members) else np.setdiff1d(np.arange(len(features)), picked)
        picked.append(int(members[np.argmin(((features[members] - centres[c]) ** 2).sum(1))]))
    return np.array(picked, dtype=np.int64)
