"""The forecast: forms fitted and chosen by backtest against last1, bootstrap intervals over whole seeds shared by
every model, every bad input one line, both languages, from a real store and through the CLI."""
import json
import math
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from helpers import stored_row
from mnistlab.api import make_report
from mnistlab.cli.main import main
from mnistlab.errors import ConfigError
from mnistlab.report.glance import forecast as glance_forecast
from mnistlab.sweeps.forecast.answer import forecast
from mnistlab.sweeps.forecast.fit import fit_form
from mnistlab.sweeps.forecast.form import forms
from mnistlab.sweeps.forecast.words import describe

LEGACY = Path(__file__).parent / "fixtures" / "legacy_sweep"
BUDGETS = (10, 20, 50, 100, 200, 500, 1000)
MODELS = ["mlp", "cnn"]


def power_law(n, a, b, c):
    return a + b * n ** (-c)


def curve_rows(curves: dict, seeds=range(5), budgets=BUDGETS, noise=0.002, variant="base"):
    """Stored rows whose test error follows `curves[model](budget)` plus per-seed noise."""
    rng = np.random.default_rng(7)
    return [stored_row(model, b, s, variant=variant, test_acc=float(1 - curve(b) + rng.normal(0, noise)))
            for model, curve in curves.items() for b in budgets for s in seeds]


@pytest.mark.parametrize("name", ["pow3", "pow4", "mmf4", "wbl4"])
def test_each_form_fits_its_own_noiseless_curve(name):
    form = forms().get(name)
    truth = form.starts[1]
    u = np.array(BUDGETS, float)
    fit = fit_form(form, u, form.curve(u / 1000, *truth), scale=1000.0)
    assert fit is not None and fit.mse < 1e-10  # the curve itself, whatever the parameters that give it
    assert np.allclose(fit.error([2000, 5000]), form.curve(np.array([2.0, 5.0]), *truth), atol=2e-4)


def test_a_known_power_law_is_recovered_with_its_parameters():
    rows = curve_rows({"mlp": lambda n: power_law(n, 0.02, 0.6, 0.5), "cnn": lambda n: power_law(n, 0.008, 0.5, 0.6)},
                      noise=0.0005)
    result = forecast(rows, MODELS, targets=[0.97], resamples=40)
    mlp = next(c for c in result.cells if c.model == "mlp")
    assert mlp.backtest.held_out == (500, 1000) and mlp.backtest.fitted_on == (10, 20, 50, 100, 200)
    assert mlp.backtest.errors_pp[mlp.form] < mlp.backtest.last1_pp  # chosen only because it beat last1
    assert abs(mlp.ceiling.value - 0.98) < 0.004
    assert mlp.ceiling.ci_low <= 0.98 + 0.004 and mlp.ceiling.ci_high >= 0.98 - 0.004
    true_budget = (0.6 / (0.03 - 0.02)) ** 2  # 1 - 0.97 = 0.02 + 0.6 n^-0.5
    goal = mlp.targets[0]
    assert abs(goal.budget - true_budget) / true_budget < 0.15 and goal.ci_low < true_budget < goal.ci_high
    assert goal.never_share == 0.0
    assert 0 < mlp.next_doubling.value < 0.01 and mlp.band is not None and len(mlp.band.low) == len(mlp.band.budgets)


def test_a_target_above_the_ceiling_is_out_of_reach_and_says_how_often():
    rows = curve_rows({"mlp": lambda n: power_law(n, 0.02, 0.6, 0.5), "cnn": lambda n: power_law(n, 0.02, 0.6, 0.5)})
    cell = forecast(rows, MODELS, targets=[0.995], resamples=40).cells[0]
    assert cell.targets[0].budget is None and cell.targets[0].never_share > 0.9
    assert "out of reach" in " ".join(describe(forecast(rows, MODELS, targets=[0.995], resamples=40), {}, "en"))


