"""A sweep's tables and figures, computed from its store alone (delete them; `summarize` recreates them)."""
from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

from mnistlab.atomic import to_json, write_atomic
from mnistlab.errors import StoreError, SummaryError
from mnistlab.i18n import t
from mnistlab.models.registry import model_order
from mnistlab.runs import store
from mnistlab.runs.folder import RESULTADOS_COLUMNS
from mnistlab.runs.rows import SweepRow, run_labels
from mnistlab.stats import aggregate, paired_comparisons
from mnistlab.sweeps import calibrated, chosen
from mnistlab.sweeps.findings import describe_comparison, describe_questions
from mnistlab.sweeps.forecast.store import budget_label, forecast_figures, forecast_or_none
from mnistlab.sweeps.forecast.words import describe as describe_forecast
from mnistlab.sweeps.questions import answer_all
from mnistlab.sweeps.tables import aggregate_table, latex_table

TIDY_COLUMNS = ["key", "variant", "model", "samples_per_class", "seed", "status", *store.METRICS, "message"]



def _csv(header, rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def mixed_note(rows: list[SweepRow], marked: bool, lang: str) -> str | None:
    """Words for a store whose runs came from different code or settings (resumed with --allow-mixed), else None."""
    from mnistlab.runs.outcome import identity

    identities = {json.dumps(identity(r.environment), sort_keys=True) for r in rows if r.environment.get("code")}
    if not marked and len(identities) <= 1:
        return None
    return t("mixed_store", lang, k=max(len(identities), 2))


def tidy_csv(all_rows: list[SweepRow]) -> str:
    """One row per run (every status), for pandas/R/spreadsheets."""
    value = lambda r, c: r.metric(c) if c in store.METRICS else getattr(r, c)  # noqa: E731
    return _csv(TIDY_COLUMNS, [[value(r, c) for c in TIDY_COLUMNS] for r in all_rows])


def resultados_files(rows: list[SweepRow], folder: Path, models: list[str], labels: dict[str, str]) -> list[Path]:
    """The notebook's resultados.csv for each (variant, budget, seed) cell of the sweep."""
    cells: dict[tuple, list[SweepRow]] = {}
    for r in rows:
        cells.setdefault((r.variant, r.samples_per_class, r.seed), []).append(r)
    paths = []
    for (variant, budget, seed), members in sorted(cells.items()):
        prefix = "" if variant == "base" else f"{variant}_"
        members.sort(key=lambda r: models.index(r.model))
        body = _csv(RESULTADOS_COLUMNS, [[labels[r.model], *(r.metric(m) for m in ("best_val_loss", "final_val_acc",
                                                                                  "test_acc", "params"))]
                                         for r in members])
        paths.append(write_atomic(folder / f"{prefix}spc{budget}_seed{seed}.csv", body))
    return paths


def _to_stderr(message: str) -> None:
    print(f"mnistlab: {message}", file=sys.stderr)


def summarize(folder: Path, lang: str = "pt", out: Path | None = None, log=None) -> dict:
    """Write runs.csv, resultados/, summary.json, tables/aggregate.tex and figures/ from the store.

    Everything goes under `out` (default: the sweep folder itself; the report uses its own subfolder).
    The store is only read. A run it cannot use is left out with a line to `log` (default: stderr).
    """
    from mnistlab.figures import sweep as sweep_plots
    from mnistlab.figures.calibration import reliability_figures
    from mnistlab.figures.semi import coverage_figures

    folder = Path(folder)
    if not (folder / store.DB_NAME).is_file() and (folder / "results.json").is_file():
        raise SummaryError(f"{folder}: is a run folder (mnistlab run), not a sweep folder; `mnistlab report "
                           f"{folder}` reports on it")
    if not (folder / store.DB_NAME).is_file():
        raise SummaryError(f"{folder}: not a sweep folder (no {store.DB_NAME}); run `mnistlab sweep --out {folder}`")
    try:
        all_rows, counts, left_out = store.read_runs(folder)
        conn = store.open_readonly(folder)
        try:
            marked_mixed = bool(store.get_meta(conn, "mixed"))
        finally:
            conn.close()
    except StoreError as e:
        raise SummaryError(str(e)) from None
    for line in left_out:
        (log or _to_stderr)(line)
    rows = [r for r in all_rows if r.result is not None]
    mixed = mixed_note(rows, marked_mixed, lang)
    if not rows:
        raise SummaryError(f"{folder}: the store holds no finished run yet")
    models = model_order({r.model for r in all_rows})
    labels = run_labels(all_rows)
    aggregates = aggregate(rows, models)
    comparisons = paired_comparisons(rows, models)
    out = Path(out) if out is not None else folder
    figures = out / "figures"
    paths = [write_atomic(out / "runs.csv", tidy_csv(all_rows))]
    paths += resultados_files(rows, out / "resultados", models, labels)
    table = aggregate_table({"aggregates": aggregates, "labels": labels}, lang)
    paths.append(write_atomic(out / "tables" / "aggregate.tex", latex_table(table)))
    paths += sweep_plots.budget_figures(aggregates, models, labels, figures, lang)
    paths += sweep_plots.model_gap_figures(comparisons, aggregates, models, labels, figures, lang)
    for kind in ("noise", "shift"):
        paths += sweep_plots.robustness_figure(rows, kind, models, labels, figures, lang)
    paths += sweep_plots.per_class_figures(rows, models, labels, figures, lang)
    answers = answer_all(rows, models)
    answers["calibration"] = calibrated.answer(rows, models)
    paths += reliability_figures(answers["calibration"], labels, figures, lang)
    paths += sweep_plots.gain_figures(answers["gain"], aggregates, models, labels, figures, lang)
    paths += sweep_plots.mean_loss_curves(rows, models, labels, figures, lang)
    paths += coverage_figures(answers["semi"], labels, figures, lang)
    findings = [describe_comparison(c, labels, lang) for c in comparisons] + describe_questions(answers, labels, lang)
    findings += calibrated.describe(answers["calibration"], labels, lang)
    answers["chosen"] = chosen.answer(rows)
    findings += chosen.describe(answers["chosen"], labels, lang)
    forecast = forecast_or_none(rows, models)  # None: no cell has enough budgets to forecast
    answers["forecast"] = forecast.to_dict() if forecast is not None else None
    forecast_lines = describe_forecast(forecast, labels, lang) if forecast is not None else []
    if forecast is not None:
        paths += forecast_figures(forecast, labels, budget_label(rows, lang), figures, lang)
    nodes = len({r.environment.get("node", "local") for r in rows})  # Ray's node ids; runs of older releases: local
    summary = {"counts": counts, "complete": set(counts) <= {"done", "diverged"}, "mixed": mixed, "nodes": nodes,
               "models": models,
               "labels": labels, "aggregates": aggregates, "comparisons": comparisons, "questions": answers,
               "findings": findings, "forecast": forecast_lines, "left_out": left_out}
    stored = {**summary, "aggregates": [a.to_dict() for a in aggregates]}
    paths.append(write_atomic(out / "summary.json", to_json(stored)))
    summary["paths"] = paths
    return summary
