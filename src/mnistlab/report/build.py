"""`mnistlab report`: a LaTeX article (compiled when TeX is here) and a self-contained HTML page.

Reads a run folder (results.json) or a sweep folder (store.sqlite) only; figures are re-rendered in the
report's language into report/figures/. Never trains.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

from mnistlab.atomic import write_atomic
from mnistlab.errors import ReportError
from mnistlab.i18n import CATALOG, LANGS, integer, number, t
from mnistlab.names import is_safe_name, tex
from mnistlab.report.html import html_page, setting_text

_tex = tex  # every string shown in the article passes the one LaTeX escaper


def _pct(value: float, lang: str) -> str:
    return number(100 * value, lang) + "%"


# ---------------------------------------------------------------- content from a run or a sweep

def known_dataset(name):
    """The DatasetSpec of a dataset name a folder recorded, or None when this mnistlab does not know it."""
    from mnistlab.data.registry import get_dataset
    from mnistlab.errors import DataError

    try:
        return get_dataset(str(name))
    except DataError:
        return None


def _dataset_of(models: dict):
    """The DatasetSpec the runs name (its class names label the confusion matrices), None when unknown here."""
    names = {r.run_config.dataset for r in models.values()}
    return known_dataset(names.pop()) if len(names) == 1 else None


def run_content(folder: Path, out: Path, lang: str) -> dict:
    from mnistlab.figures import run as plots
    from mnistlab.models.registry import file_stem, label_of
    from mnistlab.runs.folder import check_weights, load_run
    from mnistlab.runs.outcome import ModelResult

    payload = load_run(folder)
    for name in payload["models"]:  # weights kept beside these results must be the ones they describe
        if (Path(folder) / f"{file_stem(name)}.safetensors").exists():
            check_weights(folder, payload, name)
    models = {name: ModelResult.from_dict(r) for name, r in payload["models"].items()}
    labels = {name: r.label or label_of(name) for name, r in models.items()}
    # The run's figures as the run drew them (one function: class names, per-class recall), in this language.
    plots.run_figures([replace(r, label=labels[name]) for name, r in models.items()], out / "figures", lang,
                      dataset=_dataset_of(models))
    figures = []
    for name, r in models.items():
        label, stem = labels[name], file_stem(name)
        figures += [(f"{stem}_curves_loss", t("cap_curves_loss", lang, model=label)),
                    (f"{stem}_curves_acc", t("cap_curves_acc", lang, model=label)),
                    (f"cm_{stem}", t("cap_cm", lang, model=label))]
        if r.run_config.imbalance:
            figures.append((f"per_class_{stem}", t("per_class_title", lang, model=label)))
    for extra in sorted((Path(folder) / "figures").glob("*.pdf")):  # explain figures, as they were drawn
        pair = (extra, extra.with_suffix(".png"))
        if not (is_safe_name(extra.stem) and all(p.is_file() and not p.is_symlink() for p in pair)):
            continue  # names go into \includegraphics and files into the page: only safe names, only plain files
        if extra.stem.split("_")[0] in ("tsne", "gradcam", "saliency", "misclassified", "per"):
            shutil.copy(extra, out / "figures" / extra.name)
            shutil.copy(extra.with_suffix(".png"), out / "figures" / extra.with_suffix(".png").name)
            figures.append((extra.stem, t("cap_other", lang, name=extra.stem.replace("_", " "))))
    header = [t("model", lang), t("params", lang), t("epochs", lang), t("best_epoch", lang), "best_val_loss",
              "final_val_acc", "test_acc"]
    rows = [[labels[n], integer(r.params, lang), r.epochs_run,
             r.best_epoch, number(r.best_val_loss, lang, 4), number(r.final_val_acc, lang, 4),
             number(r.test_acc, lang, 4)] for n, r in models.items()]
    findings = []
    if len(models) >= 2:
        ranked = sorted(models, key=lambda n: -models[n].test_acc)
        best, worst = models[ranked[0]], models[ranked[-1]]
        findings.append(t("run_finding", lang, spc=best.run_config.samples_per_class, seed=best.run_config.seed,
                          best=labels[ranked[0]], worst=labels[ranked[-1]], best_acc=_pct(best.test_acc, lang),
                          worst_acc=_pct(worst.test_acc, lang), diff=number(100 * (best.test_acc - worst.test_acc),
                                                                            lang)))
    if models:
        findings.append(t("run_stops", lang, items=_join([how_it_trained(labels[n], r, lang)
                                                            for n, r in models.items()], lang)))
    config = _shown_config(next(iter(models.values())).config)
    return {"kind": "run", "title": t("report_run", lang), "config": config, "header": header, "rows": rows,
            "findings": findings, "figures": figures, "partial": None,
            "heading": heading(list(labels.values()), config.get("dataset", "mnist"), lang)}


def _shown_config(config: dict) -> dict:
    """A run's config as a report shows it: no per-model fields, and semi-supervised settings only for such a run."""
    from mnistlab.config import SEMI_FIELDS

    semi = {*SEMI_FIELDS, "unlabeled", "semi_source"}
    hidden = {"model", "model_source", "select_source"} | (set() if config.get("unlabeled") else semi)
    return {k: v for k, v in config.items() if k not in hidden}


