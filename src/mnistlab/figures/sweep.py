"""Figures of a sweep, drawn from the store's rows and aggregates only (never from training)."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnistlab.figures.run import per_class_recall
from mnistlab.figures.style import LINESTYLES, MARKERS, model_label, new_figure, save, styled
from mnistlab.i18n import t
from mnistlab.stats import mean_ci

if TYPE_CHECKING:
    from mnistlab.runs.rows import SweepRow
    from mnistlab.stats import Aggregate


@styled
def band_plot(series: list[dict], xlabel: str, ylabel: str, title: str, stem: Path, logx: bool = False,
              percent: bool = False, zero: bool = False, unit: str = "%") -> list[Path]:
    """Lines of means with shaded 95% CI bands; each series: label, x, mean, low, high, marker, ls. percent: values
    are fractions shown x100 in `unit`; zero: a dashed line at 0 (for differences)."""
    from matplotlib.ticker import ScalarFormatter

    fig, ax = new_figure(figsize=(5.6, 3.8))
    scale = 100 if percent else 1
    for s in series:
        x, mean = np.asarray(s["x"], float), scale * np.asarray(s["mean"], float)
        ax.plot(x, mean, marker=s.get("marker", "o"), ls=s.get("ls", "-"), ms=4, label=s["label"])
        low, high = scale * np.asarray(s["low"], float), scale * np.asarray(s["high"], float)
        if np.isfinite(low).any():
            ax.fill_between(x, low, high, alpha=0.2)
    if zero:
        ax.axhline(0, color="0.4", lw=0.8, ls="--")
    if logx:
        ax.set_xscale("log")
        ax.set_xticks(sorted({v for s in series for v in s["x"]}))
        ax.get_xaxis().set_major_formatter(ScalarFormatter())
        ax.minorticks_off()
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel + (f" ({unit})" if percent else ""))
    ax.set_title(title)
    ax.legend(fontsize=8)
    return save(fig, stem)


def _series_by_budget(aggregates: list[Aggregate], metric: str, variant: str, models: list[str],
                      labels: dict[str, str], lang: str) -> list[dict]:
    out = []
    for i, model in enumerate(models):
        recs = [a for a in aggregates if a.model == model and a.variant == variant]
        if recs:
            out.append({"label": model_label(labels[model], recs[0].params, lang), "marker": MARKERS[i % 10],
                        "x": [a.samples_per_class for a in recs], "mean": [a.metric(metric)["mean"] for a in recs],
                        "low": [a.metric(metric)["ci_low"] for a in recs],
                        "high": [a.metric(metric)["ci_high"] for a in recs]})
    return out


def budget_axis(aggregates: list[Aggregate], lang: str) -> str:
    """The x-axis of a budget figure: the budget holds train + validation, or only training images when none of
    these runs kept a validation split (no early stopping, semi-supervised runs)."""
    without = all(not a.best_val_acc.get("n") for a in aggregates)
    return t("labelled_per_class" if without else "samples_per_class", lang)


def budget_figures(aggregates: list[Aggregate], models: list[str], labels: dict[str, str], folder: Path,
                   lang: str = "pt") -> list[Path]:
    """Learning curve, generalization gap and early-stopping epoch vs samples per class, per variant."""
    paths = []
    variants = sorted({a.variant for a in aggregates})
    for variant in variants:
        xlabel = budget_axis([a for a in aggregates if a.variant == variant], lang)
        suffix = "" if variant == "base" else f"_{variant}"
        tag = "" if variant == "base" else f" ({variant})"
        for metric, name, ylabel, title, percent in (
                ("test_acc", "learning_curve", t("test_acc", lang), t("learning_curve", lang), True),
                ("gap_at_best", "gap_vs_budget", t("gap", lang), t("gap_title", lang), True),
                ("epochs_run", "stop_epoch_vs_budget", t("stop_epoch", lang), t("stop_title", lang), False)):
            series = _series_by_budget(aggregates, metric, variant, models, labels, lang)
            paths += band_plot(series, xlabel, ylabel, title + tag,
                               folder / f"{name}{suffix}", logx=True, percent=percent)
    if len(variants) > 1:  # a study: every variant on one learning curve, so they can be compared
        series = []
        for i, variant in enumerate(variants):
            for s in _series_by_budget(aggregates, "test_acc", variant, models, labels, lang):
                series.append({**s, "label": f"{s['label']}, {variant}", "ls": LINESTYLES[i % len(LINESTYLES)]})
        paths += band_plot(series, budget_axis(aggregates, lang), t("test_acc", lang), t("learning_curve", lang),
                           folder / "learning_curve_variants", logx=True, percent=True)
    return paths


def model_gap_figures(comparisons: list[dict], aggregates: list[Aggregate], models: list[str], labels: dict[str, str],
                      folder: Path, lang: str = "pt") -> list[Path]:
    """Per variant: the second model minus the first (the notebook's CNN minus its MLP) vs samples per class,
    paired by seed, mean and 95% CI; a dashed line at zero."""
    if len(models) < 2:
        return []
    first, second = models[:2]
    paths = []
    for variant in sorted({c["variant"] for c in comparisons}):
        recs = sorted((c for c in comparisons if c["variant"] == variant and (c["a"], c["b"]) == (first, second)
                       and c["n"] > 1), key=lambda c: c["samples_per_class"])
        if len(recs) < 2:
            continue
        series = [{"label": f"{labels[second]} − {labels[first]}", "marker": MARKERS[0],
                   "x": [c["samples_per_class"] for c in recs], "mean": [c["diff"]["mean"] for c in recs],
                   "low": [c["diff"]["ci_low"] for c in recs], "high": [c["diff"]["ci_high"] for c in recs]}]
        suffix, tag = ("", "") if variant == "base" else (f"_{variant}", f" ({variant})")
        xlabel = budget_axis([a for a in aggregates if a.variant == variant], lang)
        paths += band_plot(series, xlabel, t("model_gap", lang),
                           t("model_gap_title", lang) + tag, folder / f"model_gap{suffix}", logx=True, percent=True,
                           zero=True, unit="pp")
    return paths


def gain_figures(gains: list[dict], aggregates: list[Aggregate], models: list[str], labels: dict[str, str],
                 folder: Path, lang: str = "pt") -> list[Path]:
    """figures/gain_<variant>_vs_<reference>: a variant's test accuracy minus a reference variant's (the plain
    method, the recipe) vs samples per class, a line per model, paired by seed, mean and 95% CI."""
    cells: dict = defaultdict(list)
    for g in gains:
        if g["diff"]["n"] > 1:
            cells[(g["variant"], g["reference"])].append(g)
    paths = []
    for (variant, reference), recs in sorted(cells.items()):
        series = []
        for i, model in enumerate(models):
            line = sorted((g for g in recs if g["model"] == model), key=lambda g: g["samples_per_class"])
            if len(line) >= 2:
                series.append({"label": labels.get(model, model), "marker": MARKERS[i % 10],
                               "x": [g["samples_per_class"] for g in line],
                               "mean": [g["diff"]["mean"] for g in line], "low": [g["diff"]["ci_low"] for g in line],
                               "high": [g["diff"]["ci_high"] for g in line]})
        if series:
            xlabel = budget_axis([a for a in aggregates if a.variant == variant], lang)
            paths += band_plot(series, xlabel, t("model_gap", lang),
                               t("gain_title", lang, variant=variant, reference=reference),
                               folder / f"gain_{variant}_vs_{reference}", logx=True, percent=True, zero=True,
                               unit="pp")
    return paths


@styled
def mean_loss_curves(rows: list[SweepRow], models: list[str], labels: dict[str, str], folder: Path,
                     lang: str = "pt") -> list[Path]:
    """Per variant and budget: train and val loss averaged over seeds (over the runs still training at each epoch).
    Semi-supervised variants are left out: their curves are counted in steps (the coverage figure shows them)."""
    paths = []
    cells = defaultdict(list)
    for r in rows:
        if not r.run_config.unlabeled:
            cells[(r.variant, r.samples_per_class)].append(r)
    for (variant, budget), members in sorted(cells.items()):
        fig, ax = new_figure()
        for i, model in enumerate(models):
            hist = [r.result.history for r in members if r.model == model and r.result]
            if not hist:
                continue
            label = model_label(labels[model], next(r.metric("params") for r in members if r.model == model), lang)
            for split, ls in (("train", "-"), ("val", "--")):
                curves = [h[f"{split}_loss"] for h in hist]
                length = max(map(len, curves))
                mean = [np.mean([c[e] for c in curves if len(c) > e and c[e] is not None] or [np.nan])
                        for e in range(length)]
                ax.plot(range(1, length + 1), mean, ls=ls, marker=MARKERS[i % 10], ms=3,
                        label=f"{label} {t(split, lang)} (n={len(curves)})")
        ax.set_xlabel(t("epoch", lang))
        ax.set_ylabel(t("loss", lang))
        ax.set_title(t("mean_curves", lang, n=budget) + ("" if variant == "base" else f" ({variant})"))
        ax.legend(fontsize=8)
        paths += save(fig, folder / f"loss_curves{'' if variant == 'base' else '_' + variant}_spc{budget}")
    return paths


def robustness_figure(rows: list[SweepRow], kind: str, models: list[str], labels: dict[str, str], folder: Path,
                      lang: str = "pt") -> list[Path]:
    """Per budget: test accuracy vs test-time corruption level, a line per (variant, model), mean and 95% CI."""
    groups: dict = defaultdict(lambda: defaultdict(list))
    params = {}
    for r in rows:
        params[r.model] = r.metric("params")
        levels = r.result.robustness.get(kind, {}) if r.result else {}
        for level, acc in levels.items():
            groups[(r.samples_per_class, r.variant, r.model)][float(level)].append(acc)
    xlabel, title = (t("noise_level", lang), t("noise_title", lang)) if kind == "noise" else \
        (t("shift_level", lang), t("shift_title", lang))
    paths = []
    for budget in sorted({b for b, _, _ in groups}):
        series = []
        variants = sorted({v for b, v, _ in groups if b == budget})
        for (b, variant, model), by_level in sorted(groups.items(), key=lambda g: (g[0][1], models.index(g[0][2]))):
            if b != budget:
                continue
            xs = sorted(by_level)
            cis = [mean_ci(by_level[x]) for x in xs]
            series.append({"label": f"{model_label(labels[model], params[model], lang)}, {variant}",
                           "marker": MARKERS[models.index(model) % 10],
                           "ls": LINESTYLES[variants.index(variant) % len(LINESTYLES)], "x": xs,
                           "mean": [s["mean"] for s in cis], "low": [s["ci_low"] for s in cis],
                           "high": [s["ci_high"] for s in cis]})
        paths += band_plot(series, xlabel, t("test_acc", lang), f"{title} — {budget}/cl.",
                           folder / f"robustness_{kind}_spc{budget}", percent=True)
    return paths


def per_class_figures(rows: list[SweepRow], models: list[str], labels: dict[str, str], folder: Path,
                      lang: str = "pt") -> list[Path]:
    """For each imbalanced variant: mean recall per class (over seeds) vs its training count, every model."""
    groups = defaultdict(list)
    for r in rows:
        if r.run_config.imbalance:
            groups[(r.variant, r.samples_per_class)].append(r)
    paths = []
    for (variant, budget), members in sorted(groups.items()):
        series = []
        for model in models:
            results = [r.result for r in members if r.model == model and r.result]
            if results:
                k = len(results[0].train_counts)
                recall = [float(np.mean([res.report[str(c)]["recall"] for res in results])) for c in range(k)]
                series.append({"label": f"{model_label(labels[model], results[0].params, lang)} (n={len(results)})",
                               "counts": results[0].train_counts, "recall": recall})
        title = f"{t('recall', lang)} — {variant}, {budget}/cl."
        paths += per_class_recall(series, title, folder / f"per_class_recall_{variant}_spc{budget}", lang)
    return paths
