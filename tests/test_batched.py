import pytest

from mnistlab.config import RunConfig
from mnistlab.runs.pipeline import finish, train_one
from mnistlab.training.stacked import batchable, cell_key, fit_batched


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_batched_equals_training_each_model_alone(device_data, model):
    cfgs = [RunConfig(model=model, samples_per_class=20, epochs=8, patience=2, seed=s) for s in (0, 1, 2)]
    trained = fit_batched(cfgs, device_data)
    for cfg, (fitted, net, train_y) in zip(cfgs, trained):
        alone, _ = train_one(cfg, device_data)
        together = finish(cfg, device_data, net, fitted, train_y)
        assert together.epochs_run == alone.epochs_run and together.best_epoch == alone.best_epoch
        for key in ("train_loss", "val_loss"):
            assert together.history[key] == pytest.approx(alone.history[key], rel=1e-3, abs=1e-4)
        assert together.test_acc == pytest.approx(alone.test_acc, abs=0.002)
    # Per-model early stopping: with patience 2 the seeds do not all stop at the same epoch here.
    assert len({f.epochs_run for f, _, _ in trained}) > 1 or all(f.epochs_run == 8 for f, _, _ in trained)


def test_cells_and_what_can_be_batched():
    a, b = RunConfig(seed=0), RunConfig(seed=1)
    assert cell_key(a) == cell_key(b) != cell_key(a.with_(samples_per_class=50))
    assert batchable(a) and not batchable(a.with_(noise=0.1)) and not batchable(a.with_(remedy="oversample"))
    with pytest.raises(ValueError):
        fit_batched([a, a.with_(lr=0.01)], None)


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
