"""Calibration over seeds: ECE and NLL before and after temperature scaling, per model and budget, from the
test logits each run stored; the reliability bins pooled over seeds for the diagrams."""
from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from mnistlab.calibration import decode
from mnistlab.calibration import summary as run_summary
from mnistlab.i18n import interval, number, t
from mnistlab.stats import mean_ci

if TYPE_CHECKING:
    from mnistlab.runs.rows import SweepRow


def _pool(bins: list[dict]) -> dict:
    return {k: np.sum([b[k] for b in bins], axis=0).tolist() for k in ("count", "confidence", "correct")}


def overconfidence(bins: dict) -> float:
    """Mean confidence minus accuracy (> 0: overconfident), from reliability bins."""
    count = sum(bins["count"])
    return (sum(bins["confidence"]) - sum(bins["correct"])) / count if count else float("nan")


def answer(rows: list[SweepRow], models: list[str]) -> list[dict]:
    """Per model and budget of the base variant: ECE, NLL (before/after T), T, over-confidence, pooled bins."""
    cells: dict = defaultdict(list)
    for r in rows:
        if r.variant != "base" or r.result is None:
            continue
        stored = r.result.calibration or {}
        if stored.get("test_logits"):
            cells[(r.model, r.samples_per_class)].append(decode(stored))
    out = []
    for model in models:
        for budget in sorted(b for m, b in cells if m == model):
            per_run = [run_summary(*decoded) for decoded in cells[(model, budget)]]  # (logits, labels, T)
            scaled = [e for e in per_run if e["temperature"] is not None]
            bins = _pool([e["bins"] for e in per_run])
            out.append({
                "model": model, "samples_per_class": budget, "n": len(per_run),
                "ece": mean_ci([e["ece"] for e in per_run]), "nll": mean_ci([e["nll"] for e in per_run]),
                "ece_scaled": mean_ci([e["ece_scaled"] for e in scaled]) if scaled else None,
                "nll_scaled": mean_ci([e["nll_scaled"] for e in scaled]) if scaled else None,
                "temperature": mean_ci([e["temperature"] for e in scaled]) if scaled else None,
                "overconfidence": overconfidence(bins), "bins": bins,
                "bins_scaled": _pool([e["bins_scaled"] for e in scaled]) if scaled else None})
    return out


def _ci(ci: dict, lang: str, scale: float = 100, digits: int = 2) -> str:
    text = number(scale * ci["mean"], lang, digits)
    if ci["n"] > 1:
        text += " " + interval(scale * ci["ci_low"], scale * ci["ci_high"], lang, digits)
    return text


def describe(records: list[dict], labels: dict[str, str], lang: str = "en") -> list[str]:
    """A sentence per model and budget, then which model is more overconfident with little data and whether
    that shrinks with data."""
    lines = []
    for rec in records:
        after = ""
        if rec["ece_scaled"] is not None:
            after = t("cal_after", lang, ece=_ci(rec["ece_scaled"], lang), nll=_ci(rec["nll_scaled"], lang, 1, 3),
                      temp=number(rec["temperature"]["mean"], lang))
        lines.append(t("cal_line", lang, label=labels[rec["model"]], spc=rec["samples_per_class"], n=rec["n"],
                       ece=_ci(rec["ece"], lang), nll=_ci(rec["nll"], lang, 1, 3),
                       over=number(100 * rec["overconfidence"], lang), after=after))
    budgets = sorted({r["samples_per_class"] for r in records})
    if len({r["model"] for r in records}) >= 2 and budgets:
        low, high = budgets[0], budgets[-1]
        at_low = {r["model"]: r["overconfidence"] for r in records if r["samples_per_class"] == low}
        at_high = {r["model"]: r["overconfidence"] for r in records if r["samples_per_class"] == high}
        worst = max(at_low, key=lambda m: at_low[m])
        lines.append(t("cal_compare", lang, label=labels[worst], spc=low, over=number(100 * at_low[worst], lang),
                       high=high, over_high=number(100 * at_high.get(worst, float("nan")), lang)))
    return lines
