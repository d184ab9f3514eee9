"""K models of one architecture trained at once: one vmapped step over stacked weights (torch.func).

For a sweep cell (same everything but the seed), the K models' weights are stacked along a new first
dimension; `vmap(functional_call)` runs all K forward passes as one batched op, the K losses are summed
(their gradients stay separate), and one fused Adam updates the stacks (Adam is elementwise, so each
model gets exactly its own update). Each model keeps its own batches (its seed's randperm of its own
subset), its own early stopping and its own best weights; a model that stops is dropped from the stack
so the rest go on without it. Per model, the result equals training it alone, up to float rounding.
This pays off where one small model cannot fill the device (a GPU); see docs/performance.md.
"""
from __future__ import annotations

import copy
import math
import time

import torch
import torch.nn.functional as F

from mnistlab.config import RunConfig
from mnistlab.data.mnist import normalize
from mnistlab.models.notebook import build_model
from mnistlab.training.solo import Adam, EarlyStopping, FitResult, autocast

BATCHABLE_EXCEPT = ("seed",)


def cell_key(cfg: RunConfig) -> tuple:
    """Configs that agree on everything but the seed can train together."""
    d = cfg.to_dict()
    return tuple((k, str(v)) for k, v in sorted(d.items()) if k not in BATCHABLE_EXCEPT)


def batchable(cfg: RunConfig) -> bool:
    """Random augmentation and oversampling draw per-model random numbers inside the step: trained alone."""
    return cfg.noise == 0 and cfg.shift == 0 and cfg.scale == 0 and cfg.remedy == "none"


def _select(tensors: dict, keep: torch.Tensor, grad: bool) -> dict:
    return {k: v.detach()[keep].clone().requires_grad_(grad and v.requires_grad) for k, v in tensors.items()}


def fit_batched(cfgs: list[RunConfig], data, on_epoch=None) -> list[tuple[FitResult, torch.nn.Module, torch.Tensor]]:
    """Train len(cfgs) same-cell models together; return (FitResult, model with best weights, train_y) each."""
    from torch.func import functional_call, stack_module_state, vmap

    if len({cell_key(c) for c in cfgs}) != 1 or not all(batchable(c) for c in cfgs):
        raise ValueError("fit_batched needs configs that differ only in seed, without augmentation or remedy")
    c0, device, k_models = cfgs[0], data.device, len(cfgs)
    splits = [data.split(c) for c in cfgs]
    train_x, train_y = torch.stack([s[0] for s in splits]), torch.stack([s[1] for s in splits])
    val_x, val_y = torch.stack([s[2] for s in splits]), torch.stack([s[3] for s in splits])
    models = [build_model(c).to(device) for c in cfgs]
    params, buffers = stack_module_state(models)
    skeleton = copy.deepcopy(models[0]).to("meta")
    forward = vmap(lambda p, b, x: functional_call(skeleton, (p, b), (x,)))
    optimizer = Adam(params.values(), lr=c0.lr)
    orders = [torch.Generator(device=device).manual_seed(c.seed) for c in cfgs]
    stoppers = [EarlyStopping(c0.patience, c0.min_delta) for _ in cfgs]
    results, best = [FitResult() for _ in cfgs], [None] * k_models
    active = list(range(k_models))  # model index of each row of the stacks
    n, n_val, bs = train_x.shape[1], val_x.shape[1], c0.batch_size
    start = time.perf_counter()
    for epoch in range(1, c0.epochs + 1):
        rows = torch.arange(len(active), device=device)[:, None]
        perms = torch.stack([torch.randperm(n, generator=orders[m], device=device) for m in active])
        loss_sum = torch.zeros(len(active), device=device)
        correct = torch.zeros(len(active), device=device, dtype=torch.long)
        for i in range(0, n, bs):
            idx = perms[:, i:i + bs]
            xb, yb = normalize(train_x[rows, idx]), train_y[rows, idx]  # [A, B, 1, 28, 28], [A, B]
            with autocast(device, c0.precision):
                logits = forward(params, buffers, xb).float()
            losses = F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="none").view(yb.shape).mean(1)
            optimizer.zero_grad()
            losses.sum().backward()  # the sum keeps each model's gradient its own
            optimizer.step()
            loss_sum += losses.detach() * idx.shape[1]
            correct += (logits.detach().argmax(-1) == yb).sum(1)
        with torch.inference_mode(), autocast(device, c0.precision):
            val_logits = torch.cat([forward(params, buffers, val_x[:, j:j + 256]).float()
                                    for j in range(0, n_val, 256)], dim=1)
        val_loss = F.cross_entropy(val_logits.flatten(0, 1), val_y.flatten(), reduction="none").view(val_y.shape).mean(1)
        val_acc = (val_logits.argmax(-1) == val_y).float().mean(1)
        stats = torch.stack([loss_sum / n, correct.float() / n, val_loss, val_acc]).cpu().tolist()  # one sync
        still = []
        for row, m in enumerate(active):
            r, stopper = results[m], stoppers[m]
            tl, ta, vl, va = (stats[j][row] for j in range(4))
            ta, va = round(ta * n) / n, round(va * n_val) / n_val  # exact fractions, as fit() reports
            for key, value in zip(r.history, (epoch, tl, ta, vl, va)):
                r.history[key].append(value)
            r.epochs_run = epoch
            if on_epoch:
                on_epoch(m, epoch, tl, ta, vl, va)
            if not (math.isfinite(tl) and math.isfinite(vl)):
                r.diverged, r.message = True, f"loss became non-finite at epoch {epoch}; try a smaller --lr"
                continue
            if stopper.step(vl):
                best[m] = {k: v.detach()[row].clone() for k, v in {**params, **buffers}.items()}
                r.best_epoch = epoch
            if stopper.stop:
                r.stopped_early = True
                r.message = f"early stopping at epoch {epoch}; best val_loss {stopper.best:.4f} at epoch {r.best_epoch}"
                continue
            still.append(row)
        if not still:
            break
        if len(still) < len(active):  # drop stopped models from the stacks and from Adam's state
            keep = torch.tensor(still, device=device)
            params, buffers = _select(params, keep, True), _select(buffers, keep, False)
            state = (optimizer.exp_avg, optimizer.exp_avg_sq, optimizer.steps)
            optimizer = Adam(params.values(), lr=c0.lr)
            optimizer.exp_avg = [e[keep].clone() for e in state[0]]
            optimizer.exp_avg_sq = [e[keep].clone() for e in state[1]]
            optimizer.steps = state[2]
            train_x, train_y, val_x, val_y = train_x[keep], train_y[keep], val_x[keep], val_y[keep]
            active = [active[row] for row in still]
    seconds = (time.perf_counter() - start) / k_models  # the group's wall time, shared equally
    out = []
    for m, model in enumerate(models):
        if best[m] is not None:
            model.load_state_dict(best[m])
        results[m].train_seconds = seconds
        out.append((results[m], model, splits[m][1]))
    return out