def how_it_trained(label: str, r, lang: str) -> str:
    """How a model's training ended, in words: stopped early, ran every epoch, had no early stopping, or steps."""
    cfg = r.run_config
    if cfg.unlabeled:
        return t("run_steps", lang, model=label, steps=cfg.steps, unlabeled=integer(cfg.unlabeled, lang))
    if not cfg.early_stopping:
        return t("run_no_stopping", lang, model=label, ep=r.epochs_run)
    if r.epochs_run < cfg.epochs:
        return t("run_stopped", lang, model=label, ep=r.epochs_run, max=cfg.epochs, best=r.best_epoch)
    return t("run_all_epochs", lang, model=label, ep=r.epochs_run, best=r.best_epoch)


def heading(labels: list[str], dataset: str, lang: str) -> str:
    """The report's title from what it holds: its models' labels and its dataset (its name as recorded when this
    mnistlab does not know it)."""
    spec = known_dataset(dataset)
    shown = spec.label if spec is not None else str(dataset)
    return t("report_title", lang, models=t("versus", lang).join(labels), dataset=shown)


def _join(items: list[str], lang: str) -> str:
    """'a, b and c' as each language writes it."""
    last = " e " if lang == "pt" else " and "
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + last + items[-1]


def sweep_content(folder: Path, out: Path, lang: str, allow_partial: bool) -> dict:
    from mnistlab.runs.store import read_runs
    from mnistlab.sweeps.grid import load_spec
    from mnistlab.sweeps.summary import summarize
    from mnistlab.sweeps.tables import aggregate_table

    _, counts, _ = read_runs(folder)  # read-only: a sweep refused as partial leaves no report/ behind
    unfinished = {k: v for k, v in counts.items() if k not in ("done", "diverged")}
    partial = None
    if unfinished:
        detail = ", ".join(f"{v} {k}" for k, v in sorted(unfinished.items()))
        if not allow_partial:
            raise ReportError(f"{folder}: the sweep is not complete ({detail}); finish it with `mnistlab sweep --out "
                              f"{folder}` or pass --allow-partial to report what finished, marked as partial")
        partial = t("partial", lang, detail=detail)
    summary = summarize(folder, lang, out=out)
    if summary["mixed"]:  # shown where the partial warning goes: the numbers pool different code or settings
        partial = f"{partial} {summary['mixed']}" if partial else summary["mixed"]
    table = aggregate_table(summary, lang)
    header, rows = table.header, table.rows
    from mnistlab.sweeps import calibrated
    from mnistlab.sweeps.answer_tables import answer_tables, other_findings

    spec = load_spec(folder)
    # The answers as tables, as in docs/results.md (the ablation is read on validation data: no test-set gains).
    answers = [{"title": a.title, "header": a.table.header, "rows": a.table.rows, "notes": a.notes}
               for a in answer_tables(summary, lang, with_gains=not spec or spec.study != "ablation")]
    findings = other_findings(summary, summary["labels"], lang) + calibrated.describe(
        summary["questions"]["calibration"], summary["labels"], lang) + summary["forecast"]  # what no table shows
    figures = []
    first = ("learning_curve", "gap_vs_budget", "stop_epoch_vs_budget")  # the study's main answer first
    for path in sorted((out / "figures").glob("*.pdf"), key=lambda p: (not p.stem.startswith(first), p.stem)):
        key = path.stem.split("_spc")[0]
        variant = key[len("loss_curves_"):] if key.startswith("loss_curves_") else ""  # a study's other variants
        caption = ((f"{variant}: " if variant else "") + t("cap_loss_curves", lang, n=path.stem.split("spc")[-1])
                   if key.startswith("loss_curves") else
                   t("cap_reliability", lang, name=path.stem.replace("reliability_", "").replace("_", " "))
                   if key.startswith("reliability_") else
                   t("cap_gain", lang) if key.startswith("gain_") else
                   t(f"cap_{key}", lang) if f"cap_{key}" in CATALOG else
                   t("cap_other", lang, name=path.stem.replace("_", " ")))
        figures.append((path.stem, caption))
    config = {**_shown_config(spec.base if spec else {}), "budgets": spec.budgets if spec else "?",
              "seeds": spec.seeds if spec else "?", "study": spec.study if spec else "?"}
    return {"kind": "sweep", "title": t("report_sweep", lang), "config": config, "header": header, "rows": rows,
            "findings": findings, "answers": answers, "figures": figures, "partial": partial,
            "heading": heading([summary["labels"][m] for m in summary["models"]], config.get("dataset", "mnist"), lang)}


