"""A store from elsewhere is data: every row is checked before anything reads it. A damaged or hostile row is
left out with one line (or the command exits 2), never a traceback, never code run, never a file written
outside the sweep folder, and the user's files stay byte-identical."""
import contextlib
import io
import json
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bad_input_setups import snapshot
from mnistlab.cli.main import main
from mnistlab.runs.rows import result_problem, row_problem

LEGACY = Path(__file__).parent / "fixtures" / "legacy_sweep"  # 8 finished runs: mlp and cnn, budgets 10 20, seeds 0 1
OUTPUTS = ("runs.csv", "summary.json", "resultados", "tables", "figures", "report")  # what summarize may write


def sweep_copy(root: Path, keep: int = 8) -> Path:
    """A copy of the legacy sweep under root/sweep, with its first `keep` runs."""
    out = root / "sweep"
    shutil.copytree(LEGACY, out)
    if keep < 8:
        sql(out, f"DELETE FROM runs WHERE key NOT IN (SELECT key FROM runs ORDER BY key LIMIT {keep})")
    return out


def sql(folder: Path, statement: str, params=()) -> None:
    conn = sqlite3.connect(folder / "store.sqlite", isolation_level=None)
    conn.execute(statement, params)
    conn.close()


def first_key(folder: Path) -> str:
    conn = sqlite3.connect(folder / "store.sqlite")
    key = conn.execute("SELECT key FROM runs ORDER BY key LIMIT 1").fetchone()[0]
    conn.close()
    return key


def set_result_field(folder: Path, key: str, path: tuple, value) -> None:
    """Replace one field of a stored result (a path into its JSON) by `value`, as JSON text."""
    conn = sqlite3.connect(folder / "store.sqlite", isolation_level=None)
    result = json.loads(conn.execute("SELECT result FROM runs WHERE key = ?", (key,)).fetchone()[0])
    target = result
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    conn.execute("UPDATE runs SET result = ? WHERE key = ?", (json.dumps(result), key))
    conn.close()


def cli(argv, cwd: Path) -> tuple[int, str]:
    """The CLI in this process, from `cwd`: (status, stderr)."""
    err = io.StringIO()
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = main(argv)
    finally:
        os.chdir(previous)
    return status, err.getvalue()


def outside_outputs(before: dict, after: dict) -> dict:
    """Paths added, removed or changed, other than what a summary or report writes inside the sweep folder."""
    def ours(rel: str) -> bool:
        return (rel.startswith("sweep/") and rel[len("sweep/"):].split("/")[0] in OUTPUTS or rel == "results.md"
                or rel.split("/")[0] == "results")  # results.md's figures, beside it

    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    return {k: (before.get(k), after.get(k)) for k in changed if not ours(k)}


def assert_left_out_or_refused(status: int, err: str) -> None:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    if status == 2:
        assert len(lines) == 1 and lines[0].startswith("mnistlab: error: ")
    else:
        assert status == 0, err


# ---------------------------------------------------------------- each damage the issue names, by hand

HOSTILE = {
    "history empty": (("history",), {}),
    "history as strings": (("history", "train_loss"), ["0.5", "0.4"]),
    "noise accuracies as text": (("robustness", "noise"), {"abc": "x"}),
    "gap as text": (("gap_at_best",), "x"),
    "label a number": (("label",), 12345),
    "label a list": (("label",), ["a"]),
    "one history record longer than the others": (("history", "train_loss"), [0.5] * 6),
    "more step values than mask rates": (("history", "step"), [100, 200, 300]),
    "a config name no release has": (("config", "turbo_mode"), 1),
}


def test_a_history_three_times_as_long_as_its_epochs_is_left_out(tmp_path):
    folder = sweep_copy(tmp_path, keep=4)
    key = first_key(folder)
    conn = sqlite3.connect(folder / "store.sqlite")
    history = json.loads(conn.execute("SELECT result FROM runs WHERE key = ?", (key,)).fetchone()[0])["history"]
    conn.close()
    set_result_field(folder, key, ("history",), {name: values * 3 for name, values in history.items()})
    status, err = cli(["summarize", "sweep"], tmp_path)
    assert status == 0 and f"run {key} (" in err and "records for its 2 epochs run" in err


