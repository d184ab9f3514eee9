"""Figures of the semi-supervised study, from its answers only: pseudo-label coverage over training."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from mnistlab.figures.style import LINESTYLES, new_figure, save, styled
from mnistlab.i18n import t


@styled
def _coverage(curves: list[dict], label: str, budget: int, stem: Path, lang: str) -> list[Path]:
    fig, ax = new_figure(figsize=(5.6, 3.6))
    for i, rec in enumerate(curves):
        ax.plot(rec["step"], 100 * np.asarray(rec["mask_rate"], float), ls=LINESTYLES[i % 4],
                label=f"{rec['variant']} (n={rec['n']})")
    ax.set_xlabel(t("step", lang))
    ax.set_ylabel(t("coverage_y", lang))
    ax.set_ylim(0, 100)
    ax.set_title(t("coverage_title", lang, model=label, n=budget))
    ax.legend(fontsize=8)
    return save(fig, stem)


def coverage_figures(semi: dict, labels: dict[str, str], folder: Path, lang: str = "pt") -> list[Path]:
    """figures/coverage_<model>_spc<N>: the share of unlabelled images the method trusted, per semi variant."""
    cells: dict[tuple, list[dict]] = {}
    for rec in semi.get("coverage", []):
        cells.setdefault((rec["model"], rec["samples_per_class"]), []).append(rec)
    paths = []
    for (model, budget), curves in cells.items():
        from mnistlab.models.registry import file_stem

        paths += _coverage(curves, labels.get(model, model), budget,
                           Path(folder) / f"coverage_{file_stem(model)}_spc{budget}", lang)
    return paths
