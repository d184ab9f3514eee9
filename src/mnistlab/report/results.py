"""docs/results.md, written by mnistlab from sweep folders: every table with the command that regenerates it,
the machine and n, the recipe's targets and ablation, published reference rows, calibration, departures."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mnistlab.config import NOTEBOOK_MODELS, RECIPES, RunConfig, flag_of
from mnistlab.errors import ReportError
from mnistlab.names import code_span, markdown
from mnistlab.sweeps.studies import STUDIES

if TYPE_CHECKING:
    from mnistlab.runs.rows import SweepRow
    from mnistlab.stats import Aggregate

SECTIONS = ("main", "recipe", "ablation", "tiny", "semi", "fashion")
TARGETS = {10: 0.90, 100: 0.97, 300: 0.985, 1000: 0.99}  # CNN with the recipe, validation out of the budget
# Supervised-only baselines from the semi-supervised literature: (source, protocol, labels in all, accuracy).
REFERENCES = [
    ("Kingma et al. 2014, Table 1, row CNN", "balanced labels drawn at random; no validation set stated", 100,
     1 - 0.2298),
    ("Kingma et al. 2014, Table 1, row CNN", "balanced labels drawn at random; no validation set stated", 1000,
     1 - 0.0645),
    ("Rasmus et al. 2015, Table 2, Conv-Small supervised only (± 0.84)", "balanced labels; hyper-parameters tuned on a "
     "10,000-image validation split; Gaussian noise inside the network", 100, 1 - 0.0643),
]
# Semi-supervised results on MNIST with 100 or 1000 labels in all, as the papers print them (± is their standard
# deviation over runs): (source, protocol, labels in all, accuracy).
LADDER = "no augmentation; hyper-parameters tuned on a 10,000-image labelled validation set"
SEMI_REFERENCES = [
    ("Rasmus et al. 2015, Table 2, Conv-Small supervised only (± 0.84)", LADDER, 100, 1 - 0.0643),
    ("Rasmus et al. 2015, Table 2, Conv-FC (± 0.15)", LADDER, 100, 1 - 0.0099),
    ("Rasmus et al. 2015, Table 2, Conv-Small Γ-model (± 0.50)", LADDER, 100, 1 - 0.0089),
    ("Rasmus et al. 2015, Table 1, Ladder full, permutation-invariant MLP (± 0.37)", LADDER, 100, 1 - 0.0106),
    ("Rasmus et al. 2015, Table 1, Ladder full, permutation-invariant MLP (± 0.08)", LADDER, 1000, 1 - 0.0084),
    ("Kingma et al. 2014, Table 1, M1+M2 (± 0.14)", "generative model, no augmentation", 100, 1 - 0.0333),
]
SEMI_PROTOCOL = ("mnistlab's semi-supervised rows: the labelled subset drawn as for every run (so runs pair by seed "
                 "with the supervised variants), every other training image unlabelled, a fixed number of steps and "
                 "no validation split (their epochs column counts steps; rows stored when it counted blocks of 100 "
                 "steps keep that count). The methods' settings were "
                 "compared on seeds of their own (100 and up, never the reported ones) against a 10,000-image "
                 "labelled validation set held out of both pools during that search only, and one setting per "
                 "method is applied to every budget and model; the test set was never used for a choice (the "
                 "search and its numbers: docs/semi_search.md). Unlike the papers, mnistlab's methods train on "
                 "augmented views (shifts; affine maps and cutout), so its MLP is not permutation-invariant.")
DEPARTURES = [
    "The noise study trains at salt-and-pepper 0.1 and keeps validation clean; the notebook adds 0.05 to training "
    "and validation alike. A clean validation set measures what early stopping should track: clean accuracy.",
    "t-SNE runs through openTSNE with PCA initialisation, on the penultimate layer by default (`explain --mlp-layer "
    "first` gives the notebook's choice, the MLP's first hidden layer): PCA initialisation keeps the global layout "
    "reproducible, and the penultimate layer is what the classifier reads.",
    "Figures use one house style (font sizes, grid) on explicit Figure objects; the notebook's plots use "
    "matplotlib's defaults.",
    "Under `--remedy weighted` the validation loss is class-weighted like the training loss, so that early "
    "stopping follows the quantity being optimized.",
    "`--no-early-stopping` (budgets of 1-10 per class) trains a fixed number of epochs on the whole pool, with no "
    "validation split; the notebook always holds out 20%.",
]


def _pct(ci: dict | None, digits: int = 2) -> str:
    from mnistlab.sweeps.tables import mean_with_ci

    return mean_with_ci(ci, "en", digits=digits)


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(markdown(v) for v in row) + " |" for row in rows]) + "\n"


def sweep_command(folder: Path, spec) -> str:
    """The `mnistlab sweep` command line that (re)creates this sweep's grid."""
    defaults = RunConfig().to_dict()
    preset = STUDIES[spec.study][1] if spec.study != "main" else {}  # the study sets these itself
    parts = ["mnistlab sweep", f"--out {folder}", f"--study {spec.study}" if spec.study != "main" else "",
             "--models " + " ".join(spec.models), "--budgets " + " ".join(map(str, spec.budgets)),
             "--seeds " + " ".join(map(str, spec.seeds))]
    extra = {k: v for k, v in spec.base.items()
             if v != defaults.get(k) and k not in ("eval_noise", "eval_shift") and k not in preset}
    augment = ",".join(f"{k}={extra.pop(k):g}" for k in ("shift", "scale", "rotate") if k in extra)
    for name, value in extra.items():
        if isinstance(value, bool):
            parts.append(flag_of(name))
        else:
            parts.append(f"{flag_of(name)} {' '.join(map(str, value)) if isinstance(value, list) else value}")
    if augment:
        parts.append(f"--augment {augment}")
    return " ".join(p for p in parts if p)


