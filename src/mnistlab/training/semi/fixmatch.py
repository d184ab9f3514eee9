"""FixMatch (Sohn et al. 2020): the model's confident prediction on a weak view of an unlabelled image becomes
the hard label its strong view is trained on; below the confidence threshold the image is left out.

Options beyond the paper's defaults (off unless set): `teacher=1` takes the prediction from the EMA weights
instead of the live ones; `align=1` applies distribution alignment (Berthelot et al. 2020, ReMixMatch): the
predicted class distribution is divided by its running mean over recent batches and renormalised, so that no
class swallows the pseudo-labels; `cutout` is the side of the strong view's square."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from mnistlab.data.augment import strong_view, weak_view
from mnistlab.training.semi.registry import SemiBatch, register_method

ALIGN_MOMENTUM = 0.999  # the running mean of predictions spans ~1,000 batches


def aligned(probs: torch.Tensor, state: dict) -> torch.Tensor:
    """Distribution alignment towards the uniform class prior (a balanced labelled draw)."""
    mean = probs.mean(0)
    running = state.get("mean_probs")
    state["mean_probs"] = mean if running is None else ALIGN_MOMENTUM * running + (1 - ALIGN_MOMENTUM) * mean
    out = probs / state["mean_probs"].clamp_min(1e-6)
    return out / out.sum(1, keepdim=True)


@register_method("fixmatch", label="FixMatch", settings={"threshold": 0.95, "lambda_u": 1.0, "teacher": 0.0,
                                                         "align": 0.0, "cutout": 12.0})
def fixmatch(batch: SemiBatch, settings: dict) -> tuple[torch.Tensor, dict]:
    model, norm, gen = batch.model, batch.normalize, batch.generator
    logits_l = model(norm(weak_view(batch.labelled_x, gen)))
    supervised = F.cross_entropy(logits_l, batch.labelled_y, label_smoothing=batch.label_smoothing)
    with torch.no_grad():  # the pseudo-label is a target: no gradient through it (and half the backward work)
        judge = batch.teacher if settings["teacher"] else model
        probs = torch.softmax(judge(norm(weak_view(batch.unlabelled_x, gen))).float(), dim=1)
        if settings["align"]:
            probs = aligned(probs, batch.state)
        confidence, pseudo = probs.max(dim=1)
        mask = (confidence >= settings["threshold"]).float()
    strong = strong_view(batch.unlabelled_x, gen, cutout_size=int(settings["cutout"]))
    logits_s = model(norm(strong))
    unsupervised = (F.cross_entropy(logits_s, pseudo, reduction="none") * mask).mean()
    loss = supervised + settings["lambda_u"] * unsupervised
    return loss, {"mask_rate": mask.mean(), "labelled_logits": logits_l}
