"""One training loop: Adam + cross-entropy on in-memory tensors, early stopping with best-weights restore."""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from .data import normalize


class EarlyStopping:
    """The notebook's rule: stop after `patience` epochs without val loss < best - min_delta.

    `step` returns whether this epoch's weights are the new best to keep (the notebook saves them
    when value <= best - min_delta, i.e. ties with the best also refresh the saved weights).
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best, self.count, self.stop = float("inf"), 0, False

    def step(self, value: float) -> bool:
        keep = value <= self.best - self.min_delta
        if value < self.best - self.min_delta:
            self.best, self.count = value, 0
        else:
            self.count += 1
            self.stop = self.count >= self.patience
        return keep


@dataclass
class FitResult:
    history: dict = field(default_factory=lambda: {k: [] for k in
                                                    ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")})
    best_epoch: int = 0
    epochs_run: int = 0
    stopped_early: bool = False
    diverged: bool = False
    message: str = ""
    train_seconds: float = 0.0


def autocast(device: torch.device, precision: str):
    """bf16 autocast when asked for (CPU with AVX-512 BF16/AMX, or GPU); fp32 otherwise."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.inference_mode()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, precision: str = "fp32",
             batch_size: int = 4096, class_weights: torch.Tensor | None = None):
    """Mean loss, accuracy and predictions on normalized inputs, in large batches."""
    model.eval()
    loss_sum = torch.zeros((), device=x.device)
    preds = []
    for i in range(0, len(x), batch_size):
        with autocast(x.device, precision):
            logits = model(x[i:i + batch_size]).float()
        loss_sum += F.cross_entropy(logits, y[i:i + batch_size], weight=class_weights, reduction="sum")
        preds.append(logits.argmax(1))
    preds = torch.cat(preds)
    return float(loss_sum) / len(x), int((preds == y).sum()) / len(x), preds


def _make_optimizer(model: nn.Module, lr: float) -> torch.optim.Optimizer:
    # fused Adam updates every parameter in one kernel per step instead of a loop of small ops.
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(model.parameters(), lr=lr, foreach=True)


def fit(model: nn.Module, train_x: torch.Tensor, train_y: torch.Tensor, val_x: torch.Tensor, val_y: torch.Tensor,
        *, epochs: int, patience: int, min_delta: float, batch_size: int, lr: float, seed: int,
        precision: str = "fp32", augment=None, class_weights: torch.Tensor | None = None,
        sample_weights: torch.Tensor | None = None, on_epoch=None) -> FitResult:
    """Train `model` in place and leave it holding the best epoch's weights.

    train_x holds raw pixels in [0, 1] (augmentation acts on those); val_x is already normalized.
    The batch order is a seeded randperm per epoch (or seeded weighted sampling with
    `sample_weights`), so the same seed gives the same batches.
    """
    device = train_x.device
    order = torch.Generator(device=device).manual_seed(seed)
    noise = torch.Generator(device=device).manual_seed(seed + 1)  # augmentation draws
    optimizer = _make_optimizer(model, lr)
    stopper = EarlyStopping(patience, min_delta)
    result, best_state = FitResult(), None
    n = len(train_x)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        if sample_weights is None:
            perm = torch.randperm(n, generator=order, device=device)
        else:  # oversampling: draw n examples with replacement, rare classes more often
            perm = torch.multinomial(sample_weights, n, replacement=True, generator=order)
        # Accumulate on the device; one host sync per epoch instead of one per step.
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            xb, yb = train_x[idx], train_y[idx]
            if augment is not None:
                xb = augment(xb, noise)
            with autocast(device, precision):
                logits = model(normalize(xb)).float()
            loss = F.cross_entropy(logits, yb, weight=class_weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(idx)
            correct += (logits.detach().argmax(1) == yb).sum()
        train_loss, train_acc = float(loss_sum) / n, int(correct) / n
        val_loss, val_acc, _ = evaluate(model, val_x, val_y, precision, class_weights=class_weights)
        for key, value in zip(result.history, (epoch, train_loss, train_acc, val_loss, val_acc)):
            result.history[key].append(value)
        result.epochs_run = epoch
        if on_epoch is not None:
            on_epoch(epoch, train_loss, train_acc, val_loss, val_acc)
        if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
            result.diverged = True
            result.message = (f"loss became non-finite at epoch {epoch} (train {train_loss}, val {val_loss}); "
                              "try a smaller --lr")
            break
        if stopper.step(val_loss):
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            result.best_epoch = epoch
        if stopper.stop:
            result.stopped_early = True
            result.message = f"early stopping at epoch {epoch}; best val_loss {stopper.best:.4f} at epoch {result.best_epoch}"
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    result.train_seconds = time.perf_counter() - start
    return result
