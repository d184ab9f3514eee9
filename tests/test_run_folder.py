"""The run folder as a whole: replaced at once (never a mix of two runs, whatever interrupts the write),
--overwrite replacing everything, weights checked against the hashes results.json records, and a damaged
results.json or weight file refused in one line by every command that reads it."""
import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import torch

from helpers import train_one
from mnistlab.cli.main import main
from mnistlab.errors import RunDirError
from mnistlab.models.registry import config_of
from mnistlab.runs import folder as run_folder
from mnistlab.runs.outcome import environment

LEGACY = Path(__file__).parent / "fixtures" / "legacy_run"
SMALL = dict(samples_per_class=20, epochs=1, mlp_hidden=8, cnn_fc=8)  # tiny files: quick to write many times
TINY = ["--samples-per-class", "20", "--epochs", "2", "--mlp-hidden", "8", "--quiet"]  # runs the MLP alone too


@pytest.fixture(scope="module")
def runs(device_data):
    """Two different runs to write: 'old' (seed 0, MLP and CNN) and 'new' (seed 1, MLP only)."""
    def train(seed, models):
        pairs = [train_one(config_of(model=m, seed=seed, **SMALL), device_data) for m in models]
        return [r for r, _ in pairs], {r.model: net for r, net in pairs}

    extra = (environment(torch.device("cpu")), {"folder": str(device_data.mnist.folder),
                                                 "md5": device_data.mnist.checksums})
    return {"old": (*train(0, ("mlp", "cnn")), *extra), "new": (*train(1, ("mlp",)), *extra)}


def write(folder, run, lang="en"):
    from mnistlab.figures.run import run_figures

    return run_folder.write_run(folder, *run, draw=lambda staging: run_figures(run[0], staging / "figures", lang))


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def is_whole(folder, results):
    """The folder holds exactly this run: its key, its models only, each weight file the one recorded."""
    payload = json.loads((folder / "results.json").read_text())
    names = {r.model for r in results}
    files = {p.name for p in folder.rglob("*") if p.is_file()}
    return (payload["run_key"] == run_folder.run_key(r.key for r in results) and set(payload["models"]) == names
            and all(sha(folder / f"{m}.safetensors") == payload["models"][m]["weights_sha256"] for m in names)
            and not [f for f in files if any(o in f for o in {"mlp", "cnn"} - names)])


def siblings(folder):
    """Whatever a replacement leaves beside the folder (the lock file aside)."""
    return sorted(n for n in os.listdir(folder.parent) if n != folder.name and not n.endswith(".lock"))


def one_line_error(capsys, needle, alone=True):
    """stderr holds the error as one line (after the run's progress lines when `alone` is False)."""
    err = capsys.readouterr().err.strip()
    lines = err.splitlines()
    assert "Traceback" not in err and lines and lines[-1].startswith("mnistlab: error: "), err
    assert needle in lines[-1] and (len(lines) == 1 or not alone), err


# ---------------------------------------------------------------- the folder is replaced whole

FILE_OPS = [(os, "replace"), (os, "rename"), (os, "mkdir"), (os, "unlink"), (os, "rmdir")]


@pytest.fixture
def quick_figures(monkeypatch):
    """Figures written as small files through the same temp-file-and-rename path, without drawing them:
    what is tested here is the order of file operations, and drawing takes seconds per run."""
    from mnistlab.atomic import write_atomic
    from mnistlab.figures import run as plots

    def save(folder, *stems):
        return [write_atomic(Path(folder) / f"{stem}.{ext}", b"figure") for stem in stems for ext in ("png", "pdf")]
    monkeypatch.setattr(plots, "training_curves", lambda history, model, label, folder, lang:
                        save(folder, f"{model}_curves_loss", f"{model}_curves_acc"))
    monkeypatch.setattr(plots, "confusion_matrix",
                        lambda confusion, model, label, folder, lang, class_names=None: save(folder, f"cm_{model}"))


def _hooked(on_call):
    """Patch every file operation to call on_call(k) before its k-th call; return a function undoing it."""
    count, saved = [0], [(module, name, getattr(module, name)) for module, name in FILE_OPS]
    for module, name, real in saved:
        def hooked(*a, _real=real, **kw):
            count[0] += 1
            on_call(count[0])
            return _real(*a, **kw)
        setattr(module, name, hooked)
    return lambda: [setattr(module, name, real) for module, name, real in saved] and count[0]


def _count_ops(action):
    undo = _hooked(lambda k: None)
    try:
        action()
    finally:
        total = undo()
    return total


def _killed_at(k, action):
    """Fork; the child runs `action` and is killed by SIGKILL just before its k-th file operation."""
    pid = os.fork()
    if pid == 0:
        try:
            _hooked(lambda n: n == k and os.kill(os.getpid(), signal.SIGKILL))
            action()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.WIFSIGNALED(status)


