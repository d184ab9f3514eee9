"""Per-class subsets and train/val splits, drawn exactly as the course notebook draws them."""
from __future__ import annotations

import numpy as np
import torch


def balanced_subset(labels: np.ndarray, counts: list[int], seed: int) -> np.ndarray:
    """Indices with counts[c] examples of class c, drawn as the notebook does (NumPy generator)."""
    rng = np.random.default_rng(seed)
    picked: list[int] = []
    for c in range(len(counts)):
        idxs = np.where(labels == c)[0]
        rng.shuffle(idxs)
        picked.extend(idxs[:counts[c]])
    chosen = np.array(picked, dtype=np.int64)
    rng.shuffle(chosen)
    return chosen


def split_train_val(chosen: np.ndarray, labels: np.ndarray, val_split: float, seed: int,
                    stratified: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Train/val indices. Default: the notebook's random_split (seeded randperm, train first).

    stratified=True splits each class in the same proportion, so that an imbalanced subset keeps a
    validation set with the same class profile.
    """
    generator = torch.Generator().manual_seed(seed)
    if not stratified:
        n_val = int(val_split * len(chosen))
        perm = torch.randperm(len(chosen), generator=generator).numpy()
        return chosen[perm[:len(chosen) - n_val]], chosen[perm[len(chosen) - n_val:]]
    train_parts, val_parts = [], []
    for c in range(int(labels.max()) + 1):
        members = chosen[labels[chosen] == c]
        perm = torch.randperm(len(members), generator=generator).numpy()
        n_val = int(round(val_split * len(members)))
        train_parts.append(members[perm[n_val:]])
        val_parts.append(members[perm[:n_val]])
    train, val = np.concatenate(train_parts), np.concatenate(val_parts)
    return train[torch.randperm(len(train), generator=generator).numpy()], val


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N,28,28] -> float32 [N,1,28,28] in [0, 1], as ToTensor() gives."""
    return images.unsqueeze(1).float().div_(255.0)
