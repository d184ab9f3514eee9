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
    """Per variant, model and budget: ECE, NLL (before/after T), T, over-confidence, pooled bins. A variant without a
    validation split (semi-supervised, no early stopping) has no T: its ECE is given as trained."""
    cells: dict = defaultdict(list)
    for r in rows:
        stored = (r.result.calibration or {}) if r.result is not None else {}
        if stored.get("test_logits"):
            cells[(r.variant, r.model, r.samples_per_class)].append(decode(stored))
    out = []
    for variant in sorted({v for v, _, _ in cells}, key=lambda v: (v not in ("base", "plain"), v)):
        for model in models:
            out += [_cell(variant, model, budget, cells[(variant, model, budget)])
                    for budget in sorted(b for v, m, b in cells if (v, m) == (variant, model))]
    return out


def _cell(variant: str, model: str, budget: int, decoded: list) -> dict:
    per_run = [run_summary(*d) for d in decoded]  # (logits, labels, T)
    scaled = [e for e in per_run if e["temperature"] is not None]
    bins = _pool([e["bins"] for e in per_run])
    return {
        "variant": variant, "model": model, "samples_per_class": budget, "n": len(per_run),
        "ece": mean_ci([e["ece"] for e in per_run]), "nll": mean_ci([e["nll"] for e in per_run]),
        "ece_scaled": mean_ci([e["ece_scaled"] for e in scaled]) if scaled else None,
        "nll_scaled": mean_ci([e["nll_scaled"] for e in scaled]) if scaled else None,
        "temperature": mean_ci([e["temperature"] for e in scaled]) if scaled else None,
        "overconfidence": overconfidence(bins), "bins": bins,
        "bins_scaled": _pool([e["bins_scaled"] for e in scaled]) if scaled else None}


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
        label = labels[rec["model"]] + ("" if rec.get("variant", "base") == "base" else f" ({rec['variant']})")
        after = ""
        if rec["ece_scaled"] is not None:
            after = t("cal_after", lang, ece=_ci(rec["ece_scaled"], lang), nll=_ci(rec["nll_scaled"], lang, 1, 3),
                      temp=number(rec["temperature"]["mean"], lang))
        lines.append(t("cal_line", lang, label=label, spc=rec["samples_per_class"], n=rec["n"],
                       ece=_ci(rec["ece"], lang), nll=_ci(rec["nll"], lang, 1, 3),
                       over=number(100 * rec["overconfidence"], lang), after=after))
    for variant in dict.fromkeys(r.get("variant", "base") for r in records):
        mine = [r for r in records if r.get("variant", "base") == variant]
        budgets = sorted({r["samples_per_class"] for r in mine})
        if len({r["model"] for r in mine}) < 2 or not budgets:
            continue
        low, high = budgets[0], budgets[-1]
        at_low = {r["model"]: r["overconfidence"] for r in mine if r["samples_per_class"] == low}
        at_high = {r["model"]: r["overconfidence"] for r in mine if r["samples_per_class"] == high}
        worst = max(at_low, key=lambda m: at_low[m])
        tag = "" if variant == "base" else f" ({variant})"
        lines.append(t("cal_compare", lang, label=labels[worst] + tag, spc=low, over=number(100 * at_low[worst], lang),
                       high=high, over_high=number(100 * at_high.get(worst, float("nan")), lang)))
    return lines
