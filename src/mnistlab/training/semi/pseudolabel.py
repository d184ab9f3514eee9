"""Pseudo-labelling (Lee 2013), the plain baseline: the model's confident prediction on an unlabelled image is
its label, trained on another view of the same kind (weak only: no strong augmentation, no consistency between
views), its weight ramped up over the first part of training as in the paper."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from mnistlab.data.augment import weak_view
from mnistlab.training.semi.registry import SemiBatch, register_method


@register_method("pseudolabel", label="Pseudo-label", settings={"threshold": 0.95, "lambda_u": 1.0, "rampup": 0.2})
def pseudolabel(batch: SemiBatch, settings: dict) -> tuple[torch.Tensor, dict]:
    model, norm, gen = batch.model, batch.normalize, batch.generator
    logits_l = model(norm(weak_view(batch.labelled_x, gen)))
    supervised = F.cross_entropy(logits_l, batch.labelled_y, label_smoothing=batch.label_smoothing)
    with torch.no_grad():
        probs = torch.softmax(model(norm(weak_view(batch.unlabelled_x, gen))).float(), dim=1)
        confidence, pseudo = probs.max(dim=1)
        mask = (confidence >= settings["threshold"]).float()
    logits_u = model(norm(weak_view(batch.unlabelled_x, gen)))
    unsupervised = (F.cross_entropy(logits_u, pseudo, reduction="none") * mask).mean()
    ramp = min(1.0, batch.step / max(1.0, settings["rampup"] * batch.steps))
    loss = supervised + settings["lambda_u"] * ramp * unsupervised
    return loss, {"mask_rate": mask.mean(), "labelled_logits": logits_l}
