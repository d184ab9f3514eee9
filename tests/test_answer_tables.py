"""The answers as compact tables: one row per cell, models side by side, each caveat once under its table."""
import pytest

from helpers import stored_row
from mnistlab.stats import paired_comparisons
from mnistlab.sweeps.answer_tables import answer_tables, pp
from mnistlab.sweeps.questions import answer_all

MODELS = ["mlp", "cnn"]


def summary_of(rows):
    return {"models": MODELS, "labels": {"mlp": "MLP", "cnn": "CNN"}, "comparisons": paired_comparisons(rows, MODELS),
            "questions": answer_all(rows, MODELS)}


@pytest.fixture(scope="module")
def rows():
    return [stored_row(model, budget, seed, test_acc=base + 0.01 * seed + 0.002 * seed ** 2 * (model == "cnn")
                       + (0.05 if budget == 100 else 0),
                       gap_at_best=gap + 0.002 * seed, best_val_acc=base + 0.01 * seed * (1 - 2 * (seed % 2)),
                       epochs_run=20 + seed, best_epoch=15 + seed, last_test_acc=base + 0.011 * seed)
            for model, base, gap in (("mlp", 0.80, 0.10), ("cnn", 0.85, 0.05)) for budget in (10, 100)
            for seed in range(3)]


def test_each_answer_is_a_table_with_its_caveats_said_once(rows):
    tables = {a.title: a for a in answer_tables(summary_of(rows), "en")}
    assert list(tables) == ["Models compared", "Overfitting", "Early stopping", "Validation vs test"]
    compared = tables["Models compared"]
    assert compared.table.header[:4] == ["variant", "per class", "pair", "pp [95% CI]"]
    assert compared.table.rows[0][:3] == ["base", "10", "CNN − MLP"] and compared.table.rows[0][4] == "3"
    assert compared.table.rows[0][3].startswith("+5.33 [")
    assert compared.notes == ["Differences paired by seed: mean and 95% CI (t).",
                              "With 3 pairs Wilcoxon cannot go below p=0.25."]
    overfit = tables["Overfitting"].table  # one row per budget, the models side by side
    assert overfit.header == ["variant", "per class", "MLP", "CNN"] and len(overfit.rows) == 2
    assert overfit.rows[0][2].startswith("+10.20 [") and overfit.rows[0][3].startswith("+5.20 [")
    assert "Per tenfold more data" in " ".join(tables["Overfitting"].notes)
    early = tables["Early stopping"]
    assert [row[5] for row in early.table.rows] == ["3/3"] * 4  # 20-22 epochs run, the limit is 30
    assert early.notes[-1] == "* the interval holds zero: not conclusive."
    assert sum(note.startswith("*") for a in tables.values() for note in a.notes) == sum(
        any("*" in cell for row in a.table.rows for cell in row) for a in tables.values())


def test_a_difference_is_marked_when_its_interval_holds_zero():
    assert pp({"n": 3, "mean": 0.01, "ci_low": -0.002, "ci_high": 0.022}, "en") == "+1.00 [−0.20, 2.20] *"
    assert pp({"n": 3, "mean": 0.01, "ci_low": 0.002, "ci_high": 0.018}, "pt") == "+1,00 [0,20; 1,80]"
    assert pp({"n": 1, "mean": -0.01, "ci_low": float("nan"), "ci_high": float("nan")}, "en") == "−1.00"
    assert pp(None, "en") == "–"


def test_portuguese_tables_hold_no_english(rows):
    text = " ".join(" ".join([a.title, *a.notes, *a.table.header]) for a in answer_tables(summary_of(rows), "pt"))
    assert "Modelos comparados" in text and "pareadas por semente" in text
    assert not any(word in text for word in ("paired", "Overfitting", "holds zero", "per class", "Models"))