def _machine(rows: list[SweepRow]) -> str:
    env = rows[0].environment if rows else {}
    threads, code = env.get("threads", "?"), env.get("code", env.get("mnistlab", "?"))
    return (f"{env.get('platform', '?')}, {threads} thread{'' if threads == 1 else 's'}, "
            f"torch {env.get('torch', '?')}, device {env.get('device', '?')}, mnistlab {code}")


def _load(folder: Path) -> tuple[dict, object, list[SweepRow]]:
    from mnistlab.runs.store import read_runs
    from mnistlab.sweeps.grid import load_spec
    from mnistlab.sweeps.summary import summarize

    spec = load_spec(folder)
    if spec is None:
        raise ReportError(f"{folder}: not a sweep folder (no sweep.json)")
    rows, _, _ = read_runs(folder)
    summary = summarize(folder, "en", out=folder / "report", log=lambda line: None)
    return summary, spec, [r for r in rows if r.result is not None]


def _section_tables(name: str, summary: dict, rows: list[SweepRow]) -> list[str]:
    """A section's tables: the aggregate (the ablation's own), then what its study adds."""
    lines = ablation_table(summary, rows) if name == "ablation" else [_aggregate_table(summary)]
    if name == "recipe":
        lines += recipe_tables(summary)
    if name == "tiny":
        lines += reference_table(summary)
    if name == "semi":
        lines += semi_reference_table(summary)
    if name in ("main", "fashion"):
        lines += calibration_table(summary)
    return lines


def _head(title: str, folder: Path, spec, rows: list[SweepRow], level: int = 2) -> list[str]:
    seeds = sorted({r.seed for r in rows})
    return [f"{'#' * level} {markdown(title)}", "", f"Command: {code_span(sweep_command(folder, spec))}", "",
            f"Machine: {markdown(_machine(rows))}. Seeds: {', '.join(map(str, seeds))} (n = {len(seeds)} per cell).",
            ""]


def _aggregate_table(summary: dict) -> str:
    from mnistlab.sweeps.tables import aggregate_table, markdown_table

    return markdown_table(aggregate_table(summary, "en"))


def _findings(summary: dict, with_gains: bool = True) -> list[str]:
    """The section's answers as compact tables, each caveat said once under its table, then the sentences of the
    questions no table shows."""
    from mnistlab.sweeps.answer_tables import answer_tables, other_findings
    from mnistlab.sweeps.tables import markdown_table

    lines = []
    for answer in answer_tables(summary, "en", with_gains):
        lines += [f"**{markdown(answer.title)}**", "", markdown_table(answer.table)]
        lines += [markdown(" ".join(answer.notes)), ""] if answer.notes else []
    rest = other_findings(summary, summary["labels"], "en")
    return lines + ([f"- {markdown(line)}" for line in rest] + [""] if rest else [])


def _find(summary: dict, variant: str, model: str, budget: int) -> Aggregate | None:
    return next((a for a in summary["aggregates"] if (a.variant, a.model, a.samples_per_class)
                 == (variant, model, budget)), None)


