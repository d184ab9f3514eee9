"""A sweep's tables and figures, computed from its store alone (delete them; `summarize` recreates them)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from mnistlab import stats
from mnistlab.atomic import to_json, write_atomic
from mnistlab.errors import SummaryError
from mnistlab.i18n import t
from mnistlab.models.registry import label_of, model_order
from mnistlab.runs import store
from mnistlab.runs.folder import RESULTADOS_COLUMNS
from mnistlab.sweeps.findings import describe_comparison

TIDY_COLUMNS = ["key", "variant", "model", "samples_per_class", "seed", "status", *store.METRICS, "message"]



def _csv(header, rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def run_labels(rows: list[dict]) -> dict[str, str]:
    """Each model's display label: as recorded with its runs, else the registry's."""
    labels = {}
    for r in rows:
        recorded = json.loads(r["result"]).get("label") if r.get("result") else None
        labels[r["model"]] = recorded or labels.get(r["model"]) or label_of(r["model"])
    return labels


def tidy_csv(all_rows: list[dict]) -> str:
    """One row per run (every status), for pandas/R/spreadsheets."""
    return _csv(TIDY_COLUMNS, [[r.get(c) for c in TIDY_COLUMNS] for r in all_rows])


def resultados_files(rows: list[dict], folder: Path, models: list[str], labels: dict[str, str]) -> list[Path]:
    """The notebook's resultados.csv for each (variant, budget, seed) cell of the sweep."""
    cells = {}
    for r in rows:
        cells.setdefault((r["variant"], r["samples_per_class"], r["seed"]), []).append(r)
    paths = []
    for (variant, budget, seed), members in sorted(cells.items()):
        prefix = "" if variant == "base" else f"{variant}_"
        members.sort(key=lambda r: models.index(r["model"]))
        body = _csv(RESULTADOS_COLUMNS, [[labels[r["model"]], r["best_val_loss"], r["final_val_acc"], r["test_acc"],
                                          r["params"]] for r in members])
        paths.append(write_atomic(folder / f"{prefix}spc{budget}_seed{seed}.csv", body))
    return paths


def latex_table(aggregates: list[dict], labels: dict[str, str], lang: str = "pt") -> str:
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
        name = labels[a["model"]] + ("" if a["variant"] == "base" else f" ({a['variant']})")
        ci = f"[{pct(acc['ci_low'])}, {pct(acc['ci_high'])}]" if a["n"] > 1 else "--"
        sd = f" $\\pm$ {pct(acc['sd'])}" if a["n"] > 1 else ""
        lines.append(f"{name} & {a['samples_per_class']} & {a['n']} & {pct(acc['mean'])}{sd} & {ci} & "
                     f"{ep['mean']:.1f} & {pct(gap['mean'])} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines).replace("_", r"\_")


# What a finished run's row must hold for the statistics (a diverged run may lack a finite best val loss).
REQUIRED = {"done": ("params", "test_acc", "best_val_loss", "final_val_acc", "best_epoch", "epochs_run", "gap_at_best"),
            "diverged": ("params", "test_acc", "final_val_acc", "best_epoch", "epochs_run", "gap_at_best")}


def check_store(conn, rows: list[dict], path: Path) -> None:
    """SummaryError naming the first damaged record: statistics from a store edited or damaged outside mnistlab
    would be silently wrong, so nothing is summarized from it."""
    damaged = "the store was edited or damaged outside mnistlab: rerun the sweep into a new --out"
    for name, value in conn.execute("SELECT name, value FROM meta").fetchall():
        try:
            json.loads(value)
        except (TypeError, ValueError):
            raise SummaryError(f"{path}: its {name!r} record is not JSON; {damaged}") from None
    for r in rows:
        run = f"run {r['key']} ({r['model']}, {r['samples_per_class']} per class, seed {r['seed']})"
        missing = [m for m in REQUIRED.get(r["status"], ()) if r[m] is None]
        if missing:
            raise SummaryError(f"{path}: {run} is {r['status']} but has no {', '.join(missing)}; {damaged}")
        for column in ("config", "result"):
            if r[column] is None and (column == "config" or r["status"] not in REQUIRED):
                continue
            try:
                value = json.loads(r[column])
            except (TypeError, ValueError):
                value = None
            if not isinstance(value, dict):
                raise SummaryError(f"{path}: {run} has an unreadable {column} (not a JSON object); {damaged}")
            if column == "config" and value.get("model") != r["model"]:
                raise SummaryError(f"{path}: {run} holds the config of a {value.get('model')!r} model; {damaged}")


def summarize(folder: Path, lang: str = "pt", out: Path | None = None) -> dict:
    """Write runs.csv, resultados/, summary.json, tables/aggregate.tex and figures/ from the store.

    Everything goes under `out` (default: the sweep folder itself; the report uses its own subfolder).
    """
    from mnistlab.figures import sweep as sweep_plots

    folder = Path(folder)
    if not (folder / store.DB_NAME).is_file():
        raise SummaryError(f"{folder}: not a sweep folder (no {store.DB_NAME}); run `mnistlab sweep --out {folder}`")
    conn = store.connect(folder)
    try:
        all_rows = store.all_rows(conn)
        counts = store.counts(conn)
        check_store(conn, all_rows, folder / store.DB_NAME)
    finally:
        conn.close()
    rows = [r for r in all_rows if r["status"] in ("done", "diverged")]
    if not rows:
        raise SummaryError(f"{folder}: the store holds no finished run yet")
    models = model_order({r["model"] for r in all_rows})
    labels = run_labels(all_rows)
    aggregates = stats.aggregate(rows, models)
    comparisons = stats.paired_comparisons(rows, models)
    out = Path(out) if out is not None else folder
    figures = out / "figures"
    paths = [write_atomic(out / "runs.csv", tidy_csv(all_rows))]
    paths += resultados_files(rows, out / "resultados", models, labels)
    paths.append(write_atomic(out / "tables" / "aggregate.tex", latex_table(aggregates, labels, lang)))
    paths += sweep_plots.budget_figures(aggregates, models, labels, figures, lang)
    paths += sweep_plots.mean_loss_curves(rows, models, labels, figures, lang)
    for kind in ("noise", "shift"):
        paths += sweep_plots.robustness_figure(rows, kind, models, labels, figures, lang)
    paths += sweep_plots.per_class_figures(rows, models, labels, figures, lang)
    summary = {"counts": counts, "complete": set(counts) <= {"done", "diverged"}, "models": models,
               "labels": labels, "aggregates": aggregates, "comparisons": comparisons,
               "findings": [describe_comparison(c, labels, lang) for c in comparisons]}
    paths.append(write_atomic(out / "summary.json", to_json(summary)))
    summary["paths"] = paths
    return summary
