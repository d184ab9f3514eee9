"""The forecast's figure, one per variant: observed means with their CIs, each model's chosen fit and its
bootstrap band out to ten times the largest budget, and the targets where they are crossed."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mnistlab.figures.style import MARKERS, new_figure, save, styled
from mnistlab.i18n import number, t


@styled
def forecast_figure(cells: Sequence, labels: dict[str, str], variant: str, xlabel: str, stem: Path,
                    lang: str = "pt") -> list[Path]:
    """cells: the variant's CellForecast records (any object with their fields), in the models' order."""
    from matplotlib.ticker import ScalarFormatter

    fig, ax = new_figure(figsize=(5.8, 4.0))
    goals: dict[float, list[float]] = {}
    for i, cell in enumerate(cells):
        x = [o.budget for o in cell.observed]
        mean = 100 * np.array([o.mean for o in cell.observed])
        low = 100 * np.array([o.ci_low for o in cell.observed])
        high = 100 * np.array([o.ci_high for o in cell.observed])
        err = np.nan_to_num(np.vstack([mean - low, high - mean]))
        line = ax.errorbar(x, mean, yerr=err, fmt=MARKERS[i % 10], ms=4, capsize=2, ls="none",
                           label=labels.get(cell.model, cell.model))[0]
        if cell.band is None:
            continue
        grid = np.array(cell.band.budgets)
        ax.plot(grid, 100 * np.array(cell.band.accuracy), color=line.get_color(), lw=1.2,
                label=t("fc_fit", lang, form=cell.form))
        if cell.band.low is not None:
            ax.fill_between(grid, 100 * np.array(cell.band.low), 100 * np.array(cell.band.high),
                            color=line.get_color(), alpha=0.15)
        for goal in cell.targets:
            goals.setdefault(goal.target, [])
            if goal.budget is not None and goal.budget <= grid[-1]:
                goals[goal.target].append(goal.budget)
                ax.plot([goal.budget], [100 * goal.target], marker="x", color=line.get_color(), ms=7)
    for target in goals:
        ax.axhline(100 * target, color="0.4", lw=0.8, ls="--",
                   label=t("fc_target", lang, target=f"{number(100 * target, lang)}%"))
    ax.set_xscale("log")
    ax.get_xaxis().set_major_formatter(ScalarFormatter())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{t('test_acc', lang)} (%)")
    ax.set_title(t("fc_title", lang, variant=variant))
    ax.legend(fontsize=7)
    return save(fig, stem)