def _prepared(tmp_path, runs):
    """A run folder holding the old run, alone in its parent; the old run's snapshot; a pristine copy."""
    base, folder = tmp_path / "base", tmp_path / "area" / "run"
    write(base, runs["old"])
    shutil.copytree(base, folder)
    return folder, snapshot(base), base


def _reset(folder, base):
    shutil.rmtree(folder.parent)
    shutil.copytree(base, folder)


def test_killed_at_every_step_leaves_the_old_run_or_the_new_one(runs, tmp_path, quick_figures):
    folder, old, base = _prepared(tmp_path, runs)
    total = _count_ops(lambda: write(folder, runs["new"]))
    assert is_whole(folder, runs["new"][0]) and total > 20
    seen, repaired = set(), 0
    for k in range(1, total + 2):
        _reset(folder, base)
        assert _killed_at(k, lambda: write(folder, runs["new"])) == (k <= total)
        repaired += not folder.is_dir() or bool(siblings(folder))
        run_folder.recover(folder)
        state = "old" if snapshot(folder) == old else "new" if is_whole(folder, runs["new"][0]) else "mixed"
        assert state != "mixed", f"killed before file operation {k}: {sorted(snapshot(folder))}"
        assert siblings(folder) == [], k
        seen.add(state)
    assert seen == {"old", "new"} and repaired > total // 2


def test_an_error_at_any_step_keeps_the_old_run(runs, tmp_path, quick_figures):
    folder, old, base = _prepared(tmp_path, runs)
    total = _count_ops(lambda: write(folder, runs["new"]))
    failures = 0
    for k in range(1, total + 2):
        _reset(folder, base)

        def disk_full(n, k=k):
            if n == k:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        undo = _hooked(disk_full)
        try:
            write(folder, runs["new"])
        except RunDirError as e:
            failures += 1
            assert "No space left on device" in str(e) and "\n" not in str(e)
            assert snapshot(folder) == old, k
        finally:
            undo()
        run_folder.recover(folder)
        assert snapshot(folder) == old or is_whole(folder, runs["new"][0]), k
        assert siblings(folder) == [], k
    assert failures > 10


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


def _fill(disk, leave):
    """Take all the space of `disk` but `leave` bytes."""
    st = os.statvfs(disk)
    (disk / "filler").write_bytes(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))


def test_disk_full_keeps_the_old_run_and_says_so_in_one_line(runs, small_disk, capsys):
    folder = small_disk / "run"
    write(folder, runs["old"])
    old = snapshot(folder)
    _fill(small_disk, 32 * 1024)
    with pytest.raises(RunDirError, match="No space left on device") as caught:
        write(folder, runs["new"])
    assert "\n" not in str(caught.value)
    assert snapshot(folder) == old and siblings(folder) == ["filler"]
    # The same through the command line: one line, exit 2, the old run intact.
    assert main(["run", *TINY, "--seed", "5", "--models", "mlp", "--out", str(folder), "--overwrite"]) == 2
    one_line_error(capsys, "No space left on device", alone=False)
    assert snapshot(folder) == old and siblings(folder) == ["filler"]


def test_recover_leaves_a_live_replacement_alone(runs, tmp_path):
    from filelock import FileLock

    folder = tmp_path / "run"
    write(folder, runs["old"])
    staging = tmp_path / ".run.new-0123abcd"
    staging.mkdir()
    with FileLock(str(tmp_path / ".run.lock")):  # another process writing its staging folder right now
        run_folder.recover(folder)
        assert staging.is_dir()
    run_folder.recover(folder)  # the writer is gone: its unfinished staging folder is removed
    assert not staging.exists() and is_whole(folder, runs["old"][0])


def test_a_planted_journal_deletes_nothing_else(runs, tmp_path):
    folder, victim = tmp_path / "run", tmp_path / "victim"
    write(folder, runs["old"])
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    (tmp_path / ".run.swap").write_text(json.dumps({"staging": "../victim", "old": "victim"}))
    run_folder.recover(folder)
    assert (victim / "keep.txt").read_text() == "mine" and is_whole(folder, runs["old"][0])
    assert siblings(folder) == ["victim"]


# ---------------------------------------------------------------- --overwrite replaces the whole run

