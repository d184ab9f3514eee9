"""The sweep's answers in words, written from the numbers (pt and en)."""
from __future__ import annotations

import math

from mnistlab.config import NOTEBOOK_MODELS
from mnistlab.i18n import interval, number, pvalue, signed, t


def describe_comparison(rec: dict, labels: dict[str, str], lang: str = "en") -> str:
    """A paired comparison of two models in plain words: who leads, by how much, how sure."""
    d = rec["diff"]
    lead = labels[rec["b"]] if d["mean"] > 0 else labels[rec["a"]]
    other = labels[rec["a"]] if d["mean"] > 0 else labels[rec["b"]]
    variant = "" if rec["variant"] == "base" else f" ({rec['variant']})"
    if rec["n"] < 2:
        return t("sweep_finding_single", lang, spc=rec["samples_per_class"], variant=variant, lead=lead, other=other,
                 diff=number(100 * abs(d["mean"]), lang))
    sure = t("ci_excludes" if d["ci_low"] > 0 or d["ci_high"] < 0 else "ci_includes", lang)
    if rec["n"] < 6:  # the smallest two-sided Wilcoxon p with n pairs is 2 / 2^n
        sure += t("wilcoxon_floor", lang, n=rec["n"], p=pvalue(2 / 2 ** rec["n"], lang))
    family = rec.get("family_size", 1)
    if family > 1:
        sure += t("holm_note", lang, k=family)
    tp, wp = (rec["ttest_p_holm"], rec["wilcoxon_p_holm"]) if family > 1 else (rec["ttest_p"], rec["wilcoxon_p"])
    sign = 1 if d["mean"] > 0 else -1  # the interval of the leader's advantage
    low, high = sorted((sign * d["ci_low"], sign * d["ci_high"]))
    key = "sweep_finding" if family == 1 else "sweep_finding_pair"
    return t(key, lang, spc=rec["samples_per_class"], variant=variant, lead=lead, other=other,
             diff=number(100 * abs(d["mean"]), lang), low=number(100 * low, lang), high=number(100 * high, lang),
             n=rec["n"], tp=pvalue(tp, lang), wp=pvalue(wp, lang), sure=sure)


def _signed(ci: dict, lang: str, scale: float = 100, unit: str = " pp") -> str:
    """'+2.10 pp (95% CI [1.20, 3.00])', 'not conclusive' added when the interval holds zero, CI-less for n < 2."""
    value = f"{signed(scale * ci['mean'], lang)}{unit}"
    if ci["n"] < 2 or math.isnan(ci["ci_low"]):
        return f"{value} (n={ci['n']})"
    words = f"{value} ({t('ci95', lang)} {interval(scale * ci['ci_low'], scale * ci['ci_high'], lang)}"
    return words + (f"; {t('nc', lang)})" if ci["ci_low"] <= 0 <= ci["ci_high"] else ")")


def _label(rec: dict, labels: dict[str, str]) -> str:
    """A model's label, with the variant its runs belong to unless it is the notebook's plain `base`."""
    variant = rec.get("variant", "base")
    return labels[rec["model"]] + ("" if variant == "base" else f" ({variant})")


def _join(items: list[str]) -> str:
    return "; ".join(items)


def describe_questions(answers: dict, labels: dict[str, str], lang: str = "en") -> list[str]:
    """One sentence per model (or per study cell) for each question of sweeps/questions.py."""
    lines = []
    for rec in answers["overfitting"]:
        items = [t("q_at", lang, value=_signed(ci, lang), spc=b) for b, ci in rec["gap"].items()]
        line = t("q_overfit", lang, label=_label(rec, labels), items=_join(items))
        trend = rec["trend"]
        if trend:
            sure = f"; {t('nc', lang)}" if trend["ci_low"] <= 0 <= trend["ci_high"] else ""
            line += t("q_overfit_trend", lang, n=trend["n"], slope=number(100 * trend["slope"], lang),
                      low=number(100 * trend["ci_low"], lang), high=number(100 * trend["ci_high"], lang), sure=sure)
        lines.append(line)
    by_model: dict[str, list[str]] = {}
    for rec in answers["early_stopping"]:
        gain = rec["restored_minus_last"]
        by_model.setdefault(_label(rec, labels), []).append(t(
            "q_early_item", lang, spc=rec["samples_per_class"], stop=number(rec["stop_epoch"]["mean"], lang, 1),
            best=number(rec["best_epoch"]["mean"], lang, 1), k=rec["stopped_early"], n=rec["n"],
            gain=t("q_early_gain", lang, value=_signed(gain, lang)) if gain else ""))
    lines += [t("q_early", lang, label=label, items=_join(items)) for label, items in by_model.items()]
    by_model = {}
    for rec in answers["validation_vs_test"]:
        r = "" if rec["pearson_r"] is None else t("q_valtest_r", lang, r=number(rec["pearson_r"], lang))
        by_model.setdefault(_label(rec, labels), []).append(
            t("q_at", lang, value=_signed(rec["val_minus_test"], lang), spc=rec["samples_per_class"]) + r)
    lines += [t("q_valtest", lang, label=label, items=_join(items)) for label, items in by_model.items()]
    for kind in ("noise", "shift"):
        for rec in answers[kind]:
            items = [t("q_level", lang, value=_signed(row["diff"], lang), level=f"{row['level']:g}",
                       p=pvalue(row["p_holm"], lang)) for row in rec["levels"]]
            lines.append(t("q_study", lang, kind=t(f"kind_{kind}", lang), label=labels[rec["model"]],
                           spc=rec["samples_per_class"], variant=rec["variant"], reference=rec["reference"],
                           items=_join(items), k=len(rec["levels"])))
    lines += describe_semi(answers.get("semi") or {}, answers.get("gain", []), labels, lang)
    for rec in answers["imbalance"]:
        rare = _signed(rec["rarest_recall"], lang) if rec["rarest_recall"] else "–"
        lines.append(t("q_imbalance", lang, label=labels[rec["model"]], spc=rec["samples_per_class"],
                       remedy=rec["remedy"], balanced=_signed(rec["balanced_acc"], lang), rare=rare))
    return lines


def describe_semi(semi: dict, gains: list[dict], labels: dict[str, str], lang: str = "en") -> list[str]:
    """Per model and budget, each semi-supervised variant's gain over the supervised ones; per budget, the gap."""
    cells: dict[tuple, list[str]] = {}
    for rec in (g for g in gains if g["variant"] in semi.get("variants", [])):
        item = t("q_semi_item", lang, variant=rec["variant"], reference=rec["reference"],
                 value=_signed(rec["diff"], lang))
        cells.setdefault((rec["model"], rec["samples_per_class"]), []).append(item)
    lines = [t("q_semi_gain", lang, label=labels.get(m, m), spc=b, items=_join(items))
             for (m, b), items in cells.items()]
    budgets: dict[int, list[str]] = {}
    for rec in semi.get("gap", []):
        budgets.setdefault(rec["samples_per_class"], []).append(
            t("q_semi_gap_item", lang, variant=rec["variant"], value=_signed(rec["diff"], lang)))
    first, second = NOTEBOOK_MODELS
    lines += [t("q_semi_gap", lang, spc=b, cnn=labels.get(second, second), mlp=labels.get(first, first),
                items=_join(items)) for b, items in budgets.items()]
    return lines
