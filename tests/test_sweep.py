import csv
import json
import math
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing

import numpy as np
import pytest
from scipy import stats as scipy_stats

from helpers import TINY_SWEEP, copied, store_rows
from mnistlab.cli.main import main
from mnistlab.sweeps.runner import exclusive

GRID = TINY_SWEEP  # the shared tiny sweep's grid: 2 budgets x 3 seeds x MLP and CNN


@pytest.fixture
def reference(tiny_sweep):
    return tiny_sweep


def finished_runs(folder) -> int:
    """How many runs a sweep's store holds as done, read without writing (0 before it exists)."""
    try:
        conn = sqlite3.connect(f"{(folder / 'store.sqlite').as_uri()}?mode=ro", uri=True, timeout=1)
        try:
            return conn.execute("SELECT COUNT(*) FROM runs WHERE status = 'done'").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def test_sweep_writes_store_tables_and_figures(reference):
    rows = store_rows(reference)
    assert len(rows) == 12 and {r["status"] for r, _ in rows.values()} == {"done"}
    for name in ("learning_curve", "gap_vs_budget", "stop_epoch_vs_budget", "loss_curves_spc10"):
        assert (reference / "figures" / f"{name}.pdf").stat().st_size > 1000
        assert (reference / "figures" / f"{name}.png").stat().st_size > 5000
    assert r"\toprule" in (reference / "tables" / "aggregate.tex").read_text()
    assert sorted(p.name for p in (reference / "resultados").iterdir())[0] == "spc10_seed0.csv"
    header = (reference / "resultados" / "spc10_seed0.csv").read_text().splitlines()[0]
    assert header == "modelo,best_val_loss,final_val_acc,test_acc,params"


def test_aggregates_agree_with_hand_computation(reference):
    with open(reference / "runs.csv") as f:
        tidy = list(csv.DictReader(f))
    summary = json.loads((reference / "summary.json").read_text())
    for agg in summary["aggregates"]:
        accs = [float(r["test_acc"]) for r in tidy
                if r["model"] == agg["model"] and int(r["samples_per_class"]) == agg["samples_per_class"]]
        n, mean, sd = len(accs), sum(accs) / len(accs), np.std(accs, ddof=1)
        half = scipy_stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
        assert agg["test_acc"]["n"] == n == 3
        assert agg["test_acc"]["mean"] == pytest.approx(mean)
        assert agg["test_acc"]["sd"] == pytest.approx(sd)
        assert agg["test_acc"]["ci_low"] == pytest.approx(mean - half)
    for comp in summary["comparisons"]:
        diffs = [float(c["test_acc"]) - float(m["test_acc"]) for c in tidy for m in tidy
                 if c["model"] == "cnn" and m["model"] == "mlp" and c["seed"] == m["seed"]
                 and c["samples_per_class"] == m["samples_per_class"] == str(comp["samples_per_class"])]
        assert comp["diff"]["mean"] == pytest.approx(sum(diffs) / len(diffs))


def test_rerun_redoes_nothing_and_summarize_recreates_figures(tiny_sweep, tmp_path, capsys):
    reference = copied(tiny_sweep, tmp_path / "sweep")
    before = store_rows(reference)
    for p in (reference / "figures").iterdir():
        p.unlink()
    assert main(["sweep", "--out", str(reference), "--quiet", "--no-summary"]) == 0
    assert "12 já no armazenamento, 0 feitas agora" in capsys.readouterr().err
    assert store_rows(reference) == before
    assert main(["summarize", str(reference)]) == 0
    assert (reference / "figures" / "learning_curve.pdf").is_file()


