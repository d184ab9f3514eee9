"""End to end on real MNIST: tiny budgets, findings and calibration in a sweep's summary, docs/results.md."""
import csv
import json
import shutil

import pytest

from helpers import copied, stored_row
from mnistlab.cli.main import main


@pytest.fixture(scope="module")
def sweep(tiny_sweep, tmp_path_factory):
    """The shared sweep with its English summary, read by this module's tests in any order (none writes into it)."""
    return copied(tiny_sweep, tmp_path_factory.mktemp("results") / "main")


def test_summary_answers_every_question_and_calibration(sweep):
    summary = json.loads((sweep / "summary.json").read_text())
    questions = summary["questions"]
    assert {q["model"] for q in questions["overfitting"]} == {"mlp", "cnn"}
    assert len(questions["early_stopping"]) == 4 and len(questions["validation_vs_test"]) == 4
    cal = questions["calibration"]
    assert len(cal) == 4 and all(c["n"] == 3 and 0 <= c["ece"]["mean"] <= 1 for c in cal)
    assert all(c["temperature"]["mean"] > 0 and sum(c["bins"]["count"]) == 3 * 10_000 for c in cal)
    for prefix in ("Overfitting, MLP", "Early stopping, CNN", "Validation vs test, MLP", "Calibration, CNN"):
        assert any(line.startswith(prefix) for line in summary["findings"]), prefix
    assert (sweep / "figures" / "reliability_cnn_spc10.pdf").stat().st_size > 1000
    assert (sweep / "figures" / "reliability_mlp_spc20.png").stat().st_size > 5000


def test_last_epoch_test_accuracy_is_recorded(sweep):
    import sqlite3

    conn = sqlite3.connect(sweep / "store.sqlite")
    results = [json.loads(r[0]) for r in conn.execute("SELECT result FROM runs")]
    conn.close()
    assert all(0 < r["last_test_acc"] <= 1 for r in results)
    assert all(r["last_test_acc"] == r["test_acc"] for r in results if r["best_epoch"] == r["epochs_run"])


def test_portuguese_findings_and_nothing_but_portuguese(sweep, tmp_path, capsys):
    sweep = copied(sweep, tmp_path / "pt")  # summarize rewrites summary.json: the module's copy stays English
    assert main(["summarize", str(sweep), "--lang", "pt"]) == 0
    shown = capsys.readouterr().out
    assert "acurácia de teste sobre as sementes" in shown and "tabelas, figuras e CSV escritos em" in shown
    assert not any(word in shown for word in ("Test accuracy", "written under", " seeds", "per class"))
    findings = json.loads((sweep / "summary.json").read_text())["findings"]
    assert any(line.startswith("Sobreajuste, MLP") for line in findings)
    assert any(line.startswith("Calibração, CNN") for line in findings)


def test_results_markdown_holds_glance_figures_tables_commands_and_departures(sweep, tmp_path, capsys):
    out = tmp_path / "docs" / "results.md"
    assert main(["results", "--sweep", f"main={sweep}", "--out", str(out)]) == 0
    text = out.read_text()
    assert f"mnistlab sweep --out {sweep} --models mlp cnn --budgets 10 20 --seeds 0 1 2 --epochs 2" in text
    assert "| base | CNN | 20 | 3 |" in text and "ECE %" in text and "departs from the notebook" in text
    assert "Kingma" in text and "Rasmus" in text
    # It opens with answers at a glance: one sentence per question, its number and interval, picked by rule.
    glance = text.split("## Answers at a glance")[1].split("\n## ")[0]
    bullets = [line for line in glance.splitlines() if line.startswith("- ")]
    assert [b.split(":")[0] for b in bullets] == ["- MLP vs CNN", "- Overfitting", "- Early stopping",
                                                   "- Validation vs test", "- Calibration"]
    summary = json.loads((sweep / "report" / "summary.json").read_text())
    gap = next(c for c in summary["comparisons"] if c["samples_per_class"] == 10)["diff"]
    assert f"{100 * gap['mean']:+.2f} pp \\[{100 * gap['ci_low']:.2f}, {100 * gap['ci_high']:.2f}\\]".replace(
        "-", "−") in bullets[0]
    assert text.index("## Answers at a glance") < text.index("## The notebook's question")
    for stem in ("learning_curve", "model_gap", "gap_vs_budget", "reliability_cnn_spc10"):  # its figures, beside it
        assert f"![{stem.replace('_', ' ')}](results/main_{stem}.png)" in text
        assert (out.parent / "results" / f"main_{stem}.png").stat().st_size > 5000


