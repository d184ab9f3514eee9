"""Answers at a glance: one plain sentence per question the results document answers, each with its number and
95% interval, picked from the sections' findings by a fixed rule (so the same stores give the same sentences)."""
from __future__ import annotations

import shutil
from pathlib import Path

from mnistlab.config import NOTEBOOK_MODELS
from mnistlab.i18n import interval, number, signed
from mnistlab.names import is_safe_name, markdown

FIRST, SECOND = NOTEBOOK_MODELS  # the notebook's question: MLP, then CNN
# The headline sentence speaks of the notebook's method: "base" (a plain sweep) or "plain" (a study's plain
# variant). A choice of what to show in one sentence, not a filter: every variant's answers are in the summary.
HEADLINE_VARIANTS = ("base", "plain")
# The figures each section shows, those found in its store's report; {low}: the store's smallest budget.
FIGURES = {"main": ("learning_curve", "model_gap", "gap_vs_budget", "reliability_cnn_spc{low}"),
           "recipe": ("learning_curve_variants", "gain_recipe_vs_plain"), "ablation": ("learning_curve_variants",),
           "tiny": ("learning_curve_variants", "learning_curve", "gain_recipe_vs_plain"),
           "semi": ("learning_curve_variants", "gain_fixmatch_vs_recipe", "coverage_cnn_spc{low}"),
           "fashion": ("learning_curve", "model_gap")}


def _pp(ci: dict) -> str:
    """'+4.84 pp [3.38, 6.36]' from a difference of fractions."""
    text = f"{signed(100 * ci['mean'], 'en')} pp"
    return text + (f" {interval(100 * ci['ci_low'], 100 * ci['ci_high'], 'en')}" if ci.get("n", 0) > 1 else "")


def _label(summary: dict, model: str) -> str:
    return summary["labels"].get(model, model)


def model_gap(summary: dict, what: str) -> str | None:
    """CNN minus MLP on the notebook's method, at the smallest and the largest budget."""
    recs = sorted((c for c in summary["comparisons"] if c["variant"] in HEADLINE_VARIANTS
                   and {c["a"], c["b"]} == {FIRST, SECOND}), key=lambda c: c["samples_per_class"])
    if not recs:
        return None
    signed = [c["diff"] if c["b"] == SECOND else {**c["diff"], "mean": -c["diff"]["mean"],
                                                  "ci_low": -c["diff"]["ci_high"], "ci_high": -c["diff"]["ci_low"]}
              for c in recs]
    ahead = all(d["ci_low"] > 0 for d in signed)
    lead = f"the {_label(summary, SECOND)} beats the {_label(summary, FIRST)} at every budget measured, by" if ahead \
        else f"the {_label(summary, SECOND)} minus the {_label(summary, FIRST)} is"
    ends = [f"{_pp(d)} at {c['samples_per_class']} per class" for c, d in zip(recs, signed)]
    shown = ends if len(ends) <= 2 else [ends[0], ends[-1]]
    return f"{what}: {lead} {' and '.join(shown)} (paired by seed, n = {recs[0]['n']})."


def overfitting(summary: dict) -> str | None:
    recs = [r for r in summary["questions"]["overfitting"] if r.get("variant", "base") in HEADLINE_VARIANTS
            and r.get("trend")]
    if not recs:
        return None
    parts = [f"{_label(summary, r['model'])} {_pp({**r['trend'], 'mean': r['trend']['slope'], 'n': 2})}"
             for r in recs]
    return ("Overfitting: the gap between training and validation accuracy changes per tenfold more labelled data "
            f"by {'; '.join(parts)} (least-squares slope on log10 of the budget, 95% interval).")


def early_stopping(summary: dict) -> str | None:
    recs = [r for r in summary["questions"]["early_stopping"] if r.get("restored_minus_last")
            and r.get("variant", "base") in HEADLINE_VARIANTS]
    if not recs:
        return None
    r = max(recs, key=lambda r: abs(r["restored_minus_last"]["mean"]))
    return ("Early stopping: restoring the best epoch's weights instead of keeping the last epoch's changes test "
            f"accuracy by at most {_pp(r['restored_minus_last'])} on average ({_label(summary, r['model'])} at "
            f"{r['samples_per_class']} per class, the largest of {len(recs)} cells).")


def validation_vs_test(summary: dict) -> str | None:
    recs = sorted((r for r in summary["questions"]["validation_vs_test"] if r["model"] == SECOND
                   and r.get("variant", "base") in HEADLINE_VARIANTS), key=lambda r: r["samples_per_class"])
    if not recs:
        return None
    low, high = recs[0], recs[-1]
    return (f"Validation vs test: the best validation accuracy of the {_label(summary, SECOND)} minus its test "
            f"accuracy is {_pp(low['val_minus_test'])} at {low['samples_per_class']} per class and "
            f"{_pp(high['val_minus_test'])} at {high['samples_per_class']} (over seeds).")


