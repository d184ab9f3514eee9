"""FixMatch (Sohn et al. 2020): the model's confident prediction on a weak view of an unlabelled image becomes
the hard label its strong view is trained on; below the confidence threshold the image is left out.

Options beyond the paper's defaults (off unless set): `teacher=1` takes the prediction from the EMA weights
instead of the live ones; `align=1` applies distribution alignment (Berthelot et al. 2020, ReMixMatch): the
predicted class distribution is divided by its running mean over recent batches and renormalised, so that no
class swallows the pseudo-labels; `cutout` is the side of the strong view's square; `joint=1` passes the labelled
batch and both views of the unlabelled one through the model in one forward pass, as the paper's code does, so
that batch norm normalises them with shared statistics (the pseudo-labels are still detached targets)."""
from __future__ import annotations

import torch

from mnistlab.data.augment import strong_view, weak_view
from mnistlab.training.semi.losses import confident, confident_labels, labelled_loss, masked_cross_entropy, supervised
from mnistlab.training.semi.registry import Number, SemiBatch, register_method

ALIGN_MOMENTUM = 0.999  # the running mean of predictions spans ~1,000 batches


def aligned(probs: torch.Tensor, state: dict) -> torch.Tensor:
    """Distribution alignment towards the uniform class prior (a balanced labelled draw)."""
    mean = probs.mean(0)
    running = state.get("mean_probs")
    state["mean_probs"] = mean if running is None else ALIGN_MOMENTUM * running + (1 - ALIGN_MOMENTUM) * mean
    out = probs / state["mean_probs"].clamp_min(1e-6)
    return out / out.sum(1, keepdim=True)


@register_method("fixmatch", label="FixMatch", settings={
    "threshold": Number(0.95, 0.0, 1.0), "lambda_u": Number(1.0, 0.0), "teacher": Number(0.0, switch=True),
    "align": Number(0.0, switch=True), "cutout": Number(12.0, 0.0, 28.0), "joint": Number(0.0, switch=True)})
def fixmatch(batch: SemiBatch, settings: dict) -> tuple[torch.Tensor, dict]:
    if settings["joint"]:
        return _joint(batch, settings)
    supervised_loss, logits_l = supervised(batch)
    judge = batch.teacher if settings["teacher"] else batch.model
    adjust = (lambda probs: aligned(probs, batch.state)) if settings["align"] else None
    pseudo, mask = confident_labels(judge, batch, settings["threshold"], adjust)
    strong = strong_view(batch.unlabelled_x, batch.generator, cutout_size=int(settings["cutout"]))
    unsupervised = masked_cross_entropy(batch.model(batch.normalize(strong)), pseudo, mask)
    loss = supervised_loss + settings["lambda_u"] * unsupervised
    return loss, {"mask_rate": mask.mean(), "labelled_logits": logits_l}


def _joint(batch: SemiBatch, settings: dict) -> tuple[torch.Tensor, dict]:
    """FixMatch with one forward pass over [labelled weak | unlabelled weak | unlabelled strong]; the views are
    drawn in the same order as the separate passes draw them."""
    weak_l = weak_view(batch.labelled_x, batch.generator)
    weak_u = weak_view(batch.unlabelled_x, batch.generator)
    strong = strong_view(batch.unlabelled_x, batch.generator, cutout_size=int(settings["cutout"]))
    sizes = [len(weak_l), len(weak_u), len(strong)]
    logits_l, logits_w, logits_s = batch.model(batch.normalize(torch.cat([weak_l, weak_u, strong]))).split(sizes)
    with torch.no_grad():
        judged = batch.teacher(batch.normalize(weak_u)) if settings["teacher"] else logits_w
    adjust = (lambda probs: aligned(probs, batch.state)) if settings["align"] else None
    pseudo, mask = confident(judged, settings["threshold"], adjust)
    loss = labelled_loss(logits_l, batch) + settings["lambda_u"] * masked_cross_entropy(logits_s, pseudo, mask)
    return loss, {"mask_rate": mask.mean(), "labelled_logits": logits_l}