def test_a_flat_curve_promises_nothing_above_itself():
    rows = curve_rows({"mlp": lambda n: 0.1, "cnn": lambda n: 0.1})
    for cell in forecast(rows, MODELS, targets=[0.95], resamples=20).cells:
        assert cell.targets[0].budget is None  # 90% flat: 95% is never reached, by any chosen form or by none
        assert cell.form is None or abs(cell.ceiling.value - 0.9) < 0.01


def test_a_curve_that_turns_down_is_answered_without_a_crash_and_last1_is_kept_when_it_predicts_better():
    turn = {10: 0.3, 20: 0.2, 50: 0.12, 100: 0.08, 200: 0.07, 500: 0.15, 1000: 0.2}  # error rises again
    rows = curve_rows({"mlp": turn.get, "cnn": turn.get})
    for cell in forecast(rows, MODELS, targets=[0.99], resamples=10).cells:
        test = cell.backtest
        assert all(math.isfinite(e) for e in test.errors_pp.values())
        assert cell.form is None or test.errors_pp[cell.form] < test.last1_pp
    text = describe(forecast(rows, MODELS, resamples=0), {"mlp": "MLP", "cnn": "CNN"}, "en")
    assert any("not enough curve to extrapolate" in line for line in text)


def test_the_bootstrap_resamples_the_same_seeds_for_every_model():
    curve = lambda n: power_law(n, 0.02, 0.6, 0.5)  # noqa: E731
    one = curve_rows({"mlp": curve})
    both = one + [stored_row("cnn", r.samples_per_class, r.seed, test_acc=r.result.test_acc) for r in one]
    cells = forecast(both, MODELS, targets=[0.97], resamples=50).cells
    assert cells[0].ceiling == cells[1].ceiling and cells[0].targets == cells[1].targets  # paired draws
    assert cells[0].band == cells[1].band


def test_one_seed_still_fits_and_says_there_is_no_interval():
    rows = curve_rows({"mlp": lambda n: power_law(n, 0.02, 0.6, 0.5)}, seeds=[0])
    result = forecast(rows, ["mlp"], targets=[0.97])
    assert result.resamples == 0 and result.cells[0].ceiling.ci_low is None and result.cells[0].form is not None
    assert describe(result, {}, "en")[-1] == "One seed: no interval."
    assert describe(result, {}, "pt")[-1] == "Uma só semente: sem intervalo."


def test_portuguese_writes_its_own_numbers():
    rows = curve_rows({"mlp": lambda n: power_law(n, 0.02, 0.6, 0.5)})
    text = " ".join(describe(forecast(rows, ["mlp"], targets=[0.97], resamples=20), {"mlp": "MLP"}, "pt"))
    assert "atinge 97,00% com ~" in text and "teto ajustado" in text and "reaches" not in text


@pytest.mark.parametrize("options, message", [
    ({"targets": [1.0]}, "--target 1.0: a test accuracy strictly between 0 and 1"),
    ({"targets": [0.0]}, "--target 0.0"), ({"targets": [float("nan")]}, "--target nan"),
    ({"targets": [-0.5]}, "--target -0.5"),
    ({"only": ["lenet5"]}, "--models lenet5: not in this store; it holds mlp, cnn"),
    ({"variants": ["recipe"]}, "--variants recipe: not in this store; it holds base"),
    ({"resamples": -1}, "--resamples -1"), ({"holdout": 6}, "--holdout 6: from 1 to 5"),
])
def test_bad_input_is_one_line_naming_the_value(options, message):
    rows = curve_rows({"mlp": lambda n: 0.1, "cnn": lambda n: 0.1}, seeds=[0, 1])
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        forecast(rows, MODELS, **options)


def test_too_few_budgets_is_refused_and_named():
    rows = curve_rows({"mlp": lambda n: 0.1}, budgets=(10, 20, 50))
    with pytest.raises(ConfigError, match=r"mlp \(base\): 3 budgets \(10, 20, 50\); a forecast needs at least 4"):
        forecast(rows, ["mlp"])