def test_overwrite_replaces_the_whole_run_with_its_explain_and_report(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", *TINY, "--models", "mlp", "cnn", "--out", str(out)]) == 0
    # What `mnistlab explain` writes (drawing it takes long; its own tests cover that), then a real report.
    (out / "explain.json").write_text(json.dumps({"cnn": {"attribution_on_digit": 0.5}}))
    for stem in ("gradcam_cnn", "saliency_mlp", "misclassified_cnn", "tsne_cnn"):
        for ext in ("png", "pdf"):
            shutil.copy(out / "figures" / f"cm_cnn.{ext}", out / "figures" / f"{stem}.{ext}")
    assert main(["report", str(out), "--no-pdf"]) == 0
    assert (out / "explain.json").is_file() and (out / "report").is_dir()
    before = snapshot(out)
    capsys.readouterr()
    assert main(["run", *TINY, "--models", "mlp", "--out", str(out)]) == 2  # a different run: refused
    one_line_error(capsys, "already holds a different run")
    assert snapshot(out) == before
    assert main(["run", *TINY, "--models", "mlp", "--out", str(out), "--overwrite"]) == 0
    files = set(snapshot(out))
    assert not [f for f in files if "cnn" in f] and "explain.json" not in files
    assert not [f for f in files if f.startswith("report/") or f.split("/")[-1].startswith(("gradcam", "saliency",
                                                                                              "misclassified", "tsne"))]
    assert {"mlp.safetensors", "results.json", "resultados.csv", "figures/cm_mlp.png"} <= files
    assert list(json.loads((out / "results.json").read_text())["models"]) == ["mlp"]
    assert siblings(out) == []


@pytest.mark.parametrize("content", [{"notes.txt": "my notes"}, {"store.sqlite": "a sweep"}])
@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_a_folder_that_is_not_a_run_is_never_replaced(content, overwrite, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    for name, text in content.items():
        (out / name).write_text(text)
    assert main(["run", *TINY, "--models", "mlp", "--out", str(out), *overwrite]) == 2
    one_line_error(capsys, "not a mnistlab run folder")
    assert {p.name: p.read_text() for p in out.iterdir()} == content


def test_write_run_refuses_a_folder_that_is_not_a_run(runs, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    with pytest.raises(RunDirError, match="not a mnistlab run folder"):
        write(out, runs["new"])
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    write(empty, runs["new"])
    assert is_whole(empty, runs["new"][0])


# ---------------------------------------------------------------- weights match results.json

def test_results_record_each_weight_files_hash(tiny_run):
    payload = json.loads((tiny_run / "results.json").read_text())
    for model in ("mlp", "cnn"):
        assert payload["models"][model]["weights_sha256"] == sha(tiny_run / f"{model}.safetensors")
        run_folder.load_model(tiny_run, model)


def _swap_weights(folder):
    mlp, cnn = (folder / "mlp.safetensors").read_bytes(), (folder / "cnn.safetensors").read_bytes()
    (folder / "mlp.safetensors").write_bytes(cnn)
    (folder / "cnn.safetensors").write_bytes(mlp)


def _truncate_cnn(folder):
    path = folder / "cnn.safetensors"
    path.write_bytes(path.read_bytes()[:1000])


def _same_size_other_values(folder):
    path = folder / "mlp.safetensors"
    data = bytearray(path.read_bytes())
    data[-4:] = b"\0\0\0\0"  # a weight changed in place: still a valid file
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_swap_weights, _truncate_cnn, _same_size_other_values])
@pytest.mark.parametrize("command", [["explain", "{dir}", "--gradcam"], ["report", "{dir}", "--no-pdf"]])
def test_weights_that_do_not_match_are_refused(tiny_run, damage, command, tmp_path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy)
    damage(copy)
    before = snapshot(copy)
    assert main([a.format(dir=copy) for a in command]) == 2
    one_line_error(capsys, "weights do not match results.json (sha256 ")
    assert snapshot(copy) == before  # nothing written from weights that are not the run's


def test_a_run_written_before_hashes_still_loads(tmp_path, capsys):
    copy = tmp_path / "legacy"
    shutil.copytree(LEGACY, copy)
    for model in ("mlp", "cnn"):
        net, cfg = run_folder.load_model(copy, model)
        assert cfg.model == model
    assert main(["report", str(copy), "--no-pdf"]) == 0
    _truncate_cnn(copy)  # no hash to compare with, but a truncated file is still no weight file
    with pytest.raises(RunDirError, match="not a readable weight file"):
        run_folder.load_model(copy, "cnn")
    assert main(["report", str(copy), "--no-pdf"]) == 2
    one_line_error(capsys, "not a readable weight file")


# ---------------------------------------------------------------- a damaged results.json: one line

def _results(edit):
    def apply(folder):
        path = folder / "results.json"
        payload = json.loads(path.read_text())
        path.write_text(json.dumps(edit(payload)))
    return apply


def _rename_model(payload):
    payload["models"]["rnn"] = payload["models"].pop("mlp")
    return payload


def _drop_history(payload):
    del payload["models"]["cnn"]["history"]
    return payload


DAMAGED = {
    "empty list": (_results(lambda p: []), "a JSON list, not an object"),
    "no models": (_results(lambda p: {k: v for k, v in p.items() if k != "models"}), '"models" is missing'),
    "no history": (_results(_drop_history), "lacks 'history'"),
    "unknown model": (_results(_rename_model), "unknown model 'rnn'"),
    "truncated weights": (_truncate_cnn, "weights do not match results.json"),
}


@pytest.mark.parametrize("case", DAMAGED)
@pytest.mark.parametrize("command", ["explain", "report"])
def test_a_damaged_run_folder_is_one_line(tiny_run, case, command, tmp_path, capsys):
    damage, needle = DAMAGED[case]
    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy)
    damage(copy)
    assert main([command, str(copy), *(["--gradcam"] if command == "explain" else ["--no-pdf"])]) == 2
    one_line_error(capsys, needle)