def test_a_stored_config_column_with_a_name_no_release_has_is_left_out(tmp_path):
    folder = sweep_copy(tmp_path, keep=4)
    key = first_key(folder)
    sql(folder, "UPDATE runs SET config = json_set(config, '$.turbo_mode', 1) WHERE key = ?", (key,))
    status, err = cli(["summarize", "sweep"], tmp_path)
    assert status == 0 and "'turbo_mode', which is neither a setting of mnistlab" in err


@pytest.mark.parametrize("damage", HOSTILE, ids=list(HOSTILE))
def test_a_damaged_result_is_left_out_with_a_line(tmp_path, damage):
    folder = sweep_copy(tmp_path, keep=4)
    key = first_key(folder)
    set_result_field(folder, key, *HOSTILE[damage])
    before = snapshot(tmp_path)
    status, err = cli(["summarize", "sweep"], tmp_path)
    assert status == 0 and f"run {key} (" in err and "left out" in err
    assert outside_outputs(before, snapshot(tmp_path)) == {}


COLUMN_DAMAGE = {
    "failed row, result a list": ("UPDATE runs SET status = 'failed', result = '[1, 2]' WHERE key = ?", ()),
    "failed row, result NaN": ("UPDATE runs SET status = 'failed', result = 'NaN' WHERE key = ?", ()),
    "environment not JSON": ("UPDATE runs SET environment = '{{{' WHERE key = ?", ()),
    "environment a list": ("UPDATE runs SET environment = '[1]' WHERE key = ?", ()),
    "variant with NUL": ("UPDATE runs SET variant = ? WHERE key = ?", ("a\x00b",)),
    "variant of 300 characters": ("UPDATE runs SET variant = ? WHERE key = ?", ("v" * 300,)),
    "gap column as text": ("UPDATE runs SET gap_at_best = 'x' WHERE key = ?", ()),
}


@pytest.mark.parametrize("damage", COLUMN_DAMAGE, ids=list(COLUMN_DAMAGE))
def test_a_damaged_column_is_left_out_with_a_line(tmp_path, damage):
    folder = sweep_copy(tmp_path, keep=4)
    key = first_key(folder)
    statement, params = COLUMN_DAMAGE[damage]
    sql(folder, statement, (*params, key))
    before = snapshot(tmp_path)
    status, err = cli(["summarize", "sweep"], tmp_path)
    assert status == 0 and f"run {key} (" in err and "left out" in err, err
    assert outside_outputs(before, snapshot(tmp_path)) == {}


@pytest.mark.parametrize("command", ["summarize", "report", "results"])
def test_a_variant_that_climbs_out_writes_nothing_outside_the_sweep(tmp_path, command):
    folder = sweep_copy(tmp_path, keep=4)
    sql(folder, "UPDATE runs SET variant = '../../../outside/X'")
    (tmp_path / "outside").mkdir()
    before = snapshot(tmp_path)
    argv = {"summarize": ["summarize", "sweep"], "report": ["report", "sweep", "--no-pdf"],
            "results": ["results", "--sweep", "main=sweep", "--out", "results.md"]}[command]
    status, err = cli(argv, tmp_path)
    assert "Traceback" not in err and status == 2  # every run left out: nothing finished to summarize
    assert any(why in err for why in ("is not a safe name", "no finished run", "not complete"))
    assert outside_outputs(before, snapshot(tmp_path)) == {}
    assert not list((tmp_path / "outside").iterdir())


# ---------------------------------------------------------------- code named by a store never runs

EVIL = "import pathlib\npathlib.Path(__file__).with_name('RAN').write_text('ran')\nclass Tiny: label = 'Tiny'\n"


