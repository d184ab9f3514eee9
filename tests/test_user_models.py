"""Models from outside mnistlab (a file, a module, an installed package's entry point) and the reference models."""
import csv
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn as nn

from mnistlab.cli.main import main
from mnistlab.config import RunConfig
from mnistlab.errors import ConfigError
from mnistlab.models import count_params, get_model, get_spec, list_models
from mnistlab.models.registry import build_model, label_of, unregister_model
from mnistlab.models.user import vmaps
from mnistlab.runs.job import Job
from mnistlab.usercode import canonical, is_spec

TINY = ["--samples-per-class", "10", "--epochs", "1", "--quiet"]

NETS = '''
import torch.nn as nn
import torch.nn.functional as F

SEEN = []


class ConvNet(nn.Module):
    """No label attribute: shown by its class name."""

    def __init__(self, num_classes, input_shape):
        super().__init__()
        SEEN.append((num_classes, input_shape))
        self.conv = nn.Conv2d(input_shape[0], 4, 3, padding=1)
        self.fc = nn.Linear(4 * 14 * 14, num_classes)

    def forward(self, x):
        return self.fc(F.max_pool2d(F.relu(self.conv(x)), 2).flatten(1))


class Flat(nn.Module):
    label = "Flat net"

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(x.flatten(1))


def make_flat(num_classes=10):
    return nn.Sequential(nn.Flatten(), nn.Linear(784, num_classes))


class Five(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 5)

    def forward(self, x):
        return self.fc(x.flatten(1))


class Branchy(nn.Module):
    """Its forward reads a value out of the batch: torch.func cannot stack it."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(x.flatten(1)) * (2.0 if x.sum().item() > 1e9 else 1.0)


class Alone(Flat):
    stackable = False


class Weightless(nn.Module):
    """No __init__ of its own (nn.Module's takes no model arguments) and nothing to train."""

    def forward(self, x):
        return x.flatten(1)[:, :10]


class Plain:
    pass


def returns_int():
    return 3


NotAModule = 3
'''


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    """A model file outside the repository."""
    path = tmp_path_factory.mktemp("user") / "nets.py"
    path.write_text(NETS)
    return path


def spec(path, attr: str) -> str:
    return f"{path}:{attr}"


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- reference models