# ---------------------------------------------------------------- writers

def latex(content: dict, lang: str) -> tuple[str, str]:
    """The results table and the whole document."""
    cols = "l" * len(content["header"])
    body = [r"\begin{tabular}{" + cols + "}", r"\toprule", " & ".join(_tex(h) for h in content["header"]) + r" \\",
            r"\midrule"] + [" & ".join(_tex(str(v)) for v in row) + r" \\" for row in content["rows"]] + \
           [r"\bottomrule", r"\end{tabular}"]
    parts = [r"\documentclass[11pt,a4paper]{article}", r"\usepackage[utf8]{inputenc}",
             # The few non-Latin-1 characters our texts use, so the smallest TeX install compiles them.
             r"\DeclareUnicodeCharacter{00D7}{$\times$}", r"\DeclareUnicodeCharacter{2212}{$-$}",
             r"\DeclareUnicodeCharacter{00B7}{$\cdot$}", r"\usepackage{graphicx}",
             r"\usepackage{booktabs}", r"\usepackage[margin=2.2cm]{geometry}",
             rf"\title{{{_tex(content['heading'])}}}", rf"\author{{mnistlab --- {_tex(content['title'])}}}",
             r"\date{}", r"\begin{document}", r"\maketitle"]
    if lang == "pt":  # babel's Portuguese is a large TeX package; these are the only names we use
        parts[-2:-2] = [r"\renewcommand{\figurename}{Figura}", r"\renewcommand{\tablename}{Tabela}"]
    if content["partial"]:
        parts.append(rf"\noindent\fbox{{\parbox{{\linewidth}}{{\textbf{{{_tex(content['partial'])}}}}}}}")
    parts += [rf"\section{{{t('sec_config', lang)}}}", _latex_settings(content["config"], lang),
              rf"\section{{{t('sec_results', lang)}}}", _results_table(content),
              rf"\section{{{t('sec_findings', lang)}}}"] + _latex_answers(content.get("answers", [])) + \
        [_tex(f) + "\n" for f in content["findings"]]
    parts.append(r"\clearpage" + "\n" + rf"\section{{{t('sec_figures', lang)}}}")  # figures follow their heading
    for stem, caption in content["figures"]:
        if not is_safe_name(stem):
            continue  # never reached for our own figures; a crafted name must not become LaTeX
        parts += [r"\begin{figure}[htbp]\centering", rf"\includegraphics[width=0.72\linewidth]{{figures/{stem}.pdf}}",
                  rf"\caption{{{_tex(caption)}}}", r"\end{figure}"]
    parts.append(r"\end{document}")
    return "\n".join(body) + "\n", "\n".join(parts) + "\n"


