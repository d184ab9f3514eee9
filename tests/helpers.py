"""Helpers shared by the sweep and Ray tests."""
import json
import sqlite3

TIMING = {"train_seconds", "eval_seconds", "started", "finished", "environment"}


def store_rows(folder):
    """Every row of a sweep store, minus timings and environment: what two equal sweeps must share."""
    conn = sqlite3.connect(folder / "store.sqlite")
    conn.row_factory = sqlite3.Row
    rows = {}
    for r in conn.execute("SELECT * FROM runs"):
        r = {k: r[k] for k in r.keys() if k not in TIMING}
        result = json.loads(r.pop("result"))
        for k in ("train_seconds", "eval_seconds"):
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
