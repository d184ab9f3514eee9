"""A dataset resident on the device: the test set once, and each config's train/val split cut from it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mnistlab.config import RunConfig, class_counts
from mnistlab.data.loader import LoadedDataset
from mnistlab.data.mnist import MEAN, STD, normalize
from mnistlab.data.splits import balanced_subset, split_train_val, to_float
from mnistlab.errors import ConfigError


@dataclass
class Split:
    """One config's training pool cut in two: raw train pixels in [0, 1] (augmentation acts on those),
    normalized validation images, labels, and the training indices into the full training set."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    train_idx: np.ndarray | None
    mean: float = MEAN  # the dataset's normalisation, applied to each (augmented) training batch
    std: float = STD
    unlabelled_x: torch.Tensor | None = None  # semi-supervised runs: uint8 images [N, 1, 28, 28], no labels

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return normalize(x, self.mean, self.std)


def split_indices(labels: np.ndarray, cfg: RunConfig, num_classes: int = 10,
                  chosen: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation indices of a config, as the notebook draws them; without early stopping the
    whole pool trains and there is no validation. A split that leaves a class with no training image, or no
    validation at all, is refused: such a run could not learn that class, nor stop early.

    `chosen`: the labelled images a selection rule picked instead of the balanced draw; a rule cannot balance
    classes, so a class it missed is what its run records, not a refusal."""
    picked_by_rule = chosen is not None
    if chosen is None:
        chosen = balanced_subset(labels, class_counts(cfg), cfg.seed)
    if not cfg.early_stopping:
        return chosen, chosen[:0]
    train_idx, val_idx = split_train_val(chosen, labels, cfg.val_split, cfg.seed, stratified=bool(cfg.imbalance))
    missing = [] if picked_by_rule else sorted(set(range(num_classes)) - set(labels[train_idx].tolist()))
    if missing or len(val_idx) == 0:
        why = (f"leaves class {missing[0]} with no training image" if missing else "leaves no validation image")
        raise ConfigError(f"--samples-per-class {cfg.samples_per_class}: the --val-split {cfg.val_split} of seed "
                          f"{cfg.seed} {why}; use more samples, or --no-early-stopping to train a fixed --epochs "
                          "on the whole pool without validation")
    return train_idx, val_idx


def check_splits(mnist: LoadedDataset, cfgs) -> None:
    """ConfigError for the first config whose split cannot train (see split_indices), before any run starts."""
    labels = mnist.train_labels.numpy()
    draws = {(c.samples_per_class, c.seed, c.val_split, c.imbalance, c.early_stopping): c for c in cfgs
             if c.select == "random"}  # a rule's pick is checked when its run draws it (its count, by the job)
    for cfg in draws.values():  # the models of one cell share their draw
        split_indices(labels, cfg, mnist.spec.num_classes)


def unlabelled_indices(num_train: int, chosen: np.ndarray, count: int, seed: int) -> np.ndarray:
    """The first `count` of a seeded permutation of every training index outside the labelled draw `chosen`.

    Only indices: the caller gathers images, never labels, from them."""
    outside = np.setdiff1d(np.arange(num_train), chosen, assume_unique=False)
    order = torch.randperm(len(outside), generator=torch.Generator().manual_seed(seed)).numpy()
    return outside[order[:count]]


class ResidentData:
    """The test set resident on the device, and per-config train/val splits cut from the training set."""

    def __init__(self, mnist: LoadedDataset, device: torch.device):
        self.mnist, self.device, self.spec = mnist, device, mnist.spec
        self.test_raw = to_float(mnist.test_images).to(device)
        self.test_x = self.normalize(self.test_raw)
        self.test_y = mnist.test_labels.to(device)
        self._labels_np = mnist.train_labels.numpy()

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return normalize(x, spec=self.spec)

    def split(self, cfg: RunConfig, chosen: np.ndarray | None = None) -> Split:
        """The config's split, of `chosen` (a selection rule's labelled images) where given."""
        train_idx, val_idx = split_indices(self._labels_np, cfg, self.spec.num_classes, chosen)
        images, labels = self.mnist.train_images, self.mnist.train_labels
        as_t = torch.from_numpy
        unlabelled = None
        if cfg.unlabeled:
            chosen = np.concatenate([train_idx, val_idx])
            pool = unlabelled_indices(len(images), chosen, int(cfg.unlabeled), cfg.seed)
            unlabelled = images[as_t(pool)].unsqueeze(1).to(self.device)  # uint8: a quarter of float32's memory
        return Split(train_x=to_float(images[as_t(train_idx)]).to(self.device),
                     train_y=labels[as_t(train_idx)].to(self.device),
                     val_x=self.normalize(to_float(images[as_t(val_idx)])).to(self.device),
                     val_y=labels[as_t(val_idx)].to(self.device), train_idx=train_idx,
                     mean=self.spec.mean, std=self.spec.std, unlabelled_x=unlabelled)