def _latex_answers(answers: list[dict]) -> list[str]:
    """Each answer table under its title, its caveats once below it (wide ones scaled to the page)."""
    from mnistlab.sweeps.tables import Table, latex_table

    parts = []
    for a in answers:
        table = latex_table(Table(a["header"], a["rows"]))
        if len(a["header"]) > 6:
            table = r"\resizebox{\linewidth}{!}{" + table + "}"
        parts += [rf"\subsection*{{{_tex(a['title'])}}}", r"\begin{center}" + table + r"\end{center}",
                  _tex(" ".join(a["notes"])) + "\n"]
    return parts


def _results_table(content: dict) -> str:
    """The results table, shrunk to the text width when it has more columns than a page holds at full size."""
    table = r"\input{tables/results.tex}"
    if len(content["header"]) > 7:
        table = r"\resizebox{\linewidth}{!}{" + table + "}"
    return r"\begin{center}" + table + r"\end{center}"


def _latex_settings(config: dict, lang: str) -> str:
    """The config as a small two-by-two-column table (setting, value, setting, value) that fits the page."""
    cells = [(_tex(k.replace("_", " ")), _tex(setting_text(v))) for k, v in config.items()]
    half = (len(cells) + 1) // 2
    lines = [r"\begin{center}\small\begin{tabular}{llll}", r"\toprule",
             f"{_tex(t('setting', lang))} & {_tex(t('value', lang))} & {_tex(t('setting', lang))} & "
             f"{_tex(t('value', lang))} \\\\", r"\midrule"]
    for left, right in zip(cells[:half], cells[half:] + [("", "")]):
        lines.append(f"{left[0]} & {left[1]} & {right[0]} & {right[1]} \\\\")
    return "\n".join(lines + [r"\bottomrule", r"\end{tabular}\end{center}"])


def compile_pdf(tex: Path, log=lambda msg: None) -> Path | None:
    """pdflatex (or latexmk) in the report folder; None, with a message, when no TeX is installed."""
    if shutil.which("latexmk"):
        cmd = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", tex.name]
    elif shutil.which("pdflatex"):
        cmd = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name]
    else:
        log("no latexmk or pdflatex here: report.tex was written but not compiled "
            "(Debian: apt-get install texlive-latex-base texlive-latex-recommended)")
        return None
    proc = subprocess.run(cmd, cwd=tex.parent, capture_output=True, text=True, timeout=300)
    pdf = tex.with_suffix(".pdf")
    if proc.returncode != 0 or not pdf.is_file():
        first = next((line[2:].strip() for line in proc.stdout.splitlines() if line.startswith("! ")), "see the log")
        raise ReportError(f"LaTeX failed on {tex} ({first[:120]}); its log: {tex.with_suffix('.log')}")
    return pdf


def build_report(folder: Path, lang: str = "pt", allow_partial: bool = False, compile: bool = True,
                 log=lambda msg: None) -> dict:
    """Write report/report.tex (+ .pdf when TeX is here), report/tables/results.tex and report/index.html."""
    from mnistlab.runs.folder import RunDirError, recover

    folder = Path(folder)
    recover(folder)  # a run folder whose replacement was cut short is first made whole
    if lang not in LANGS:
        raise ReportError(f"--lang {lang!r}: choose from {', '.join(LANGS)}")
    if not folder.is_dir():
        raise ReportError(f"{folder}: no such folder")
    out = folder / "report"
    if (folder / "store.sqlite").is_file():
        content = sweep_content(folder, out, lang, allow_partial)
    elif (folder / "results.json").is_file():
        try:
            content = run_content(folder, out, lang)
        except RunDirError as e:
            raise ReportError(str(e)) from None
    else:
        raise ReportError(f"{folder}: neither a run folder (results.json) nor a sweep folder (store.sqlite)")
    table, document = latex(content, lang)
    write_atomic(out / "tables" / "results.tex", table)
    tex = write_atomic(out / "report.tex", document)
    html_path = write_atomic(out / "index.html", html_page(content, out, lang))
    write_atomic(out / "content.json", json.dumps({k: v for k, v in content.items() if k != "figures"}, indent=1,
                                                   default=str))
    pdf = compile_pdf(tex, log) if compile else None
    return {"tex": tex, "pdf": pdf, "html": html_path, "content": content}