def test_the_same_run_again_keeps_the_folder_and_its_explain_outputs(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", *TINY, "--models", "mlp", "--out", str(out)]) == 0
    (out / "explain.json").write_text(json.dumps({"mlp": {"attribution_on_digit": 0.5}}))
    before = snapshot(out)
    capsys.readouterr()
    assert main(["run", *TINY, "--models", "mlp", "--out", str(out)]) == 0  # same key: nothing retrained
    assert "já está lá (mesma chave)" in capsys.readouterr().err
    assert snapshot(out) == before


HOLDER = """import sys
from pathlib import Path
from mnistlab.runs.lock import locked
with locked(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.mark.skipif(os.name != "posix", reason="flock locks are POSIX")
def test_a_run_is_refused_while_another_writes_the_same_folder(tiny_run, capsys):
    """A run holds its folder's lock from its check to its swap: a second one at the same time is refused."""
    import sys

    before = snapshot(tiny_run)
    lock = tiny_run.parent / f".{tiny_run.name}.lock"
    assert [p.name for p in tiny_run.parent.iterdir()] == [tiny_run.name]  # a finished run leaves no lock beside it
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(["run", *TINY, "--seed", "7", "--out", str(tiny_run)]) == 2
    finally:
        holder.communicate("")
    err = capsys.readouterr().err.strip()
    assert err.startswith("mnistlab: error: --out") and "another mnistlab command is writing" in err
    assert "\n" not in err and snapshot(tiny_run) == before


# ---------------------------------------------------------------- fuzz: random damage to results.json

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

RESULT_PATHS = [("schema",), ("kind",), ("models",), ("run_key",), ("models", "mlp"), ("models", "mlp", "label"),
                ("models", "mlp", "history"), ("models", "mlp", "history", "train_loss"),
                ("models", "mlp", "history", "epoch"), ("models", "mlp", "confusion"), ("models", "mlp", "params"),
                ("models", "mlp", "test_acc"), ("models", "mlp", "best_val_loss"), ("models", "mlp", "config"),
                ("models", "mlp", "config", "model"), ("models", "mlp", "config", "model_source"),
                ("models", "mlp", "config", "samples_per_class"), ("models", "mlp", "weights_sha256"),
                ("models", "mlp", "robustness"), ("models", "mlp", "report"), ("models", "mlp", "epochs_run")]
FUZZ_TEXT = st.sampled_from(["", "x", "{{{", "../../outside/X", "a\x00b", "v" * 300, r"\input{/etc/hostname}",
                             "<script>|", r"$\foo{$", "this:x", "/nowhere/evil.py:Tiny", "0" * 64])
FUZZ_JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats() | FUZZ_TEXT,
                         lambda inner: st.lists(inner, max_size=3) | st.dictionaries(FUZZ_TEXT, inner, max_size=3),
                         max_leaves=6)


@settings(max_examples=16, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(where=st.sampled_from(RESULT_PATHS), value=FUZZ_JSON)
def test_fuzz_damaged_results_json(where, value):
    """Any type or shape in any field of results.json: report gives a report or one line and exit 2, never a
    traceback, and the run folder's own files stay byte-identical."""
    import contextlib
    import io
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "run"
        shutil.copytree(LEGACY, folder)
        payload = json.loads((folder / "results.json").read_text())
        target = payload
        for part in where[:-1]:
            target = target[part]
        target[where[-1]] = value
        (folder / "results.json").write_text(json.dumps(payload))
        before = snapshot(folder)
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = main(["report", str(folder), "--no-pdf", "--lang", "en"])
        lines = err.getvalue().strip().splitlines()
        assert status in (0, 2) and "Traceback" not in err.getvalue()
        assert status == 0 or (len(lines) == 1 and lines[0].startswith("mnistlab: error: "))
        after = snapshot(folder)
        assert {k: v for k, v in after.items() if not k.startswith("report/")} == before
        assert sorted(p.name for p in Path(tmp).iterdir()) == ["run"]
