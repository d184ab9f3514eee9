"""Reliability diagrams: accuracy against confidence per bin, as trained and temperature-scaled, one per model
and budget (bins pooled over seeds by sweeps/calibrated.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from mnistlab.figures.style import new_figure, save, styled
from mnistlab.i18n import t
from mnistlab.models.registry import file_stem


def _curve(bins: dict) -> tuple[np.ndarray, np.ndarray]:
    count = np.asarray(bins["count"], float)
    used = count > 0
    return (np.asarray(bins["confidence"])[used] / count[used], np.asarray(bins["correct"])[used] / count[used])


@styled
def reliability_figures(records: list[dict], labels: dict[str, str], folder: Path, lang: str = "pt") -> list[Path]:
    """reliability_{model}_spc{budget}: the diagonal is perfect calibration; below it, overconfidence."""
    paths = []
    for rec in records:
        fig, ax = new_figure(figsize=(4.2, 4.0))
        ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls=":")
        for bins, name, marker in ((rec["bins"], "unscaled", "o"), (rec.get("bins_scaled"), "scaled", "s")):
            if bins:
                x, y = _curve(bins)
                ax.plot(x, y, marker=marker, ms=4, label=t(name, lang))
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel(t("confidence", lang))
        ax.set_ylabel(t("accuracy", lang))
        variant = rec.get("variant", "base")  # checked when its row was read: a safe name
        tag, prefix = ("", "") if variant == "base" else (f" ({variant})", f"{variant}_")
        ax.set_title(t("reliability_title", lang, label=labels[rec["model"]] + tag, spc=rec["samples_per_class"]))
        ax.legend(fontsize=8, loc="upper left")
        paths += save(fig, folder / f"reliability_{prefix}{file_stem(rec['model'])}_spc{rec['samples_per_class']}")
    return paths
