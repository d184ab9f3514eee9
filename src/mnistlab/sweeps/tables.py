"""A sweep's aggregate as one table, decided once (columns, order, number format per language) and written out
by every medium that shows it: the terminal (rich), LaTeX (booktabs), Markdown and the HTML report."""
from __future__ import annotations

from dataclasses import dataclass

from mnistlab.i18n import interval, number, t


@dataclass(frozen=True)
class Table:
    """A header and rows of cells already formatted as text; a renderer only escapes and lays them out."""

    header: list[str]
    rows: list[list[str]]


def mean_with_ci(ci: dict | None, lang: str, scale: float = 100, digits: int = 2) -> str:
    """'96.36 [95.99, 96.65]' (en) or '96,36 [95,99; 96,65]' (pt); the mean alone for one seed; a dash for none."""
    if not ci or not ci.get("n"):
        return "–"
    text = number(scale * ci["mean"], lang, digits)
    return text + (" " + interval(scale * ci["ci_low"], scale * ci["ci_high"], lang, digits) if ci["n"] > 1 else "")


def aggregate_table(summary: dict, lang: str) -> Table:
    """Per variant, model and budget: seeds, test and best validation accuracy (% mean [95% CI]), the epochs run,
    the generalization gap at the best epoch and the training time of one run."""
    header = [t("variant", lang), t("model", lang), t("per_class", lang), "n", f"{t('test_acc', lang)} % "
              f"[{t('ci95', lang)}]", f"{t('best_val_acc', lang)} % [{t('ci95', lang)}]", t("epochs", lang),
              "gap (pp)", t("train_s", lang)]
    rows = []
    for a in summary["aggregates"]:
        gap, secs = a.gap_at_best, a.train_seconds
        rows.append([a.variant, summary["labels"][a.model], str(a.samples_per_class), str(a.n),
                     mean_with_ci(a.test_acc, lang), mean_with_ci(a.best_val_acc, lang),
                     number(a.epochs_run["mean"], lang, 1),
                     number(100 * gap["mean"], lang, 1) if gap.get("n") else "–",  # no validation, no gap
                     number(secs["mean"], lang, 1) if secs.get("n") else "–"])
    return Table(header, rows)


def rich_table(table: Table, title: str):
    """The table for the terminal."""
    from rich import box
    from rich.table import Table as RichTable

    out = RichTable(title=title, box=box.SIMPLE_HEAD)
    for col in table.header:
        out.add_column(col, justify="right", no_wrap=True)
    for row in table.rows:
        out.add_row(*row)
    return out


def markdown_table(table: Table) -> str:
    """The table as GitHub Markdown, every cell escaped."""
    from mnistlab.names import markdown

    lines = ["| " + " | ".join(markdown(h) for h in table.header) + " |", "|" + "|".join("---" for _ in table.header)
             + "|"]
    return "\n".join(lines + ["| " + " | ".join(markdown(v) for v in row) + " |" for row in table.rows]) + "\n"


def latex_table(table: Table) -> str:
    """The table as a booktabs tabular, ready to \\input; a rule between models."""
    from mnistlab.names import tex

    lines = [r"\begin{tabular}{" + "l" * 3 + "r" * (len(table.header) - 3) + "}", r"\toprule",
             " & ".join(tex(h) for h in table.header) + r" \\", r"\midrule"]
    previous = None
    for row in table.rows:
        if previous is not None and row[:2] != previous:
            lines.append(r"\midrule")
        previous = row[:2]
        lines.append(" & ".join(tex(v) for v in row) + r" \\")
    return "\n".join(lines + [r"\bottomrule", r"\end{tabular}", ""])
