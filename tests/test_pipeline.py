"""The open pipeline end to end: any number of models, typed outcomes, code identity on resume, old stores
and run folders still read, and a user's matplotlib state left alone."""
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import torch.nn as nn

from mnistlab.api import run, sweep_runs
from mnistlab.config import RunConfig
from mnistlab.errors import ConfigError, SweepError
from mnistlab.models.registry import config_of, register_model, unregister_model

FIXTURES = Path(__file__).parent / "fixtures"
TINY = {"epochs": 1, "mlp_hidden": 8, "cnn_fc": 8}


@pytest.fixture
def third_model():
    @register_model("tiny_linear", label="Linear")
    def tiny(cfg):
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))

    yield "tiny_linear"
    unregister_model("tiny_linear")


def test_three_models_are_compared_pairwise_with_holm(tmp_path, third_model):
    from mnistlab.report.build import build_report

    summary = sweep_runs(tmp_path / "s", budgets=[10], seeds=range(3), models=["mlp", "cnn", third_model],
                         lang="en", **TINY)
    assert summary["models"] == ["mlp", "cnn", third_model]
    pairs = [(c["a"], c["b"]) for c in summary["comparisons"]]
    assert pairs == [("mlp", "cnn"), ("mlp", third_model), ("cnn", third_model)]
    for c in summary["comparisons"]:
        assert c["family_size"] == 3
        for test in ("ttest_p", "wilcoxon_p"):
            assert c[f"{test}_holm"] >= c[test] or c[test] != c[test]  # adjusted p never below the raw one (or NaN)
    compared = [f for f in summary["findings"] if f.startswith("At 10 samples per class")]
    assert len(compared) == 3 and all("Holm-adjusted over the 3 model pairs" in f for f in compared)
    assert any("Linear" in f for f in summary["findings"])
    assert {a.model for a in summary["aggregates"]} == {"mlp", "cnn", third_model}
    made = build_report(tmp_path / "s", lang="en", compile=False)
    assert "Linear" in made["html"].read_text()


def test_two_models_read_as_before_without_holm(tmp_path):
    summary = sweep_runs(tmp_path / "s", budgets=[10], seeds=range(2), lang="en", **TINY)
    (c,) = summary["comparisons"]
    assert (c["a"], c["b"], c["family_size"]) == ("mlp", "cnn", 1)
    assert c["ttest_p_holm"] == c["ttest_p"] or c["ttest_p"] != c["ttest_p"]
    assert "Holm" not in summary["findings"][0] and "the CNN is ahead by" in summary["findings"][0] or \
        "the MLP is ahead by" in summary["findings"][0]


