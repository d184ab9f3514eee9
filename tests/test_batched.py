import copy

import pytest
import torch

from mnistlab.config import RunConfig
from mnistlab.models import build_model
from mnistlab.models.registry import config_of
from mnistlab.runs.job import Job
from mnistlab.runs.pipeline import train
from mnistlab.training.solo import evaluate, fit
from mnistlab.training.stacked import batchable, cell_key, fit_stacked


def _accuracy_on_a_slice(model, data) -> float:
    """Test accuracy on the first 2,000 test images: enough to tell two sets of weights apart (one image is
    0.05 pp) at a fifth of the cost of the whole test set."""
    return evaluate(model, data.test_x[:2000], data.test_y[:2000])[1]


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_stacked_equals_training_each_model_alone(device_data, model):
    cfgs = [RunConfig(model=model, samples_per_class=20, epochs=12, patience=2, lr=3e-3, seed=s) for s in (0, 1, 2)]
    models, splits = [build_model(c) for c in cfgs], [device_data.split(c) for c in cfgs]
    together = fit_stacked(models, splits, cfgs)
    for cfg, stacked_model, t in zip(cfgs, models, together):
        alone_model, alone, _ = train(Job.of(cfg, device_data.mnist.checksums), device_data)  # as every executor
        assert t.epochs_run == alone.epochs_run and t.best_epoch == alone.best_epoch
        for key in ("train_loss", "val_loss"):
            assert t.history[key] == pytest.approx(alone.history[key], rel=1e-3, abs=1e-4)
        assert _accuracy_on_a_slice(stacked_model, device_data) == pytest.approx(
            _accuracy_on_a_slice(alone_model, device_data), abs=0.002)
    # Per-model early stopping: with patience 2 these seeds stop at different epochs, before the last one.
    assert len({t.epochs_run for t in together}) > 1 and min(t.epochs_run for t in together) < 12


def test_stacked_and_solo_agree_on_a_model_that_diverges(device_data):
    """A learning rate no model survives: both trainers mark it diverged and keep the same weights."""
    cfgs = [config_of(model="mlp", mlp_hidden=16, samples_per_class=10, epochs=4, lr=1e12, seed=s) for s in (0, 1)]
    models = [build_model(c) for c in cfgs]
    solo_models = [copy.deepcopy(m) for m in models]
    splits = [device_data.split(c) for c in cfgs]
    stacked = fit_stacked(models, splits, cfgs)
    for cfg, m, s, st, solo_model in zip(cfgs, models, splits, stacked, solo_models):
        alone = fit(solo_model, s, cfg)
        assert st.diverged and alone.diverged
        assert (st.epochs_run, st.best_epoch) == (alone.epochs_run, alone.best_epoch)
        for (k, a), b in zip(m.state_dict().items(), solo_model.state_dict().values()):
            # the kept weights (best epoch's, else the last) are the same in both, and not the initial ones
            assert torch.allclose(a, b, equal_nan=True, rtol=1e-3, atol=1e-3), k
        assert not torch.equal(m.state_dict()["net.1.weight"], build_model(cfg).state_dict()["net.1.weight"])


def test_cells_and_what_can_be_batched():
    a, b = RunConfig(seed=0), RunConfig(seed=1)
    assert cell_key(a) == cell_key(b) != cell_key(a.with_(samples_per_class=50))
    assert batchable(a) and not batchable(a.with_(noise=0.1)) and not batchable(a.with_(remedy="oversample"))
    with pytest.raises(ValueError):
        fit_stacked([], [], [a, a.with_(lr=0.01)])


def test_sweep_batched_executor_fills_the_store(tmp_path):
    import json
    import sqlite3

    from mnistlab.cli.main import main

    out = tmp_path / "b"
    assert main(["sweep", "--budgets", "15", "--seeds", "0-2", "--epochs", "3", "--batched", "on", "--quiet",
                 "--no-summary", "--out", str(out)]) == 0
    rows = sqlite3.connect(out / "store.sqlite").execute("SELECT status, result FROM runs").fetchall()
    assert len(rows) == 6 and {r[0] for r in rows} == {"done"}
    assert all(json.loads(r[1])["epochs_run"] == 3 for r in rows)


def _other(value):
    """A value of the same type as `value`, different from it."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, tuple):
        return (0.5,)
    return f"{value}x"


def test_every_field_the_stacked_trainer_does_not_honour_trains_alone():
    from dataclasses import fields

    from mnistlab.training.stacked import HONOURED

    plain = RunConfig()
    assert batchable(plain)
    for f in fields(RunConfig):
        value = (("mlp_hidden", 64),) if f.name == "model_args" else _other(getattr(plain, f.name))
        changed = plain.with_(**{f.name: value})
        assert batchable(changed) == (f.name in HONOURED), f.name


def test_a_torch_without_our_fused_adam_trains_each_seed_alone_with_torchs_adam(monkeypatch, request, device_data):
    from mnistlab.sweeps.executors.stacked import StackedExecutor
    from mnistlab.training import optim

    monkeypatch.setattr(optim, "_torch_version", lambda: (2, 0))
    optim.fused_adam_works.cache_clear()
    request.addfinalizer(optim.fused_adam_works.cache_clear)  # the next caller asks the real torch again
    assert not optim.fused_adam_works()
    assert isinstance(optim.make_adam([torch.zeros(1, requires_grad=True)], 1e-3), torch.optim.Adam)
    jobs = [Job.of(config_of(model="mlp", mlp_hidden=16, samples_per_class=5, epochs=2, seed=s),
                   device_data.mnist.checksums) for s in (0, 1)]
    trained = []
    monkeypatch.setattr("mnistlab.sweeps.executors.stacked.fit_stacked", lambda *a: trained.append(a) or [])
    outcomes = list(StackedExecutor().map(jobs, device_data))
    assert not trained and [o.status for o in outcomes] == ["done", "done"]
