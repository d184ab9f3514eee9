"""The two random draws: the notebook's balanced one (it reads the labels to balance the classes) and its fair
label-free counterpart, the same number of images drawn uniformly from the whole pool."""
from __future__ import annotations

import numpy as np

from mnistlab.data.splits import balanced_subset
from mnistlab.selection.rule import Pool, register_rule


@register_rule("random", label="random (balanced)", uses_labels=True)
def balanced(pool: Pool) -> np.ndarray:
    assert pool.labels is not None
    return balanced_subset(pool.labels, list(pool.class_counts), pool.seed)


@register_rule("random-any", label="random (any class)")
def any_class(pool: Pool) -> np.ndarray:
    return np.random.default_rng(pool.seed).choice(len(pool.images), size=pool.count, replace=False)
