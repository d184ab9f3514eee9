"""The epoch bookkeeper shared by the solo and the stacked trainer: history, early stopping, divergence,
best weights. Both trainers feed it one EpochRecord per model per epoch and obey its verdict."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

HISTORY_KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")
SEMI_KEYS = ("step", "mask_rate")  # recorded too when a record has a step (a semi-supervised run's)


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


@dataclass(frozen=True)
class EpochRecord:
    """One model's numbers after one epoch; what `on_epoch(index, record)` callbacks receive. A semi-supervised
    run records every LOG_EVERY steps, and its `epoch` is the step it ends at (its x axis counts steps)."""

    epoch: int
    train_loss: float
    train_acc: float | None  # None: a semi-supervised method that gives no labelled logits
    val_loss: float | None  # None when the run holds out no validation set (--no-early-stopping)
    val_acc: float | None
    step: int | None = None          # semi-supervised runs: the optimizer step this record ends at
    mask_rate: float | None = None   # and the share of unlabelled images above the method's confidence threshold


@dataclass
class FitResult:
    """What a trainer reports for one model (the trained weights stay in the model itself)."""

    history: dict = field(default_factory=lambda: {k: [] for k in HISTORY_KEYS})
    best_epoch: int = 0
    epochs_run: int = 0
    stopped_early: bool = False
    diverged: bool = False
    message: str = ""
    train_seconds: float = 0.0
    last_state: dict | None = None  # the last epoch's weights, when the model was given its best epoch's instead


OnEpoch = Callable[[int, EpochRecord], None]
State = dict


class EpochBook:
    """One model's bookkeeping. `record` says whether it trains on; `restore` leaves the model holding its
    best epoch's weights, or its last ones when it never had a best (a model diverging in epoch 1).
    Without early stopping every epoch runs and the last one's weights are kept."""

    def __init__(self, patience: int, min_delta: float, early_stopping: bool = True):
        self.stopper = EarlyStopping(patience, min_delta)
        self.early_stopping = early_stopping
        self.result = FitResult()
        self.kept: State | None = None

    def record(self, rec: EpochRecord, snapshot: Callable[[], State]) -> bool:
        r = self.result
        for key in HISTORY_KEYS + (SEMI_KEYS if rec.step is not None else ()):
            r.history.setdefault(key, []).append(getattr(rec, key))
        r.epochs_run = rec.epoch
        val_loss = rec.val_loss if self.early_stopping else 0.0
        if val_loss is None or not (math.isfinite(rec.train_loss) and math.isfinite(val_loss)):
            r.diverged = True
            at = f"epoch {rec.epoch}" if rec.step is None else f"step {rec.step}"
            r.message = (f"loss became non-finite at {at} (train {rec.train_loss}, val {rec.val_loss}); "
                         "try a smaller --lr")
            if self.kept is None:
                self.kept = snapshot()  # no best epoch: the last weights are all there is
            return False
        if not self.early_stopping:
            r.best_epoch = rec.epoch  # the weights kept are the last ones, which the model already holds
            return True
        if self.stopper.step(val_loss):
            self.kept = snapshot()
            r.best_epoch = rec.epoch
        if self.stopper.stop:
            self.keep_last(snapshot)
            r.stopped_early = True
            r.message = (f"early stopping at epoch {rec.epoch}; best val_loss {self.stopper.best:.4f} "
                         f"at epoch {r.best_epoch}")
            return False
        return True

    def keep_last(self, snapshot: Callable[[], State]) -> None:
        """Keep the last epoch's weights aside when they are not the ones restored (early stopping's cost is
        then measurable: the test accuracy of the weights it threw away)."""
        r = self.result
        if self.early_stopping and not r.diverged and r.best_epoch != r.epochs_run and r.last_state is None:
            r.last_state = snapshot()

    def restore(self, load: Callable[[State], None]) -> FitResult:
        if self.kept is not None:
            load(self.kept)
        return self.result
