import math

import pytest
import torch

from helpers import step_together, train_one
from mnistlab.config import RunConfig
from mnistlab.data.resident import Split
from mnistlab.models import MLP
from mnistlab.training.engine import EarlyStopping, EpochBook, EpochRecord
from mnistlab.training.solo import evaluate, fit


def run_stopper(values, patience=2, min_delta=0.0):
    stopper, kept, stopped_at = EarlyStopping(patience, min_delta), [], None
    for epoch, v in enumerate(values, 1):
        if stopper.step(v):
            kept.append(epoch)
        if stopper.stop:
            stopped_at = epoch
            break
    return kept, stopped_at, stopper.best


def test_early_stopping_semantics():
    assert run_stopper([1.0, 0.9, 0.95, 0.97]) == ([1, 2], 4, 0.9)
    assert run_stopper([1.0, 0.8, 0.7, 0.6]) == ([1, 2, 3, 4], None, 0.6)
    # A tie with the best refreshes the kept weights but does not reset patience (the notebook's rule).
    assert run_stopper([1.0, 0.9, 0.9, 0.95]) == ([1, 2, 3], 4, 0.9)
    # min_delta: an improvement smaller than it is not an improvement.
    assert run_stopper([1.0, 0.99, 0.98], patience=2, min_delta=0.05) == ([1], 3, 1.0)


def test_short_training_beats_chance_and_is_deterministic(device_data):
    cfg = RunConfig(model="mlp", samples_per_class=50, epochs=6)
    a, _ = train_one(cfg, device_data)
    b, _ = train_one(cfg, device_data)
    assert a.test_acc > 0.6  # chance is 0.1
    assert a.history == b.history and a.test_acc == b.test_acc and a.confusion == b.confusion
    assert sum(map(sum, a.confusion)) == 10_000


def test_cnn_short_training(device_data):
    result, _ = train_one(RunConfig(model="cnn", samples_per_class=30, epochs=4), device_data)
    assert result.test_acc > 0.5 and result.params == 206_922


def test_best_weights_are_restored(device_data):
    cfg = RunConfig(model="mlp", samples_per_class=30, epochs=25, patience=3, lr=3e-3)
    result, model = train_one(cfg, device_data)
    assert result.best_epoch < result.epochs_run  # it did stop after a worse stretch
    split = device_data.split(cfg)
    val_loss, _, _ = evaluate(model, split.val_x, split.val_y)
    assert val_loss == pytest.approx(result.best_val_loss, rel=1e-5)
    assert result.best_val_loss == min(result.history["val_loss"])


def test_non_finite_loss_marks_divergence():
    x, y = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
    model = MLP(hidden=16)
    result = fit(model, Split(x, y, x, y, None), RunConfig(epochs=5, batch_size=16, lr=1e30))
    assert result.diverged and "non-finite" in result.message
    assert result.epochs_run < 5 or not math.isfinite(result.history["train_loss"][-1])


def _book(values):
    """Feed scripted val losses to an EpochBook; the 'weights' are the epoch number."""
    book, last = EpochBook(patience=2, min_delta=0.0), None
    for epoch, v in enumerate(values, 1):
        last = epoch
        if not book.record(EpochRecord(epoch, 1.0, 0.5, v, 0.5), lambda epoch=epoch: {"w": epoch}):
            break
    restored = []
    book.restore(restored.append)
    return book.result, restored[0]["w"] if restored else None, last


def test_engine_keeps_the_best_epoch_and_stops_on_patience():
    result, weights, last = _book([1.0, 0.8, 0.9, 0.95, 0.7])
    assert (result.best_epoch, weights, last, result.stopped_early) == (2, 2, 4, True)


def test_engine_diverged_model_keeps_its_best_weights_else_its_last():
    result, weights, _ = _book([1.0, 0.8, float("nan")])
    assert result.diverged and result.best_epoch == 2 and weights == 2
    result, weights, _ = _book([float("inf")])
    assert result.diverged and result.best_epoch == 0 and weights == 1  # no best: the last weights


def test_our_adam_matches_torch_optim_adam_exactly():
    from mnistlab.training.optim import Adam

    torch.manual_seed(0)
    a, b = MLP(hidden=32), MLP(hidden=32)
    b.load_state_dict(a.state_dict())
    ours, theirs = Adam(a.parameters(), lr=1e-2), torch.optim.Adam(b.parameters(), lr=1e-2, fused=True)
    step_together([(a, ours), (b, theirs)])
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
