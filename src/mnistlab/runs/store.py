"""The results store of a sweep: one SQLite database, one row per run, keyed by the run's config hash.

A row is first written as `running` when a run starts, then replaced in one transaction by its final
state (done / diverged / failed) with every metric. WAL mode: readers never block the writer.
The sweep writes through `connect`; `summarize` and `report` read through `read_runs`, which never
writes in the store or beside it.
"""
from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from pathlib import Path

from mnistlab.errors import StoreError
from mnistlab.runs.rows import FINISHED, NEEDED, STATUSES, SweepRow, checked_row, row_problem  # noqa: F401

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
RUN_COLUMNS = tuple(line.split()[0] for line in COLUMNS.strip().splitlines())
META_COLUMNS = ("name", "value")
META_TABLE = "name TEXT PRIMARY KEY, value TEXT NOT NULL"  # the meta table's columns, as created


def _tables(conn) -> dict[str, set]:
    """Each table of the database with its column names."""
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()]
    return {n: {c[0] for c in conn.execute("SELECT name FROM pragma_table_info(?)", (n,)).fetchall()} for n in names}


def _not_ours(tables: dict, writer: bool) -> str | None:
    """Why a database is not a mnistlab store, or None. The writer starts an empty one, or a lost runs table."""
    if not tables:
        return None if writer else "it holds no table"
    for name, columns in (("meta", META_COLUMNS), ("runs", RUN_COLUMNS)):
        if name in tables and not set(columns) <= tables[name]:
            return f"its {name} table is not ours"
    if "meta" not in tables:
        return f"it holds other tables: {', '.join(sorted(tables))}"
    if "runs" not in tables and not writer:
        return "no runs table"
    return None


def _meta(conn, path: Path) -> dict:
    """The store's meta values, data_md5 decoded; a damaged value is a one-line error."""
    meta = {str(name): value for name, value in conn.execute("SELECT name, value FROM meta").fetchall()}
    if "schema" in meta and str(meta["schema"]) != str(SCHEMA_VERSION):
        raise StoreError(f"{path}: store schema {meta['schema']} is not this mnistlab's ({SCHEMA_VERSION}); "
                         "use a new --out folder")
    if "data_md5" in meta:
        try:
            meta["data_md5"] = json.loads(meta["data_md5"])
        except (TypeError, ValueError):
            raise StoreError(f"{path}: its meta value data_md5 is not JSON ({str(meta['data_md5'])[:40]!r}); "
                             "the store is damaged: use a new --out folder") from None
    return meta


def connect(folder: Path, data_md5: dict | None = None) -> sqlite3.Connection:
    """Open (or create) the store in `folder` for writing, checking its schema and the data it was made from.

    Everything is checked before the first write (WAL mode included), so a refused store is left as it was."""
    path = Path(folder) / DB_NAME
    try:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)  # autocommit; explicit transactions
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{path}: cannot open it ({e}); use another --out") from None
    try:
        conn.row_factory = sqlite3.Row
        tables = _tables(conn)
        problem = _not_ours(tables, writer=True)
        if problem:
            raise StoreError(f"{path}: not a mnistlab store ({problem}); use another --out")
        meta = _meta(conn, path) if "meta" in tables else {}
        if data_md5 and meta.get("data_md5") and meta["data_md5"] != data_md5:
            raise StoreError(f"{path}: this store was made from a different data set (other MD5s); "
                             "use a new --out folder")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"CREATE TABLE IF NOT EXISTS meta ({META_TABLE})")
        conn.execute(f"CREATE TABLE IF NOT EXISTS runs ({COLUMNS})")
        if "schema" not in meta:
            with conn:
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                if data_md5:
                    conn.execute("INSERT OR IGNORE INTO meta VALUES ('data_md5', ?)",
                                 (json.dumps(data_md5, sort_keys=True),))
    except sqlite3.DatabaseError as e:
        conn.close()  # now: an open store keeps its -wal and -shm files beside it
        raise StoreError(f"{path}: not a mnistlab store ({e}); use another --out") from None
    except StoreError:
        conn.close()
        raise
    return conn


def _open_readonly(path: Path, immutable: bool) -> sqlite3.Connection:
    query = "mode=ro&immutable=1" if immutable else "mode=ro"
    conn = None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?{query}", uri=True, timeout=30)
        conn.row_factory = sqlite3.Row
        problem = _not_ours(_tables(conn), writer=False)
        if problem:
            raise StoreError(f"{path}: not a mnistlab store ({problem})")
        _meta(conn, path)
        return conn
    except BaseException as e:
        if conn is not None:
            conn.close()
        if isinstance(e, sqlite3.OperationalError):
            raise StoreError(f"{path}: cannot read it ({e})") from None
        if isinstance(e, sqlite3.DatabaseError):
            raise StoreError(f"{path}: not a mnistlab store ({e})") from None
        raise


def open_readonly(folder: Path) -> sqlite3.Connection:
    """Open the store in `folder` for reading only: nothing is created, migrated or written, in it or beside it.

    A sweep writing now keeps its log (-wal) beside the store, and SQLite reads through it. Without one
    the file is the whole store: opened immutable, SQLite creates no -wal/-shm, even where it may not write.
    """
    path = Path(folder) / DB_NAME
    return _open_readonly(path, immutable=not _has_log(path))


def _has_log(path: Path) -> bool:
    try:
        return path.with_name(path.name + "-wal").exists()
    except OSError:  # a folder we may not search: SQLite will say what it cannot open
        return False


def _fingerprint(path: Path) -> tuple:
    try:
        st = path.stat()
    except OSError:
        return ()
    return st.st_ino, st.st_size, st.st_mtime_ns, _has_log(path)


def _shown(value, limit: int = 80) -> str:
    """A stored value as one short line of plain text: no control characters reach the terminal."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(value))
    return text if len(text) <= limit else text[:limit - 3] + "..."


def read_runs(folder: Path) -> tuple[list[SweepRow], dict, list[str]]:
    """Every usable run, typed, the number of runs per status ('unreadable' for the others) and a line for each
    run left out; read-only, from one consistent state of the store."""
    path = Path(folder) / DB_NAME
    for _ in range(3):
        before = _fingerprint(path)
        conn = open_readonly(folder)
        try:
            rows = all_rows(conn)
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{path}: cannot read it ({e})") from None
        finally:
            conn.close()
        if before and not before[-1] and _fingerprint(path) != before:
            continue  # a sweep started or ended while the file was read without its log: read it again
        break
    usable, left_out, counts = [], [], Counter[str]()
    for row in rows:
        typed, problem = checked_row(row)
        if typed is not None:
            usable.append(typed)
            counts[row["status"]] += 1
        else:
            key, model, budget, seed = (_shown(row[c]) for c in ("key", "model", "samples_per_class", "seed"))
            why = _shown(problem, 200)
            left_out.append(f"{path}: run {key} ({model}, {budget}/class, seed {seed}) left out: {why}")
            counts["unreadable"] += 1
    return usable, dict(counts), left_out


def status_of(conn, keys) -> dict:
    """Each stored key's status; a row the summary could not use counts as 'unreadable', so it is run again."""
    rows = conn.execute("SELECT * FROM runs").fetchall()
    wanted = set(keys)
    return {r["key"]: r["status"] if row_problem(r) is None else "unreadable" for r in rows if r["key"] in wanted}


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
