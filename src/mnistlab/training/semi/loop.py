"""The semi-supervised trainer: a fixed number of optimizer steps, each on a labelled batch and an unlabelled one.

The labelled batch is drawn with replacement from the (tiny) labelled set, the unlabelled one from a fresh
permutation of the pool per pass. The method's loss is minimised by the same Adam as supervised runs; an EMA
of the weights is kept and is what the run saves and measures. Every `LOG_EVERY` steps one record goes to the
engine's bookkeeping (history, divergence) and to the progress callback.
"""
from __future__ import annotations

import time
from collections.abc import Mapping

import torch
import torch.nn as nn

from mnistlab.config import RunConfig
from mnistlab.data.resident import Split
from mnistlab.training.engine import EpochBook, EpochRecord, FitResult, OnEpoch
from mnistlab.training.optim import lr_at, make_adam, set_lr, snapshot
from mnistlab.training.semi.catalog import method_step
from mnistlab.training.semi.registry import MethodSpec, SemiBatch

LOG_EVERY = 100  # steps per history record; each record's epoch is its step


class Ema:
    """An exponential moving average of a model's parameters and buffers, held in a copy of the model.

    Its decay warms up as min(decay, (1 + t) / (10 + t)) at update t, as TensorFlow's ExponentialMovingAverage
    does with num_updates: otherwise the random initial weights would still weigh 0.999^3000 = 5% after 3000
    steps, and nearly all of a short run's average."""

    def __init__(self, model: nn.Module, decay: float):
        import copy

        self.decay, self.updates = decay, 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self._live = list(model.state_dict().values())
        self._avg = list(self.model.state_dict().values())
        self._float = [i for i, t in enumerate(self._avg) if t.is_floating_point()]

    @torch.no_grad()
    def update(self) -> None:
        if self.decay == 0:
            for i in self._float:
                self._avg[i].copy_(self._live[i])
            return
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_([self._avg[i] for i in self._float], [self._live[i] for i in self._float], 1 - decay)


def fit_semi(model: nn.Module, split: Split, cfg: RunConfig, method: MethodSpec, settings: Mapping[str, float],
             on_epoch: OnEpoch | None = None) -> FitResult:
    """Train `model` in place for cfg.steps steps with `method` and its checked settings (a run's plan holds
    both); it ends holding the EMA weights."""
    assert split.unlabelled_x is not None and len(split.unlabelled_x), "a semi-supervised run needs its pool"
    settings = dict(settings)  # the method's own copy: what it does to it stays in this run
    labelled_x, labelled_y, pool = split.train_x, split.train_y, split.unlabelled_x
    device = labelled_x.device
    draws = torch.Generator(device=device).manual_seed(cfg.seed)            # batches
    views = torch.Generator(device=device).manual_seed(cfg.seed + 1)        # augmentation
    optimizer = make_adam(model.parameters(), cfg.lr, cfg.weight_decay)
    ema = Ema(model, settings["ema"])
    book = EpochBook(cfg.patience, cfg.min_delta, early_stopping=False)
    bs, ubs = cfg.batch_size, max(1, round(settings["uratio"] * cfg.batch_size))
    order, cursor = torch.randperm(len(pool), generator=draws, device=device), 0
    loss_sum = torch.zeros((), device=device)
    mask_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen, scored, masked, state = 0, 0, 0, {}  # type: tuple[int, int, int, dict]
    start = time.perf_counter()

    def unlabelled_batch() -> torch.Tensor:
        nonlocal order, cursor
        if cursor + ubs > len(order):  # a new pass over the pool
            order, cursor = torch.randperm(len(pool), generator=draws, device=device), 0
        idx = order[cursor:cursor + ubs] if ubs <= len(order) else order[torch.arange(ubs, device=device) % len(order)]
        cursor += ubs
        return pool[idx].float().div_(255.0)

    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(cfg.seed + 2)  # dropout draws from the global generator: seeded here, restored after
        model.train()
        for step in range(1, cfg.steps + 1):
            set_lr(optimizer, lr_at(cfg, step, cfg.steps))
            li = torch.randint(len(labelled_y), (bs,), generator=draws, device=device)
            batch = SemiBatch(model, ema.model, labelled_x[li], labelled_y[li], unlabelled_batch(), views,
                              split.normalize, step, cfg.steps, cfg.label_smoothing, state)
            loss, stats = method_step(method, batch, settings)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            ema.update()
            loss_sum += loss.detach() * bs
            if "mask_rate" in stats:
                mask_sum += stats["mask_rate"].detach() * bs
                masked += bs
            logits = stats.get("labelled_logits")
            if logits is not None:
                correct += (logits.detach().argmax(1) == batch.labelled_y).sum()
                scored += bs
            seen += bs
            if step % LOG_EVERY == 0 or step == cfg.steps:
                mask_rate = float(mask_sum) / seen if masked == seen else None
                # A method that does not give its labelled logits (its mask rate) has no train accuracy (coverage):
                # null, never a 0.
                accuracy = int(correct) / scored if scored == seen else None
                rec = EpochRecord(step, float(loss_sum) / seen, accuracy, None, None, step, mask_rate)
                if on_epoch is not None:
                    on_epoch(0, rec)
                going = book.record(rec, lambda: snapshot(model))
                loss_sum.zero_(), mask_sum.zero_(), correct.zero_()
                seen = scored = masked = 0
                if not going:
                    break
    result = book.restore(model.load_state_dict)
    if not result.diverged:
        result.message = f"ran {cfg.steps} steps" + (" (EMA weights kept)" if settings["ema"] > 0 else "")
        if settings["ema"] > 0:
            model.load_state_dict(ema.model.state_dict())  # the averaged weights are the ones saved and measured
    result.train_seconds = time.perf_counter() - start
    return result