def test_kill_9_at_random_points_then_resume_matches_uninterrupted(tiny_sweep, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "mnistlab", "sweep", *GRID, "--no-summary", "--out", str(out)]
    total = len(store_rows(tiny_sweep))  # the uninterrupted sweep of the same grid
    rng = random.Random(1234)
    kills = 0
    for _ in range(4):
        done = finished_runs(out)
        if done == total:
            break
        # Killed once the store holds a random number of further runs, a random moment later: anywhere from
        # the imports to the middle of a run's final write.
        target, later = rng.randint(done, total - 1), rng.uniform(0.0, 0.5)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while proc.poll() is None and finished_runs(out) < target:
            time.sleep(0.05)
        time.sleep(later)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 2
    resumed = subprocess.run(cmd, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert store_rows(out) == store_rows(tiny_sweep)


def _done_rows(out) -> int:
    """Runs a sweep has stored as done so far (0 before its store exists), read while it writes (WAL)."""
    try:
        with closing(sqlite3.connect(f"file:{out / 'store.sqlite'}?mode=ro", uri=True, timeout=5)) as conn:
            return conn.execute("SELECT COUNT(*) FROM runs WHERE status = 'done'").fetchone()[0]
    except sqlite3.Error:
        return 0  # not created yet, or its tables not yet


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tiny_sweep, tmp_path):
    out = tmp_path / "interrupted"
    cmd = [sys.executable, "-m", "mnistlab", "sweep", *GRID, "--no-summary", "--out", str(out)]
    # Ctrl-C's default in the child, whatever this suite inherited (a shell's background job ignores SIGINT)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None and _done_rows(out) < 1:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # after the first stored run, with eleven to go: mid-sweep on any machine
    _, err = proc.communicate(timeout=60)
    assert _done_rows(out) < 12, "the sweep ended before Ctrl-C reached it"
    assert proc.returncode == 130 and "retome com `mnistlab sweep --out" in err and "Traceback" not in err
    resumed = subprocess.run(cmd, capture_output=True, text=True)
    assert resumed.returncode == 0 and "12 execuções" in resumed.stderr
    assert {r["status"] for r, _ in store_rows(out).values()} == {"done"}
    assert store_rows(out) == store_rows(tiny_sweep)


def test_a_second_sweep_on_a_busy_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    with exclusive(out):
        assert main(["sweep", *GRID, "--out", str(out)]) == 2
    assert "another sweep is writing" in capsys.readouterr().err


