"""A sweep's answers as compact tables, one row per cell and each caveat said once under its table: the model
comparisons, overfitting, early stopping, validation vs test, each variant's gain and the semi-supervised gap.
The results document and the report show these; the terminal keeps the sentences of findings.py."""
from __future__ import annotations

import math
from dataclasses import dataclass

from mnistlab.config import NOTEBOOK_MODELS
from mnistlab.i18n import interval, number, pvalue, signed, t
from mnistlab.sweeps.tables import Table

HOLDS_ZERO = " *"  # marks an interval that holds zero; the note under the table says what it means


@dataclass(frozen=True)
class AnswerTable:
    """A titled table and the caveats that hold for all of its rows."""

    title: str
    table: Table
    notes: list[str]


def pp(ci: dict | None, lang: str) -> str:
    """A difference of fractions in percentage points with its 95% interval, marked when the interval holds 0."""
    if not ci or not ci.get("n"):
        return "–"
    text = signed(100 * ci["mean"], lang)
    if ci["n"] < 2 or math.isnan(ci["ci_low"]):
        return text
    mark = HOLDS_ZERO if ci["ci_low"] <= 0 <= ci["ci_high"] else ""
    return f"{text} {interval(100 * ci['ci_low'], 100 * ci['ci_high'], lang)}{mark}"


def _label(labels: dict[str, str], model: str) -> str:
    return labels.get(model, model)


def comparisons(summary: dict, lang: str) -> AnswerTable | None:
    recs = summary["comparisons"]
    if not recs:
        return None
    family = max(r.get("family_size", 1) for r in recs)
    rows = []
    for r in recs:
        tp, wp = (r["ttest_p_holm"], r["wilcoxon_p_holm"]) if r.get("family_size", 1) > 1 else (r["ttest_p"],
                                                                                               r["wilcoxon_p"])
        rows.append([r["variant"], str(r["samples_per_class"]),
                     f"{_label(summary['labels'], r['b'])} − {_label(summary['labels'], r['a'])}",
                     pp(r["diff"], lang), str(r["n"]), pvalue(tp, lang), pvalue(wp, lang)])
    notes = [t("note_paired", lang)]
    small = min(r["n"] for r in recs)
    if 1 < small < 6:  # the smallest two-sided Wilcoxon p with n pairs is 2 / 2^n
        notes.append(t("note_wilcoxon", lang, n=small, p=pvalue(2 / 2 ** small, lang)))
    if family > 1:
        notes.append(t("note_holm", lang, k=family))
    header = [t("variant", lang), t("per_class", lang), t("pair", lang), f"pp [{t('ci95', lang)}]", "n",
              t("ttest_p", lang), t("wilcoxon_p", lang)]
    return AnswerTable(t("tab_comparisons", lang), Table(header, rows), notes)


def _by_budget(recs: list[dict], models: list[str], cell) -> list[list[str]]:
    """One row per (variant, budget): variant, budget, then cell(rec) for each model ('–' where it has none)."""
    cells: dict[tuple, dict[str, str]] = {}
    for r in recs:
        cells.setdefault((r["variant"], r["samples_per_class"]), {})[r["model"]] = cell(r)
    return [[variant, str(budget), *(by_model.get(m, "–") for m in models)]
            for (variant, budget), by_model in cells.items()]


def _models(summary: dict, recs: list[dict]) -> list[str]:
    present = {r["model"] for r in recs}
    return [m for m in summary["models"] if m in present]


def overfitting(summary: dict, lang: str) -> AnswerTable | None:
    recs = summary["questions"].get("overfitting", [])
    flat = [{"variant": r["variant"], "model": r["model"], "samples_per_class": budget, "gap": ci}
            for r in recs for budget, ci in r["gap"].items()]
    if not flat:
        return None
    models = _models(summary, flat)
    trends = [f"{_label(summary['labels'], r['model'])} ({r['variant']}) "
              f"{pp({**r['trend'], 'mean': r['trend']['slope']}, lang)}" for r in recs if r.get("trend")]
    notes = [t("gap_note", lang)] + ([t("note_trend", lang, items="; ".join(trends))] if trends else [])
    header = [t("variant", lang), t("per_class", lang)] + [_label(summary["labels"], m) for m in models]
    rows = _by_budget(flat, models, lambda r: pp(r["gap"], lang))
    return AnswerTable(t("tab_overfitting", lang), Table(header, rows), notes)


