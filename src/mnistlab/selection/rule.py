"""A selection rule: a name, a label, and a function that picks which training images get labelled.

A label-free rule is called with the pool's images only (uint8 [N, 28, 28]), the number of images to pick and
a seed; it never receives a label, so it cannot balance classes: the run records how many of each class it got.
The notebook's balanced draw is the one rule that reads labels (`uses_labels`), and the default.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mnistlab.errors import ConfigError
from mnistlab.registry import Registry

FLAG = "--select"


@dataclass(frozen=True)
class Pool:
    """What a rule is given: the training images, how many to pick, the seed; labels only for a rule that
    declares it uses them (the balanced draw), None for every other."""

    images: np.ndarray
    count: int
    seed: int
    class_counts: tuple[int, ...] = ()
    labels: np.ndarray | None = None


@dataclass(frozen=True)
class SelectionRule:
    name: str
    label: str
    pick: Callable[[Pool], np.ndarray]
    uses_labels: bool = False
    max_count: int | None = None  # the most images the rule can pick (its cost grows with the count)
    source_file: str = ""
    source_sha256: str = ""


RULES: Registry[SelectionRule] = Registry("selection rule", FLAG)


def register_rule(name: str, *, label: str, uses_labels: bool = False,
                  max_count: int | None = None) -> Callable:
    """Decorator: register `fn(pool) -> indices` as the selection rule `name`."""
    def wrap(fn: Callable[[Pool], np.ndarray]) -> Callable[[Pool], np.ndarray]:
        RULES.register(name, SelectionRule(name, label, fn, uses_labels, max_count))
        return fn
    return wrap


def checked_indices(rule: SelectionRule, picked, pool: Pool) -> np.ndarray:
    """The rule's answer as int64 indices, or one line naming what is wrong with it (a user's rule is held to it)."""
    what = f"{FLAG} {rule.name}"
    try:
        idx = np.asarray(picked)
    except Exception:  # noqa: BLE001 - whatever the rule returned
        raise ConfigError(f"{what}: returned {type(picked).__name__}, expected an array of image indices") from None
    if idx.ndim != 1 or not (np.issubdtype(idx.dtype, np.integer) or idx.size == 0):
        raise ConfigError(f"{what}: returned {idx.dtype} of shape {idx.shape}, expected a 1-D array of integer "
                          "indices")
    if len(idx) != pool.count:
        raise ConfigError(f"{what}: picked {len(idx)} images, expected {pool.count}")
    if len(idx) and (idx.min() < 0 or idx.max() >= len(pool.images)):
        raise ConfigError(f"{what}: index {int(idx.min() if idx.min() < 0 else idx.max())} is outside the pool's "
                          f"0-{len(pool.images) - 1}")
    if len(np.unique(idx)) != len(idx):
        raise ConfigError(f"{what}: picked some image more than once; give {pool.count} distinct indices")
    return idx.astype(np.int64)
