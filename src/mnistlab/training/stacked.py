"""The stacked trainer: K models of one architecture trained at once, one vmapped step (torch.func).

For a sweep cell (same everything but the seed), the K models' weights are stacked along a new first
dimension; `vmap(functional_call)` runs all K forward passes as one batched op, the K losses are summed
(their gradients stay separate), and one fused Adam updates the stacks (Adam is elementwise, so each
model gets exactly its own update). Each model keeps its own batches (its seed's randperm of its own
subset) and its own EpochBook (early stopping, divergence, best weights); a model that stops is dropped
from the stack so the rest go on without it. Per model, the result equals the solo trainer's, up to
float rounding. This pays off where one small model cannot fill the device (a GPU); see docs/performance.md.
"""
from __future__ import annotations

import copy
import time
from dataclasses import fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from mnistlab.config import RunConfig
from mnistlab.data.resident import Split
from mnistlab.training.device import autocast
from mnistlab.training.engine import EpochBook, EpochRecord, FitResult, OnEpoch
from mnistlab.training.optim import Adam, make_adam

BATCHABLE_EXCEPT = ("seed",)


def cell_key(cfg: RunConfig) -> tuple:
    """Configs that agree on everything but the seed can train together."""
    d = cfg.to_dict()
    return tuple((k, str(v)) for k, v in sorted(d.items()) if k not in BATCHABLE_EXCEPT)


# What the stacked step honours: the data drawn (split, budget, selection, dataset, imbalance without remedy), the
# model, the plain method's loop (Adam at lr, batches, epochs, early stopping), precision and what is evaluated.
# Any other field away from its default trains alone, so a field added later can never be silently ignored here.
HONOURED = frozenset({"model", "model_args", "model_source", "samples_per_class", "val_split", "epochs", "patience",
                      "min_delta", "batch_size", "lr", "seed", "precision", "imbalance", "eval_noise", "eval_shift",
                      "dataset", "select", "select_source"})


def batchable(cfg: RunConfig) -> bool:
    """Whether the stacked trainer can train this config: every field it does not honour is at its default (random
    augmentation, dropout and oversampling draw per-model random numbers inside the step; semi runs have their own
    loop)."""
    defaults = RunConfig()
    return all(getattr(cfg, f.name) == getattr(defaults, f.name) for f in fields(RunConfig) if f.name not in HONOURED)


def _select(tensors: dict, keep: torch.Tensor, grad: bool) -> dict:
    return {k: v.detach()[keep].clone().requires_grad_(grad and v.requires_grad) for k, v in tensors.items()}


def fit_stacked(models: list[nn.Module], splits: list[Split], cfgs: list[RunConfig],
                on_epoch: OnEpoch | None = None) -> list[FitResult]:
    """Train len(cfgs) same-cell models together; each model ends holding the weights its EpochBook keeps."""
    from torch.func import functional_call, stack_module_state, vmap

    if len({cell_key(c) for c in cfgs}) != 1 or not all(batchable(c) for c in cfgs):
        raise ValueError("fit_stacked needs configs that differ only in seed, without augmentation or remedy")
    c0, device = cfgs[0], splits[0].train_x.device
    train_x, train_y = torch.stack([s.train_x for s in splits]), torch.stack([s.train_y for s in splits])
    val_x, val_y = torch.stack([s.val_x for s in splits]), torch.stack([s.val_y for s in splits])
    params, buffers = stack_module_state(models)
    skeleton = copy.deepcopy(models[0]).to("meta")
    forward = vmap(lambda p, b, x: functional_call(skeleton, (p, b), (x,)))
    optimizer = make_adam(params.values(), c0.lr)
    assert isinstance(optimizer, Adam), "the stacked trainer keeps rows of our fused Adam's state"
    orders = [torch.Generator(device=device).manual_seed(c.seed) for c in cfgs]
    books = [EpochBook(c0.patience, c0.min_delta) for _ in cfgs]
    active = list(range(len(cfgs)))  # model index of each row of the stacks
    n, n_val, bs = train_x.shape[1], val_x.shape[1], c0.batch_size
    start = time.perf_counter()
    for epoch in range(1, c0.epochs + 1):
        rows = torch.arange(len(active), device=device)[:, None]
        perms = torch.stack([torch.randperm(n, generator=orders[m], device=device) for m in active])
        loss_sum = torch.zeros(len(active), device=device)
        correct = torch.zeros(len(active), device=device, dtype=torch.long)
        for i in range(0, n, bs):
            idx = perms[:, i:i + bs]
            xb, yb = splits[0].normalize(train_x[rows, idx]), train_y[rows, idx]  # [A, B, 1, 28, 28], [A, B]
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
        val_loss = (F.cross_entropy(val_logits.flatten(0, 1), val_y.flatten(), reduction="none")
                    .view(val_y.shape).mean(1))
        val_acc = (val_logits.argmax(-1) == val_y).float().mean(1)
        stats = torch.stack([loss_sum / n, correct.float() / n, val_loss, val_acc]).cpu().tolist()  # one sync
        still = []
        for row, m in enumerate(active):
            tl, ta, vl, va = (stats[j][row] for j in range(4))
            rec = EpochRecord(epoch, tl, round(ta * n) / n, vl, round(va * n_val) / n_val)  # exact fractions
            if on_epoch is not None:
                on_epoch(m, rec)
            state = {**params, **buffers}

            def snapshot(row=row, state=state):
                return {k: v.detach()[row].clone() for k, v in state.items()}

            if books[m].record(rec, snapshot):
                still.append(row)
        if not still:
            break
        if len(still) < len(active):  # drop stopped models from the stacks and from Adam's state
            keep = torch.tensor(still, device=device)
            params, buffers = _select(params, keep, True), _select(buffers, keep, False)
            optimizer = optimizer.keep_rows(keep, params.values())
            train_x, train_y, val_x, val_y = train_x[keep], train_y[keep], val_x[keep], val_y[keep]
            active = [active[row] for row in still]
    for row, m in enumerate(active):  # ran every epoch: the engine keeps the best, else these last weights
        state = {**params, **buffers}

        def last(row: int = row, state: dict = state) -> dict:
            return {k: v.detach()[row].clone() for k, v in state.items()}

        books[m].keep_last(last)
        if books[m].kept is None:
            books[m].kept = last()
    seconds = (time.perf_counter() - start) / len(cfgs)  # the group's wall time, shared equally
    results = []
    for model, book in zip(models, books):
        result = book.restore(model.load_state_dict)
        result.train_seconds = seconds
        results.append(result)
    return results
