"""Pseudo-labelling (Lee 2013), the plain baseline: the model's confident prediction on an unlabelled image is
its label, trained on another view of the same kind (weak only: no strong augmentation, no consistency between
views), its weight ramped up over the first part of training as in the paper."""
from __future__ import annotations

import torch

from mnistlab.data.augment import weak_view
from mnistlab.training.semi.losses import confident_labels, masked_cross_entropy, supervised
from mnistlab.training.semi.registry import Number, SemiBatch, register_method


@register_method("pseudolabel", label="Pseudo-label", settings={
    "threshold": Number(0.95, 0.0, 1.0), "lambda_u": Number(1.0, 0.0), "rampup": Number(0.2, 0.0, 1.0)})
def pseudolabel(batch: SemiBatch, settings: dict) -> tuple[torch.Tensor, dict]:
    supervised_loss, logits_l = supervised(batch)
    pseudo, mask = confident_labels(batch.model, batch, settings["threshold"])
    logits_u = batch.model(batch.normalize(weak_view(batch.unlabelled_x, batch.generator)))
    unsupervised = masked_cross_entropy(logits_u, pseudo, mask)
    ramp = min(1.0, batch.step / max(1.0, settings["rampup"] * batch.steps))
    loss = supervised_loss + settings["lambda_u"] * ramp * unsupervised
    return loss, {"mask_rate": mask.mean(), "labelled_logits": logits_l}
