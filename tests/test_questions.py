"""The questions a sweep answers in words, computed on hand-made store rows whose answers are known."""
import math

import pytest

from helpers import stored_row
from mnistlab.sweeps.findings import describe_questions
from mnistlab.sweeps.questions import answer_all

LABELS = {"mlp": "MLP", "cnn": "CNN"}


def row(model, budget, seed, variant="base", **result):
    return stored_row(model, budget, seed, variant, **result)


def test_gap_trend_is_the_least_squares_slope_on_log10_budget():
    rows = [row("mlp", b, s, gap_at_best=0.30 - 0.10 * math.log10(b) + 0.01 * (s - 1))
            for b in (10, 100, 1000) for s in range(3)]
    (rec,) = answer_all(rows, ["mlp"])["overfitting"]
    assert rec["trend"]["slope"] == pytest.approx(-0.10) and rec["trend"]["n"] == 9
    assert rec["trend"]["ci_high"] < 0 and rec["gap"][10]["mean"] == pytest.approx(0.20)
    text = describe_questions(answer_all(rows, ["mlp"]), LABELS)[0]
    trend = text.split("Per tenfold")[1]
    assert text.startswith("Overfitting, MLP") and "−10.00 pp" in trend and "not conclusive" not in trend
    assert "not conclusive) at 1000 per class" in text  # the gap there is 0 ± noise


def test_early_stopping_reports_epochs_and_restored_minus_last_with_ci():
    rows = [row("cnn", 100, s, test_acc=0.95, last_test_acc=0.95 - d, epochs_run=e, best_epoch=e - 5)
            for s, (d, e) in enumerate([(0.01, 20), (0.02, 30), (0.03, 22)])]
    (rec,) = answer_all(rows, ["cnn"])["early_stopping"]
    assert rec["stop_epoch"]["mean"] == pytest.approx(24) and rec["stopped_early"] == 2
    assert rec["restored_minus_last"]["mean"] == pytest.approx(0.02)


def test_validation_vs_test_gives_the_mean_difference_and_pearson_r():
    rows = [row("mlp", 50, s, best_val_acc=v, test_acc=v - 0.02) for s, v in enumerate([0.8, 0.85, 0.9, 0.82])]
    (rec,) = answer_all(rows, ["mlp"])["validation_vs_test"]
    assert rec["val_minus_test"]["mean"] == pytest.approx(0.02) and rec["pearson_r"] == pytest.approx(1.0)


def test_a_ci_holding_zero_is_called_not_conclusive():
    rows = [row("mlp", 50, s, best_val_acc=0.9, test_acc=0.9 + d) for s, d in enumerate([0.01, -0.01, 0.005])]
    lines = describe_questions(answer_all(rows, ["mlp"]), LABELS)
    assert any("Validation vs test" in line and "not conclusive" in line for line in lines)


def test_noise_study_pairs_by_seed_and_holm_adjusts_over_levels():
    rows = []
    for s in range(4):
        rows.append(row("cnn", 300, s, "clean", robustness={"noise": {"0.0": 0.98, "0.2": 0.50 + 0.01 * s}}))
        rows.append(row("cnn", 300, s, "noisy0.1", robustness={"noise": {"0.0": 0.975, "0.2": 0.90 + 0.02 * s}}))
    (rec,) = answer_all(rows, ["cnn"])["noise"]
    by_level = {lv["level"]: lv for lv in rec["levels"]}
    assert by_level[0.2]["diff"]["mean"] == pytest.approx(0.415)
    assert by_level[0.0]["diff"]["mean"] == pytest.approx(-0.005)
    assert by_level[0.2]["p_holm"] >= by_level[0.2]["p"]
    (line,) = [t for t in describe_questions(answer_all(rows, ["cnn"]), LABELS) if t.startswith("Noise study")]
    assert "Holm-adjusted over the 2 levels" in line


def test_imbalance_compares_each_remedy_with_none_on_the_rarest_class():
    counts = [100, 80, 60, 40, 30, 20, 15, 12, 11, 10]
    rows = []
    for s in range(3):
        rows.append(row("mlp", 300, s, "longtail", balanced_acc=0.80, train_counts=counts,
                        report={"9": {"recall": 0.40}}))
        rows.append(row("mlp", 300, s, "longtail-weighted", balanced_acc=0.85 + 0.01 * s, train_counts=counts,
                        report={"9": {"recall": 0.70}}))
    (rec,) = answer_all(rows, ["mlp"])["imbalance"]
    assert rec["remedy"] == "weighted" and rec["balanced_acc"]["mean"] == pytest.approx(0.06)
    assert rec["rarest_recall"]["mean"] == pytest.approx(0.30)


def test_runs_without_validation_are_left_out_of_the_validation_questions():
    rows = [row("mlp", 1, s, gap_at_best=None, best_val_acc=None, config={"epochs": 30, "early_stopping": False})
            for s in range(3)]
    answers = answer_all(rows, ["mlp"])
    assert answers["overfitting"] == [] and answers["validation_vs_test"] == [] and answers["early_stopping"] == []