@pytest.mark.parametrize("args,needle", [
    (["--seeds", "a-b"], "--seeds 'a-b'"),
    (["--seeds"], "expected at least one argument"),
    (["--budgets", "10", "6000"], "5421"),
    (["--budgets", "0"], "--budgets 0"),
    (["--models", "mlp", "gpt"], "unknown model"),
])
def test_bad_grid_one_line_exit_2(args, needle, tmp_path, capsys):
    assert main(["sweep", *args, "--epochs", "1", "--quiet", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not (tmp_path / "s" / "store.sqlite").exists()


@pytest.mark.parametrize("args,needle", [
    (["--cpus-per-run", "0"], "--cpus-per-run 0"),
    (["--cpus-per-run", "-2"], "--cpus-per-run -2"),
    (["--gpus-per-run", "-1"], "--gpus-per-run -1"),
    (["--gpus-per-run", "inf"], "--gpus-per-run inf"),
    (["--gpus-per-run", "nan"], "--gpus-per-run nan"),
])
def test_bad_ray_shares_one_line_exit_2_before_anything_starts(args, needle, tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["sweep", "--budgets", "10", "--seeds", "0", "--epochs", "1", "--models", "mlp", "--quiet",
                 "--executor", "ray", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1, err
    assert not (out / "store.sqlite").exists() and not (out / "sweep.json").exists()


def test_foreign_store_and_other_config_are_refused(reference, tmp_path, capsys):
    other = tmp_path / "schema"
    other.mkdir()
    conn = sqlite3.connect(other / "store.sqlite")
    conn.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("INSERT INTO meta VALUES ('schema', '99')")
    conn.commit()
    conn.close()
    assert main(["sweep", *GRID, "--out", str(other)]) == 2
    assert "schema 99" in capsys.readouterr().err
    data = tmp_path / "data"
    data.mkdir()
    conn = sqlite3.connect(data / "store.sqlite")
    conn.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.executemany("INSERT INTO meta VALUES (?, ?)", [("schema", "1"), ("data_md5", '{"x": "y"}')])
    conn.commit()
    conn.close()
    assert main(["sweep", *GRID, "--out", str(data)]) == 2
    assert "different data set" in capsys.readouterr().err
    before = store_rows(reference)
    assert main(["sweep", "--budgets", "10", "--epochs", "3", "--quiet", "--out", str(reference)]) == 2
    assert "different configuration (epochs)" in capsys.readouterr().err
    assert store_rows(reference) == before
    assert main(["summarize", str(tmp_path / "nothing")]) == 2
    assert "not a sweep folder" in capsys.readouterr().err


@pytest.mark.parametrize("study,figure,variants", [
    ("noise", "robustness_noise_spc30", {"clean", "noisy0.1"}),
    ("shift", "robustness_shift_spc30", {"plain", "augmented"}),
    ("imbalance", "per_class_recall_longtail_spc30", {"longtail", "longtail-weighted", "longtail-oversample"}),
])
def test_study_presets_run_through_the_store(study, figure, variants, tmp_path):
    out = tmp_path / study
    args = ["sweep", "--study", study, "--budgets", "30", "--seeds", "0-1", "--epochs", "2", "--models", "mlp",
            "--quiet", "--lang", "en", "--out", str(out)]
    assert main(args) == 0
    assert (out / "figures" / f"{figure}.png").stat().st_size > 5000
    assert (out / "figures" / "learning_curve_variants.pdf").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert {a["variant"] for a in summary["aggregates"]} == variants
    assert all(a["n"] == 2 for a in summary["aggregates"])
    if study == "noise":
        row = next(r for r, _ in store_rows(out).values())
        assert json.loads(row["config"])["eval_noise"] == [0.0, 0.05, 0.1, 0.2, 0.3]


def test_documented_study_commands_with_no_early_stopping_still_parse():
    """The refusals of flags a study or --no-early-stopping would ignore leave the documented commands alone."""
    from mnistlab.cli.args import configs_from_args
    from mnistlab.cli.common import check_stopping_flags
    from mnistlab.cli.main import build_parser
    from mnistlab.cli.sweep import spec_from_args

    parser = build_parser()
    args = parser.parse_args(["sweep", "--study", "recipe", "--models", "mlp", "cnn", "--budgets", "1", "2", "5",
                              "--seeds", "0-4", "--no-early-stopping", "--out", "unused"])
    spec = spec_from_args(args, None)
    assert {v["label"] for v in spec.variants} == {"plain", "recipe"} and spec.base["early_stopping"] is False
    args = parser.parse_args(["run", "--recipe", "best", "--no-early-stopping"])
    check_stopping_flags(args)
    assert configs_from_args(args)[0].patience == 30  # the recipe's own patience is not the user's flag


@pytest.mark.parametrize("field,value", [("study", "nope"), ("variants", [{"label": "../x", "overrides": {}}])])
def test_a_sweep_json_with_an_unknown_study_or_unsafe_variant_is_refused(field, value, tmp_path, capsys):
    import shutil
    from pathlib import Path

    out = tmp_path / "sweep"
    shutil.copytree(Path(__file__).parent / "fixtures" / "legacy_sweep", out)
    grid = json.loads((out / "sweep.json").read_text())
    grid[field] = value
    (out / "sweep.json").write_text(json.dumps(grid))
    for argv in (["results", "--sweep", f"main={out}", "--out", str(tmp_path / "r.md")],
                 ["sweep", "--out", str(out), "--quiet"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("mnistlab: error: ") and "sweep.json" in err and "\n" not in err
    assert not (tmp_path / "r.md").exists() and not (tmp_path / "x").exists()


def test_one_spec_builder_for_cli_and_api_takes_a_studys_own_budgets_unless_given():
    from mnistlab.config import RunConfig
    from mnistlab.sweeps.grid import SweepSpec, make_spec

    semi = make_spec(RunConfig(), ["mlp", "cnn"], study="semi")
    assert semi.budgets == [1, 2, 5, 10, 100] and semi.seeds == SweepSpec().seeds
    assert semi.base["early_stopping"] is False
    assert [v["label"] for v in semi.variants][:3] == ["plain", "recipe", "fixmatch"]
    given = make_spec(RunConfig(), ["cnn"], budgets=[100, 10, 10], seeds=[2, 0], study="semi")
    assert given.budgets == [10, 100] and given.seeds == [0, 2]
    assert make_spec(RunConfig(), ["cnn"]).budgets == SweepSpec().budgets == [50, 100, 300, 1000]


def test_a_stored_spec_may_name_a_setting_of_a_model_registered_elsewhere(tmp_path):
    """A sweep of a model registered in the user's own code reads back (report, results) where that model is
    unknown; a registered model's setting out of its range does not."""
    from mnistlab.config import RunConfig
    from mnistlab.errors import SweepError
    from mnistlab.sweeps.grid import SweepSpec, base_config, load_spec, save_spec

    base = base_config(RunConfig())
    save_spec(tmp_path, SweepSpec(base={**base, "wide_mlp_width": 1024}, models=["wide_mlp"]))
    assert load_spec(tmp_path).base["wide_mlp_width"] == 1024
    save_spec(tmp_path, SweepSpec(base={**base, "mlp_hidden": 0}))
    with pytest.raises(SweepError, match="unreadable sweep spec \\(--mlp-hidden 0: must be an integer from 1"):
        load_spec(tmp_path)
