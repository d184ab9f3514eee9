"""A sweep's runs as a pandas DataFrame: one row per run, typed columns (pandas is an optional extra)."""
from __future__ import annotations

from pathlib import Path

from mnistlab.errors import SummaryError
from mnistlab.runs import store

INTEGERS = ("samples_per_class", "seed", "params", "best_epoch", "epochs_run", "unlabeled", "steps")
TEXT = ("key", "variant", "model", "label", "dataset", "select", "status", "semi_method", "message")
FLOATS = ("test_acc", "test_loss", "best_val_loss", "final_val_acc", "best_val_acc", "gap_at_best", "balanced_acc",
          "macro_f1", "last_test_acc", "train_seconds", "eval_seconds")


def require_pandas():
    try:
        import pandas
    except ImportError:
        raise SummaryError("load_sweep needs pandas: python -m pip install 'mnistlab[pandas]'") from None
    return pandas


def load_sweep(folder: str | Path):
    """Every usable run of the sweep in `folder` (every status), one row each, columns typed: integers as Int64,
    numbers as float64 (NaN where a run has none), text as string. Rows the store cannot vouch for are left out,
    as `summarize` leaves them out."""
    pandas = require_pandas()
    folder = Path(folder)
    if not (folder / store.DB_NAME).is_file():
        raise SummaryError(f"{folder}: not a sweep folder (no {store.DB_NAME})")
    rows, _, _ = store.read_runs(folder)
    records = []
    for row in rows:
        cfg = row.run_config
        record = {name: getattr(row, name) for name in ("key", "variant", "model", "samples_per_class", "seed",
                                                         "status", "message")}
        record.update({name: row.metric(name) for name in FLOATS + ("params", "best_epoch", "epochs_run")})
        semi = bool(cfg.unlabeled)
        label = row.result.label if row.result is not None else ""
        record.update(label=label or row.model, dataset=cfg.dataset, select=cfg.select,
                      unlabeled=int(cfg.unlabeled or 0), semi_method=cfg.semi_method if semi else "",
                      steps=cfg.steps if semi else None)
        records.append(record)
    columns = ("key", "variant", "model", "label", "dataset", "select", "samples_per_class", "seed", "status", *FLOATS,
               "params", "best_epoch", "epochs_run", "unlabeled", "semi_method", "steps", "message")
    frame = pandas.DataFrame.from_records(records, columns=list(columns))
    types = {**{c: "Int64" for c in INTEGERS}, **{c: "float64" for c in FLOATS}, **{c: "string" for c in TEXT}}
    return frame.astype(types)
