"""A sweep as a pandas DataFrame and its runs as TensorBoard scalars, read back from what was written."""
import shutil
from pathlib import Path

import pytest

import mnistlab
from mnistlab.cli.main import main

LEGACY = Path(__file__).parent / "fixtures" / "legacy_sweep"


def test_load_sweep_is_one_typed_row_per_run(tmp_path):
    folder = tmp_path / "sweep"
    shutil.copytree(LEGACY, folder)
    frame = mnistlab.load_sweep(folder)
    assert len(frame) > 0 and frame["key"].is_unique
    assert str(frame["samples_per_class"].dtype) == "Int64" and str(frame["test_acc"].dtype) == "float64"
    assert str(frame["model"].dtype) == "string" and set(frame["model"]) <= {"mlp", "cnn"}
    done = frame[frame["status"] == "done"]
    assert done["test_acc"].between(0, 1).all() and (done["params"] > 0).all()
    assert (frame["unlabeled"] == 0).all() and (frame["dataset"] == "mnist").all()
    summary = done.groupby(["model", "samples_per_class"])["test_acc"].mean()
    assert len(summary) == len({(m, b) for m, b in zip(done["model"], done["samples_per_class"])})


def test_load_sweep_of_a_run_folder_is_one_line(tmp_path):
    from mnistlab.errors import SummaryError

    with pytest.raises(SummaryError, match="not a sweep folder"):
        mnistlab.load_sweep(tmp_path)


def test_tensorboard_scalars_of_a_run_read_back(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logdir = tmp_path / "tb"
    argv = ["run", "--samples-per-class", "10", "--epochs", "2", "--models", "mlp", "--mlp-hidden", "8", "--quiet",
            "--out", str(tmp_path / "run"), "--tensorboard", str(logdir)]
    assert main(argv) == 0
    (run,) = (logdir / "base").iterdir()
    assert run.name == "mlp_spc10_seed0"
    events = EventAccumulator(str(run))
    events.Reload()
    assert {"train_loss", "val_acc", "test_acc"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("train_loss")] == [1, 2]
    results = mnistlab.load_results(tmp_path / "run")["models"]["mlp"]
    assert events.Scalars("test_acc")[0].value == pytest.approx(results["test_acc"])


def test_tensorboard_without_the_package_is_one_line(tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if it were not installed
    assert main(["run", "--out", str(tmp_path / "run"), "--tensorboard", str(tmp_path / "tb")]) == 2
    err = capsys.readouterr().err
    assert "mnistlab[tensorboard]" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists() and not (tmp_path / "tb").exists()