def recipe_tables(summary: dict) -> list[str]:
    """The recipe's gain and time cost per model and budget, and the CNN's targets."""
    gains = []
    for a in summary["aggregates"]:
        if a.variant != "recipe":
            continue
        plain = _find(summary, "plain", a.model, a.samples_per_class)
        if plain:
            gains.append([summary["labels"][a.model], a.samples_per_class, _pct(plain.test_acc),
                          _pct(a.test_acc), f"{a.train_seconds['mean'] / max(plain.train_seconds['mean'], 1e-9):.1f}x"])
    lines = ["Recipe against the plain method (test accuracy, mean [95% CI]; its gain, paired by seed, is in the "
             "findings below; time = train seconds per run, recipe / plain):", "",
             _table(["model", "per class", "plain %", "recipe %", "time"], gains)]
    targets = []
    for budget, goal in TARGETS.items():
        a = _find(summary, "recipe", NOTEBOOK_MODELS[1], budget)  # the notebook's CNN
        if a:
            met = "met" if a.test_acc["mean"] >= goal else "missed"
            targets.append([budget, f"{100 * goal:.1f}", _pct(a.test_acc), a.n, met])
    if targets:
        lines += ["Targets for the CNN with the recipe (validation taken out of the budget):", "",
                  _table(["per class", "target %", "reached % [95% CI]", "n", ""], targets)]
    return lines


def ablation_table(summary: dict, rows: list[SweepRow]) -> list[str]:
    from mnistlab.sweeps.questions import variant_gains

    # Each variant's best validation accuracy minus the recipe's, paired by seed.
    changes = {(g["variant"], g["model"], g["samples_per_class"]): g["diff"]
               for g in variant_gains([(r, r.result) for r in rows if r.result], summary["models"],
                                      value=lambda res: res.best_val_acc, references=("recipe",))}
    table = []
    for a in summary["aggregates"]:
        diff = changes.get((a.variant, a.model, a.samples_per_class))
        change = "–" if diff is None else (f"{100 * diff['mean']:+.2f}" + (
            f" [{100 * diff['ci_low']:+.2f}, {100 * diff['ci_high']:+.2f}]" if diff["n"] > 1 else ""))
        table.append([a.variant, summary["labels"][a.model], a.samples_per_class, a.n,
                      _pct(a.best_val_acc), change, _pct(a.test_acc), f"{a.train_seconds['mean']:.1f}"])
    return ["Each ingredient taken out of the recipe on its own. Read the validation columns (seeds of their own, "
            "never the reported ones): the change is the variant's best validation accuracy minus the recipe's, "
            "paired by seed; an ingredient helps where taking it out lowers it. Test accuracy is shown for "
            "reference only.", "",
            _table(["variant", "model", "per class", "n", "best val acc %", "val change pp vs recipe", "test acc %",
                    "train s/run"], table)]


def reference_table(summary: dict) -> list[str]:
    """Published supervised-only baselines beside mnistlab under the closest protocol it has."""
    rows = [[source, labels, f"{100 * acc:.2f}", protocol] for source, protocol, labels, acc in REFERENCES]
    for a in summary["aggregates"]:
        if a.samples_per_class in (10, 100):
            rows.append([f"mnistlab {summary['labels'][a.model]}, {a.variant}", 10 * a.samples_per_class,
                         _pct(a.test_acc), f"no validation, fixed epochs, n = {a.n} seeds"])
    return ["Published supervised-only baselines (no unlabelled data) and mnistlab under the closest protocol: "
            "`--no-early-stopping`, every labelled image used for training.", "",
            _table(["source", "labels in all", "test acc %", "protocol"], rows)]


def semi_reference_table(summary: dict) -> list[str]:
    """The papers' semi-supervised rows beside mnistlab's semi study, protocol differences stated."""
    rows = [[source, labels, f"{100 * acc:.2f}", protocol] for source, protocol, labels, acc in SEMI_REFERENCES]
    for a in summary["aggregates"]:
        rows.append([f"mnistlab {summary['labels'][a.model]}, {a.variant}", 10 * a.samples_per_class,
                     _pct(a.test_acc), f"n = {a.n} seeds"])
    return ["Published semi-supervised results on MNIST beside mnistlab's. " + SEMI_PROTOCOL, "",
            _table(["source", "labels in all", "test acc % [95% CI]", "protocol"], rows)]


