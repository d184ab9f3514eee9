"""The results store of a sweep: one SQLite database, one row per run, keyed by the run's config hash.

A row is first written as `running` when a run starts, then replaced in one transaction by its final
state (done / diverged / failed) with every metric. WAL mode: readers never block the writer.
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from mnistlab.errors import StoreError

SCHEMA_VERSION = 1
DB_NAME = "store.sqlite"

COLUMNS = """
    key TEXT PRIMARY KEY,
    variant TEXT NOT NULL,
    model TEXT NOT NULL,
    samples_per_class INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'diverged', 'failed')),
    config TEXT NOT NULL,
    message TEXT,
    params INTEGER,
    test_acc REAL,
    test_loss REAL,
    best_val_loss REAL,
    final_val_acc REAL,
    best_val_acc REAL,
    best_epoch INTEGER,
    epochs_run INTEGER,
    gap_at_best REAL,
    balanced_acc REAL,
    macro_f1 REAL,
    train_seconds REAL,
    eval_seconds REAL,
    result TEXT,
    environment TEXT,
    started REAL,
    finished REAL
"""
METRICS = ("params", "test_acc", "test_loss", "best_val_loss", "final_val_acc", "best_val_acc", "best_epoch",
           "epochs_run", "gap_at_best", "balanced_acc", "macro_f1", "train_seconds", "eval_seconds")



def connect(folder: Path, data_md5: dict | None = None) -> sqlite3.Connection:
    """Open (or create) the store in `folder`, checking its schema and the data it was made from."""
    path = Path(folder) / DB_NAME
    try:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)  # autocommit; explicit transactions
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute(f"CREATE TABLE IF NOT EXISTS runs ({COLUMNS})")
        meta = dict(conn.execute("SELECT name, value FROM meta").fetchall())
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{path}: not a usable mnistlab store ({e})") from None
    if "schema" not in meta:
        with conn:
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            if data_md5:
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('data_md5', ?)", (json.dumps(data_md5, sort_keys=True),))
    elif meta["schema"] != str(SCHEMA_VERSION):
        conn.close()  # closed now, not when collected: an open store keeps its -wal and -shm files beside it
        raise StoreError(f"{path}: store schema {meta['schema']} is not this mnistlab's ({SCHEMA_VERSION}); "
                         "use a new --out folder")
    elif data_md5 and meta.get("data_md5") and json.loads(meta["data_md5"]) != data_md5:
        conn.close()
        raise StoreError(f"{path}: this store was made from a different data set (other MD5s); use a new --out folder")
    return conn


def status_of(conn, keys) -> dict:
    rows = conn.execute("SELECT key, status FROM runs").fetchall()
    wanted = set(keys)
    return {r["key"]: r["status"] for r in rows if r["key"] in wanted}


def mark_running(conn, key: str, variant: str, config: dict) -> None:
    with conn:
        conn.execute("INSERT OR REPLACE INTO runs (key, variant, model, samples_per_class, seed, status, config, "
                     "started) VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                     (key, variant, config["model"], config["samples_per_class"], config["seed"],
                      json.dumps(config, sort_keys=True), time.time()))


def record(conn, key: str, variant: str, config: dict, status: str, result: dict | None, environment: dict,
           message: str = "") -> None:
    """Replace a run's row with its final state, in one transaction."""
    from mnistlab.atomic import to_json

    metrics = [result.get(m) if result else None for m in METRICS]
    with conn:
        conn.execute(f"INSERT OR REPLACE INTO runs (key, variant, model, samples_per_class, seed, status, config, "
                     f"message, {', '.join(METRICS)}, result, environment, started, finished) VALUES "
                     f"(?, ?, ?, ?, ?, ?, ?, ?, {', '.join('?' * len(METRICS))}, ?, ?, "
                     "(SELECT started FROM runs WHERE key = ?), ?)",
                     (key, variant, config["model"], config["samples_per_class"], config["seed"], status,
                      json.dumps(config, sort_keys=True), message, *metrics,
                      to_json(result) if result else None, json.dumps(environment, sort_keys=True), key, time.time()))


def all_rows(conn) -> list[dict]:
    """Every run (any status) as dicts, ordered by variant, model, budget, seed."""
    cur = conn.execute("SELECT * FROM runs ORDER BY variant, model, samples_per_class, seed")
    return [dict(r) for r in cur.fetchall()]


def counts(conn) -> dict:
    return dict(conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall())


def get_meta(conn, name: str):
    """A value of the store's meta table (JSON), or None."""
    row = conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
    return json.loads(row[0]) if row else None


def set_meta(conn, name: str, value) -> None:
    with conn:
        conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, json.dumps(value, sort_keys=True)))