def test_reference_models_registered_after_the_notebooks_with_their_counts():
    assert list_models()[:4] == ["mlp", "cnn", "logreg", "lenet5"]
    assert count_params(get_model("logreg")) == 7_850
    assert count_params(get_model("lenet5")) == 61_706
    assert get_spec("lenet5").label == "LeNet-5" and get_spec("logreg").label == "LogReg"
    lenet = get_model("lenet5")
    assert lenet(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert [m.out_channels for m in lenet.modules() if isinstance(m, nn.Conv2d)] == [6, 16]
    assert lenet.features[0].padding == (2, 2)  # the 28x28 variant: the paper's 32x32 input, as padding
    assert sum(isinstance(m, nn.Tanh) for m in lenet.modules()) == 4
    assert sum(isinstance(m, nn.AvgPool2d) for m in lenet.modules()) == 2


@pytest.mark.parametrize("name", ["logreg", "lenet5"])
def test_reference_models_stack_with_torch_func(name):
    assert get_spec(name).stackable and vmaps(lambda: get_model(name))


def test_models_command_lists_every_model_with_count_and_source(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()}
    assert "269,322" in rows["mlp"] and "206,922" in rows["cnn"]
    assert "7,850" in rows["logreg"] and "linear softmax" in rows["logreg"]
    assert "61,706" in rows["lenet5"] and "LeCun" in rows["lenet5"]


# ---------------------------------------------------------------- the spec syntax, labels and signatures

def test_spec_is_split_on_the_last_colon_and_files_are_named_absolutely(tmp_path, monkeypatch):
    assert is_spec("pkg.mod:Net") and is_spec("C:\\x\\net.py:Net") and not is_spec("mlp")
    assert canonical("C:\\x\\net.py:Net") == "C:\\x\\net.py:Net"  # a Windows path: its drive colon is not the split
    with pytest.raises(ConfigError, match=r"no such file C:\\nowhere\\net\.py$"):
        get_spec("C:\\nowhere\\net.py:Net")
    monkeypatch.chdir(tmp_path)
    assert canonical("sub/net.py:Net") == f"{tmp_path}/sub/net.py:Net"
    assert canonical("pkg.mod:Net") == "pkg.mod:Net"


def test_labels_and_the_signature_rule(nets):
    conv = get_spec(spec(nets, "ConvNet"))
    assert conv.label == "ConvNet" and conv.source == str(nets) and conv.source_sha256 == sha256(nets)
    model = build_model(RunConfig(model=conv.name))
    module = sys.modules[type(model).__module__]
    assert module.SEEN[-1] == (10, (1, 28, 28))  # called with both keyword arguments it declares
    assert get_spec(spec(nets, "Flat")).label == "Flat net"  # a plain __init__(self); its label attribute
    assert get_spec(spec(nets, "make_flat")).label == "make_flat"  # a function: its name
    assert label_of(spec(nets, "Flat")) == "Flat net"


def test_user_model_can_be_stacked_unless_it_cannot(nets):
    assert get_spec(spec(nets, "Flat")).stackable
    assert not get_spec(spec(nets, "Branchy")).stackable  # tried with torch.func, and it failed
    assert not get_spec(spec(nets, "Alone")).stackable  # declared


def test_module_spec_is_imported_by_name(tmp_path, monkeypatch):
    (tmp_path / "mynets_mod.py").write_text(NETS)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        got = get_spec("mynets_mod:Flat")
        assert got.label == "Flat net" and got.source == "mynets_mod"
        assert got.source_sha256 == sha256(tmp_path / "mynets_mod.py")  # the module's file
    finally:
        unregister_model("mynets_mod:Flat")
        sys.modules.pop("mynets_mod", None)


# ---------------------------------------------------------------- the key

def test_the_source_hash_is_part_of_the_key_and_default_keys_stay(tmp_path):
    from mnistlab.data.mnist import IDX_MD5

    path = tmp_path / "keyed.py"
    path.write_text(NETS)
    job = Job.of(RunConfig(model=spec(path, "Flat")), IDX_MD5)
    assert job.config.model_source == sha256(path)
    assert job.key != job.config.with_(model_source="").key(IDX_MD5)
    path.write_text(NETS + "\n# edited\n")
    edited = Job.of(RunConfig(model=spec(path, "Flat")), IDX_MD5)  # the registry re-reads an edited file
    assert edited.config.model_source == sha256(path) and edited.key != job.key
    with pytest.raises(ConfigError, match="changed since the run was set up"):
        build_model(job.config)  # the weights of one version are never rebuilt with another
    assert Job.of(RunConfig(model="mlp"), IDX_MD5).key == "4aa31e1f2188cb4f"  # mnistlab's own keep theirs


# ---------------------------------------------------------------- one-line errors

BAD_IMPORT = "raise ImportError('nets need the frobnicator package')\n"


@pytest.mark.parametrize("attr,needle", [
    (None, "--models 'nosuch': unknown model; choose from mlp, cnn, logreg, lenet5"),
    ("missing", "no such file"),
    ("NotAModule", "not an nn.Module class or a function returning one (it is of type int)"),
    ("Plain", "Plain is a class but not a torch.nn.Module subclass"),
    ("returns_int", "returns_int() returned an object of type int, not an nn.Module"),
    ("Nope", "has no attribute 'Nope'"),
    ("Five", "output shape (2, 5), expected (2, 10) logits"),
    ("Weightless", "has no trainable parameters"),
    ("bad", "importing"),
])
def test_bad_models_are_one_line_exit_2(attr, needle, nets, tmp_path, capsys):
    if attr is None:
        model = "nosuch"
    elif attr == "missing":
        model = spec(tmp_path / "missing.py", "Net")
    elif attr == "bad":
        (tmp_path / "bad.py").write_text(BAD_IMPORT)
        model = spec(tmp_path / "bad.py", "Net")
        needle = "ImportError: nets need the frobnicator package"
    else:
        model = spec(nets, attr)
    assert main(["run", "--models", model, *TINY, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err, err
    if attr == "Five":
        assert err == f"mnistlab: error: --models {model}: output shape (2, 5), expected (2, 10) logits"
    assert not (tmp_path / "x").exists()


def test_import_error_in_a_process_is_one_line_without_traceback(tmp_path):
    (tmp_path / "bad.py").write_text("import frobnicator_not_installed\n")
    src = os.path.join(os.path.dirname(os.path.dirname(__file__)), "src")
    proc = subprocess.run([sys.executable, "-m", "mnistlab", "run", "--models", "bad.py:Net", *TINY],
                          cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": src})
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"mnistlab: error: --models bad.py:Net: importing {tmp_path}/bad.py failed: ModuleNotFoundError: No module "
        "named 'frobnicator_not_installed'"]


# ---------------------------------------------------------------- run, explain, report

@pytest.fixture(scope="module")
def user_run(nets, tmp_path_factory):
    out = tmp_path_factory.mktemp("userrun") / "run"
    models = [spec(nets, "ConvNet"), spec(nets, "Flat")]
    assert main(["run", "--models", *models, *TINY, "--out", str(out)]) == 0
    return out


def test_run_writes_the_user_models_results_under_their_labels(user_run, nets):
    rows = list(csv.reader((user_run / "resultados.csv").open()))
    assert [r[0] for r in rows[1:]] == ["ConvNet", "Flat net"]
    assert [r[4] for r in rows[1:]] == ["7890", "7850"]
    payload = json.loads((user_run / "results.json").read_text())
    assert list(payload["models"]) == [spec(nets, "ConvNet"), spec(nets, "Flat")]
    assert {m["config"]["model_source"] for m in payload["models"].values()} == {sha256(nets)}
    names = {p.name for p in user_run.iterdir()}
    assert not any(":" in n for n in names) and sum(n.endswith(".safetensors") for n in names) == 2


def test_explain_uses_gradcam_with_a_conv_and_saliency_without(user_run, nets, capsys):
    assert main(["explain", str(user_run), "--max-points", "60", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "ConvNet: 10-NN accuracy" in out and "Flat net:" in out
    numbers = json.loads((user_run / "explain.json").read_text())
    assert numbers[spec(nets, "ConvNet")]["attribution"] == "gradcam"
    assert numbers[spec(nets, "Flat")]["attribution"] == "saliency"
    assert numbers[spec(nets, "ConvNet")]["points"] == 60
    stems = {p.stem for p in (user_run / "figures").glob("*.png")}
    assert any(s.startswith("gradcam_") for s in stems) and any(s.startswith("saliency_") for s in stems)


def test_report_of_a_run_with_user_models(user_run):
    assert main(["report", str(user_run), "--no-pdf", "--lang", "en"]) == 0
    html = (user_run / "report" / "index.html").read_text()
    assert "ConvNet" in html and "Flat net" in html


# ---------------------------------------------------------------- sweeps

SWEEP = ["--budgets", "10", "--seeds", "0", "--epochs", "1", "--quiet"]


def test_sweep_with_a_user_model_refuses_an_edited_file_unless_allow_mixed(tmp_path, capsys, monkeypatch):
    path = tmp_path / "swept.py"
    path.write_text(NETS)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "sweep"
    assert main(["sweep", "--models", "swept.py:Flat", "mlp", *SWEEP, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Flat net" in printed and "MLP" in printed  # the summary table
    rows = list(csv.reader((out / "resultados" / "spc10_seed0.csv").open()))
    assert [r[0] for r in rows[1:]] == ["MLP", "Flat net"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["labels"][spec(path, "Flat")] == "Flat net"

    path.write_text(NETS.replace("self.fc = nn.Linear(784, 10)", "self.fc = nn.Linear(784, 10, bias=True)"))
    grid = (out / "sweep.json").read_bytes()
    assert main(["sweep", "--models", "swept.py:Flat", "mlp", *SWEEP, "--budgets", "10", "20", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"the model file {path} changed" in err and "--allow-mixed" in err
    assert (out / "sweep.json").read_bytes() == grid  # a refused resume leaves the folder's grid as it was
    assert main(["sweep", "--models", "swept.py:Flat", "mlp", *SWEEP, "--out", str(out), "--allow-mixed",
                 "--no-summary"]) == 0
    conn = sqlite3.connect(out / "store.sqlite")
    sources = [json.loads(c)["model_source"] for c, in conn.execute("SELECT config FROM runs ORDER BY key")]
    assert sorted(sources) == sorted(["", sha256(path), hashlib.sha256(NETS.encode()).hexdigest()])
    assert json.loads(conn.execute("SELECT value FROM meta WHERE name = 'mixed'").fetchone()[0]) is True


def test_batched_sweep_stacks_a_user_model(nets, tmp_path):
    out = tmp_path / "batched"
    assert main(["sweep", "--models", spec(nets, "Flat"), "--budgets", "10", "--seeds", "0-1", "--epochs", "1",
                 "--batched", "on", "--quiet", "--no-summary", "--out", str(out)]) == 0
    statuses = [s for s, in sqlite3.connect(out / "store.sqlite").execute("SELECT status FROM runs")]
    assert statuses == ["done", "done"]


# ---------------------------------------------------------------- installed packages' entry points

@pytest.fixture
def fake_distribution(tmp_path, monkeypatch):
    """An installed package `fake_pkg` declaring two models in the group mnistlab.models, one broken."""
    (tmp_path / "fake_pkg").mkdir()
    (tmp_path / "fake_pkg" / "__init__.py").write_text(NETS)
    info = tmp_path / "fake_pkg-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake_pkg\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent("""\
        [mnistlab.models]
        fakeflat = fake_pkg:Flat
        fakebroken = fake_pkg:Five
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("fakeflat", "fakebroken"):
        unregister_model(name)
    sys.modules.pop("fake_pkg", None)


def test_entry_point_models_are_listed_and_loaded_lazily(fake_distribution, capsys):
    assert {"fakeflat", "fakebroken"} <= set(list_models())
    assert "fake_pkg" not in sys.modules  # listing does not import it
    assert main(["models"]) == 0
    assert "fake_pkg" not in sys.modules  # nor does `mnistlab models`
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "entry point fake_pkg:Flat from fake_pkg 0.1 (imported only when used)" in rows["fakeflat"]
    got = get_spec("fakeflat")
    assert got.label == "Flat net" and "entry point fake_pkg:Flat" in got.source and "fake_pkg 0.1" in got.source
    assert got.source_sha256 == sha256(fake_distribution / "fake_pkg" / "__init__.py")
    assert main(["models"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "7,850" in rows["fakeflat"] and "entry point fake_pkg:Flat" in rows["fakeflat"]
    assert "imported only when used" in rows["fakebroken"]
    with pytest.raises(ConfigError, match=r"output shape \(2, 5\)"):  # a broken one says so when used
        get_spec("fakebroken")


# ---------------------------------------------------------------- a run folder from elsewhere names code

RAN = "import pathlib\npathlib.Path(__file__).with_name('RAN').write_text('ran')\n"


def _folder_naming(tmp_path, model: str, source: str):
    """A copy of the legacy run whose MLP is recorded as `model` (source hash `source`), with no label."""
    import shutil

    from mnistlab.models.registry import file_stem

    out = tmp_path / "run"
    shutil.copytree(__import__("pathlib").Path(__file__).parent / "fixtures" / "legacy_run", out)
    payload = json.loads((out / "results.json").read_text())
    entry = payload["models"].pop("mlp")
    entry["config"].update(model=model, model_source=source)
    payload["models"] = {model: {**entry, "model": model}}
    (out / "results.json").write_text(json.dumps(payload))
    (out / "mlp.safetensors").rename(out / f"{file_stem(model)}.safetensors")
    return out


@pytest.mark.parametrize("recorded", ["other", "none", "relative"])
def test_explain_hashes_a_recorded_model_file_before_importing_it(recorded, tmp_path, capsys, monkeypatch):
    evil = tmp_path / "evil.py"
    evil.write_text(RAN + NETS)
    model = {"relative": "evil.py:Flat"}.get(recorded, f"{evil}:Flat")
    source = {"other": "0" * 64, "none": "", "relative": sha256(evil)}[recorded]
    out = _folder_naming(tmp_path, model, source)
    monkeypatch.chdir(tmp_path)
    assert main(["explain", str(out), "--max-points", "60", "--gradcam"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "it is not imported" in err
    assert not (tmp_path / "RAN").exists()


def test_report_reads_a_recorded_models_label_without_importing_it(tmp_path, capsys):
    evil = tmp_path / "evil.py"
    evil.write_text(RAN + NETS)
    out = _folder_naming(tmp_path, f"{evil}:Flat", sha256(evil))
    assert main(["report", str(out), "--no-pdf", "--lang", "en"]) == 0
    assert not (tmp_path / "RAN").exists()
    assert "Flat" in (out / "report" / "index.html").read_text()  # the spec's attribute name stands in


def test_a_label_matplotlib_cannot_parse_is_drawn_as_text(tmp_path):
    """A user model's label is shown as written: r"$\\foo{$" is not a formula to fail on after training."""
    import os
    import stat

    from mnistlab.figures.run import training_curves

    history = {"epoch": [1, 2], "train_loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "train_acc": [0.5, 0.7],
               "val_acc": [0.4, 0.6]}
    old = os.umask(0o022)
    try:
        paths = training_curves(history, "net", r"$\foo{$", tmp_path, "en")
    finally:
        os.umask(old)
    assert len(paths) == 4 and all(p.stat().st_size > 1000 for p in paths)
    assert {stat.S_IMODE(p.stat().st_mode) for p in paths} == {0o644}  # as any file the umask lets be


def test_a_sweep_resumed_from_its_folder_hashes_a_model_only_the_folder_names(tmp_path, capsys):
    import shutil

    evil = tmp_path / "evil.py"
    evil.write_text(RAN + NETS)
    out = tmp_path / "sweep"
    shutil.copytree(__import__("pathlib").Path(__file__).parent / "fixtures" / "legacy_sweep", out)
    grid = json.loads((out / "sweep.json").read_text())
    grid["models"].append(f"{evil}:Flat")
    (out / "sweep.json").write_text(json.dumps(grid))
    assert main(["sweep", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "it is not imported" in err and "--models" in err
    assert not (tmp_path / "RAN").exists()