def calibration_table(summary: dict) -> list[str]:
    def value(ci, scale=100, digits=2):
        return "–" if not ci else f"{scale * ci['mean']:.{digits}f}"

    rows = [[c.get("variant", "base"), summary["labels"][c["model"]], c["samples_per_class"], c["n"], value(c["ece"]),
             value(c["ece_scaled"]),
             value(c["nll"], 1, 3), value(c["nll_scaled"], 1, 3), value(c["temperature"], 1),
             f"{100 * c['overconfidence']:+.2f}"] for c in summary["questions"].get("calibration", [])]
    if not rows:
        return ["No calibration here: these runs were made by a release that did not yet store test logits.", ""]
    return ["Calibration on the test set (15 bins), every variant; the temperature is fitted on each run's validation "
            "split (none without one: –).", "",
            _table(["variant", "model", "per class", "n", "ECE %", "ECE % (T)", "NLL", "NLL (T)", "T",
                    "confidence − acc pp"], rows)]


TITLES = {"main": "The notebook's question: MLP vs CNN as labelled data shrinks",
          "recipe": "A best recipe against the plain method", "ablation": "The recipe's ablation",
          "tiny": "Tiny budgets (1-10 per class) and published baselines",
          "semi": "Unlabelled images too: semi-supervised learning", "fashion": "Fashion-MNIST"}


def _paths(given: str | Path | Sequence[str | Path]) -> list[Path]:
    return [Path(given)] if isinstance(given, (str, Path)) else [Path(f) for f in given]


def results_markdown(folders: Mapping[str, str | Path | Sequence[str | Path]], command: str,
                     out: Path | None = None) -> str:
    """The whole document from the named sweep folders (any of SECTIONS; each optional, a section may hold several
    stores, e.g. budgets swept apart): answers at a glance first (from each section's first store), then a section
    per name with each store's table and findings and, when `out` is given, its main figures beside the document."""
    from mnistlab.report.glance import glance, section_figures

    unknown = sorted(set(folders) - set(SECTIONS))
    if unknown:
        raise ReportError(f"--sweep {unknown[0]}=...: unknown section; choose from {', '.join(SECTIONS)}")
    lines = ["# Results", "", f"Written by `{command}` from the sweep folders named there; every number below is "
             "read from their stores. Training times are wall seconds on the machine named in each section, which "
             "other work may have shared while a sweep ran: compare times within one table. "
             "The recipe `--recipe best` is: " +
             ", ".join(f"{k}={v}" for k, v in RECIPES["best"].items()) + ".", ""]
    stores = {name: _paths(folders[name]) for name in SECTIONS if name in folders}
    loaded = {name: [(folder, *_load(folder)) for folder in paths] for name, paths in stores.items()}
    lines += glance({name: (first[1], first[3]) for name, (first, *_) in loaded.items()})
    for name, sections in loaded.items():
        for i, (folder, summary, spec, rows) in enumerate(sections):
            budgets = ", ".join(map(str, sorted({r.samples_per_class for r in rows})))
            lines += _head(TITLES[name] if i == 0 else f"{TITLES[name]}: {budgets} per class", folder, spec, rows,
                           level=2 if i == 0 else 3)
            if out is not None:
                lines += section_figures(name, folder, Path(out), min(r.samples_per_class for r in rows),
                                         tag=name if i == 0 else f"{name}{i + 1}")
            lines += _section_tables(name, summary, rows)
            lines += _findings(summary, with_gains=name != "ablation")  # the ablation is read on validation data
    lines += ["## Where mnistlab departs from the notebook on purpose", ""] + [f"- {d}" for d in DEPARTURES] + [""]
    lines += ["## References", "",
              "- D. P. Kingma, D. J. Rezende, S. Mohamed, M. Welling. Semi-supervised Learning with Deep Generative "
              "Models. NeurIPS 2014 (arXiv:1406.5298), Table 1.",
              "- A. Rasmus, H. Valpola, M. Honkala, M. Berglund, T. Raiko. Semi-Supervised Learning with Ladder "
              "Networks. NeurIPS 2015 (arXiv:1507.02672), Tables 1 and 2 of the proceedings version.",
              "- K. Sohn, D. Berthelot, C.-L. Li, Z. Zhang, N. Carlini, E. D. Cubuk, A. Kurakin, H. Zhang, C. Raffel. "
              "FixMatch: Simplifying Semi-Supervised Learning with Consistency and Confidence. NeurIPS 2020.",
              "- D.-H. Lee. Pseudo-Label: The Simple and Efficient Semi-Supervised Learning Method for Deep Neural "
              "Networks. ICML 2013 Workshop on Challenges in Representation Learning.", ""]
    return "\n".join(lines)
