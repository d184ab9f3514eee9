"""A dataset resident on the device: the test set once, and each config's train/val split cut from it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mnistlab.config import RunConfig, class_counts
from mnistlab.data.mnist import MEAN, STD, Mnist, balanced_subset, normalize, split_train_val, to_float


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

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return normalize(x, self.mean, self.std)


class ResidentData:
    """The test set resident on the device, and per-config train/val splits cut from the training set."""

    def __init__(self, mnist: Mnist, device: torch.device):
        self.mnist, self.device, self.spec = mnist, device, mnist.spec
        self.test_raw = to_float(mnist.test_images).to(device)
        self.test_x = self.normalize(self.test_raw)
        self.test_y = mnist.test_labels.to(device)
        self._labels_np = mnist.train_labels.numpy()

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return normalize(x, spec=self.spec)

    def split(self, cfg: RunConfig) -> Split:
        counts = class_counts(cfg)
        chosen = balanced_subset(self._labels_np, counts, cfg.seed)
        train_idx, val_idx = split_train_val(chosen, self._labels_np, cfg.val_split, cfg.seed,
                                             stratified=bool(cfg.imbalance))
        images, labels = self.mnist.train_images, self.mnist.train_labels
        as_t = torch.from_numpy
        return Split(train_x=to_float(images[as_t(train_idx)]).to(self.device),
                     train_y=labels[as_t(train_idx)].to(self.device),
                     val_x=self.normalize(to_float(images[as_t(val_idx)])).to(self.device),
                     val_y=labels[as_t(val_idx)].to(self.device), train_idx=train_idx,
                     mean=self.spec.mean, std=self.spec.std)


DeviceData = ResidentData  # the name earlier releases used