def test_results_refuses_an_unknown_section(sweep, tmp_path, capsys):
    assert main(["results", "--sweep", f"other={sweep}", "--out", str(tmp_path / "r.md")]) == 2
    assert "unknown section" in capsys.readouterr().err
    assert not (tmp_path / "r.md").exists()


def test_tiny_budget_refused_with_validation_then_runs_without(tmp_path, capsys):
    out = tmp_path / "tiny"
    assert main(["run", "--samples-per-class", "1", "--epochs", "3", "--quiet", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no training image" in err and "--no-early-stopping" in err and not out.exists()
    assert main(["run", "--samples-per-class", "1", "--epochs", "3", "--no-early-stopping", "--quiet",
                 "--out", str(out)]) == 0
    with open(out / "resultados.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["best_val_loss"] for r in rows] == ["", ""] and [r["final_val_acc"] for r in rows] == ["", ""]
    payload = json.loads((out / "results.json").read_text())
    for result in payload["models"].values():
        assert result["config"]["early_stopping"] is False and result["epochs_run"] == 3
        assert result["calibration"]["temperature"] is None and sum(result["train_counts"]) == 10


def test_tiny_budget_sweep_without_validation(tmp_path):
    out = tmp_path / "tiny"
    assert main(["sweep", "--budgets", "1", "2", "--seeds", "0-1", "--epochs", "2", "--no-early-stopping",
                 "--quiet", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"] == {"done": 8} and summary["questions"]["validation_vs_test"] == []


def test_ablation_change_is_paired_by_seed_against_the_recipe():
    from mnistlab.report.results import ablation_table
    from mnistlab.stats import aggregate, mean_ci

    rows = [stored_row("cnn", 100, s, v, best_val_acc=acc)
            for v, accs in (("recipe", [0.98, 0.97, 0.99]), ("no-augmentation", [0.96, 0.96, 0.97]),
                            ("plain", [0.90, 0.91, 0.92])) for s, acc in zip((100, 101, 102), accs)]
    summary = {"models": ["cnn"], "labels": {"cnn": "CNN"}, "aggregates": aggregate(rows, ["cnn"])}
    table = {line.split(" | ")[0].strip("| "): line for line in ablation_table(summary, rows)[-1].splitlines()}
    change = {variant: line.split(" | ")[5] for variant, line in table.items() if variant in ("recipe", "plain",
                                                                                         "no-augmentation")}
    drop = mean_ci([-0.02, -0.01, -0.02])  # no-augmentation minus the recipe, seed by seed
    assert drop["ci_high"] < 0 and change["no-augmentation"] == (
        f"{100 * drop['mean']:+.2f} \\[{100 * drop['ci_low']:+.2f}, {100 * drop['ci_high']:+.2f}\\]")
    assert change["plain"].startswith("-7.00 \\[")
    assert change["recipe"] == "–"  # the recipe against itself: no change


def test_a_budget_axis_says_when_no_image_went_to_validation():
    from mnistlab.figures.sweep import budget_axis
    from mnistlab.stats import aggregate

    with_val = aggregate([stored_row("cnn", 10, s, best_val_acc=0.9) for s in range(3)], ["cnn"])[0]
    without = aggregate([stored_row("cnn", 10, 0, best_val_acc=None)], ["cnn"])[0]
    assert (with_val.best_val_acc["n"], without.best_val_acc["n"]) == (3, 0)
    assert budget_axis([with_val, without], "en") == "Samples per class (train + validation)"
    assert budget_axis([without, without], "en") == "Labelled samples per class (no validation)"
    assert budget_axis([without], "pt") == "Amostras rotuladas por classe (sem validação)"


def test_results_findings_are_tables_and_a_section_may_hold_two_stores(sweep, tmp_path):
    out = tmp_path / "results.md"
    other = shutil.copytree(sweep, tmp_path / "other")  # two different stores; the same one twice is refused
    assert main(["results", "--sweep", f"main={sweep}", "--sweep", f"main={other}", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.count("**Models compared**") == 2 and text.count("**Overfitting**") == 2
    assert text.count("With 3 pairs Wilcoxon cannot go below p=0.25.") == 2  # once under each store's table
    assert "| base | 10 | CNN − MLP |" in text and "cannot go below p=0.25)" not in text  # no per-row caveat
    assert "### The notebook's question: MLP vs CNN as labelled data shrinks: 10, 20 per class" in text
    assert "](results/main2_learning_curve.png)" in text
    assert (tmp_path / "results" / "main2_learning_curve.png").is_file()