def _store_with_curve(folder: Path) -> Path:
    """The legacy fixture's store, its runs copied to budgets 10-1000 and seeds 0-2 with test accuracies of a known
    power law: a real store, read back through every check a stored row passes."""
    shutil.copytree(LEGACY, folder)
    conn = sqlite3.connect(folder / "store.sqlite", isolation_level=None)
    templates = conn.execute("SELECT * FROM runs WHERE samples_per_class = 10 AND seed = 0").fetchall()
    names = [d[0] for d in conn.execute("SELECT * FROM runs").description]
    conn.execute("DELETE FROM runs")
    for row in templates:
        values = dict(zip(names, row))
        for budget in BUDGETS:
            for seed in range(3):
                acc = 1 - power_law(budget, 0.01 if values["model"] == "cnn" else 0.02, 0.6, 0.5) + 0.002 * seed
                result = {**json.loads(values["result"]), "test_acc": acc}
                config = {**json.loads(values["config"]), "samples_per_class": budget, "seed": seed}
                conn.execute(f"INSERT INTO runs ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                             [{"key": f"{values['model']}-{budget}-{seed}", "samples_per_class": budget,
                               "seed": seed, "test_acc": acc, "result": json.dumps(result),
                               "config": json.dumps(config)}.get(n, values[n]) for n in names])
    conn.close()
    return folder


def test_the_command_forecasts_a_store_in_words_json_and_a_figure(tmp_path, capsys):
    folder = _store_with_curve(tmp_path / "sweep")
    assert main(["forecast", str(folder), "--target", "0.97", "0.999", "--resamples", "30", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "CNN (base): reaches 97.00% at ~" in out and "99.90% is out of reach" in out
    assert {p.name for p in (folder / "forecast").iterdir()} == {"forecast.json", "forecast.png", "forecast.pdf"}
    assert main(["forecast", str(folder), "--json", "--resamples", "0", "--models", "cnn"]) == 0
    numbers = json.loads(capsys.readouterr().out)
    (cell,) = numbers["cells"]
    assert cell["model"] == "cnn" and cell["form"] in ("pow3", "pow4", "mmf4", "wbl4")
    assert set(cell["backtest"]["errors_pp"]) >= {"last1", cell["form"]} and cell["ceiling"]["ci_low"] is None


def test_the_command_refuses_bad_input_with_one_line_and_writes_nothing(tmp_path, capsys):
    folder = shutil.copytree(LEGACY, tmp_path / "legacy")  # budgets 10 and 20 only
    before = sorted(p.name for p in folder.iterdir())
    for argv, message in [([str(folder)], "2 budgets (10, 20); a forecast needs at least 4"),
                          ([str(folder), "--target", "99"], "--target 99.0: a test accuracy strictly between"),
                          ([str(tmp_path)], "not a sweep folder"),
                          ([str(folder), "--out", str(folder / "sweep.json")], "cannot write there")]:
        assert main(["forecast", *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in folder.iterdir()) == before


def test_a_summary_holds_the_forecast_where_a_cell_has_enough_budgets(tmp_path):
    from mnistlab.sweeps.summary import summarize

    summary = summarize(_store_with_curve(tmp_path / "sweep"), "en")
    cells = summary["questions"]["forecast"]["cells"]
    assert {c["model"] for c in cells} == {"mlp", "cnn"} and all(c["variant"] == "base" for c in cells)
    assert any("fitted ceiling" in line for line in summary["forecast"])
    assert (tmp_path / "sweep" / "figures" / "forecast.png").is_file()
    line = glance_forecast(summary, "main")
    assert line.startswith("main, forecast: the CNN's fitted ceiling is ") and "held-out error" in line
    report = make_report(tmp_path / "sweep", lang="en", compile=False)
    figures = {p.stem for p in (tmp_path / "sweep" / "report" / "figures").iterdir()}
    assert "fitted ceiling" in Path(report["tex"]).read_text() and "forecast" in figures
