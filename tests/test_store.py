"""Reading a sweep store: `summarize` and `report` open it read-only, refuse what is not a mnistlab store
unchanged, leave out rows they cannot use with a message, and a refused report writes nothing."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from mnistlab.cli.main import main
from mnistlab.runs import store

LEGACY = Path(__file__).parent / "fixtures" / "legacy_sweep"  # 8 finished runs: mlp and cnn, budgets 10 20, seeds 0 1
NOBODY = 65534
# A sweep in the middle of writing: its last changes are in the log (-wal) beside the store, not yet in it.
WRITER = """import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA wal_autocheckpoint=0")
conn.execute("UPDATE runs SET status = 'running' WHERE seed = 1")
print("written", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def sweep(tmp_path):
    """A copy of a finished sweep folder, to damage."""
    out = tmp_path / "sweep"
    shutil.copytree(LEGACY, out)
    return out


def _state(folder: Path) -> dict:
    """Every file in the folder with its bytes and modification time."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def _sql(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in statements:
        conn.execute(statement)
    conn.close()


def _foreign_sqlite(path: Path) -> None:
    _sql(path, "CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT)", "INSERT INTO runs (name) VALUES ('a')",
         "CREATE TABLE meta (k TEXT, v TEXT)")


FOREIGN = {
    "empty file": lambda p: p.write_bytes(b""),
    "runs table dropped": lambda p: _sql(p, "DROP TABLE runs"),
    "another program's database": _foreign_sqlite,
    "a database without our tables": lambda p: _sql(p, "CREATE TABLE photos (path TEXT)"),
    "not SQLite": lambda p: p.write_bytes(b"PK\x03\x04 a zip file, say" * 300),
}


@pytest.mark.parametrize("damage", FOREIGN, ids=list(FOREIGN))
def test_a_file_that_is_not_a_mnistlab_store_is_refused_unchanged(damage, sweep, capsys):
    path = sweep / "store.sqlite"
    if damage != "runs table dropped":
        path.unlink()
    FOREIGN[damage](path)
    before = _state(sweep)
    for command in (["summarize", str(sweep)], ["report", str(sweep), "--no-pdf"]):
        assert main(command) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "not a mnistlab store" in err, err
        assert _state(sweep) == before  # bytes, times, and no new file (no -wal, -shm, report/)


def test_summarize_reads_a_store_without_writing_beside_it(sweep):
    before = _state(sweep)
    rows, counts, unreadable = store.read_runs(sweep)
    assert len(rows) == 8 and counts == {"done": 8} and unreadable == []
    assert _state(sweep) == before


def _as_nobody(function):
    """Run `function` in a child process as user nobody; return what it returned (repr) or raised."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            answer = repr(function())
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            answer = f"{type(e).__name__}: {e}"
        os.write(write, answer.encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as f:
        return f.read()


@pytest.fixture
def open_to_all():
    """A folder every user may enter (pytest's own tmp folders are the owner's only)."""
    folder = Path(tempfile.mkdtemp(prefix="mnistlab-store-"))
    folder.chmod(0o755)
    yield folder
    for p in folder.rglob("*"):
        p.chmod(0o755)
    shutil.rmtree(folder)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_a_store_in_a_folder_this_user_cannot_write_is_read(open_to_all):
    sweep = open_to_all / "sweep"
    shutil.copytree(LEGACY, sweep)
    os.chmod(sweep / "store.sqlite", 0o444)
    os.chmod(sweep, 0o555)
    try:
        answer = _as_nobody(lambda: [len(part) for part in store.read_runs(sweep)])
        assert answer == "[8, 1, 0]"
        # A sweep writing right now keeps its log beside the store: read through it, still without writing.
        os.chmod(sweep, 0o755)
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(sweep / "store.sqlite")], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert writer.stdout.readline() == "written\n"
            os.chmod(sweep, 0o555)
            before = _state(sweep)
            assert "store.sqlite-wal" in before
            answer = _as_nobody(lambda: store.read_runs(sweep)[1])
            assert answer == repr({"done": 4, "running": 4})
            assert _state(sweep) == before
        finally:
            writer.communicate("")
    finally:
        os.chmod(sweep, 0o755)


def test_rows_the_summary_cannot_use_are_left_out_with_a_message(sweep, capsys):
    path = sweep / "store.sqlite"
    _sql(path, "PRAGMA ignore_check_constraints = ON",
         "UPDATE runs SET test_acc = NULL WHERE model = 'mlp' AND samples_per_class = 10 AND seed = 0",
         "UPDATE runs SET model = 'gpt' WHERE model = 'cnn' AND samples_per_class = 20 AND seed = 1",
         "UPDATE runs SET status = 'paused' WHERE model = 'mlp' AND samples_per_class = 20 AND seed = 1",
         "UPDATE runs SET result = 'not json' WHERE model = 'cnn' AND samples_per_class = 10 AND seed = 1")
    assert main(["summarize", str(sweep), "--lang", "en"]) == 0
    captured = capsys.readouterr()
    notes = [line for line in captured.err.splitlines() if "left out" in line]
    assert len(notes) == 4 and "Traceback" not in captured.err
    assert any("test_acc" in n for n in notes) and any("'gpt'" in n for n in notes)
    assert any("'paused'" in n for n in notes) and any("not JSON" in n for n in notes)
    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["counts"] == {"done": 4, "unreadable": 4} and not summary["complete"]
    # A sweep on that folder runs those four again and replaces them.
    assert main(["sweep", "--quiet", "--no-summary", "--allow-mixed", "--out", str(sweep)]) == 0
    assert "4 já no armazenamento, 4 feitas agora" in capsys.readouterr().err
    rows, counts, unreadable = store.read_runs(sweep)
    assert len(rows) == 8 and counts == {"done": 8} and unreadable == []


def test_a_store_whose_meta_is_not_json_is_one_line_for_sweep_and_readable_for_summarize(sweep, capsys):
    _sql(sweep / "store.sqlite", "UPDATE meta SET value = '{broken' WHERE name = 'data_md5'")
    before = (sweep / "store.sqlite").read_bytes()
    assert main(["sweep", "--quiet", "--out", str(sweep)]) == 2  # the folder's own grid
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "data_md5" in err and "not JSON" in err, err
    assert (sweep / "store.sqlite").read_bytes() == before


def test_sweep_refuses_another_programs_database_unchanged(tmp_path, capsys):
    out = tmp_path / "foreign"
    out.mkdir()
    _foreign_sqlite(out / "store.sqlite")
    before = (out / "store.sqlite").read_bytes()
    assert main(["sweep", "--budgets", "10", "--seeds", "0", "--epochs", "1", "--quiet", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a mnistlab store" in err, err
    assert (out / "store.sqlite").read_bytes() == before


def test_a_report_refused_as_partial_writes_nothing(sweep, capsys):
    _sql(sweep / "store.sqlite", "UPDATE runs SET status = 'running' WHERE seed = 1")
    before = _state(sweep)
    assert main(["report", str(sweep), "--no-pdf"]) == 2
    assert "not complete (4 running)" in capsys.readouterr().err
    assert not (sweep / "report").exists()
    assert _state(sweep) == before


def test_rows_read_back_typed_and_a_column_edited_away_from_its_result_is_left_out(sweep):
    rows, counts, unreadable = store.read_runs(sweep)
    assert counts == {"done": 8} and unreadable == []
    first = rows[0]
    assert (first.variant, first.model, first.samples_per_class, first.seed) == ("base", "cnn", 10, 0)
    assert first.result.test_acc == first.metric("test_acc") and first.result.history["val_loss"]
    assert first.config["samples_per_class"] == 10 and first.environment
    _sql(sweep / "store.sqlite", "UPDATE runs SET test_acc = 0.5 WHERE model = 'mlp' AND samples_per_class = 20 "
         "AND seed = 0")
    rows, counts, unreadable = store.read_runs(sweep)
    assert len(rows) == 7 and len(unreadable) == 1 and "test_acc column and its result disagree" in unreadable[0]
