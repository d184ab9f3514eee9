"""The questions each figure asks, answered with numbers from the store: overfitting, early stopping,
validation vs test, each variant's gain over the plain method and the recipe, and the noise, shift, imbalance
and semi-supervised studies. Words are in findings.py."""
from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from mnistlab.config import NOTEBOOK_MODELS
from mnistlab.stats import holm, mean_ci
from mnistlab.sweeps.studies import variants_of

if TYPE_CHECKING:
    from mnistlab.runs.outcome import ModelResult
    from mnistlab.runs.rows import SweepRow

IMBALANCE_BASE = variants_of("imbalance")[0][0]  # "longtail": the imbalanced run with no remedy


def _results(rows: list[SweepRow]) -> list[tuple[SweepRow, ModelResult]]:
    return [(r, r.result) for r in rows if r.result is not None]


def _by_cell(pairs):
    cells: dict = defaultdict(list)
    for r, res in pairs:
        cells[(r.model, r.samples_per_class)].append((r, res))
    return cells


def _by_variant(pairs) -> dict:
    """(model, budget) -> variant -> seed -> result: the cells a paired comparison of variants reads."""
    by: dict = defaultdict(lambda: defaultdict(dict))
    for r, res in pairs:
        by[(r.model, r.samples_per_class)][r.variant][r.seed] = res
    return by


def per_variant(question, pairs, models: list[str]) -> list[dict]:
    """A question asked of each variant's runs on their own (the notebook's method first), its records tagged."""
    variants = sorted({r.variant for r, _ in pairs}, key=lambda v: (v != "base", v))
    return [{"variant": v, **rec} for v in variants
            for rec in question([(r, res) for r, res in pairs if r.variant == v], models)]


def _slope(xs: list[float], ys: list[float]) -> dict | None:
    """Least-squares slope of y on x with its 95% t-interval (None below 3 points or with one x)."""
    from scipy import stats

    if len(xs) < 3 or len(set(xs)) < 2:
        return None
    fit = stats.linregress(xs, ys)
    half = float(stats.t.ppf(0.975, len(xs) - 2)) * fit.stderr
    return {"slope": float(fit.slope), "ci_low": float(fit.slope - half), "ci_high": float(fit.slope + half),
            "n": len(xs)}


def overfitting(pairs, models: list[str]) -> list[dict]:
    """Per model: the generalization gap (train - val accuracy at the best epoch) per budget, and its slope on
    log10(budget) across every run."""
    out = []
    cells = _by_cell(pairs)
    for model in models:
        budgets = sorted(b for m, b in cells if m == model)
        points = [(math.log10(b), res.gap_at_best) for b in budgets for _, res in cells[(model, b)]
                  if res.gap_at_best is not None]
        per_budget = {b: mean_ci([res.gap_at_best for _, res in cells[(model, b)]]) for b in budgets}
        per_budget = {b: ci for b, ci in per_budget.items() if ci["n"]}
        if per_budget:
            xs, ys = [x for x, _ in points], [y for _, y in points]
            out.append({"model": model, "gap": per_budget, "trend": _slope(xs, ys) if points else None})
    return out


def early_stopping(pairs, models: list[str]) -> list[dict]:
    """Per model and budget: stopping and best epochs, and restored-minus-last-epoch test accuracy."""
    out = []
    cells = _by_cell(pairs)
    for model in models:
        for budget in sorted(b for m, b in cells if m == model):
            members = [res for _, res in cells[(model, budget)] if res.run_config.early_stopping]
            if not members:
                continue
            gain = [res.test_acc - res.last_test_acc for res in members if res.last_test_acc is not None]
            out.append({"model": model, "samples_per_class": budget, "n": len(members),
                        "stop_epoch": mean_ci([res.epochs_run for res in members]),
                        "best_epoch": mean_ci([res.best_epoch for res in members]),
                        "stopped_early": sum(res.epochs_run < res.run_config.epochs for res in members),
                        "restored_minus_last": mean_ci(gain) if gain else None})
    return out


def validation_vs_test(pairs, models: list[str]) -> list[dict]:
    """Per model and budget: best validation accuracy minus test accuracy, and Pearson's r across runs."""
    from scipy import stats

    out = []
    cells = _by_cell(pairs)
    for model in models:
        for budget in sorted(b for m, b in cells if m == model):
            both = [(res.best_val_acc, res.test_acc) for _, res in cells[(model, budget)]
                    if res.best_val_acc is not None]
            if not both:
                continue
            val, test = map(np.asarray, zip(*both))
            varies = len(both) >= 3 and len(set(val.tolist())) > 1 and len(set(test.tolist())) > 1
            r = float(stats.pearsonr(val, test)[0]) if varies else None  # r is undefined for a constant column
            out.append({"model": model, "samples_per_class": budget, "n": len(both),
                        "val_minus_test": mean_ci(val - test), "pearson_r": r})
    return out


def _paired(rows_a: dict, rows_b: dict, value) -> list[float]:
    """value(b) - value(a) over the seeds both have."""
    return [value(rows_b[s]) - value(rows_a[s]) for s in sorted(set(rows_a) & set(rows_b))
            if value(rows_b[s]) is not None and value(rows_a[s]) is not None]


def _ttest_p(diffs: list[float]) -> float:
    from scipy import stats

    if len(diffs) < 2 or np.std(diffs) == 0:
        return math.nan
    return float(stats.ttest_1samp(diffs, 0.0).pvalue)


