"""The forecast in words: one sentence per cell, the numbers as each language writes them."""
from __future__ import annotations

from mnistlab.i18n import integer, interval, number, t
from mnistlab.sweeps.forecast.answer import LEVEL, CellForecast, Estimate, Forecast, TargetBudget


def _pct(value: float | None, lang: str) -> str:
    return f"{number(100 * value, lang)}%" if value is not None else "–"


def _pct_ci(e: Estimate, lang: str) -> str:
    """An estimate's interval in percent (or points), empty without resamples."""
    if e.ci_low is None or e.ci_high is None:
        return ""
    return interval(100 * e.ci_low, 100 * e.ci_high, lang)


def _budget_ci(goal: TargetBudget, lang: str) -> str:
    if goal.ci_low is None:
        return ""
    if goal.ci_high is None:
        share = _pct(goal.never_share, lang)
        return f"[{t('fc_open_high', lang, low=integer(round(goal.ci_low), lang), share=share)}]"
    sep = "; " if lang == "pt" else ", "
    return f"[{integer(round(goal.ci_low), lang)}{sep}{integer(round(goal.ci_high), lang)}]"


def _about(cell: CellForecast, labels: dict[str, str], lang: str) -> dict:
    test = cell.backtest
    return {"label": labels.get(cell.model, cell.model), "variant": cell.variant, "form": cell.form,
            "err": number(test.errors_pp.get(cell.form or "", float("nan")), lang),
            "last1": number(test.last1_pp, lang)}


def describe_cell(cell: CellForecast, labels: dict[str, str], lang: str = "pt") -> list[str]:
    about = _about(cell, labels, lang)
    if cell.form is None:
        test = cell.backtest
        forms = {k: v for k, v in test.errors_pp.items() if k != "last1"}
        best = min(forms, key=lambda k: forms[k]) if forms else None
        shown = f"{best} {number(forms[best], lang)} pp" if best else "–"
        return [t("fc_no_form", lang, **about, held=", ".join(map(str, test.held_out)), best=shown,
                  n=integer(cell.largest, lang), acc=_pct(cell.observed[-1].mean, lang))]
    lines = [t("fc_ceiling", lang, **about, ceiling=_pct(cell.ceiling.value, lang), ci=_pct_ci(cell.ceiling, lang),
               n=integer(cell.largest, lang), n2=integer(2 * cell.largest, lang),
               gain=number(100 * (cell.next_doubling.value or 0.0), lang), gci=_pct_ci(cell.next_doubling, lang))]
    for goal in cell.targets:
        target = _pct(goal.target, lang)
        if goal.budget is None:
            share = _pct(goal.never_share, lang) if goal.never_share is not None else "–"
            lines.append(t("fc_out_of_reach", lang, **about, ceiling=_pct(cell.ceiling.value, lang),
                           ci=_pct_ci(cell.ceiling, lang), target=target, share=share))
        else:
            lines.append(t("fc_reaches", lang, **about, target=target, n=integer(round(goal.budget), lang),
                           ci=_budget_ci(goal, lang)))
    return [" ".join(line.split()) for line in lines]  # an empty interval leaves no double space


def describe(result: Forecast, labels: dict[str, str], lang: str = "pt") -> list[str]:
    """Every cell's sentences, the cells that could not be forecast, and how the intervals were made."""
    lines = [line for cell in result.cells for line in describe_cell(cell, labels, lang)]
    lines += [t("fc_skipped", lang, label=labels.get(m, m), variant=v, why=why) for v, m, why in result.skipped]
    if result.cells:
        lines.append(t("fc_resamples", lang, level=int(LEVEL), k=result.resamples) if result.resamples
                     else t("fc_one_seed", lang))
    return lines
