"""A sweep's tables and figures, computed from its store alone (delete them; `summarize` recreates them)."""
from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

from mnistlab import stats
from mnistlab.atomic import to_json, write_atomic
from mnistlab.errors import StoreError, SummaryError
from mnistlab.i18n import t
from mnistlab.runs import store
from mnistlab.runs.folder import RESULTADOS_COLUMNS

TIDY_COLUMNS = ["key", "variant", "model", "samples_per_class", "seed", "status", *store.METRICS, "message"]



def _csv(header, rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def tidy_csv(all_rows: list[dict]) -> str:
    """One row per run (every status), for pandas/R/spreadsheets."""
    return _csv(TIDY_COLUMNS, [[r.get(c) for c in TIDY_COLUMNS] for r in all_rows])


def resultados_files(rows: list[dict], folder: Path) -> list[Path]:
    """The notebook's resultados.csv for each (variant, budget, seed) cell of the sweep."""
    cells = {}
    for r in rows:
        cells.setdefault((r["variant"], r["samples_per_class"], r["seed"]), []).append(r)
    paths = []
    for (variant, budget, seed), members in sorted(cells.items()):
        prefix = "" if variant == "base" else f"{variant}_"
        members.sort(key=lambda r: ("mlp", "cnn").index(r["model"]))
        body = _csv(RESULTADOS_COLUMNS, [[r["model"].upper(), r["best_val_loss"], r["final_val_acc"], r["test_acc"],
                                          r["params"]] for r in members])
        paths.append(write_atomic(folder / f"{prefix}spc{budget}_seed{seed}.csv", body))
    return paths


def latex_table(aggregates: list[dict], lang: str = "pt") -> str:
    """Booktabs table of the aggregate: test accuracy mean ± sd [95% CI], epochs, gap; ready to \\input."""
    pct = lambda v: f"{100 * v:.2f}"  # noqa: E731
    lines = [r"\begin{tabular}{llrrrrr}", r"\toprule",
             f"{t('model', lang).capitalize()} & {t('budget', lang).capitalize()} & $n$ & "
             f"{t('test_acc', lang)} (\\%) & {t('ci95', lang).replace('%', chr(92) + '%')} & "
             f"{t('stop_epoch', lang).split(' (')[0]} & Gap (pp) \\\\", r"\midrule"]
    previous = None
    for a in aggregates:
        if previous is not None and a["model"] != previous:
            lines.append(r"\midrule")
        previous = a["model"]
        acc, ep, gap = a["test_acc"], a["epochs_run"], a["gap_at_best"]
        name = a["model"].upper() + ("" if a["variant"] == "base" else f" ({a['variant']})")
        ci = f"[{pct(acc['ci_low'])}, {pct(acc['ci_high'])}]" if a["n"] > 1 else "--"
        sd = f" $\\pm$ {pct(acc['sd'])}" if a["n"] > 1 else ""
        lines.append(f"{name} & {a['samples_per_class']} & {a['n']} & {pct(acc['mean'])}{sd} & {ci} & "
                     f"{ep['mean']:.1f} & {pct(gap['mean'])} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines).replace("_", r"\_")


def _to_stderr(message: str) -> None:
    print(f"mnistlab: {message}", file=sys.stderr)


def summarize(folder: Path, lang: str = "pt", out: Path | None = None, log=None) -> dict:
    """Write runs.csv, resultados/, summary.json, tables/aggregate.tex and figures/ from the store.

    Everything goes under `out` (default: the sweep folder itself; the report uses its own subfolder).
    The store is only read. A run it cannot use is left out with a line to `log` (default: stderr).
    """
    from mnistlab.figures import sweep as sweep_plots

    folder = Path(folder)
    if not (folder / store.DB_NAME).is_file():
        raise SummaryError(f"{folder}: not a sweep folder (no {store.DB_NAME}); run `mnistlab sweep --out {folder}`")
    try:
        all_rows, counts, left_out = store.read_runs(folder)
    except StoreError as e:
        raise SummaryError(str(e)) from None
    for line in left_out:
        (log or _to_stderr)(line)
    rows = [r for r in all_rows if r["status"] in ("done", "diverged")]
    if not rows:
        raise SummaryError(f"{folder}: the store holds no finished run yet")
    aggregates = stats.aggregate(rows)
    comparisons = stats.paired_comparison(rows)
    out = Path(out) if out is not None else folder
    figures = out / "figures"
    paths = [write_atomic(out / "runs.csv", tidy_csv(all_rows))]
    paths += resultados_files(rows, out / "resultados")
    paths.append(write_atomic(out / "tables" / "aggregate.tex", latex_table(aggregates, lang)))
    paths += sweep_plots.budget_figures(aggregates, figures, lang)
    paths += sweep_plots.mean_loss_curves(rows, figures, lang)
    for kind in ("noise", "shift"):
        paths += sweep_plots.robustness_figure(rows, kind, figures, lang)
    paths += sweep_plots.per_class_figures(rows, figures, lang)
    summary = {"counts": counts, "complete": set(counts) <= {"done", "diverged"}, "aggregates": aggregates,
               "comparisons": comparisons, "findings": [stats.describe_comparison(c, lang) for c in comparisons],
               "left_out": left_out}
    paths.append(write_atomic(out / "summary.json", to_json(summary)))
    summary["paths"] = paths
    return summary