@pytest.mark.parametrize("command", ["summarize", "report", "results"])
def test_read_only_commands_never_import_code_a_store_names(tmp_path, command):
    folder = sweep_copy(tmp_path, keep=4)
    evil = tmp_path / "evil.py"
    evil.write_text(EVIL)
    for i, model in enumerate((f"{evil}:Tiny", "evil.py:Tiny", "this:x")):
        sql(folder, "INSERT INTO runs (key, variant, model, samples_per_class, seed, status, config) "
                    "VALUES (?, 'base', ?, 10, 9, 'failed', '{}')", (f"evil{i}", model))
    argv = {"summarize": ["summarize", "sweep"], "report": ["report", "sweep", "--no-pdf", "--allow-partial"],
            "results": ["results", "--sweep", "main=sweep", "--out", "results.md"]}[command]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status, err = cli(argv, tmp_path)
    assert status == 0, err
    assert not (tmp_path / "RAN").exists()
    assert "Beautiful is better than ugly" not in out.getvalue() + err  # `import this` prints the Zen


# ---------------------------------------------------------------- the fuzz: random damage, every reader

FIELDS = [("history",), ("history", "train_loss"), ("history", "val_loss"), ("robustness",), ("robustness", "noise"),
          ("gap_at_best",), ("label",), ("best_val_acc",), ("last_test_acc",), ("train_counts",), ("report",),
          ("report", "0"), ("config",), ("config", "epochs"), ("config", "early_stopping"), ("calibration",),
          ("test_acc",), ("epochs_run",), ("params",)]
COLUMNS = ["variant", "model", "samples_per_class", "seed", "status", "config", "message", "params", "test_acc",
           "best_epoch", "epochs_run", "gap_at_best", "best_val_loss", "result", "environment"]
TEXTS = st.sampled_from(["", "x", "{{{", "[1]", "NaN", "null", "{}", "../../outside/X", "a\x00b", "v" * 300,
                         r"\input{/etc/hostname}\relax", "<script>alert(1)</script>|", r"$\foo{$", "this:x",
                         "/nowhere/evil.py:Tiny", "done", "failed"])
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats() | TEXTS,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXTS, inner, max_size=3),
                           max_leaves=6)
DAMAGE = st.one_of(
    st.tuples(st.just("field"), st.sampled_from(FIELDS), JSON_VALUES),
    st.tuples(st.just("column"), st.sampled_from(COLUMNS),
              st.none() | st.integers(-5, 10**6) | st.floats() | TEXTS | st.binary(max_size=8)),
)
COMMANDS = {"summarize": ["summarize", "sweep"], "report": ["report", "sweep", "--no-pdf", "--allow-partial"],
            "results": ["results", "--sweep", "main=sweep", "--out", "results.md"]}


@settings(max_examples=8, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(damage=DAMAGE, command=st.sampled_from(sorted(COMMANDS)))
def test_fuzz_damaged_store_rows(damage, command):
    kind, where, value = damage
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = sweep_copy(root, keep=2)
        key = first_key(folder)
        if kind == "field":
            set_result_field(folder, key, where, value)
        else:
            try:
                sql(folder, f"UPDATE runs SET {where} = ? WHERE key = ?", (value, key))
            except sqlite3.IntegrityError:  # the store's own schema refuses this damage: it cannot be there
                assume(False)
        store_bytes = (folder / "store.sqlite").read_bytes()
        before = snapshot(root)
        status, err = cli(COMMANDS[command], root)
        assert_left_out_or_refused(status, err)
        assert (folder / "store.sqlite").read_bytes() == store_bytes
        assert outside_outputs(before, snapshot(root)) == {}
        assert not (root / "RAN").exists()


def test_row_rules_accept_every_legacy_run():
    conn = sqlite3.connect(LEGACY / "store.sqlite")
    conn.row_factory = sqlite3.Row
    rows = conn.execute("SELECT * FROM runs").fetchall()
    conn.close()
    assert rows and all(row_problem(r) is None for r in rows)
    legacy = json.loads(rows[0]["result"])
    whole = {"epoch": [1], "train_loss": [1.0], "train_acc": [0.5], "val_loss": [None], "val_acc": [None]}
    assert result_problem({**legacy, "history": whole}) is None
    # One rule for a run folder's history and a store's: every list the training loop records.
    assert "lacks one of" in result_problem({**legacy, "history": {"train_loss": [1.0], "val_loss": [None]}})
    assert "history" in result_problem({**legacy, "history": {"train_loss": ["1"], "val_loss": [1.0]}})
    assert result_problem({k: v for k, v in legacy.items() if k != "confusion"}) == "its result lacks confusion"
