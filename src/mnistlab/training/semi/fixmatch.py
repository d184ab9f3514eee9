"""FixMatch (Sohn et al. 2020): the model's confident prediction on a weak view of an unlabelled image becomes
the hard label its strong view is trained on; below the confidence threshold the image is left out."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from mnistlab.data.augment import strong_view, weak_view
from mnistlab.training.semi.registry import SemiBatch, register_method


@register_method("fixmatch", label="FixMatch", settings={"threshold": 0.95, "lambda_u": 1.0})
def fixmatch(batch: SemiBatch, settings: dict) -> tuple[torch.Tensor, dict]:
    model, norm, gen = batch.model, batch.normalize, batch.generator
    logits_l = model(norm(weak_view(batch.labelled_x, gen)))
    supervised = F.cross_entropy(logits_l, batch.labelled_y, label_smoothing=batch.label_smoothing)
    with torch.no_grad():  # the pseudo-label is a target: no gradient through it (and half the backward work)
        probs = torch.softmax(model(norm(weak_view(batch.unlabelled_x, gen))).float(), dim=1)
        confidence, pseudo = probs.max(dim=1)
        mask = (confidence >= settings["threshold"]).float()
    logits_s = model(norm(strong_view(batch.unlabelled_x, gen)))
    unsupervised = (F.cross_entropy(logits_s, pseudo, reduction="none") * mask).mean()
    loss = supervised + settings["lambda_u"] * unsupervised
    return loss, {"mask_rate": mask.mean(), "labelled_logits": logits_l}
