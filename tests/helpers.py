"""Helpers shared by the tests: the shared tiny run's and sweep's arguments, store rows, training one config."""
import json
import shutil
import sqlite3
from pathlib import Path

# The session's one tiny run and one tiny sweep (conftest.tiny_run, conftest.tiny_sweep). The thread count is
# given because a session fixture is made before the per-test thread setting, and threads decide the last bits.
TINY_RUN = ["--samples-per-class", "100", "--epochs", "6", "--threads", "2", "--quiet"]
# A user model file's text: the smallest model that trains (one linear layer), for tests that run a file model.
FLAT_MODEL = """import torch.nn as nn


class Flat(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(x.flatten(1))
"""
TINY_SWEEP = ["--budgets", "10", "20", "--seeds", "0-2", "--epochs", "2", "--threads", "2", "--quiet"]


def copied(folder: Path, where: Path) -> Path:
    """A copy of a shared folder at `where`, for a test that changes it."""
    return Path(shutil.copytree(folder, where, symlinks=True))


TIMING = {"train_seconds", "eval_seconds", "started", "finished", "environment"}


def store_rows(folder):
    """Every row of a sweep store, minus timings and environment: what two equal sweeps must share."""
    conn = sqlite3.connect(folder / "store.sqlite")
    conn.row_factory = sqlite3.Row
    rows = {}
    for r in conn.execute("SELECT * FROM runs"):
        r = {k: r[k] for k in r.keys() if k not in TIMING}
        stored = r.pop("result")
        result = json.loads(stored) if stored is not None else None  # a failed run stores no result
        for k in ("train_seconds", "eval_seconds"):
            if result is not None:
                result.pop(k)
        rows[r["key"]] = (r, result)
    conn.close()
    return rows


def train_one(cfg, data):
    """Train and assess one config through the pipeline every executor uses: (ModelResult, trained model)."""
    from mnistlab.runs.job import Job
    from mnistlab.runs.pipeline import execute

    outcome = execute(Job.of(cfg, data.mnist.checksums), data, {})
    return outcome.result, outcome.model


def step_together(pairs, steps: int = 5) -> None:
    """Train each (model, optimizer) pair on the same random batches: optimizers compared step for step."""
    import torch

    for _ in range(steps):
        x, y = torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))
        for model, opt in pairs:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()


def stored_row(model, budget, seed, variant="base", status="done", **result):
    """A finished run as the store reads it back: a SweepRow with a whole ModelResult, `result` overriding it."""
    from mnistlab.runs.outcome import ModelResult
    from mnistlab.runs.rows import SweepRow

    values = {"model": model, "key": f"{variant}-{model}-{budget}-{seed}", "config": {"epochs": 30,
              "early_stopping": True}, "status": status, "message": "", "params": 1000, "history":
              {"train_loss": [1.0], "val_loss": [1.0]}, "best_epoch": 15, "epochs_run": 20, "best_val_loss": 0.3,
              "final_val_acc": 0.9, "best_val_acc": 0.9, "gap_at_best": 0.1, "test_loss": 0.3, "test_acc": 0.9,
              "balanced_acc": 0.9, "macro_f1": 0.9, "confusion": [], "report": {}, "report_text": "",
              "train_counts": [10] * 10, "last_test_acc": 0.9, **result}
    return SweepRow(values["key"], variant, model, budget, seed, status, config=values["config"],
                    result=ModelResult(**values))