def test_semi_study_pairs_each_method_with_the_supervised_variants_and_measures_the_gap(tmp_path):
    from mnistlab.figures.semi import coverage_figures
    from mnistlab.sweeps.findings import describe_semi

    semi = {"config": {"unlabeled": 59_900, "early_stopping": False},
            "history": {"step": [100, 200], "mask_rate": [0.5, 0.9]}}
    rows = []
    for s in range(3):
        for model, plain, fix in (("mlp", 0.60, 0.90), ("cnn", 0.70, 0.98)):
            rows.append(row(model, 10, s, "plain", test_acc=plain + 0.01 * s, config={"early_stopping": False}))
            rows.append(row(model, 10, s, "recipe", test_acc=plain + 0.10 + 0.01 * s,
                            config={"early_stopping": False}))
            rows.append(row(model, 10, s, "fixmatch", test_acc=fix + 0.001 * s, **semi))
    answered = answer_all(rows, ["mlp", "cnn"])
    answers = answered["semi"]
    assert answers["variants"] == ["fixmatch"]
    gain = {(g["model"], g["reference"]): g["diff"] for g in answered["gain"] if g["variant"] == "fixmatch"}
    assert gain[("cnn", "recipe")]["mean"] == pytest.approx(0.18 - 0.009)
    assert gain[("mlp", "plain")]["mean"] == pytest.approx(0.30 - 0.009) and gain[("mlp", "plain")]["ci_low"] > 0
    gap = {g["variant"]: g["diff"]["mean"] for g in answers["gap"]}
    assert gap == pytest.approx({"plain": 0.10, "recipe": 0.10, "fixmatch": 0.08})
    assert answers["coverage"][0]["mask_rate"] == pytest.approx([0.5, 0.9]) and answers["coverage"][0]["n"] == 3
    words = describe_semi(answers, answered["gain"], LABELS, "en")
    assert words[0].startswith("Semi-supervised, MLP at 10 labelled per class")
    assert "fixmatch minus recipe +" in words[0]
    assert words[-1].startswith("CNN − MLP gap at 10 labelled per class") and "fixmatch +8.00 pp" in words[-1]
    paths = coverage_figures(answers, LABELS, tmp_path, "en")
    assert sorted(p.name for p in paths) == ["coverage_cnn_spc10.pdf", "coverage_cnn_spc10.png",
                                             "coverage_mlp_spc10.pdf", "coverage_mlp_spc10.png"]
    assert answer_all([r for r in rows if "unlabeled" not in r.result.config], ["mlp", "cnn"])["semi"] == {}


def test_every_variant_of_a_study_is_answered_not_only_base():
    rows = [row("cnn", b, s, variant, gap_at_best=gap * (1 + 0.01 * s), epochs_run=20 + s)
            for variant, gap in (("plain", 0.10), ("recipe", 0.02)) for b in (10, 100) for s in range(3)]
    answers = answer_all(rows, ["cnn"])
    assert [(r["variant"], r["gap"][10]["mean"]) for r in answers["overfitting"]] == [
        ("plain", pytest.approx(0.101)), ("recipe", pytest.approx(0.0202))]
    assert {(r["variant"], r["samples_per_class"]) for r in answers["early_stopping"]} == {
        ("plain", 10), ("plain", 100), ("recipe", 10), ("recipe", 100)}
    assert len(answers["validation_vs_test"]) == 4
    text = describe_questions(answers, LABELS)
    assert any(line.startswith("Overfitting, CNN (recipe)") for line in text)
    assert any(line.startswith("Early stopping, CNN (plain)") for line in text)
    assert not any("(base)" in line for line in describe_questions(answer_all([row("mlp", 10, 0)], ["mlp"]), LABELS))


def test_each_variant_is_measured_against_the_plain_method_and_the_recipe_and_drawn(tmp_path):
    from mnistlab.figures.sweep import gain_figures
    from mnistlab.report.glance import recipe_gain

    rows = [row(model, b, s, variant, test_acc=acc + 0.01 * (b == 100) + 0.002 * s * (variant == "recipe"))
            for model, base in (("mlp", 0.80), ("cnn", 0.85)) for b in (10, 100) for s in range(3)
            for variant, acc in (("plain", base), ("recipe", base + 0.05), ("other", base + 0.01))]
    gains = answer_all(rows, ["mlp", "cnn"])["gain"]
    by = {(g["model"], g["samples_per_class"], g["variant"], g["reference"]): g["diff"] for g in gains}
    assert set(by) == {(m, b, v, ref) for m in ("mlp", "cnn") for b in (10, 100)
                       for v, ref in (("recipe", "plain"), ("other", "plain"), ("other", "recipe"))}
    assert by[("cnn", 10, "recipe", "plain")]["mean"] == pytest.approx(0.052) and by[("cnn", 10, "recipe",
                                                                                         "plain")]["n"] == 3
    assert by[("mlp", 100, "other", "recipe")]["mean"] == pytest.approx(-0.042)
    paths = gain_figures(gains, [], ["mlp", "cnn"], LABELS, tmp_path, "en")
    assert sorted(p.name for p in paths) == sorted(f"gain_{v}_vs_{ref}.{ext}" for v, ref in (
        ("other", "plain"), ("other", "recipe"), ("recipe", "plain")) for ext in ("png", "pdf"))
    sentence = recipe_gain({"questions": {"gain": gains}, "labels": LABELS})
    assert sentence.startswith("The recipe: `--recipe best` minus the notebook's method for the CNN is +5.20 pp [")
    assert "at 10 per class and +5.20 pp" in sentence and sentence.endswith("at 100 per class (paired by seed).")
    assert recipe_gain({"questions": {"gain": [g for g in gains if g["variant"] == "other"]}, "labels": LABELS}) is None