def corruption_study(pairs, models: list[str], kind: str) -> list[dict]:
    """Noise or shift study: the corruption-trained variant minus the plain one, paired by seed, at each test
    corruption level; the t-test p-values of one model and budget's levels are Holm-adjusted together."""
    base, *others = [label for label, _ in variants_of(kind)]  # the study's reference variant first
    out = []
    by = _by_variant(pairs)
    order = {m: i for i, m in enumerate(models)}
    for (model, budget), variants in sorted(by.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1])):
        if base not in variants:
            continue
        for other in [v for v in others if v in variants]:
            levels = sorted({lv for res in variants[base].values() for lv in res.robustness.get(kind, {})},
                            key=float)
            rows: list[dict] = []
            for level in levels:
                diffs = _paired(variants[base], variants[other], lambda res, lv=level: res.robustness[kind].get(lv))
                if diffs:
                    rows.append({"level": float(level), "diff": mean_ci(diffs), "p": _ttest_p(diffs)})
            for row, adjusted in zip(rows, holm([row["p"] for row in rows])):
                row["p_holm"] = adjusted
            if rows:
                out.append({"model": model, "samples_per_class": budget, "variant": other, "reference": base,
                            "levels": rows})
    return out


def _rarest_recall(res: ModelResult) -> float | None:
    counts = res.train_counts or []
    if not counts:
        return None
    rarest = str(int(np.argmin(counts)))
    return res.report.get(rarest, {}).get("recall")


def imbalance_study(pairs, models: list[str]) -> list[dict]:
    """Per remedy: balanced accuracy and the rarest class's recall minus those with no remedy, paired by seed."""
    out = []
    by = _by_variant(pairs)
    for (model, budget), variants in sorted(by.items(), key=lambda kv: str(kv[0])):
        if IMBALANCE_BASE not in variants:
            continue
        for remedy in sorted(v for v in variants if v.startswith(IMBALANCE_BASE + "-")):
            balanced = _paired(variants[IMBALANCE_BASE], variants[remedy], lambda res: res.balanced_acc)
            rare = _paired(variants[IMBALANCE_BASE], variants[remedy], _rarest_recall)
            if balanced:
                out.append({"model": model, "samples_per_class": budget, "remedy": remedy.split("-", 1)[1],
                            "balanced_acc": mean_ci(balanced), "rarest_recall": mean_ci(rare) if rare else None})
    return out


REFERENCES = ("recipe", "plain")  # the supervised variants others are measured against, the recipe first


def variant_gains(pairs, models: list[str], value=lambda res: res.test_acc,
                  references: tuple[str, ...] = REFERENCES) -> list[dict]:
    """Each variant's value (test accuracy) minus each reference variant's (the recipe, then the notebook's plain
    method), paired by seed, per model and budget: how much a study's change is worth. A reference is measured
    only against the references after it (the recipe against plain, not plain against the recipe)."""
    by = _by_variant(pairs)
    order = {m: i for i, m in enumerate(models)}
    rank = {ref: i for i, ref in enumerate(references)}
    gains = []
    for (model, budget), variants in sorted(by.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1])):
        for variant in sorted(variants):
            for reference in (ref for ref in references if ref in variants
                              and rank.get(variant, -1) < rank[ref]):
                diffs = _paired(variants[reference], variants[variant], value)
                if diffs:
                    gains.append({"model": model, "samples_per_class": budget, "variant": variant,
                                  "reference": reference, "diff": mean_ci(diffs), "p": _ttest_p(diffs)})
    return gains


def semi_study(pairs, models: list[str]) -> dict:
    """The semi-supervised study: which variants learn from unlabelled images (their gains are variant_gains'),
    the CNN-minus-MLP gap under every variant, and the mean share of unlabelled images above the confidence
    threshold (pseudo-label coverage) over training steps."""
    by = _by_variant(pairs)
    semi = {r.variant for r, res in pairs if res.run_config.unlabeled}
    if not semi:
        return {}
    order = {m: i for i, m in enumerate(models)}
    cells = sorted(by.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1]))
    coverage = []
    for (model, budget), variants in cells:
        for variant in sorted(semi & set(variants)):
            curves = [res.history["mask_rate"] for res in variants[variant].values()  # a method without a mask
                      if isinstance(res.history.get("mask_rate"), list) and None not in res.history["mask_rate"]]
            steps = next((res.history.get("step") for res in variants[variant].values()), None)
            if curves and steps and all(len(c) == len(steps) for c in curves):
                coverage.append({"model": model, "samples_per_class": budget, "variant": variant, "step": steps,
                                 "mask_rate": np.mean(np.asarray(curves, float), axis=0).tolist(), "n": len(curves)})
    gaps = []
    first, second = NOTEBOOK_MODELS  # the notebook's question: how far the unlabelled images close their gap
    if first in models and second in models:
        for budget in sorted({b for _, b in by}):
            a, b = by.get((first, budget), {}), by.get((second, budget), {})
            for variant in sorted(set(a) & set(b), key=lambda v: (v in semi, v)):
                diffs = _paired(a[variant], b[variant], lambda res: res.test_acc)
                if diffs:
                    gaps.append({"samples_per_class": budget, "variant": variant, "diff": mean_ci(diffs)})
    return {"variants": sorted(semi), "gap": gaps, "coverage": coverage}  # their gains: answers["gain"]


def answer_all(rows: list[SweepRow], models: list[str]) -> dict:
    """Every question's numbers (JSON-ready) from the finished rows of a store."""
    pairs = _results(rows)
    return {"overfitting": per_variant(overfitting, pairs, models),
            "early_stopping": per_variant(early_stopping, pairs, models),
            "validation_vs_test": per_variant(validation_vs_test, pairs, models),
            "noise": corruption_study(pairs, models, "noise"), "shift": corruption_study(pairs, models, "shift"),
            "imbalance": imbalance_study(pairs, models), "gain": variant_gains(pairs, models),
            "semi": semi_study(pairs, models)}