def test_run_refuses_two_configs_of_one_model(tmp_path):
    with pytest.raises(ConfigError, match="'mlp' is given twice"):
        run([RunConfig(model="mlp"), RunConfig(model="mlp", seed=1)], tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_resume_with_other_code_is_refused_unless_mixed_is_allowed(tmp_path):
    out = tmp_path / "s"
    sweep_runs(out, budgets=[10], seeds=[0], models=["mlp"], **TINY)
    conn = sqlite3.connect(out / "store.sqlite")
    ident = json.loads(conn.execute("SELECT value FROM meta WHERE name='identity'").fetchone()[0])
    assert ident["code"].startswith("0.") and "+" in ident["code"] and ident["threads"] >= 1
    ident["code"] = "0.0.0+000000000000"  # as if another version had made the stored runs
    with conn:
        conn.execute("UPDATE meta SET value=? WHERE name='identity'", (json.dumps(ident),))
    conn.close()
    with pytest.raises(SweepError, match="other code or settings.*--allow-mixed"):
        sweep_runs(out, budgets=[10], seeds=[0, 1], models=["mlp"], **TINY)
    summary = sweep_runs(out, budgets=[10], seeds=[0, 1], models=["mlp"], allow_mixed=True, **TINY)
    assert "MISTO" in summary["mixed"]  # the default language is pt
    assert summary["aggregates"][0].n == 2


def test_a_store_of_the_first_release_summarizes_and_resumes_only_when_mixed_is_allowed(tmp_path):
    from mnistlab.report.build import build_report
    from mnistlab.sweeps.summary import summarize

    out = tmp_path / "legacy"
    shutil.copytree(FIXTURES / "legacy_sweep", out)
    summary = summarize(out, "en")
    assert summary["mixed"] is None and summary["models"] == ["mlp", "cnn"]
    assert {a.samples_per_class for a in summary["aggregates"]} == {10, 20}
    build_report(out, lang="en", compile=False)
    spec = json.loads((out / "sweep.json").read_text())
    legacy = {**TINY, "epochs": spec["base"]["epochs"]}
    with pytest.raises(SweepError, match="older mnistlab"):
        sweep_runs(out, budgets=spec["budgets"], seeds=[0, 1, 2], models=spec["models"], **legacy)
    summary = sweep_runs(out, budgets=spec["budgets"], seeds=[0, 1, 2], models=spec["models"], allow_mixed=True,
                         lang="en", **legacy)
    assert summary["mixed"] and all(a.n == 3 for a in summary["aggregates"])


def test_a_run_folder_of_the_first_release_is_read_and_reported(tmp_path):
    from mnistlab.report.build import build_report
    from mnistlab.runs.folder import load_model

    out = tmp_path / "legacy"
    shutil.copytree(FIXTURES / "legacy_run", out)
    model, cfg = load_model(out, "cnn")
    assert cfg.model == "cnn" and cfg.model_arg("cnn_fc", 128) == 8
    made = build_report(out, lang="en", compile=False)
    assert "CNN" in made["html"].read_text()


def test_the_users_matplotlib_state_survives_the_api(tmp_path):
    import matplotlib
    import matplotlib.pyplot as plt

    matplotlib.rcParams["lines.linewidth"] = 3.25
    before = {k: v for k, v in matplotlib.rcParams.items() if k != "backend"}
    backend = matplotlib.get_backend()
    figures = plt.get_fignums()
    run(config_of(model="mlp", samples_per_class=10, **TINY), tmp_path / "r", lang="en")
    sweep_runs(tmp_path / "s", budgets=[10], seeds=[0], models=["mlp"], **TINY)
    after = {k: v for k, v in matplotlib.rcParams.items() if k != "backend"}
    changed = {k for k in before if before[k] != after[k] and not (before[k] != before[k])}
    assert not changed and matplotlib.get_backend() == backend and plt.get_fignums() == figures
    assert matplotlib.rcParams["lines.linewidth"] == 3.25


def test_run_results_display_as_a_table_in_jupyter(tmp_path):
    results = run(config_of(model="mlp", samples_per_class=10, **TINY))
    html = results._repr_html_()
    assert html.startswith("<table>") and "MLP" in html and f"{results[0].test_acc:.4f}" in html


def test_a_run_reads_its_plan_and_looks_no_name_up_again(device_data, monkeypatch):
    """Job.of resolves the model, the selection rule and the method with its settings once; with every lookup
    broken afterwards, the run still trains and names them."""
    from mnistlab.runs.job import Job
    from mnistlab.runs.pipeline import execute
    from mnistlab.training.semi.catalog import get_method
    from mnistlab.training.semi.registry import resolve_settings

    cfg = config_of(model="mlp", select="random-any", samples_per_class=2, unlabeled=300, steps=4, batch_size=8,
                    early_stopping=False, mlp_hidden=8, semi_options="uratio=2")
    job = Job.of(cfg, device_data.mnist.checksums)
    plan = job.plan
    assert (plan.model.name, plan.rule.name, plan.method.name) == ("mlp", "random-any", "fixmatch")
    assert dict(plan.settings) == resolve_settings(get_method("fixmatch"), "uratio=2") and plan.uratio == 2

    def looked_up(*args, **kwargs):
        raise AssertionError("a name was looked up again after the job was made")

    for where in ("mnistlab.runs.job.get_spec", "mnistlab.runs.job.get_rule", "mnistlab.runs.job.get_method",
                  "mnistlab.models.registry.get_spec", "mnistlab.selection.catalog.get_rule",
                  "mnistlab.training.semi.catalog.get_method"):
        monkeypatch.setattr(where, looked_up)
    outcome = execute(job, device_data, {})
    assert outcome.status == "done", outcome.message
    assert (outcome.result.label, outcome.result.method_label) == ("MLP", "FixMatch")
    assert sum(outcome.result.train_counts) == 20 and outcome.result.history["step"] == [4]