def calibration(summary: dict) -> str | None:
    # The headline is the notebook's method (base or plain): a choice of what to show, every variant is answered
    recs = [r for r in summary["questions"].get("calibration", []) if r["model"] == SECOND and r.get("ece_scaled")
            and r.get("variant", "base") in HEADLINE_VARIANTS]
    if not recs:
        return None
    r = min(recs, key=lambda r: r["samples_per_class"])
    return (f"Calibration: at {r['samples_per_class']} per class the {_label(summary, SECOND)}'s expected "
            f"calibration error is {number(100 * r['ece']['mean'], 'en')}% "
            f"{interval(100 * r['ece']['ci_low'], 100 * r['ece']['ci_high'], 'en')}, "
            f"{number(100 * r['ece_scaled']['mean'], 'en')}% after temperature scaling on its validation split.")


def recipe_gain(summary: dict) -> str | None:
    """The recipe minus the plain method for the CNN, paired by seed, at the smallest and largest budget."""
    gains = sorted((g for g in summary["questions"].get("gain", []) if g["model"] == SECOND
                    and (g["variant"], g["reference"]) == ("recipe", "plain")), key=lambda g: g["samples_per_class"])
    if not gains:
        return None
    parts = [f"{_pp(g['diff'])} at {g['samples_per_class']} per class"
             for g in (gains[:1] + gains[-1:] if len(gains) > 1 else gains)]
    return (f"The recipe: `--recipe best` minus the notebook's method for the {_label(summary, SECOND)} is "
            f"{' and '.join(parts)} (paired by seed).")


def semi_gain(summary: dict) -> str | None:
    # FixMatch against the recipe is the headline (a choice of what to show): summary.json has every method's gain.
    gains = [g for g in summary["questions"].get("gain", [])
             if g["model"] == SECOND and g["reference"] == "recipe" and g["variant"] == "fixmatch"]
    if not gains:
        return None
    g = min(gains, key=lambda g: abs(g["samples_per_class"] - 10))  # 10 per class: the study's headline budget
    return (f"Unlabelled images: FixMatch minus the supervised recipe for the {_label(summary, SECOND)} at "
            f"{g['samples_per_class']} labelled per class is {_pp(g['diff'])} (paired by seed).")


def forecast(summary: dict, what: str) -> str | None:
    """The CNN's forecast on the notebook's method (base or plain: a choice of what to show; summary.json holds
    every variant's): its fitted ceiling and the gain of the next doubling, or why it gives none."""
    cells = [c for c in (summary["questions"].get("forecast") or {}).get("cells", [])
             if c["model"] == SECOND and c["variant"] in HEADLINE_VARIANTS]
    if not cells:
        return None
    c, test = cells[0], cells[0]["backtest"]
    errors = test["errors_pp"]
    if c["form"] is None:
        return (f"{what}, forecast: not enough curve to extrapolate for the {_label(summary, SECOND)} (no form beat "
                f"last1's {number(errors['last1'], 'en')} pp on the held-out budgets).")
    largest = c["observed"][-1]["budget"]

    def shown(e: dict, unit: str) -> str:
        ci = f" {interval(100 * e['ci_low'], 100 * e['ci_high'], 'en')}" if e["ci_low"] is not None else ""
        return number(100 * e["value"], "en") + unit + ci

    return (f"{what}, forecast: the {_label(summary, SECOND)}'s fitted ceiling is {shown(c['ceiling'], '%')}; "
            f"doubling {largest} per class gains {shown(c['next_doubling'], ' pp')} ({c['form']}, held-out error "
            f"{number(errors[c['form']], 'en')} pp vs last1's {number(errors['last1'], 'en')} pp; `mnistlab forecast` "
            "gives the budget for a target).")


def glance(loaded: dict[str, tuple[dict, list]]) -> list[str]:
    """The 'Answers at a glance' section from each loaded section's (summary, finished rows)."""
    lines = []
    if "main" in loaded:
        summary, _ = loaded["main"]
        lines += [model_gap(summary, "MLP vs CNN"), overfitting(summary), early_stopping(summary),
                  validation_vs_test(summary), calibration(summary)]
    if "recipe" in loaded:
        lines.append(recipe_gain(loaded["recipe"][0]))
    if "semi" in loaded:
        lines.append(semi_gain(loaded["semi"][0]))
    if "fashion" in loaded:
        lines.append(model_gap(loaded["fashion"][0], "Fashion-MNIST"))
    lines += [forecast(summary, name) for name, (summary, _) in loaded.items()]
    found = [line for line in lines if line]
    if not found:
        return []
    return ["## Answers at a glance", ""] + [f"- {markdown(line)}" for line in found] + [""]


def section_figures(name: str, folder: Path, out: Path, low: int, tag: str | None = None) -> list[str]:
    """Copy a section's main figures (PNG) beside the document and reference them: `results/<tag>_<stem>.png`
    (the tag is the section's name, numbered for its further stores; low: the store's smallest budget)."""
    lines, tag = [], tag or name
    for stem in (pattern.format(low=low) for pattern in FIGURES.get(name, ())):
        source = folder / "report" / "figures" / f"{stem}.png"
        if not (is_safe_name(stem) and source.is_file()) or source.is_symlink():
            continue
        target = out.parent / "results" / f"{tag}_{stem}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        lines += [f"![{stem.replace('_', ' ')}](results/{tag}_{stem}.png)", ""]
    return lines
