"""The pieces the pseudo-labelling methods share: the labelled loss on a weak view, confident hard labels from a
weak view of the unlabelled images, and the cross-entropy kept only where the label was confident."""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from mnistlab.data.augment import weak_view
from mnistlab.training.semi.registry import SemiBatch


def supervised(batch: SemiBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of the labelled batch's weak view, and its logits (for the labelled accuracy)."""
    logits = batch.model(batch.normalize(weak_view(batch.labelled_x, batch.generator)))
    return labelled_loss(logits, batch), logits


def labelled_loss(logits: torch.Tensor, batch: SemiBatch) -> torch.Tensor:
    """Cross-entropy of the labelled batch's logits against its labels (with the run's label smoothing)."""
    return F.cross_entropy(logits, batch.labelled_y, label_smoothing=batch.label_smoothing)


@torch.no_grad()  # a pseudo-label is a target: no gradient through it (and half the backward work)
def confident_labels(judge: nn.Module, batch: SemiBatch, threshold: float,
                     adjust: Callable[[torch.Tensor], torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(hard labels, 0/1 mask of those at or above `threshold`) from `judge` on a weak view of the pool batch."""
    return confident(judge(batch.normalize(weak_view(batch.unlabelled_x, batch.generator))), threshold, adjust)


@torch.no_grad()
def confident(logits: torch.Tensor, threshold: float,
              adjust: Callable[[torch.Tensor], torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(hard labels, 0/1 mask of those at or above `threshold`) from logits of weak views, detached."""
    probs = torch.softmax(logits.detach().float(), dim=1)
    if adjust is not None:
        probs = adjust(probs)
    confidence, labels = probs.max(dim=1)
    return labels, (confidence >= threshold).float()


def masked_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the whole batch of the cross-entropy where mask is 1 (FixMatch's normalisation)."""
    return (F.cross_entropy(logits, labels, reduction="none") * mask).mean()