def early_stopping(summary: dict, lang: str) -> AnswerTable | None:
    recs = summary["questions"].get("early_stopping", [])
    if not recs:
        return None
    rows = [[r["variant"], _label(summary["labels"], r["model"]), str(r["samples_per_class"]),
             number(r["stop_epoch"]["mean"], lang, 1), number(r["best_epoch"]["mean"], lang, 1),
             f"{r['stopped_early']}/{r['n']}", pp(r["restored_minus_last"], lang)] for r in recs]
    header = [t("variant", lang), t("model", lang), t("per_class", lang), t("col_stop", lang), t("col_best", lang),
              t("col_early", lang), f"{t('col_restored', lang)}, pp [{t('ci95', lang)}]"]
    return AnswerTable(t("tab_early", lang), Table(header, rows), [t("note_early", lang)])


def validation_vs_test(summary: dict, lang: str) -> AnswerTable | None:
    recs = summary["questions"].get("validation_vs_test", [])
    if not recs:
        return None
    models = _models(summary, recs)

    def cell(r: dict) -> str:
        return pp(r["val_minus_test"], lang) + ("" if r["pearson_r"] is None else
                                                f" (r = {number(r['pearson_r'], lang)})")

    header = [t("variant", lang), t("per_class", lang)] + [_label(summary["labels"], m) for m in models]
    return AnswerTable(t("tab_valtest", lang), Table(header, _by_budget(recs, models, cell)), [t("valtest_note", lang)])


def gains(summary: dict, lang: str) -> AnswerTable | None:
    recs = summary["questions"].get("gain", [])
    if not recs:
        return None
    rows = [[_label(summary["labels"], r["model"]), str(r["samples_per_class"]), r["variant"], r["reference"],
             pp(r["diff"], lang), pvalue(r["p"], lang)] for r in recs]
    header = [t("model", lang), t("per_class", lang), t("variant", lang), t("col_reference", lang),
              f"pp [{t('ci95', lang)}]", t("ttest_p", lang)]
    return AnswerTable(t("tab_gains", lang), Table(header, rows), [t("note_paired", lang)])


def semi_gap(summary: dict, lang: str) -> AnswerTable | None:
    recs = (summary["questions"].get("semi") or {}).get("gap", [])
    if not recs:
        return None
    first, second = NOTEBOOK_MODELS
    pair = f"{_label(summary['labels'], second)} − {_label(summary['labels'], first)}"
    rows = [[str(r["samples_per_class"]), r["variant"], pp(r["diff"], lang)] for r in recs]
    header = [t("per_class", lang), t("variant", lang), f"{pair}, pp [{t('ci95', lang)}]"]
    return AnswerTable(t("tab_semi_gap", lang), Table(header, rows), [t("note_paired", lang)])


def answer_tables(summary: dict, lang: str, with_gains: bool = True) -> list[AnswerTable]:
    """Every table this summary has numbers for, in the order the results document shows them (with_gains=False
    leaves out each variant's test-set gain, for a study read on validation data)."""
    makers = (comparisons, gains, semi_gap, overfitting, early_stopping, validation_vs_test)
    found = [make(summary, lang) for make in makers if with_gains or make is not gains]
    tables = [table for table in found if table is not None]
    for table in tables:
        if any(HOLDS_ZERO in cell for row in table.table.rows for cell in row):
            table.notes.append(t("note_holds_zero", lang))
    return tables


def other_findings(summary: dict, labels: dict[str, str], lang: str) -> list[str]:
    """The sentences of the questions no table above shows (noise, shift, imbalance studies)."""
    from mnistlab.sweeps.findings import describe_questions

    rest = {key: summary["questions"].get(key, []) for key in ("noise", "shift", "imbalance")}
    return describe_questions({"overfitting": [], "early_stopping": [], "validation_vs_test": [], **rest}, labels, lang)
